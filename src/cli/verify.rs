//! `keel verify`: prove every migration reversible on a scratch database.
//!
//! The scratch database is created next to the configured one and always
//! dropped (or given with `--scratch-url`: then it must be empty, and it is
//! left as verification leaves it).

use super::shared::{db_failure, human, load_for_run, open, session_failure, Render};
use super::{Context, Failure};
use crate::db::run::RunError;
use crate::policies::declared::Declared;
use crate::project::{FileKind, Project};
use crate::report::json;
use crate::session::Session;
use crate::sql::ident::quote_ident;
use crate::verify::scratch::{self, Interrupted, Scratch};
use crate::verify::{snapshot, Checked, Problem, Verdict, Verifier};
use postgres::Client;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Use this database as the scratch database instead of creating one
    #[arg(long, value_name = "URL")]
    pub scratch_url: Option<String>,
}

pub fn run(ctx: &Context, args: VerifyArgs) -> Result<(), Failure> {
    let (project, declared) = load_for_run(ctx)?;
    match &args.scratch_url {
        Some(url) => on_given_scratch(ctx, url, &project, &declared),
        None => on_new_scratch(ctx, &project, &declared),
    }
}

/// Where verification ran, for the report.
struct Place {
    database: String,
    created: bool,
}

/// Creates the scratch database over a connection to the configured one,
/// verifies there, and drops it whatever happened.
fn on_new_scratch(ctx: &Context, project: &Project, declared: &Declared) -> Result<(), Failure> {
    let mut admin = open(ctx)?;
    validate(ctx, &mut admin, project)?;
    let base = admin.target.clone();
    let stale = scratch::drop_stale(&mut admin).map_err(db_failure)?;
    if !stale.is_empty() {
        ctx.reporter.note(format!(
            "dropped {} left by an interrupted verify: {}",
            crate::report::count(stale.len(), "scratch database"),
            stale.join(", ")
        ));
    }
    let scratch = Scratch::create(admin, &base, report_interrupt(ctx)).map_err(|e| {
        let hint = if e.not_allowed {
            "the database user needs the CREATEDB privilege, or pass `--scratch-url` with an empty database to use instead".to_string()
        } else {
            "`--scratch-url` names an empty database to use instead".to_string()
        };
        Failure::failed(e.to_string(), Some(hint))
    })?;
    ctx.reporter.note(format!(
        "verifying in the scratch database {} (it is dropped afterwards)",
        scratch.target().describe()
    ));
    let place = Place {
        database: scratch.name().to_string(),
        created: true,
    };
    let outcome = scratch
        .target()
        .connect()
        .map_err(|e| Failure::failed(e.to_string(), Some(e.hint())))
        .and_then(|mut client| {
            crate::db::history::ensure(&mut client, &ctx.config.history_schema)
                .map_err(db_failure)?;
            let result = verify_on(ctx, &mut client, project, declared, &place);
            // Our own connection goes before the database does.
            drop(client);
            result
        });
    scratch::wait_if_interrupted();
    let name = quote_ident(scratch.name());
    let dropped = scratch.drop_now();
    match (outcome, dropped) {
        (outcome, Ok(())) => outcome,
        (Ok(()), Err(e)) => Err(Failure::failed(
            e.to_string(),
            Some(format!("drop it by hand: DROP DATABASE {name};")),
        )),
        (Err(failure), Err(e)) => {
            ctx.reporter.note(format!(
                "warning: {e}; drop it by hand: DROP DATABASE {name};"
            ));
            Err(failure)
        }
    }
}

/// How an interrupted verify says what became of its scratch database.
fn report_interrupt(ctx: &Context) -> scratch::OnInterrupt {
    let r = ctx.reporter.clone();
    Box::new(move |what| match what {
        Interrupted::Dropped(name) => r.error(
            &format!("interrupted: the scratch database {name} was dropped"),
            None,
        ),
        Interrupted::NothingToDrop => r.error("interrupted", None),
        Interrupted::NotDropped { name, error } => r.error(
            &format!("interrupted: {error}"),
            Some(&format!(
                "drop it by hand: DROP DATABASE {};",
                quote_ident(name)
            )),
        ),
    })
}

