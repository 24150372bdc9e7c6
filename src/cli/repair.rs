//! `keel repair VERSION`: arguments to a [`migrate::RepairRequest`], and its
//! report.

use super::shared::{Render, RunFlags};
use super::{Context, Failure};
use crate::migrate::{self, RepairRequest};
use crate::report::json;

#[derive(Debug, clap::Args)]
pub struct RepairArgs {
    /// The applied version whose files to accept
    #[arg(value_name = "VERSION")]
    pub rev: String,
    /// The dirty version's statements were undone by hand: record it as not applied (a dirty
    /// up) or as still applied (a dirty down), instead of as finished
    #[arg(long)]
    pub undone: bool,
    #[command(flatten)]
    pub run: RunFlags,
}

pub fn run(ctx: &Context, a: RepairArgs) -> Result<(), Failure> {
    let req = RepairRequest {
        database: a.run.database(ctx),
        version: a.rev,
        undone: a.undone,
    };
    let report = migrate::repair(&req, &mut Render::new(ctx))?;
    let sealed: Vec<String> = report
        .sealed
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let r = &ctx.reporter;
    if r.json_output() {
        r.json(&json::Repair {
            version: report.digits.clone(),
            changes: &report.changes,
            sealed: &sealed,
        });
        return Ok(());
    }
    for p in &sealed {
        r.line(format!("sealed {p}"));
    }
    if report.changes.is_empty() {
        r.line(format!(
            "{}: the recorded files already match; nothing to repair",
            report.id
        ));
    } else {
        r.line(format!(
            "repaired {}: {}",
            report.id,
            report.changes.join("; ")
        ));
    }
    Ok(())
}
