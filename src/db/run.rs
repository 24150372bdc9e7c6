//! Executing a plan: the one place that decides transaction boundaries.
//!
//! By default the whole run is one transaction: every step, its history row
//! and the event log entry commit together or not at all. With
//! `per_migration`, each step commits on its own. A `transaction off`
//! migration commits what came before, runs its statements one by one
//! outside a transaction, and is recorded dirty until it completes.

use super::blockers::{self, Blocker};
use super::history::{self, Event, NewVersion};
use super::DbError;
use crate::backoff::Backoff;
use crate::config::DdlSettings;
use crate::diagnostic::{codes, Diagnostic};
use crate::header::TransactionMode;
use crate::interrupt::Interrupt;
use crate::plan::{Direction, Plan, Step};
use crate::project::{SqlFile, SqlText, Version};
use crate::sql::split;
use postgres::error::ErrorPosition;
use postgres::Client;
use std::collections::BTreeSet;
use std::ops::Range;
use std::time::{Duration, Instant};

/// How a run is carried out.
#[derive(Debug, Clone)]
pub struct Settings<'a> {
    pub schema: &'a str,
    pub per_migration: bool,
    /// For the event log: `upgrade`, `downgrade`.
    pub command: &'a str,
    pub target: &'a str,
    pub waited: Option<Duration>,
    pub waited_for: Option<String>,
    /// Lock and statement timeouts, and how often a transaction that hit one is retried.
    pub ddl: &'a DdlSettings,
    /// What may stop the run from outside: checked before each statement and each commit.
    pub interrupt: Option<&'a Interrupt>,
}

impl Settings<'_> {
    /// The signal that stopped the run, if one did.
    fn stopped(&self) -> Option<i32> {
        self.interrupt.and_then(Interrupt::signal)
    }

    /// An error when the run was stopped: it must not go on.
    fn go_on(&self) -> Result<(), RunError> {
        match self.stopped() {
            Some(signal) => Err(RunError::interrupted(signal, None)),
            None => Ok(()),
        }
    }
}

/// Told about each step as it finishes.
pub trait Progress {
    fn step_started(&mut self, _step: &Step<'_>) {}
    fn step_done(&mut self, step: &Step<'_>, elapsed: Duration);
    /// A statement gave up waiting for a lock (or lost a deadlock); the work since the last
    /// commit was rolled back and runs again after a pause.
    fn retrying(&mut self, _retry: &Retry<'_>) {}
}

/// One retry of a transaction (or of a `transaction off` statement) that hit a lock.
#[derive(Debug)]
pub struct Retry<'a> {
    /// The failed attempt, 1-based, and how many there may be in all.
    pub attempt: u32,
    pub attempts: u32,
    /// Where and why: the statement's diagnostic (its file, line and the server's message).
    pub diagnostic: &'a Diagnostic,
    /// The sessions that held the lock, as far as keel could tell.
    pub blockers: &'a [Blocker],
    /// The pause before the next attempt.
    pub pause: Duration,
}

impl Retry<'_> {
    /// One line for people and the event log: what, where, who, and when again.
    pub fn summary(&self) -> String {
        format!(
            "{} at {}; {}; attempt {} of {} failed, retrying in {:.1} s",
            self.diagnostic.message,
            self.diagnostic.location().unwrap_or_default(),
            blocked_by(self.blockers),
            self.attempt,
            self.attempts,
            self.pause.as_secs_f64()
        )
    }
}

/// "blocked by pid 42 (...)", or what keel could not tell.
pub fn blocked_by(blockers: &[Blocker]) -> String {
    if blockers.is_empty() {
        return "the session that held the lock was gone when keel looked".into();
    }
    let each: Vec<String> = blockers.iter().map(|b| b.to_string()).collect();
    format!("blocked by {}", each.join("; and by "))
}

/// Work a run does around its steps, inside its transaction: the policy
/// stage.
pub trait Hooks {
    /// Before the first step, in the run's first transaction.
    fn before_steps(&mut self, _client: &mut Client) -> Result<(), RunError> {
        Ok(())
    }
    /// After the last step, in the run's last transaction, before it
    /// commits; `at` is the version the database is now at.
    fn before_commit(
        &mut self,
        _client: &mut Client,
        _at: Option<&Version>,
    ) -> Result<(), RunError> {
        Ok(())
    }
}

/// No hooks.
pub struct NoHooks;
impl Hooks for NoHooks {}

/// What a finished run did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub steps: usize,
    pub elapsed: Duration,
}

