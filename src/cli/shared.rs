//! What the commands that talk to a database share: the sink that renders a
//! run's events, error mapping, and session helpers bound to the command
//! line's settings.

use super::{Context, Failure};
use crate::migrate::{self, Event, Sink};
use crate::plan::Direction;
use crate::policies::declared::Declared;
use crate::policies::reconcile::PolicyChange;
use crate::project::Project;
use crate::report::json;
use crate::session::{Session, SessionError};
use std::time::Duration;

/// Flags of every command that takes the run lock.
#[derive(Debug, Clone, clap::Args)]
pub struct RunFlags {
    /// Seconds to wait for another runner's lock [default: 60, or keel.toml]
    #[arg(long, value_name = "SECONDS")]
    pub lock_timeout: Option<u64>,
    /// Treat statements no parser could validate as errors
    #[arg(long)]
    pub strict: bool,
    /// How long a statement may wait for a table lock before the transaction is retried
    /// (PostgreSQL's duration text: 5s, 500ms; 0 waits forever) [default: 5s, or keel.toml]
    #[arg(long, value_name = "DURATION", value_parser = duration_text("--ddl-lock-timeout"))]
    pub ddl_lock_timeout: Option<String>,
    /// Attempts after the first when a lock wait timed out or deadlocked [default: 5]
    #[arg(long, value_name = "N")]
    pub ddl_lock_retries: Option<u32>,
    /// A limit on each migration statement's run time (duration text) [default: the server's]
    #[arg(long, value_name = "DURATION", value_parser = duration_text("--statement-timeout"))]
    pub statement_timeout: Option<String>,
}

/// A clap parser accepting what [`crate::config::validate_duration`] accepts.
fn duration_text(flag: &'static str) -> impl Fn(&str) -> Result<String, String> + Clone {
    move |v: &str| {
        crate::config::validate_duration(flag, v)
            .map(|()| v.to_string())
            .map_err(|e| e.to_string())
    }
}

impl RunFlags {
    pub fn lock_timeout(&self) -> Option<Duration> {
        self.lock_timeout.map(Duration::from_secs)
    }

    /// The database the command line names, with these flags' lock timeout.
    pub fn database(&self, ctx: &Context) -> migrate::Database {
        migrate::Database {
            config: self.config(ctx),
            database_url: ctx.database_url.clone(),
            lock_timeout: self.lock_timeout(),
            // Ctrl-C cancels the run's statement and rolls back (cli::signals).
            interrupt: super::signals::interrupt(),
        }
    }

    /// The project's settings with these flags' DDL settings.
    pub fn config(&self, ctx: &Context) -> crate::config::Config {
        let mut config = ctx.config.clone();
        if let Some(t) = &self.ddl_lock_timeout {
            config.ddl.lock_timeout = t.clone();
        }
        if let Some(n) = self.ddl_lock_retries {
            config.ddl.retries = n;
        }
        if let Some(t) = &self.statement_timeout {
            config.ddl.statement_timeout = Some(t.clone());
        }
        config
    }
}

impl From<migrate::Error> for Failure {
    fn from(e: migrate::Error) -> Self {
        match e {
            migrate::Error::Usage { message, hint } => Failure::Usage { message, hint },
            migrate::Error::Failed { message, hint } => Failure::Failed { message, hint },
            migrate::Error::Reported => Failure::Reported,
            migrate::Error::Unreachable { message, hint } => Failure::Failed { message, hint },
            migrate::Error::Interrupted { message, signal } => {
                Failure::Interrupted { message, signal }
            }
        }
    }
}

/// Renders a run's events: diagnostics, lock waits, and a line per finished
/// step, with a live spinner on a terminal while a step takes longer than a
/// second.
pub struct Render<'c> {
    ctx: &'c Context,
    spinner: Option<crate::report::spinner::Spinner>,
    /// The command prints JSON lines (`upgrade`, `downgrade`, `stamp`): diagnostics are lines
    /// of their own. A command that prints one document puts them in it.
    json_lines: bool,
}

