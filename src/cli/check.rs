//! `keel check`: everything that can be wrong with the files (and, online,
//! with the database's history).

use super::shared::{db_failure, open};
use super::{Context, Failure};
use crate::diagnostic;
use crate::project_check;
use crate::report::count;
use crate::report::json;
use crate::sql::check::Options;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Check the files only; do not connect to a database
    #[arg(long)]
    pub offline: bool,
    /// Treat statements sqlparser cannot validate as errors
    #[arg(long)]
    pub strict: bool,
    /// Fail when migrations are pending ("Target database is not up to date.")
    #[arg(long)]
    pub require_up_to_date: bool,
    /// With --offline: lint for safety as if migrations up to VERSION were
    /// applied (their tables exist and may be large; they are not linted)
    #[arg(long, value_name = "VERSION", requires = "offline")]
    pub assume_applied: Option<String>,
}

pub fn run(ctx: &Context, args: CheckArgs) -> Result<(), Failure> {
    let loaded = crate::project::load(&ctx.config.dir)?;
    let assume_applied = match &args.assume_applied {
        Some(v) => Some(crate::project::Version::parse(v).ok_or_else(|| {
            Failure::usage(
                format!("`{v}` is not a version"),
                Some("give the number of a migration, e.g. `--assume-applied 42`".to_string()),
            )
        })?),
        None => None,
    };
    let mut v = project_check::validate(
        &loaded.visited,
        Options {
            strict: args.strict,
            ddl: true,
        },
    );
    let mut diagnostics = loaded.diagnostics.clone();
    let declared = crate::policies::declared::declare(loaded.policy_texts());
    diagnostics.extend(declared.diagnostics.iter().cloned());
    let mut counts = v.counts();
    let mut online = Vec::new();
    let safety;
    if args.offline {
        // No database: every migration after `--assume-applied` (all by
        // default) is pending, and no size is known.
        let inputs = crate::safety::inputs(
            &loaded.project,
            loaded.migration_texts(),
            &v.files,
            |version| assume_applied.as_ref().is_none_or(|a| version > a),
        );
        let lint = crate::safety::lint(&inputs, &ctx.config.safety);
        safety = crate::safety::resolve(lint, None, &ctx.config.safety);
    } else {
        let mut session = open(ctx).map_err(|f| match f {
            Failure::Usage { message, .. } => Failure::usage(
                message,
                Some("set DATABASE_URL (or --database-url), or run `keel check --offline` to check the files only".to_string()),
            ),
            other => other,
        })?;
        let files: Vec<&crate::project::SqlText> = loaded.visited.iter().collect();
        counts.server = crate::migrate::settle(&mut session, &files, &mut v.files, args.strict)?;
        let applied = session
            .applied(false, &loaded.project)
            .map_err(db_failure)?;
        online = crate::online_checks::database_diagnostics(
            &mut session,
            &loaded.project,
            &applied,
            args.require_up_to_date,
        )
        .map_err(db_failure)?;
        safety = crate::online_checks::safety_diagnostics(
            &mut session,
            &loaded.project,
            loaded.migration_texts(),
            &v.files,
            &applied,
            &ctx.config.safety,
        )
        .map_err(db_failure)?;
        let at = crate::plan::current(&applied);
        let tables = crate::policies::status::status(
            &mut session,
            &ctx.config.history_schema,
            &declared,
            at.as_ref(),
        )
        .map_err(db_failure)?;
        online.extend(crate::policies::status::drift_diagnostics(
            &tables, &declared,
        ));
    }
    diagnostics.extend(v.all_diagnostics());
    diagnostics.extend(safety);
    diagnostics.extend(online);
    let (errors, warnings) = diagnostic::count(&diagnostics);
    let r = &ctx.reporter;
    if r.json_output() {
        r.json(&json::Check {
            ok: errors == 0,
            errors,
            warnings,
            migrations: loaded.project.migrations.len(),
            statements: &counts,
            diagnostics: &diagnostics,
        });
    }
    r.diagnostics(&diagnostics);
    r.line(format!(
        "checked {} migration{}: validated {}/{} statements with sqlparser{}",
        loaded.project.migrations.len(),
        if loaded.project.migrations.len() == 1 {
            ""
        } else {
            "s"
        },
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
    match (errors, warnings) {
        (0, 0) => "no problems found".to_string(),
        _ => format!("{}, {}", count(errors, "error"), count(warnings, "warning")),
    }
}