/// A run that failed, and where it left the database.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{}", .diagnostic.message)]
    Statement {
        diagnostic: Box<Diagnostic>,
        /// The version the database is at now (after the rollback).
        now_at: Option<Version>,
        /// Whether steps of this run were committed before the failure.
        partly_committed: bool,
        /// Set when the statement gave up on a lock: running its transaction again may work.
        lock: Option<Box<LockFailure>>,
    },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{message}")]
    Stage {
        message: String,
        hint: Option<String>,
    },
    /// A signal (or the caller) stopped the run ([`crate::interrupt`]).
    #[error("stopped by {}", crate::interrupt::signal_name(*signal))]
    Interrupted {
        signal: i32,
        /// The statement that was running, cancelled: its file and line.
        cancelled: Option<Box<Diagnostic>>,
        /// The version the database is at now (after the rollback).
        now_at: Option<Version>,
        /// Whether steps of this run were committed before it stopped.
        partly_committed: bool,
    },
}

impl RunError {
    fn interrupted(signal: i32, cancelled: Option<Box<Diagnostic>>) -> RunError {
        RunError::Interrupted {
            signal,
            cancelled,
            now_at: None,
            partly_committed: false,
        }
    }
}

/// A statement that waited too long for a lock, or lost a deadlock.
#[derive(Debug, Clone)]
pub struct LockFailure {
    /// The relations the statement names: where to look for the blocker.
    pub relations: Vec<String>,
    /// How long the statement ran before it gave up.
    pub waited: Duration,
}

/// The statements of a file as (text range), in order.
pub fn statements(file: &SqlText) -> Vec<Range<usize>> {
    split::split(&file.text)
        .filter_map(Result::ok)
        .map(|s| s.text)
        .collect()
}

/// Runs `plan`. `applied` is the set of versions applied before the run.
pub fn execute(
    conn: &mut impl super::Connection<Client = Client>,
    plan: &Plan<'_>,
    applied: &BTreeSet<Version>,
    settings: &Settings<'_>,
    progress: &mut dyn Progress,
    hooks: &mut dyn Hooks,
) -> Result<Outcome, RunError> {
    let client = super::client(conn);
    let started = Instant::now();
    let mut state = State::new(begin_sql(settings.ddl), 0);
    let attempts = settings.ddl.retries.saturating_add(1);
    let mut attempt = 1;
    let result = loop {
        let result = run_steps(client, plan, applied, settings, progress, hooks, &mut state);
        let Err(RunError::Statement {
            diagnostic,
            lock: Some(lock),
            now_at,
            partly_committed,
        }) = result
        else {
            break result;
        };
        // Everything since the last commit is rolled back; what was committed stays done.
        if state.in_tx {
            let _ = client.batch_execute("ROLLBACK");
        }
        let found = blockers::blockers(client, &lock.relations, lock.waited).unwrap_or_default();
        if attempt >= attempts {
            let mut diagnostic = *diagnostic;
            diagnostic =
                diagnostic.with_note(format!("{} ({attempts} attempts)", blocked_by(&found)));
            if diagnostic.hint.is_none() {
                diagnostic = diagnostic.with_hint(
                    "end the blocking session, or run again when it is done; `ddl_lock_timeout` \
                     and `ddl_lock_retries` in keel.toml set how long and how often keel waits",
                );
            }
            state.in_tx = false;
            break Err(RunError::Statement {
                diagnostic: Box::new(diagnostic),
                now_at,
                partly_committed,
                lock: None,
            });
        }
        let at = version_after(applied, plan, state.committed);
        let where_ = (plan.from.as_ref(), at.as_ref());
        pause_before_retry(
            client,
            settings,
            where_,
            (attempt, attempts),
            &diagnostic,
            &found,
            &lock,
            progress,
        );
        attempt += 1;
        state = State::new(std::mem::take(&mut state.begin_sql), state.committed);
    };
    match result {
        Ok(()) => Ok(Outcome {
            steps: plan.steps.len(),
            elapsed: started.elapsed(),
        }),
        Err(e) => {
            if state.in_tx {
                // The error already aborted the transaction; this ends it.
                let _ = client.batch_execute("ROLLBACK");
            }
            let now_at = version_after(applied, plan, state.committed);
            // Each step changes the set of applied versions: any committed step
            // means the database moved.
            let partly = state.committed > 0;
            let _ = history::log_event(
                client,
                settings.schema,
                &Event {
                    command: settings.command,
                    target: Some(settings.target),
                    from: plan.from.as_ref(),
                    to: now_at.as_ref(),
                    outcome: "failed",
                    detail: Some(e.to_string()),
                    waited_ms: settings.waited.map(|d| d.as_secs_f64() * 1000.0),
                },
            );
            Err(match e {
                RunError::Statement {
                    diagnostic,
                    partly_committed,
                    ..
                } => RunError::Statement {
                    diagnostic,
                    now_at,
                    partly_committed: partly || partly_committed,
                    lock: None,
                },
                RunError::Interrupted {
                    signal, cancelled, ..
                } => RunError::Interrupted {
                    signal,
                    cancelled,
                    now_at,
                    partly_committed: partly,
                },
                // The cancel request reached a statement of keel's own (history, policies).
                _ if settings.stopped().is_some() => RunError::Interrupted {
                    signal: settings.stopped().unwrap_or(Interrupt::BY_CALLER),
                    cancelled: None,
                    now_at,
                    partly_committed: partly,
                },
                other => other,
            })
        }
    }
}