impl<'c> Render<'c> {
    pub fn new(ctx: &'c Context) -> Render<'c> {
        Render {
            ctx,
            spinner: None,
            json_lines: false,
        }
    }

    /// For a command whose JSON is a line per event.
    pub fn lines(ctx: &'c Context) -> Render<'c> {
        Render {
            ctx,
            spinner: None,
            json_lines: true,
        }
    }
}

impl Drop for Render<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.spinner.take() {
            s.stop();
        }
    }
}

impl Sink for Render<'_> {
    fn event(&mut self, event: Event<'_>) {
        // Whatever comes next replaces a spinner's line.
        if let Some(s) = self.spinner.take() {
            s.stop();
        }
        let r = &self.ctx.reporter;
        match event {
            Event::UsingDevDb => {
                r.note("using the local dev database (.keel); set DATABASE_URL to use another")
            }
            Event::WaitingForLock(holder) => {
                r.note(format!("waiting for the migration lock held by {holder}"))
            }
            Event::Diagnostics(diags) => {
                r.diagnostics(diags);
                // In JSON the run's lines carry them: what failed, where, and why.
                if r.json_output() && self.json_lines {
                    for d in diags {
                        r.json(&json::RunEvent::Diagnostic(d));
                    }
                }
            }
            Event::StepStarted(step) => {
                if !r.quiet && !r.json_output() {
                    let verb = match step.direction {
                        Direction::Up => "applying",
                        Direction::Down => "reverting",
                    };
                    self.spinner = Some(crate::report::spinner::Spinner::start(format!(
                        "{verb} {}",
                        step.migration.id()
                    )));
                }
            }
            Event::Retrying(retry) => {
                if r.json_output() {
                    r.json(&json::RunEvent::Retrying(json::Retrying {
                        attempt: retry.attempt,
                        attempts: retry.attempts,
                        message: &retry.diagnostic.message,
                        location: retry.diagnostic.location(),
                        blockers: retry.blockers.iter().map(|b| b.to_string()).collect(),
                        pause_ms: retry.pause.as_secs_f64() * 1000.0,
                    }));
                } else {
                    r.warning(retry.summary());
                }
            }
            Event::StepDone(step, elapsed) => {
                let verb = match step.direction {
                    Direction::Up => "applied",
                    Direction::Down => "reverted",
                };
                if r.json_output() {
                    if !r.quiet {
                        let done = json::Step {
                            version: step.migration.version.digits(),
                            name: &step.migration.name,
                            ms: elapsed.as_secs_f64() * 1000.0,
                        };
                        r.json(&match step.direction {
                            Direction::Up => json::RunEvent::Applied(done),
                            Direction::Down => json::RunEvent::Reverted(done),
                        });
                    }
                } else {
                    r.note(format!(
                        "  {verb} {}  {}",
                        step.migration.id(),
                        human(elapsed)
                    ));
                }
            }
        }
    }
}

/// `12 ms`, `1.3 s`.
pub fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// One line per policy change, on stderr.
pub fn report_policy_changes(ctx: &Context, changes: &[PolicyChange]) {
    for c in changes {
        ctx.reporter
            .note(format!("  policy: {} on {}", c.action, c.table));
    }
}

/// Loads the project and checks what must hold before any run.
pub fn load_for_run(ctx: &Context) -> Result<(Project, Declared), Failure> {
    Ok(migrate::load(&ctx.config, &mut Render::new(ctx))?)
}

/// Opens a session; configuration problems are usage errors (exit 2).
pub fn open(ctx: &Context) -> Result<Session, Failure> {
    Ok(migrate::open(
        &ctx.config,
        ctx.database_url.as_deref(),
        &mut Render::new(ctx),
    )?)
}

/// Opens a session when a database is configured; `None` when none is.
pub fn open_optional(ctx: &Context) -> Result<Option<Session>, Failure> {
    Ok(migrate::open_optional(
        &ctx.config,
        ctx.database_url.as_deref(),
        &mut Render::new(ctx),
    )?)
}

pub fn session_failure(e: SessionError) -> Failure {
    migrate::Error::from(e).into()
}

pub fn db_failure(e: crate::db::DbError) -> Failure {
    migrate::Error::from(e).into()
}
