//! `keel policies lint`: RLS mistakes, from the files and from the catalog.
//!
//! The static rules always run. The live rules run when a database is
//! configured, unless `--offline`; without a configured database lint says
//! so in a note and runs the static rules only. Exit status 1 when any
//! finding is an error.

use super::shared::{db_failure, session_failure};
use super::{Context, Failure};
use crate::db::connect::ConnectError;
use crate::diagnostic;
use crate::policies::declared::declare;
use crate::policies::lint;
use crate::report::{count, json};
use crate::session::{Session, SessionError};

#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// Lint the files only; do not read the database's catalog
    #[arg(long)]
    pub offline: bool,
}

pub fn run(ctx: &Context, args: LintArgs) -> Result<(), Failure> {
    let loaded = crate::project::load(&ctx.config.dir)?;
    let declared = declare(loaded.policy_texts());
    // Files keel cannot read are findings too: lint what it can, and say so.
    let mut diagnostics = loaded.diagnostics.clone();
    diagnostics.extend(declared.diagnostics.iter().cloned());

    let found = lint::lint_static(loaded.migration_texts(), &declared, &ctx.config);
    let mut live = None;
    if !args.offline {
        match Session::open(ctx.database_url.as_deref(), &ctx.config.history_schema) {
            Ok(mut session) => {
                live = Some(
                    lint::lint_live(
                        &mut session,
                        loaded.migration_texts(),
                        &declared,
                        &ctx.config,
                    )
                    .map_err(db_failure)?,
                );
            }
            Err(SessionError::Connect(ConnectError::NotConfigured)) => {}
            Err(e) => {
                return Err(match session_failure(e) {
                    Failure::Failed { message, hint } => Failure::failed(
                        message,
                        Some(format!(
                            "{}; or run `keel policies lint --offline` for the static rules only",
                            hint.unwrap_or_default()
                        )),
                    ),
                    other => other,
                })
            }
        }
    }
    let ran_live = live.is_some();
    diagnostics.extend(lint::merge(found, live.unwrap_or_default()));

    let (errors, warnings) = diagnostic::count(&diagnostics);
    let r = &ctx.reporter;
    if r.json_output() {
        r.json(&json::Lint {
            ok: errors == 0,
            errors,
            warnings,
            live: ran_live,
            diagnostics: &diagnostics,
        });
    }
    r.diagnostics(&diagnostics);
    if !args.offline && !ran_live {
        r.note(
            "note: no database configured: only the static rules ran (pass --database-url or set DATABASE_URL for the live rules, or --offline to skip them)",
        );
    }
    r.line(summary(errors, warnings));
    if errors > 0 {
        Err(Failure::Reported)
    } else {
        Ok(())
    }
}

/// `2 errors, 1 warning`.
fn summary(errors: usize, warnings: usize) -> String {
    format!("{}, {}", count(errors, "error"), count(warnings, "warning"))
}