/// After a failed attempt (`attempt` of `attempts`): logs the retry as an event, tells
/// `progress`, and pauses. `versions` is where the run stands (from, now) for the event.
#[allow(clippy::too_many_arguments)] // one call per retry path; a struct would only rename them
fn pause_before_retry(
    client: &mut Client,
    settings: &Settings<'_>,
    versions: (Option<&Version>, Option<&Version>),
    (attempt, attempts): (u32, u32),
    diagnostic: &Diagnostic,
    found: &[Blocker],
    lock: &LockFailure,
    progress: &mut dyn Progress,
) {
    let retry = Retry {
        attempt,
        attempts,
        diagnostic,
        blockers: found,
        pause: Backoff::default().pause_jittered(attempt - 1),
    };
    let _ = history::log_event(
        client,
        settings.schema,
        &Event {
            command: settings.command,
            target: Some(settings.target),
            from: versions.0,
            to: versions.1,
            outcome: "retry",
            detail: Some(retry.summary()),
            waited_ms: Some(lock.waited.as_secs_f64() * 1000.0),
        },
    );
    progress.retrying(&retry);
    // In slices, so that a stopped run does not sit out the pause.
    let until = Instant::now() + retry.pause;
    while settings.stopped().is_none() {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

/// What starts each transaction of a run: `BEGIN` and the lock and statement timeouts, in one
/// round trip. The values were checked to be durations ([`crate::config::validate_duration`]);
/// they are quoted as literals all the same.
fn begin_sql(ddl: &DdlSettings) -> String {
    format!("BEGIN; {}", timeouts(ddl, "SET LOCAL"))
}

/// The timeouts for a `transaction off` migration, which has no transaction to scope them;
/// [`RESET_TIMEOUTS`] undoes them after it.
fn set_session_timeouts(ddl: &DdlSettings) -> String {
    timeouts(ddl, "SET")
}

const RESET_TIMEOUTS: &str = "RESET lock_timeout; RESET statement_timeout";

fn timeouts(ddl: &DdlSettings, set: &str) -> String {
    let literal = |v: &str| format!("'{}'", v.trim().replace('\'', "''"));
    let mut sql = format!("{set} lock_timeout = {}", literal(&ddl.lock_timeout));
    if let Some(t) = &ddl.statement_timeout {
        sql.push_str(&format!("; {set} statement_timeout = {}", literal(t)));
    }
    sql
}

/// Where a run is. The applied versions at any point are the ones applied
/// before the run changed by the plan's first steps ([`version_after`]), so
/// counts are enough: no copy of the set per step or per commit.
struct State<'a> {
    /// Steps finished (committed or not).
    done: usize,
    /// Steps whose work is committed.
    committed: usize,
    in_tx: bool,
    /// History rows of applied steps not written yet.
    rows: history::Batch,
    deletes: Vec<&'a Version>,
    /// [`begin_sql`].
    begin_sql: String,
}

impl State<'_> {
    /// A run (or a run's next attempt) whose first `committed` steps are done and committed.
    fn new(begin_sql: String, committed: usize) -> Self {
        State {
            done: committed,
            committed,
            in_tx: false,
            rows: history::Batch::default(),
            deletes: Vec::new(),
            begin_sql,
        }
    }
}