/// Verifies in a database the user gave, which must be empty.
fn on_given_scratch(
    ctx: &Context,
    url: &str,
    project: &Project,
    declared: &Declared,
) -> Result<(), Failure> {
    let schema = &ctx.config.history_schema;
    if crate::db::connect::is_blank(url) {
        // Said here: the connection code's own refusal speaks of --database-url.
        return Err(Failure::usage(
            "--scratch-url is empty".to_string(),
            Some("give `--scratch-url` a new, empty database, or leave it out to let keel create and drop one".to_string()),
        ));
    }
    let mut session = Session::open(Some(url), schema).map_err(|e| {
        let f = session_failure(e);
        match f {
            Failure::Usage { message, hint } => {
                Failure::usage(format!("--scratch-url: {message}"), hint)
            }
            other => other,
        }
    })?;
    let described = session.target.describe();
    // Nothing is excluded: keel's own schema left by an earlier run counts.
    let found = snapshot::take(&mut session, "").map_err(db_failure)?;
    let objects = found.user_objects();
    if !objects.is_empty() {
        let listed: Vec<String> = objects.iter().take(5).map(|k| k.to_string()).collect();
        let more = if objects.len() > 5 {
            format!(" and {} more", objects.len() - 5)
        } else {
            String::new()
        };
        return Err(Failure::usage(
            format!(
                "the scratch database ({described}) is not empty: it holds {}{more}",
                listed.join(", ")
            ),
            Some("give `--scratch-url` a new, empty database, or leave it out to let keel create and drop one".to_string()),
        ));
    }
    validate(ctx, &mut session, project)?;
    let r = &ctx.reporter;
    session
        .lock(ctx.config.lock_timeout, |holder| {
            r.note(format!("waiting for the migration lock held by {holder}"))
        })
        .map_err(session_failure)?;
    r.note(format!(
        "verifying in the scratch database {described} (given with --scratch-url: it is not dropped)"
    ));
    let place = Place {
        database: described,
        created: false,
    };
    let result = verify_on(ctx, &mut session, project, declared, &place);
    let _ = session.unlock();
    result
}

/// Checks every file verification will run, as `upgrade` does: nothing runs
/// when a file has errors.
fn validate(ctx: &Context, session: &mut Session, project: &Project) -> Result<(), Failure> {
    let files = crate::verify::files_run(project);
    let refused = "nothing was verified: the migrations have errors";
    crate::migrate::validate_or_refuse(session, &files, refused, &mut Render::new(ctx))?;
    Ok(())
}

/// Runs the verification on `client` and reports it.
fn verify_on(
    ctx: &Context,
    client: &mut impl crate::db::Connection<Client = Client>,
    project: &Project,
    declared: &Declared,
    place: &Place,
) -> Result<(), Failure> {
    let r = &ctx.reporter;
    let started = Instant::now();
    let verifier = Verifier {
        project,
        declared,
        schema: &ctx.config.history_schema,
    };
    let mut on_checked = |c: &Checked<'_>| {
        if r.json_output() {
            return;
        }
        let id = c.migration.id();
        match &c.verdict {
            Verdict::Reversible { notes } => {
                r.note(format!("  ok {id}  {}", human(c.elapsed)));
                for n in notes {
                    r.note(format!("    {}", n.line()));
                }
            }
            Verdict::Irreversible => r.note(format!(
                "  skipped {id} (irreversible: applied, not checked)  {}",
                human(c.elapsed)
            )),
        }
    };
    let report = verifier.run(client, &mut on_checked);
    scratch::wait_if_interrupted();
    let elapsed = started.elapsed();
    if r.json_output() {
        r.json(&json::Verify::of(
            &report,
            &place.database,
            place.created,
            elapsed,
        ));
        return match report.stopped {
            None => Ok(()),
            Some(_) => Err(Failure::Reported),
        };
    }
    let Some(stopped) = report.stopped else {
        r.line(format!(
            "verified {}: {} reversible, {} irreversible",
            crate::report::count(report.checked.len(), "migration"),
            report.reversible(),
            report.irreversible()
        ));
        r.note(format!("done in {}", human(elapsed)));
        return Ok(());
    };
    let m = stopped.migration;
    let id = m.id();
    let phase = match &stopped.problem {
        Problem::Step { phase, .. } | Problem::NotRestored { phase, .. } => phase.label(),
        Problem::Snapshot(_) => "catalog",
    };
    r.note(format!(
        "  FAILED {id} ({phase})  {}",
        human(stopped.elapsed)
    ));
    let summary = stopped.problem.summary();
    match stopped.problem {
        Problem::NotRestored { phase, diff } => {
            let mut message = format!("{id}: {summary}:");
            for line in diff.lines() {
                message.push_str("\n  ");
                message.push_str(&line);
            }
            for n in &diff.notes {
                message.push_str("\n  ");
                message.push_str(&n.line());
            }
            let hint = match phase {
                crate::verify::Phase::Down => format!(
                    "make `{}` undo everything `{}` does",
                    m.path(FileKind::Down).display(),
                    m.path(FileKind::Up).display()
                ),
                _ => format!(
                    "applying `{}` again after `{}` does not give the same schema; make the pair exact inverses",
                    m.path(FileKind::Up).display(),
                    m.path(FileKind::Down).display()
                ),
            };
            Err(Failure::failed(message, Some(hint)))
        }
        Problem::Step { error, .. } => match error {
            RunError::Statement { diagnostic, .. } => {
                r.diagnostics(std::slice::from_ref(&*diagnostic));
                Err(Failure::failed(
                    format!("{id}: {summary}; verification stopped there"),
                    None,
                ))
            }
            RunError::Db(e) => Err(Failure::failed(format!("{id}: {summary}: {e}"), e.hint())),
            RunError::Stage { message, hint } => {
                Err(Failure::failed(format!("{id}: {summary}: {message}"), hint))
            }
            // verify's runs have no interrupt: a signal drops the scratch database and exits.
            e @ RunError::Interrupted { .. } => {
                Err(Failure::failed(format!("{id}: {summary}: {e}"), None))
            }
        },
        Problem::Snapshot(e) => Err(Failure::failed(format!("{id}: {e}"), None)),
    }
}
