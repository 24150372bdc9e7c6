//! `keel check`: everything that can be wrong with the files (and, online,
//! with the database's history).

use super::{Context, Failure};
use crate::diagnostic;
use crate::sql::validate::Options;
use crate::validation;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Check the files only; do not connect to a database
    #[arg(long)]
    pub offline: bool,
    /// Treat statements sqlparser cannot validate as errors
    #[arg(long)]
    pub strict: bool,
}

pub fn run(ctx: &Context, args: CheckArgs) -> Result<(), Failure> {
    let loaded = crate::project::load(&ctx.config.dir)?;
    let v = validation::validate(
        &loaded.project,
        Options {
            strict: args.strict,
        },
    );
    let mut diagnostics = loaded.diagnostics;
    diagnostics.extend(v.all_diagnostics());
    let counts = v.counts();
    let (errors, warnings) = diagnostic::count(&diagnostics);
    let r = &ctx.reporter;
    if r.json_output() {
        r.json(&serde_json::json!({
            "ok": errors == 0,
            "errors": errors,
            "warnings": warnings,
            "migrations": loaded.project.migrations.len(),
            "statements": counts,
            "diagnostics": diagnostics,
        }));
    }
    r.diagnostics(&diagnostics);
    r.line(format!(
        "checked {} migrations: validated {}/{} statements with sqlparser{}",
        loaded.project.migrations.len(),
        counts.sqlparser,
        counts.statements,
        if counts.server > 0 {
            format!("; {} by PostgreSQL", counts.server)
        } else {
            String::new()
        }
    ));
    r.line(summary(errors, warnings));
    if errors > 0 {
        Err(Failure::Reported)
    } else {
        Ok(())
    }
}

/// `2 errors, 1 warning` / `no problems found`.
pub fn summary(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, 0) => "no problems found".to_string(),
        _ => format!(
            "{}, {}",
            plural(errors, "error"),
            plural(warnings, "warning")
        ),
    }
}