/// The newest version applied once the first `steps` steps of `plan` ran on a
/// database where `applied` were applied.
fn version_after(applied: &BTreeSet<Version>, plan: &Plan<'_>, steps: usize) -> Option<Version> {
    let done = &plan.steps[..steps.min(plan.steps.len())];
    let reverted: BTreeSet<&Version> = done
        .iter()
        .filter(|s| s.direction == Direction::Down)
        .map(|s| &s.migration.version)
        .collect();
    let newest_kept = applied.iter().rev().find(|v| !reverted.contains(v));
    let newest_applied = done
        .iter()
        .filter(|s| s.direction == Direction::Up)
        .map(|s| &s.migration.version)
        .max();
    newest_kept.max(newest_applied).cloned()
}

fn begin(client: &mut Client, state: &mut State<'_>) -> Result<(), RunError> {
    if !state.in_tx {
        client
            .batch_execute(&state.begin_sql)
            .map_err(|e| DbError::query("starting the transaction", &e))?;
        state.in_tx = true;
    }
    Ok(())
}

/// Writes the pending history rows and commits.
fn commit(
    client: &mut Client,
    settings: &Settings<'_>,
    state: &mut State<'_>,
) -> Result<(), RunError> {
    flush(client, settings.schema, state)?;
    if state.in_tx {
        // A stopped run rolls back what it has not committed, however far it got.
        settings.go_on()?;
        client
            .batch_execute("COMMIT")
            .map_err(|e| DbError::query("committing", &e))?;
        state.in_tx = false;
    }
    state.committed = state.done;
    Ok(())
}

fn flush(client: &mut Client, schema: &str, state: &mut State<'_>) -> Result<(), RunError> {
    state.rows.write(client, schema)?;
    history::delete(client, schema, &state.deletes)?;
    state.deletes.clear();
    Ok(())
}

/// The text of a step's file, read again: a file edited since it was
/// checked stops the run.
fn text_of(file: &SqlFile) -> Result<SqlText, RunError> {
    file.read().map_err(|diagnostic| RunError::Statement {
        diagnostic,
        now_at: None,
        partly_committed: false,
        lock: None,
    })
}

/// Records an applied step: into the batch, or at once when its SQL is too
/// large to copy into it.
fn record(
    client: &mut Client,
    schema: &str,
    state: &mut State<'_>,
    row: &NewVersion<'_>,
) -> Result<(), RunError> {
    if row.sql_len() > history::Batch::LIMIT {
        history::insert(client, schema, std::slice::from_ref(row))?;
    } else {
        state.rows.push(row);
        if state.rows.is_full() {
            state.rows.write(client, schema)?;
        }
    }
    Ok(())
}

