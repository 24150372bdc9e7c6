//! Executing a plan: the one place that decides transaction boundaries.
//!
//! By default the whole run is one transaction: every step, its history row
//! and the event log entry commit together or not at all. With
//! `per_migration`, each step commits on its own. A `transaction off`
//! migration commits what came before, runs its statements one by one
//! outside a transaction, and is recorded dirty until it completes.

use super::history::{self, Event, NewVersion};
use super::DbError;
use crate::diagnostic::{codes, Diagnostic};
use crate::header::TransactionMode;
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
}

/// Told about each step as it finishes.
pub trait Progress {
    fn step_started(&mut self, _step: &Step<'_>) {}
    fn step_done(&mut self, step: &Step<'_>, elapsed: Duration);
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
    },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{message}")]
    Stage {
        message: String,
        hint: Option<String>,
    },
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
    let mut state = State {
        done: 0,
        committed: 0,
        in_tx: false,
        rows: history::Batch::default(),
        deletes: Vec::new(),
    };
    let result = run_steps(client, plan, applied, settings, progress, hooks, &mut state);
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
                RunError::Statement { diagnostic, .. } => RunError::Statement {
                    diagnostic,
                    now_at,
                    partly_committed: partly,
                },
                other => other,
            })
        }
    }
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
            .batch_execute("BEGIN")
            .map_err(|e| DbError::query("starting the transaction", &e))?;
        state.in_tx = true;
    }
    Ok(())
}

/// Writes the pending history rows and commits.
fn commit(client: &mut Client, schema: &str, state: &mut State<'_>) -> Result<(), RunError> {
    flush(client, schema, state)?;
    if state.in_tx {
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
    hooks.before_steps(client)?;
    for step in &plan.steps {
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
            commit(client, schema, state)?;
            run_outside_transaction(client, schema, step, file, down.as_ref())?;
        } else {
            begin(client, state)?;
            for range in statements(file) {
                exec(client, file, range)?;
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
            commit(client, schema, state)?;
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
    commit(client, schema, state)
}

/// A `transaction off` step: recorded dirty first, each statement on its
/// own, then recorded clean (or removed, going down).
fn run_outside_transaction(
    client: &mut Client,
    schema: &str,
    step: &Step<'_>,
    file: &SqlText,
    down: Option<&SqlText>,
) -> Result<(), RunError> {
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
    let t = Instant::now();
    for (i, range) in statements(file).into_iter().enumerate() {
        history::set_dirty(client, schema, version, direction, i as i32 + 1)?;
        exec(client, file, range)?;
    }
    match step.direction {
        Direction::Up => {
            history::set_clean(client, schema, version, t.elapsed().as_secs_f64() * 1000.0)?
        }
        Direction::Down => history::delete(client, schema, &[version])?,
    }
    Ok(())
}

/// Runs one statement; a failure becomes a diagnostic at its file and line.
fn exec(client: &mut Client, file: &SqlText, range: Range<usize>) -> Result<(), RunError> {
    let sql = &file.text[range.clone()];
    super::statement::run_one(client, sql).map_err(|e| statement_error(file, range, &e))
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
    RunError::Statement {
        diagnostic: Box::new(d),
        now_at: None,
        partly_committed: false,
    }
}

/// The exact SQL a run would send, for `--sql` (Alembic's offline mode).
/// Each file is read again; one edited since it was checked is refused.
pub fn render_sql(
    plan: &Plan<'_>,
    schema: &str,
    per_migration: bool,
) -> Result<String, Box<Diagnostic>> {
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
            out.push_str("BEGIN;\n\n");
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
