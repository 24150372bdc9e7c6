//! `keel verify`: prove every migration reversible on a scratch database.

use super::{Context, Failure};

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Use this database as the scratch database instead of creating one
    #[arg(long, value_name = "URL")]
    pub scratch_url: Option<String>,
}

pub fn run(_ctx: &Context, _args: VerifyArgs) -> Result<(), Failure> {
    Err(Failure::failed("verify is not available yet", None))
}
