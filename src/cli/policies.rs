//! `keel policies apply|status|test`: the RLS stage on its own.

use super::shared::{db_failure, load_for_run, open, report_policy_changes, Render, RunFlags};
use super::{Context, Failure};
use crate::diagnostic::Diagnostic;
use crate::policies::status::{self, State};
use crate::report::json;
use crate::report::plain;
use crate::sql::check::CheckedFile;
use colored::Colorize;

#[derive(Debug, clap::Subcommand)]
pub enum PoliciesCommand {
    /// Make the database's policies match the declarations at its version
    Apply(RunFlags),
    /// Declared against live, per managed table (exit 1 on drift)
    Status(StatusArgs),
    /// RLS mistakes, from the files and (with a database) the catalog
    Lint(super::lint::LintArgs),
    /// Run sql/policies/tests/*.sql, each in a transaction that is rolled back
    Test,
}

pub fn run(ctx: &Context, cmd: PoliciesCommand) -> Result<(), Failure> {
    match cmd {
        PoliciesCommand::Apply(flags) => apply(ctx, &flags),
        PoliciesCommand::Status(a) if a.matrix => matrix(ctx),
        PoliciesCommand::Status(_) => show_status(ctx),
        PoliciesCommand::Lint(a) => super::lint::run(ctx, a),
        PoliciesCommand::Test => test(ctx),
    }
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// A grid per table: which policy lets each role run each command
    #[arg(long)]
    pub matrix: bool,
}

/// `policies status --matrix`: from the live database when one is
/// configured, otherwise from the declarations.
fn matrix(ctx: &Context) -> Result<(), Failure> {
    use crate::policies::matrix::{grids, render, Coverage};
    let (project, declared) = load_for_run(ctx)?;
    let roles = &ctx.config.test_roles;
    let (g, source) = match super::shared::open_optional(ctx)? {
        Some(mut session) => {
            let applied = session.applied(false, &project).map_err(db_failure)?;
            let at = crate::plan::current(&applied);
            let tables: Vec<&crate::policies::TableName> =
                declared.at(at.as_ref()).iter().map(|t| &t.table).collect();
            let live = crate::policies::live::read(&mut session, &tables).map_err(db_failure)?;
            let coverage: Vec<Coverage> = live.values().map(Coverage::from_live).collect();
            (grids(&coverage, roles), "live database")
        }
        None => (
            grids(&Coverage::from_declared(&declared), roles),
            "declarations (no database configured)",
        ),
    };
    let r = &ctx.reporter;
    if r.json_output() {
        r.json(&json::PolicyMatrix { source, tables: &g });
    } else {
        let color = r.color;
        r.note(format!("from the {source}"));
        // Names from files and the catalog, escaped before keel colours the grid.
        let g: Vec<_> = g
            .into_iter()
            .map(|mut grid| {
                grid.table = plain(&grid.table);
                grid.roles = grid.roles.iter().map(|r| plain(r)).collect();
                for row in &mut grid.cells {
                    for cell in row {
                        if let crate::policies::matrix::Cell::Allowed { policies } = cell {
                            *policies = policies.iter().map(|p| plain(p)).collect();
                        }
                    }
                }
                grid
            })
            .collect();
        r.coloured_line(render(&g, &|s: &str| {
            if color {
                s.red().bold().to_string()
            } else {
                s.to_string()
            }
        }));
    }
    Ok(())
}

fn apply(ctx: &Context, flags: &RunFlags) -> Result<(), Failure> {
    let changes = crate::migrate::apply_policies(&flags.database(ctx), &mut Render::new(ctx))?;
    let r = &ctx.reporter;
    if r.json_output() {
        r.json(&json::PoliciesApplied { changes: &changes });
    } else if changes.is_empty() {
        r.line("policies match the declarations: no changes");
    } else {
        report_policy_changes(ctx, &changes);
        r.line(format!("applied {} policy change(s)", changes.len()));
    }
    Ok(())
}