fn run_steps<'a>(
    client: &mut Client,
    plan: &Plan<'a>,
    applied: &BTreeSet<Version>,
    settings: &Settings<'_>,
    progress: &mut dyn Progress,
    hooks: &mut dyn Hooks,
    state: &mut State<'a>,
) -> Result<(), RunError> {
    let schema = settings.schema;
    begin(client, state)?;
    // A retry after steps were committed resumes after them; their transaction ran the hook.
    if state.committed == 0 {
        hooks.before_steps(client)?;
    }
    for step in &plan.steps[state.done..] {
        let file = &text_of(&step.file())?;
        // The history row keeps both texts of an applied version.
        let down = match step.direction {
            Direction::Up => Some(text_of(&step.migration.down_file())?),
            Direction::Down => None,
        };
        let version = &step.migration.version;
        progress.step_started(step);
        let t = Instant::now();
        if file.facts.transaction == TransactionMode::Off {
            commit(client, settings, state)?;
            run_outside_transaction(client, settings, step, file, down.as_ref(), progress)
                .map_err(|e| left_dirty(e, step))?;
        } else {
            begin(client, state)?;
            for range in statements(file) {
                exec(client, settings, file, range)?;
            }
        }
        let elapsed = t.elapsed();
        match step.direction {
            Direction::Up => {
                if let (TransactionMode::On, Some(down)) = (file.facts.transaction, &down) {
                    let ms = elapsed.as_secs_f64() * 1000.0;
                    let row = NewVersion::of(step.migration, file, down, Some(ms), false);
                    record(client, schema, state, &row)?;
                }
            }
            Direction::Down => {
                if file.facts.transaction == TransactionMode::On {
                    state.deletes.push(version);
                }
            }
        }
        state.done += 1;
        if file.facts.transaction == TransactionMode::Off {
            state.committed = state.done;
        } else if settings.per_migration {
            commit(client, settings, state)?;
        }
        progress.step_done(step, elapsed);
    }
    begin(client, state)?;
    flush(client, schema, state)?;
    let now = version_after(applied, plan, state.done);
    hooks.before_commit(client, now.as_ref())?;
    history::log_event(
        client,
        schema,
        &Event {
            command: settings.command,
            target: Some(settings.target),
            from: plan.from.as_ref(),
            to: now.as_ref(),
            outcome: "ok",
            detail: settings
                .waited_for
                .as_ref()
                .map(|h| format!("waited for the lock held by {h}")),
            waited_ms: settings.waited.map(|d| d.as_secs_f64() * 1000.0),
        },
    )?;
    commit(client, settings, state)
}

/// A `transaction off` step that failed part way: what ran before the failing statement stays,
/// and the version is marked dirty, which the error must say (nothing rolled it back).
fn left_dirty(error: RunError, step: &Step<'_>) -> RunError {
    let note = format!(
        "{} runs outside a transaction: the statements before this one stayed applied, \
         and the version is marked dirty until `keel repair {}`",
        step.migration.id(),
        step.migration.version.number()
    );
    match error {
        RunError::Statement {
            diagnostic,
            now_at,
            lock,
            ..
        } => RunError::Statement {
            diagnostic: Box::new((*diagnostic).with_note(note)),
            now_at,
            partly_committed: true,
            lock,
        },
        RunError::Interrupted {
            signal,
            cancelled,
            now_at,
            ..
        } => {
            let stopped = cancelled.map_or_else(
                || {
                    Diagnostic::error(
                        codes::STATEMENT_FAILED,
                        format!("{} stopped between two statements", step.migration.id()),
                    )
                },
                |d| *d,
            );
            RunError::Interrupted {
                signal,
                cancelled: Some(Box::new(stopped.with_note(note))),
                now_at,
                partly_committed: true,
            }
        }
        other => other,
    }
}

/// A `transaction off` step: recorded dirty first, each statement on its
/// own, then recorded clean (or removed, going down).
fn run_outside_transaction(
    client: &mut Client,
    settings: &Settings<'_>,
    step: &Step<'_>,
    file: &SqlText,
    down: Option<&SqlText>,
    progress: &mut dyn Progress,
) -> Result<(), RunError> {
    let schema = settings.schema;
    let version = &step.migration.version;
    let direction = step.direction;
    match (step.direction, down) {
        (Direction::Up, Some(down)) => history::insert(
            client,
            schema,
            &[NewVersion::of(step.migration, file, down, None, true)],
        )?,
        _ => history::set_dirty(client, schema, version, direction, 0)?,
    }
    // No transaction to scope them: the timeouts are set for the session and reset after.
    client
        .batch_execute(&set_session_timeouts(settings.ddl))
        .map_err(|e| DbError::query("setting the lock timeout", &e))?;
    let t = Instant::now();
    for (i, range) in statements(file).into_iter().enumerate() {
        history::set_dirty(client, schema, version, direction, i as i32 + 1)?;
        exec_retrying(client, settings, file, range, progress)?;
    }
    client
        .batch_execute(RESET_TIMEOUTS)
        .map_err(|e| DbError::query("resetting the lock timeout", &e))?;
    match step.direction {
        Direction::Up => {
            history::set_clean(client, schema, version, t.elapsed().as_secs_f64() * 1000.0)?
        }
        Direction::Down => history::delete(client, schema, &[version])?,
    }
    Ok(())
}

