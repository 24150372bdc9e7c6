//! `keel import TOOL [PATH] [--dry-run]`: another tool's migrations as sealed keel pairs
//! (the work is `crate::import`; docs/import.md says what each tool's import carries over).

use super::{Context, Failure};
use crate::diagnostic;
use crate::import::{self, Plan, PlannedMigration, Tool};
use crate::report::json;
use crate::sql::check::Options;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The tool whose migrations to import
    #[arg(value_enum)]
    pub tool: Tool,
    /// Its migrations folder [default: migrations (sqlx, golang-migrate, diesel), db/migrations
    /// (dbmate), db/migration or src/main/resources/db/migration (flyway), supabase/migrations,
    /// `.` (alembic: the folder with alembic.ini)]
    pub path: Option<PathBuf>,
    /// List what would be written, and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Treat statements sqlparser cannot validate as errors (as `keel check --strict`)
    #[arg(long)]
    pub strict: bool,
}

pub fn run(ctx: &Context, args: ImportArgs) -> Result<(), Failure> {
    let source = args
        .path
        .unwrap_or_else(|| args.tool.default_path(std::path::Path::new("")));
    let options = Options {
        strict: args.strict,
        ..Options::default()
    };
    let plan = import::plan(args.tool, &source, &ctx.config.dir, options)
        .map_err(|e| Failure::usage(e.to_string(), Some(e.hint().to_string())))?;
    let r = &ctx.reporter;
    r.diagnostics(&plan.diagnostics);
    let (errors, _) = diagnostic::count(&plan.diagnostics);
    if errors > 0 {
        if r.json_output() {
            r.json(&json::Import::of(&plan, args.dry_run, 0));
            return Err(Failure::Reported);
        }
        return Err(Failure::failed(
            format!(
                "nothing was imported: {} in the {} migrations of `{}`",
                crate::report::count(errors, "problem"),
                args.tool.name(),
                plan.source.display()
            ),
            Some("fix them in the source folder (or in the keel folder, for a version that already exists) and import again; `--dry-run` shows what would be written".to_string()),
        ));
    }
    let written = if args.dry_run {
        0
    } else {
        import::write(&plan)
            .map_err(|e| Failure::failed(e.to_string(), None))?
            .len()
    };
    if r.json_output() {
        r.json(&json::Import::of(&plan, args.dry_run, written));
        return Ok(());
    }
    let verb = if args.dry_run {
        "would import"
    } else {
        "imported"
    };
    for m in &plan.migrations {
        r.line(format!("{verb} {}", line(m)));
        for note in &m.notes {
            r.line(format!("  note: {note}"));
        }
    }
    for s in &plan.skipped {
        r.line(format!("skipped {}: {}", s.path.display(), s.reason));
    }
    r.line(summary(&plan, args.dry_run, written));
    Ok(())
}

/// `20230101120000_add_users from migrations/x.up.sql, migrations/x.down.sql (transaction
/// off, irreversible)`.
fn line(m: &PlannedMigration) -> String {
    let mut sources = m.up.source.display().to_string();
    if !m.irreversible && m.down.source != m.up.source {
        sources.push_str(&format!(", {}", m.down.source.display()));
    }
    let down_off = !m.irreversible && m.down.transaction_off;
    let transaction = match (m.up.transaction_off, down_off) {
        (false, false) => "transaction on",
        (false, true) => "transaction on, down transaction off",
        (true, false) if !m.irreversible => "transaction off, down transaction on",
        (true, _) => "transaction off",
    };
    let reversible = if m.irreversible {
        "irreversible"
    } else {
        "reversible"
    };
    format!("{} from {sources} ({transaction}, {reversible})", m.id())
}

fn summary(plan: &Plan, dry_run: bool, written: usize) -> String {
    let n = plan.migrations.len();
    let migrations = crate::report::count(n, "migration");
    let skipped = match plan.skipped.len() {
        0 => String::new(),
        1 => "; 1 file skipped".to_string(),
        k => format!("; {k} files skipped"),
    };
    let from = format!("{} ({})", plan.source.display(), plan.tool.name());
    if dry_run {
        format!(
            "dry run: would import {migrations} from {from} into {} ({} files){skipped}; nothing written",
            plan.dir.display(),
            2 * n
        )
    } else {
        format!(
            "imported {migrations} from {from} into {}: {written} files written{skipped}",
            plan.dir.display()
        )
    }
}