fn show_status(ctx: &Context) -> Result<(), Failure> {
    let (project, declared) = load_for_run(ctx)?;
    let mut session = open(ctx)?;
    let applied = session.applied(false, &project).map_err(db_failure)?;
    let at = crate::plan::current(&applied);
    let tables = status::status(
        &mut session,
        &ctx.config.history_schema,
        &declared,
        at.as_ref(),
    )
    .map_err(db_failure)?;
    let drift = tables.iter().any(|t| t.drifted());
    let r = &ctx.reporter;
    if r.json_output() {
        r.json(&json::PoliciesStatus {
            drift,
            tables: &tables,
        });
    } else {
        if tables.is_empty() {
            r.line("no managed tables at this version");
        }
        for t in &tables {
            let flags = if !t.exists {
                "missing table".red().to_string()
            } else {
                format!(
                    "RLS {}, {}",
                    if t.rls { "on".green() } else { "OFF".red() },
                    if t.force == t.declared_force {
                        if t.force {
                            "forced".green()
                        } else {
                            "not forced".yellow()
                        }
                    } else {
                        format!("force {} (declared {})", t.force, t.declared_force).red()
                    }
                )
            };
            r.coloured_line(format!("{}  {flags}", plain(&t.table.to_string()).bold()));
            for p in &t.policies {
                let state = match p.state {
                    State::Ok => "ok".green(),
                    State::Missing => "missing".red(),
                    State::Extra => "extra".red(),
                    State::Changed => "changed".red(),
                    State::Pending => "pending".yellow(),
                    State::Unmanaged => "unmanaged".yellow(),
                };
                let cmd = p.command.map(|c| c.name()).unwrap_or("?");
                r.coloured_line(format!("  {:<32} {:<6} {state}", plain(&p.name), cmd));
                if matches!(
                    p.state,
                    State::Changed | State::Extra | State::Unmanaged | State::Pending
                ) {
                    if let Some(d) = &p.declared {
                        r.line(format!("      declared: {}", plain(&d.to_string())));
                    }
                    if let Some(rec) = p.recorded.as_ref().filter(|_| p.state == State::Changed) {
                        r.line(format!("      applied:  {}", plain(&rec.to_string())));
                    }
                    if let Some(l) = &p.live {
                        r.line(format!("      live:     {}", plain(&l.to_string())));
                    }
                }
            }
        }
    }
    if drift {
        if !r.json_output() {
            r.note(
                "the database differs from the declarations; `keel policies apply` restores them",
            );
        }
        return Err(Failure::Reported);
    }
    Ok(())
}

fn test(ctx: &Context) -> Result<(), Failure> {
    let loaded = crate::project::load(&ctx.config.dir)?;
    let files = loaded.policy_test_texts();
    let mut session = open(ctx)?;
    let checked = validate_tests(ctx, &mut session, files)?;
    let r = &ctx.reporter;
    let (mut passed, mut failed) = (0, 0);
    let mut results = Vec::new();
    for (f, c) in files.iter().zip(&checked) {
        let res = crate::policies::isolation::run_file(&mut session, f, c).map_err(db_failure)?;
        if res.passed {
            passed += 1;
            r.coloured_line(format!(
                "{} {}  {} statements, {}",
                "PASS".green(),
                plain(&f.path.display().to_string()),
                res.statements,
                super::shared::human(res.elapsed)
            ));
        } else {
            failed += 1;
            let d = res.failure.as_ref();
            let loc = d
                .and_then(|d| d.location())
                .unwrap_or_else(|| f.path.display().to_string());
            r.coloured_line(format!(
                "{} {}: {}",
                "FAIL".red(),
                plain(&loc),
                plain(d.map(|d| d.message.as_str()).unwrap_or(""))
            ));
            if let Some(d) = d {
                r.diagnostics(std::slice::from_ref(d));
            }
        }
        if r.json_output() {
            results.push(json::PolicyTestFile {
                path: &f.path,
                passed: res.passed,
                statements: res.statements,
                ms: res.elapsed.as_secs_f64() * 1000.0,
                failure: res.failure,
            });
        }
    }
    if r.json_output() {
        r.json(&json::PolicyTests {
            passed,
            failed,
            files: &results,
        });
    } else {
        if files.is_empty() {
            r.note(format!(
                "no policy tests: add `.sql` files to {}",
                ctx.config.dir.join("policies/tests").display()
            ));
        }
        r.line(format!("{passed} passed, {failed} failed"));
    }
    if failed > 0 {
        Err(Failure::Reported)
    } else {
        Ok(())
    }
}

/// Checks every test file as a transactional migration is checked (sqlparser,
/// then the server's parser for what sqlparser cannot read, and the
/// statement rules) before any of them runs: a test that would commit, or
/// that cannot be split, fails the command with nothing run.
fn validate_tests(
    ctx: &Context,
    session: &mut crate::session::Session,
    files: &[crate::project::SqlText],
) -> Result<Vec<CheckedFile>, Failure> {
    let refs: Vec<&crate::project::SqlText> = files.iter().collect();
    let checked = crate::migrate::validate_files(session, &refs, false)?;
    let diags: Vec<Diagnostic> = checked
        .iter()
        .flat_map(|c| c.diagnostics.iter().cloned())
        .collect();
    if diags.iter().any(Diagnostic::is_error) {
        ctx.reporter.diagnostics(&diags);
        return Err(Failure::failed(
            "no policy test was run: the test files have errors",
            Some("`keel check` lists them".to_string()),
        ));
    }
    Ok(checked)
}