/// Runs one statement; a failure becomes a diagnostic at its file and line.
fn exec(
    client: &mut Client,
    settings: &Settings<'_>,
    file: &SqlText,
    range: Range<usize>,
) -> Result<(), RunError> {
    settings.go_on()?;
    let sql = &file.text[range.clone()];
    let t = Instant::now();
    super::statement::run_one(client, sql).map_err(|e| {
        let mut error = statement_error(file, range, &e);
        // Whatever the statement's error, a stopped run reports the stop (the cancel request
        // makes it "canceling statement due to user request").
        if let (Some(signal), RunError::Statement { diagnostic, .. }) = (settings.stopped(), &error)
        {
            return RunError::interrupted(signal, Some(diagnostic.clone()));
        }
        if let RunError::Statement { lock: Some(l), .. } = &mut error {
            l.waited = t.elapsed();
        }
        error
    })
}

/// A statement outside a transaction: one that gave up on a lock did nothing and is run again,
/// unless it builds or drops an index concurrently, which can leave an INVALID index behind
/// when interrupted (reported as `keel check` does, with the statement that drops it).
fn exec_retrying(
    client: &mut Client,
    settings: &Settings<'_>,
    file: &SqlText,
    range: Range<usize>,
    progress: &mut dyn Progress,
) -> Result<(), RunError> {
    let attempts = settings.ddl.retries.saturating_add(1);
    let concurrent = crate::sql::split::words(&file.text[range.clone()])
        .any(|w| w.text.eq_ignore_ascii_case("CONCURRENTLY"));
    let mut attempt = 1;
    loop {
        let error = match exec(client, settings, file, range.clone()) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        let RunError::Statement {
            diagnostic,
            lock: Some(lock),
            now_at,
            partly_committed,
        } = error
        else {
            return Err(error);
        };
        let found = blockers::blockers(client, &lock.relations, lock.waited).unwrap_or_default();
        if concurrent || attempt >= attempts {
            let mut diagnostic = (*diagnostic).with_note(blocked_by(&found));
            if concurrent {
                diagnostic = diagnostic.with_note(
                    "not retried: an interrupted concurrent index build can leave an INVALID \
                     index; `keel check` lists any, with the statement that drops it",
                );
            }
            return Err(RunError::Statement {
                diagnostic: Box::new(diagnostic),
                now_at,
                partly_committed,
                lock: None,
            });
        }
        pause_before_retry(
            client,
            settings,
            (None, None),
            (attempt, attempts),
            &diagnostic,
            &found,
            &lock,
            progress,
        );
        attempt += 1;
    }
}

/// A PostgreSQL error as a diagnostic pointing into the file: SQLSTATE,
/// message, DETAIL and HINT, at the error position when the server gave one.
pub fn statement_error(file: &SqlText, range: Range<usize>, e: &postgres::Error) -> RunError {
    let Some(db) = e.as_db_error() else {
        return RunError::Db(DbError::query(
            &format!("running {}", file.path.display()),
            e,
        ));
    };
    let sql = &file.text[range.clone()];
    let offset = match db.position() {
        Some(ErrorPosition::Original(p)) => sql
            .char_indices()
            .nth((*p as usize).saturating_sub(1))
            .map_or(0, |(b, _)| b),
        _ => 0,
    };
    let at = range.start + offset;
    let end = if offset == 0 {
        range.end
    } else {
        at + sql[offset..]
            .find(char::is_whitespace)
            .unwrap_or(sql.len() - offset)
    };
    let mut d = Diagnostic::error(
        codes::STATEMENT_FAILED,
        format!("{} {}: {}", db.severity(), db.code().code(), db.message()),
    )
    .at(&file.path, &file.text, at..end.max(at));
    if let Some(detail) = db.detail() {
        d = d.with_note(format!("DETAIL: {detail}"));
    }
    if let Some(hint) = db.hint() {
        d = d.with_hint(hint.to_string());
    } else if db
        .message()
        .starts_with("no binary output function available")
    {
        // keel sends a statement with a `;` inside through the extended protocol (one
        // statement per Parse, see db/statement.rs), whose result rows come back in binary; a
        // few types have no binary form.
        d = d.with_hint(
            "keel discards a statement's rows but receives them in binary, which this type lacks: \
             select the column as text (`SELECT col::text ...`), or call the function inside \
             `DO $$ BEGIN PERFORM ...; END $$`"
                .to_string(),
        );
    }
    let lock = blockers::is_lock_failure(db.code().code()).then(|| {
        Box::new(LockFailure {
            relations: crate::sql::relations::relations(sql),
            waited: Duration::ZERO,
        })
    });
    RunError::Statement {
        diagnostic: Box::new(d),
        now_at: None,
        partly_committed: false,
        lock,
    }
}

