//! `keel upgrade` and `keel downgrade`: arguments to a [`migrate::Request`],
//! and the run's report to lines or JSON.

use super::shared::{human, report_policy_changes, Render, RunFlags};
use super::{Context, Failure};
use crate::migrate::{self, version_text, Report, Request};
use crate::plan::Direction;
use crate::report::json;

#[derive(Debug, clap::Args)]
pub struct UpgradeArgs {
    /// head, a version, or +N
    #[arg(default_value = "head", allow_negative_numbers = true)]
    pub target: String,
    #[command(flatten)]
    pub moving: MoveFlags,
}

#[derive(Debug, clap::Args)]
pub struct DowngradeArgs {
    /// base, a version, or -N
    #[arg(allow_negative_numbers = true)]
    pub target: String,
    #[command(flatten)]
    pub moving: MoveFlags,
}

/// Flags shared by `upgrade` and `downgrade`.
#[derive(Debug, clap::Args)]
pub struct MoveFlags {
    /// Print the SQL that would run, touch nothing
    #[arg(long)]
    pub sql: bool,
    /// Commit after each migration instead of once for the whole run
    #[arg(long)]
    pub transaction_per_migration: bool,
    #[command(flatten)]
    pub run: RunFlags,
}

pub fn upgrade(ctx: &Context, a: UpgradeArgs) -> Result<(), Failure> {
    move_to(ctx, Direction::Up, a.target, &a.moving)
}

pub fn downgrade(ctx: &Context, a: DowngradeArgs) -> Result<(), Failure> {
    move_to(ctx, Direction::Down, a.target, &a.moving)
}

fn move_to(
    ctx: &Context,
    direction: Direction,
    target: String,
    m: &MoveFlags,
) -> Result<(), Failure> {
    let req = Request {
        database: m.run.database(ctx),
        direction,
        target,
        per_migration: m.transaction_per_migration,
        strict: m.run.strict,
    };
    if m.sql {
        let script = migrate::render_sql(&req, &mut Render::new(ctx))?;
        ctx.reporter.raw(&script);
        return Ok(());
    }
    let report = {
        let mut sink = Render::lines(ctx);
        migrate::run(&req, &mut sink)?
        // The sink is dropped here: a spinner's line is cleared before the summary.
    };
    render(ctx, &report);
    Ok(())
}

fn render(ctx: &Context, report: &Report) {
    let r = &ctx.reporter;
    let command = migrate::command(report.direction);
    let (from, to) = (
        version_text(report.from.as_ref()),
        version_text(report.to.as_ref()),
    );
    let Some(elapsed) = report.elapsed else {
        // Nothing to run: only the policy stage did its work.
        if r.json_output() {
            r.json(&json::RunEvent::Summary(json::Summary {
                command,
                from: &from,
                to: &to,
                outcome: json::Outcome::NothingToRun {
                    steps: 0,
                    policy_changes: report.policy_changes.len(),
                },
            }));
        } else {
            report_policy_changes(ctx, &report.policy_changes);
            r.note(format!("nothing to do: the database is at {from}"));
        }
        return;
    };
    report_policy_changes(ctx, &report.policy_changes);
    if r.json_output() {
        r.json(&json::RunEvent::Summary(json::Summary {
            command,
            from: &from,
            to: &to,
            outcome: json::Outcome::Ran {
                steps: report.steps,
                ms: elapsed.as_secs_f64() * 1000.0,
            },
        }));
    } else {
        let verb = match report.direction {
            Direction::Up => "upgraded",
            Direction::Down => "downgraded",
        };
        r.note(format!(
            "{verb} {from} → {to}: {} in {}",
            crate::report::count(report.steps, "migration"),
            human(elapsed)
        ));
    }
}
