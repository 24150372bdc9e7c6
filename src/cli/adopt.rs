//! `keel adopt TOOL [--from PATH] [--table NAME] [--dry-run]`: arguments to a
//! [`migrate::AdoptRequest`], and its report (docs/import.md says what each tool's adoption
//! reads and refuses).

use super::shared::{report_policy_changes, Render, RunFlags};
use super::{Context, Failure};
use crate::adopt::{ChecksumCheck, Tool};
use crate::diagnostic::Diagnostic;
use crate::migrate::{self, version_text, AdoptReport, AdoptRequest, AdoptedVersion, Event, Sink};
use crate::report::json;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct AdoptArgs {
    /// The tool whose history table to adopt
    #[arg(value_enum)]
    pub tool: Tool,
    /// The tool's migrations folder, where its checksums are recomputed (sqlx, flyway)
    /// [default: as `keel import`: migrations (sqlx), db/migration or
    /// src/main/resources/db/migration (flyway)]
    #[arg(long, value_name = "PATH")]
    pub from: Option<PathBuf>,
    /// The tool's history table, if not where the tool puts it by default
    #[arg(long, value_name = "[SCHEMA.]TABLE")]
    pub table: Option<String>,
    /// Show what would be recorded, and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Adopt versions whose file changed since the tool applied it (a warning, not an error)
    #[arg(long)]
    pub accept_checksum_mismatch: bool,
    #[command(flatten)]
    pub run: RunFlags,
}

pub fn run(ctx: &Context, a: AdoptArgs) -> Result<(), Failure> {
    let req = AdoptRequest {
        database: a.run.database(ctx),
        tool: a.tool,
        from: a
            .from
            .or_else(|| a.tool.default_from(std::path::Path::new(""))),
        table: a.table.clone(),
        dry_run: a.dry_run,
        accept_checksum_mismatch: a.accept_checksum_mismatch,
    };
    let mut sink = Collect {
        render: Render::new(ctx),
        diagnostics: Vec::new(),
    };
    let result = migrate::adopt(&req, &mut sink);
    let r = &ctx.reporter;
    let report = match result {
        Ok(report) => report,
        Err(migrate::Error::Reported) if r.json_output() => {
            let table = a
                .table
                .unwrap_or_else(|| a.tool.default_table().to_string());
            r.json(&json::Adopt::refused(
                a.tool.name(),
                &table,
                a.dry_run,
                &sink.diagnostics,
            ));
            return Err(Failure::Reported);
        }
        Err(migrate::Error::Reported) => {
            let errors = sink.diagnostics.iter().filter(|d| d.is_error()).count();
            return Err(Failure::failed(
                format!(
                    "nothing was adopted: {} with {}'s history",
                    crate::report::count(errors, "problem"),
                    a.tool.name()
                ),
                Some(
                    "keel records nothing until the tool's history, the files and keel's history agree; `--dry-run` shows what would be recorded"
                        .to_string(),
                ),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    if r.json_output() {
        r.json(&json::Adopt::of(&report, &sink.diagnostics));
        return Ok(());
    }
    report_policy_changes(ctx, &report.policy_changes);
    let verb = if report.dry_run {
        "would adopt"
    } else {
        "adopted"
    };
    for v in &report.adopted {
        r.line(format!("{verb} {}", line(&report, v)));
    }
    for id in &report.already {
        r.line(format!("already recorded {id}"));
    }
    for note in &report.notes {
        r.line(format!("note: {note}"));
    }
    r.line(summary(&report));
    Ok(())
}

/// `20230101120000_create_users (sqlx 20230101120000, checksum matches)`.
fn line(report: &AdoptReport, v: &AdoptedVersion) -> String {
    let tool = report.tool.name();
    let mut detail = match &v.peer {
        Some(p) => format!("{tool} {p}"),
        None => format!("implied by {tool}'s history"),
    };
    match &v.checksum {
        ChecksumCheck::NotRecorded => {}
        ChecksumCheck::Matches => detail.push_str(", checksum matches"),
        ChecksumCheck::Differs => detail.push_str(", checksum differs (accepted)"),
        ChecksumCheck::NotCompared(why) => {
            detail.push_str(&format!(", checksum not compared: {why}"))
        }
    }
    format!("{} ({detail})", v.id())
}

fn summary(report: &AdoptReport) -> String {
    let tool = report.tool.name();
    let n = report.adopted.len();
    let versions = crate::report::count(n, "version");
    let (from, to) = (
        version_text(report.from.as_ref()),
        version_text(report.to.as_ref()),
    );
    if n == 0 {
        return if report.already.is_empty() {
            format!(
                "nothing to adopt: {tool}'s history ({}) records no applied version",
                report.table
            )
        } else {
            format!(
                "nothing to adopt: keel already records every version {tool} applied ({}); nothing written",
                report.table
            )
        };
    }
    if report.dry_run {
        format!(
            "dry run: would adopt {versions} from {tool} ({}) as applied, {from} → {to}; nothing written",
            report.table
        )
    } else {
        format!(
            "adopted {versions} from {tool} ({}) without running any SQL: {from} → {to}",
            report.table
        )
    }
}

/// Renders the run's events as any command does, and keeps the diagnostics for the `adopt`
/// document.
struct Collect<'c> {
    render: Render<'c>,
    diagnostics: Vec<Diagnostic>,
}

impl Sink for Collect<'_> {
    fn event(&mut self, event: Event<'_>) {
        if let Event::Diagnostics(d) = &event {
            self.diagnostics.extend(d.iter().cloned());
        }
        self.render.event(event);
    }
}
