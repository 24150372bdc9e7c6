//! `keel stamp`: arguments to a [`migrate::StampRequest`], and its report.

use super::shared::{report_policy_changes, Render, RunFlags};
use super::{Context, Failure};
use crate::migrate::{self, version_text, StampRequest};
use crate::report::json;

#[derive(Debug, clap::Args)]
pub struct StampArgs {
    /// head, base or a version
    pub target: String,
    #[command(flatten)]
    pub run: RunFlags,
}

pub fn stamp(ctx: &Context, a: StampArgs) -> Result<(), Failure> {
    let req = StampRequest {
        database: a.run.database(ctx),
        target: a.target,
    };
    let report = migrate::stamp(&req, &mut Render::lines(ctx))?;
    let (from, to) = (
        version_text(report.from.as_ref()),
        version_text(report.to.as_ref()),
    );
    let r = &ctx.reporter;
    if r.json_output() {
        r.json(&json::RunEvent::Summary(json::Summary {
            command: "stamp",
            from: &from,
            to: &to,
            outcome: json::Outcome::Stamped {
                added: &report.added,
                removed: report.removed.iter().map(|v| v.digits()).collect(),
            },
        }));
    } else {
        report_policy_changes(ctx, &report.policy_changes);
        for id in &report.added {
            r.note(format!("  stamped {id}"));
        }
        for v in &report.removed {
            r.note(format!("  unstamped {v}"));
        }
        r.note(format!("stamped {from} → {to} without running any SQL"));
    }
    Ok(())
}