/// The exact SQL a run would send, for `--sql` (Alembic's offline mode).
/// Each file is read again; one edited since it was checked is refused.
pub fn render_sql(
    plan: &Plan<'_>,
    schema: &str,
    per_migration: bool,
    ddl: &DdlSettings,
) -> Result<String, Box<Diagnostic>> {
    let begin = format!("{};\n\n", begin_sql(ddl).replace("; ", ";\n"));
    let session_timeouts = set_session_timeouts(ddl);
    let mut out = String::new();
    let mut in_tx = false;
    for step in &plan.steps {
        let m = step.migration;
        let (up, down) = m.read_texts()?;
        let file = match step.direction {
            Direction::Up => &up,
            Direction::Down => &down,
        };
        let off = file.facts.transaction == TransactionMode::Off;
        if off && in_tx {
            out.push_str("COMMIT;\n\n");
            in_tx = false;
        }
        if !off && !in_tx {
            out.push_str(&begin);
            in_tx = true;
        }
        out.push_str(&format!(
            "-- {} {} ({}){}\n",
            match step.direction {
                Direction::Up => "apply",
                Direction::Down => "revert",
            },
            m.id(),
            file.path.display(),
            if off { ", outside a transaction" } else { "" }
        ));
        // The history writes are the ones `run_outside_transaction` and the
        // transactional path perform, printed from the same SQL text.
        let v = &m.version;
        let mut write = |sql: String| {
            out.push_str(&sql);
            out.push_str(";\n");
        };
        if off {
            write(session_timeouts.replace("; ", ";\n"));
        }
        match (off, step.direction) {
            (true, Direction::Up) => write(history::insert_sql(
                schema,
                &NewVersion::of(m, &up, &down, None, true),
            )),
            (true, Direction::Down) => write(history::set_dirty_sql(schema, v, Direction::Down, 0)),
            _ => {}
        }
        for (i, range) in statements(file).into_iter().enumerate() {
            if off {
                out.push_str(&history::set_dirty_sql(
                    schema,
                    v,
                    step.direction,
                    i as i32 + 1,
                ));
                out.push_str(";\n");
            }
            let text = &file.text[range];
            out.push_str(text);
            // On the same line, the `;` would be part of a trailing `--` comment.
            if split::ends_in_line_comment(text) {
                out.push('\n');
            }
            out.push_str(";\n");
        }
        let last = match (step.direction, off) {
            (Direction::Up, false) => {
                history::insert_sql(schema, &NewVersion::of(m, &up, &down, None, false))
            }
            (Direction::Up, true) => history::set_clean_sql(schema, v),
            (Direction::Down, _) => history::delete_sql(schema, v),
        };
        out.push_str(&last);
        out.push_str(";\n");
        if off {
            out.push_str(RESET_TIMEOUTS.replace("; ", ";\n").as_str());
            out.push_str(";\n");
        }
        out.push('\n');
        if !off && per_migration {
            out.push_str("COMMIT;\n\n");
            in_tx = false;
        }
    }
    if in_tx {
        out.push_str("COMMIT;\n");
    }
    Ok(out)
}
