//! `keel policies lint`: RLS mistakes, from the files and from the catalog.

use super::{Context, Failure};

#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// Lint the files only; do not read the database's catalog
    #[arg(long)]
    pub offline: bool,
}

pub fn run(_ctx: &Context, _args: LintArgs) -> Result<(), Failure> {
    Err(Failure::failed("lint is not available yet", None))
}
