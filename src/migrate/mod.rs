//! A run, end to end, as a library: load the project, connect, take the
//! lock, refuse a dirty or drifted database, validate (sqlparser, then the
//! server's parser, then strictness), plan, execute, apply the policy stage,
//! write history and the event, unlock.
//!
//! A caller builds a [`Request`], passes a [`Sink`] that receives each
//! [`Event`] as it happens, and gets a [`Report`] or an [`Error`]. Nothing
//! here prints: the CLI renders events and reports, and other callers (many
//! databases at once, a retry loop) can start runs the same way.

mod adopt;
mod connect;
mod guard;
mod load;
mod policies;
mod repair;
mod stamp;
mod validate;
use guard::changed_during_run;

pub use adopt::{adopt, AdoptReport, AdoptRequest, AdoptedVersion};
pub use connect::{locked, open, open_optional, Database};
pub use guard::refuse_dirty;
pub use load::{load, load_accepting_edits};
pub use policies::{apply_policies, apply_prepared_policies, policies_only};
pub use repair::{repair, RepairReport, RepairRequest};
pub use stamp::{stamp, StampReport, StampRequest};
pub use validate::{settle, validate_files, validate_or_refuse, validate_plan};

use crate::db::history::AppliedVersion;
use crate::db::lock::Holder;
use crate::db::run::{self, Progress, RunError, Settings};
use crate::diagnostic::Diagnostic;
use crate::plan::{self, Direction, Plan, Step, Target};
use crate::policies::declared::Declared;
use crate::policies::reconcile::PolicyChange;
use crate::policies::stage::Stage;
use crate::project::{Project, SqlText, Version};
use crate::project_check;
use crate::session::Session;
use crate::sql::check::Options;
use std::collections::BTreeSet;
use std::time::Duration;

/// What to run.
#[derive(Debug, Clone)]
pub struct Request {
    /// The project's settings, the database and the lock timeout.
    pub database: Database,
    pub direction: Direction,
    /// `head`, `base`, a version, `+N` or `-N`, as the user wrote it.
    pub target: String,
    /// Commit after each migration instead of once for the whole run.
    pub per_migration: bool,
    /// Statements no parser could validate are errors.
    pub strict: bool,
}

/// Something a run reports while it goes.
#[derive(Debug)]
pub enum Event<'a> {
    /// No database was configured: the project's dev database is used.
    UsingDevDb,
    /// Another runner holds the lock; the run waits for it.
    WaitingForLock(&'a Holder),
    /// Problems found in the files (warnings, or errors that stop the run).
    Diagnostics(&'a [Diagnostic]),
    StepStarted(&'a Step<'a>),
    StepDone(&'a Step<'a>, Duration),
    /// A statement gave up waiting for a lock (or lost a deadlock); its transaction was rolled
    /// back and runs again after a pause.
    Retrying(&'a run::Retry<'a>),
}

/// Receives a run's events, in order.
pub trait Sink {
    fn event(&mut self, event: Event<'_>);
}

/// A sink that drops every event.
impl Sink for () {
    fn event(&mut self, _event: Event<'_>) {}
}

/// What a finished run did.
#[derive(Debug)]
pub struct Report {
    pub direction: Direction,
    pub from: Option<Version>,
    pub to: Option<Version>,
    /// Migrations applied or reverted.
    pub steps: usize,
    /// How long the steps took; `None` when there was nothing to run.
    pub elapsed: Option<Duration>,
    pub policy_changes: Vec<PolicyChange>,
}

/// Why a run did not succeed. Nothing was applied unless the message says
/// otherwise.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad arguments or configuration.
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },
    /// The work failed.
    #[error("{message}")]
    Failed {
        message: String,
        hint: Option<String>,
    },
    /// The problems went to the sink as [`Event::Diagnostics`].
    #[error("the files have errors")]
    Reported,
    /// The database could not be reached: nothing was tried there.
    #[error("{message}")]
    Unreachable {
        message: String,
        hint: Option<String>,
    },
    /// The request's [`Database::interrupt`] stopped the run; the message says where the
    /// database is.
    #[error("{message}")]
    Interrupted { message: String, signal: i32 },
}

impl Error {
    pub fn usage(message: impl Into<String>, hint: impl Into<Option<String>>) -> Error {
        Error::Usage {
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn failed(message: impl Into<String>, hint: impl Into<Option<String>>) -> Error {
        Error::Failed {
            message: message.into(),
            hint: hint.into(),
        }
    }
}

impl From<crate::project::ProjectError> for Error {
    fn from(e: crate::project::ProjectError) -> Self {
        let hint = e.hint().to_string();
        Error::usage(e.to_string(), Some(hint))
    }
}

impl From<crate::db::DbError> for Error {
    fn from(e: crate::db::DbError) -> Self {
        crate::session::SessionError::Db(e).into()
    }
}

impl From<crate::session::SessionError> for Error {
    fn from(e: crate::session::SessionError) -> Self {
        use crate::session::SessionError;
        match e {
            SessionError::Connect(c) if c.is_configuration() => {
                Error::usage(c.to_string(), Some(c.hint()))
            }
            SessionError::Connect(c) => Error::Unreachable {
                message: c.to_string(),
                hint: Some(c.hint()),
            },
            SessionError::Lock(l @ crate::db::lock::LockError::Interrupted { signal, .. }) => {
                Error::Interrupted {
                    message: l.to_string(),
                    signal,
                }
            }
            SessionError::Lock(l) => {
                let hint = l.hint();
                Error::failed(l.to_string(), hint)
            }
            SessionError::Db(d) => {
                let hint = d.hint();
                Error::failed(d.to_string(), hint)
            }
        }
    }
}

/// `upgrade` or `downgrade`, as the event log and messages name it.
pub fn command(direction: Direction) -> &'static str {
    match direction {
        Direction::Up => "upgrade",
        Direction::Down => "downgrade",
    }
}

/// `0003`, or `base` for no version.
pub fn version_text(v: Option<&Version>) -> String {
    v.map_or_else(|| "base".to_string(), |v| v.to_string())
}

/// Moves the database to the request's target.
pub fn run(req: &Request, sink: &mut dyn Sink) -> Result<Report, Error> {
    // A database already at head needs only the names on disk and one
    // summary row, not every file: `upgrade` then only reconciles the
    // policies.
    if req.direction == Direction::Up && req.target == "head" {
        use crate::project::listing_cache::{self, DiskVersions, Listing};
        let listing = listing_cache::list(&req.database.config.dir)?;
        let on_disk = match &listing {
            Listing::Cached(v) => Some(v.clone()),
            Listing::Scanned(layout) => (!layout.has_errors()).then(|| DiskVersions::of(layout)),
        };
        if let Some(on_disk) = on_disk {
            let mut session = req.database.locked(sink)?;
            if let Some(report) = upgrade_at_head(req, &mut session, &on_disk, None, sink)? {
                return Ok(report);
            }
            let layout = match listing {
                Listing::Scanned(layout) => layout,
                Listing::Cached(_) => crate::project::scan(&req.database.config.dir)?,
            };
            return full_run(req, Some((session, layout)), sink);
        }
    }
    full_run(req, None, sink)
}

/// The SQL `run` would execute, with its history writes, as one script;
/// nothing is locked or written. The state is read when a database is
/// configured.
pub fn render_sql(req: &Request, sink: &mut dyn Sink) -> Result<String, Error> {
    let (project, _) = load(&req.database.config, sink)?;
    let target = parse_target(&req.target, &project)?;
    let schema = &req.database.config.history_schema;
    // What a run would refuse, the script refuses: a dirty database, an applied file changed
    // in substance. A database keel never ran on (or none at all) gets keel's schema first.
    let (applied, setup) = match open_optional(
        &req.database.config,
        req.database.database_url.as_deref(),
        sink,
    )? {
        Some(mut s) => {
            let applied = s.applied(false, &project)?;
            guard::refuse_unsafe_state(&mut s, &project, &applied, req.direction, sink)?;
            let fresh = !crate::db::history::exists(&mut s, schema)?;
            (applied, fresh)
        }
        None => (Vec::new(), true),
    };
    let plan = plan_for(&project, &applied, &target, req.direction)?;
    let texts = plan
        .steps
        .iter()
        .map(|s| s.file().read())
        .collect::<Result<Vec<SqlText>, _>>()
        .map_err(|d| changed_during_run(&d, sink))?;
    let files: Vec<&SqlText> = texts.iter().collect();
    let checked = project_check::check_parallel(
        &files,
        Options {
            strict: req.strict,
            ..Options::default()
        },
    );
    let diags: Vec<Diagnostic> = checked.into_iter().flat_map(|c| c.diagnostics).collect();
    sink.event(Event::Diagnostics(&diags));
    if diags.iter().any(Diagnostic::is_error) {
        return Err(Error::Reported);
    }
    let script = run::render_sql(&plan, schema, req.per_migration, &req.database.config.ddl)
        .map_err(|d| changed_during_run(&d, sink))?;
    let setup = match setup && !plan.steps.is_empty() {
        true => format!(
            "-- keel's history schema, which this database does not have yet\nBEGIN;\n{}COMMIT;\n\n",
            crate::db::history::render_setup(schema)?
        ),
        false => String::new(),
    };
    Ok(format!(
        "-- keel {} {} -> {}\n{setup}{script}",
        command(req.direction),
        version_text(plan.from.as_ref()),
        version_text(plan.to.as_ref()),
    ))
}

pub(crate) fn parse_target(s: &str, project: &Project) -> Result<Target, Error> {
    // `+0` is no revision to look for: say what a relative target counts.
    let t = s.trim();
    if t.len() > 1 && t.starts_with(['+', '-']) && t[1..].bytes().all(|b| b == b'0') {
        return Err(Error::usage(
            format!("`{t}` moves no migration"),
            Some(
                "a relative target counts at least one: `+N` for upgrade, `-N` for downgrade"
                    .into(),
            ),
        ));
    }
    Target::parse(s).ok_or_else(|| {
        Error::usage(
            format!("Can't locate revision identified by '{s}'"),
            Some(plan::nearby_versions(project, s)),
        )
    })
}

/// The steps for `direction` towards `target`.
fn plan_for<'a>(
    project: &'a Project,
    applied: &[AppliedVersion],
    target: &Target,
    direction: Direction,
) -> Result<Plan<'a>, Error> {
    match direction {
        Direction::Up => plan::upgrade(project, applied, target),
        Direction::Down => plan::downgrade(project, applied, target),
    }
    .map_err(|e| plan_error(&e, project))
}

/// A target that names nothing, or the wrong kind of target, is a bad
/// argument; any other planning error means the work cannot be done.
pub(crate) fn plan_error(e: &plan::PlanError, project: &Project) -> Error {
    match e {
        plan::PlanError::UnknownRevision { .. } | plan::PlanError::WrongTarget { .. } => {
            Error::usage(e.to_string(), Some(e.hint(project)))
        }
        _ => Error::failed(e.to_string(), Some(e.hint(project))),
    }
}

/// `upgrade` when every version on disk is applied (checked with the
/// summary's digest): only the policy stage runs. `None` when there is work
/// to do after all.
fn upgrade_at_head(
    req: &Request,
    session: &mut Session,
    on_disk: &crate::project::listing_cache::DiskVersions,
    prepared: Option<&Declared>,
    sink: &mut dyn Sink,
) -> Result<Option<Report>, Error> {
    let Some(summary) = session.summary()? else {
        return Ok(None);
    };
    if summary.dirty.is_some() || summary.digest != on_disk.digest {
        return Ok(None);
    }
    let read;
    let declared = match prepared {
        Some(d) => d,
        None => match load::policies_at_head(&req.database.config.dir, sink)? {
            Some(d) => {
                read = d;
                &read
            }
            // A full run reports the policy folder's problems.
            None => return Ok(None),
        },
    };
    // The same set of versions: the newest applied is the head on disk,
    // written as on disk (`0003`, not `3`).
    let at = on_disk.head;
    let waited = session.lock_wait();
    let changes = policies_only(
        session,
        &req.database.config.history_schema,
        declared,
        at.as_ref(),
        "upgrade",
        "head",
        &waited,
    )?;
    session.unlock()?;
    Ok(Some(Report {
        direction: Direction::Up,
        from: at,
        to: at,
        steps: 0,
        elapsed: None,
        policy_changes: changes,
    }))
}

/// A project loaded and checked once, for runs on many databases ([`run_prepared`]): its
/// files are listed, their headers and checksums checked and the policies declared here, and
/// not again per database.
pub struct Prepared {
    pub project: Project,
    pub declared: Declared,
    /// The versions on disk, for a database at head.
    pub on_disk: crate::project::listing_cache::DiskVersions,
    /// What a database's summary row says when it has applied the first `n` versions on disk
    /// and nothing else, worked out once for every database of a status.
    prefixes: std::sync::OnceLock<crate::project::digest::Prefixes>,
}

impl Prepared {
    fn prefixes(&self) -> &crate::project::digest::Prefixes {
        self.prefixes
            .get_or_init(|| crate::project::digest::Prefixes::of(&self.project.migrations))
    }
}

/// Loads and checks the project of `config` for [`run_prepared`].
pub fn prepare(config: &crate::config::Config, sink: &mut dyn Sink) -> Result<Prepared, Error> {
    let layout = crate::project::scan(&config.dir)?;
    let on_disk = crate::project::listing_cache::DiskVersions::of(&layout);
    let (project, declared) = load::checked(layout, &[], sink)?;
    Ok(Prepared {
        project,
        declared,
        on_disk,
        prefixes: std::sync::OnceLock::new(),
    })
}

/// [`run`] with the project already loaded: what many databases share. Each database is still
/// locked, checked for drift and dirt, planned and validated by its own server on its own.
pub fn run_prepared(
    req: &Request,
    prepared: &Prepared,
    sink: &mut dyn Sink,
) -> Result<Report, Error> {
    let mut session = req.database.locked(sink)?;
    if req.direction == Direction::Up && req.target == "head" {
        if let Some(report) = upgrade_at_head(
            req,
            &mut session,
            &prepared.on_disk,
            Some(&prepared.declared),
            sink,
        )? {
            return Ok(report);
        }
    }
    run_loaded(req, session, &prepared.project, &prepared.declared, sink)
}

/// A run that reads every file: validation, drift, plan, execution.
fn full_run(
    req: &Request,
    started: Option<(Session, crate::project::Layout)>,
    sink: &mut dyn Sink,
) -> Result<Report, Error> {
    let (session, layout) = match started {
        Some((s, l)) => (Some(s), l),
        None => (None, crate::project::scan(&req.database.config.dir)?),
    };
    let (project, declared) = load::checked(layout, &[], sink)?;
    let session = match session {
        Some(s) => s,
        None => req.database.locked(sink)?,
    };
    run_loaded(req, session, &project, &declared, sink)
}

/// What `keel check` finds in a database against the loaded files: edited applied files,
/// applied versions without files, a dirty database, INVALID indexes, policy drift.
pub fn check_database(
    db: &Database,
    prepared: &Prepared,
    sink: &mut dyn Sink,
) -> Result<Vec<Diagnostic>, Error> {
    let mut session = open(&db.config, db.database_url.as_deref(), sink)?;
    let applied = session.applied(false, &prepared.project)?;
    let diags = crate::online_checks::database_diagnostics(
        &mut session,
        &prepared.project,
        &applied,
        false,
    )?;
    sink.event(Event::Diagnostics(&diags));
    Ok(diags)
}

/// Where one database stands against the loaded files (`keel fleet status`).
#[derive(Debug, Clone, Default)]
pub struct DatabaseStatus {
    pub current: Option<Version>,
    /// Versions on disk not applied.
    pub pending: usize,
    pub dirty: Option<Version>,
    /// Applied versions whose up or down file changed since.
    pub drift: usize,
    /// Applied versions with no file.
    pub missing: usize,
    /// The live policies differ from those declared at this version.
    pub policy_drift: bool,
}

/// [`DatabaseStatus`] of `db`, without taking the run lock or writing anything.
///
/// A status of many databases pays a new server backend for each, so it reads the one summary
/// row first: when it says the database holds exactly the first `n` versions on disk with the
/// files' checksums, and none dirty, that is the whole answer. Anything else (drift, dirt, a
/// version applied out of order or without a file, a history from an older keel) is read row by
/// row.
pub fn database_status(
    db: &Database,
    prepared: &Prepared,
    sink: &mut dyn Sink,
) -> Result<DatabaseStatus, Error> {
    let project = &prepared.project;
    let mut session = open(&db.config, db.database_url.as_deref(), sink)?;
    let digest = session.checksum_digest()?;
    let mut status = match digest {
        Some(d)
            if d.dirty == 0
                && prepared
                    .prefixes()
                    .matches(d.applied, &d.versions, &d.checksums) =>
        {
            DatabaseStatus {
                current: d
                    .applied
                    .checked_sub(1)
                    .map(|last| project.migrations[last].version),
                pending: project.migrations.len() - d.applied,
                ..DatabaseStatus::default()
            }
        }
        _ => status_from_rows(&mut session, project)?,
    };
    let tables = crate::policies::status::status(
        &mut session,
        &db.config.history_schema,
        &prepared.declared,
        status.current.as_ref(),
    )?;
    status.policy_drift = tables.iter().any(|t| t.drifted());
    Ok(status)
}

/// [`DatabaseStatus`] (without policies) from every applied row.
fn status_from_rows(session: &mut Session, project: &Project) -> Result<DatabaseStatus, Error> {
    let recorded = session.recorded(project)?;
    let mut status = DatabaseStatus {
        current: recorded.iter().map(|r| r.version).max(),
        dirty: recorded.iter().find(|r| r.dirty).map(|r| r.version),
        ..DatabaseStatus::default()
    };
    for r in &recorded {
        match project.find(&r.version) {
            None => status.missing += 1,
            Some(m) => {
                if !m.up.checksum.matches(&r.up_checksum)
                    || !m.down.checksum.matches(&r.down_checksum)
                {
                    status.drift += 1;
                }
            }
        }
    }
    let applied: BTreeSet<Version> = recorded.iter().map(|r| r.version).collect();
    status.pending = project
        .migrations
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .count();
    Ok(status)
}

/// Drift, plan, validation and execution on a locked session.
fn run_loaded(
    req: &Request,
    mut session: Session,
    project: &Project,
    declared: &Declared,
    sink: &mut dyn Sink,
) -> Result<Report, Error> {
    let target = parse_target(&req.target, project)?;
    let command = command(req.direction);
    let schema = &req.database.config.history_schema;
    let waited = session.lock_wait();
    let applied = session.applied(false, project)?;
    guard::refuse_unsafe_state(&mut session, project, &applied, req.direction, sink)?;
    let plan = plan_for(project, &applied, &target, req.direction)?;
    if plan.steps.is_empty() {
        let changes = policies_only(
            &mut session,
            schema,
            declared,
            plan.from.as_ref(),
            command,
            &req.target,
            &waited,
        )?;
        session.unlock()?;
        return Ok(Report {
            direction: req.direction,
            from: plan.from,
            to: plan.from,
            steps: 0,
            elapsed: None,
            policy_changes: changes,
        });
    }
    validate_plan(&mut session, &plan, req.strict, sink)?;

    let applied_set: BTreeSet<_> = applied.iter().map(|a| a.version).collect();
    let settings = Settings {
        schema,
        per_migration: req.per_migration,
        command,
        target: &req.target,
        waited: waited.0,
        waited_for: waited.1,
        ddl: &req.database.config.ddl,
        interrupt: req.database.interrupt.as_ref(),
    };
    let mut stage = Stage::new(declared, schema, req.direction == Direction::Down);
    let result = run::execute(
        &mut session,
        &plan,
        &applied_set,
        &settings,
        &mut Forward(sink),
        &mut stage,
    );
    match result {
        Ok(outcome) => {
            session.unlock()?;
            Ok(Report {
                direction: req.direction,
                from: plan.from,
                to: plan.to,
                steps: outcome.steps,
                elapsed: Some(outcome.elapsed),
                policy_changes: stage.changes,
            })
        }
        Err(RunError::Statement {
            diagnostic,
            now_at,
            partly_committed,
            ..
        }) => {
            sink.event(Event::Diagnostics(std::slice::from_ref(&diagnostic)));
            let dirty = partly_committed
                .then(|| dirty_id(&mut session, project))
                .flatten();
            let state = left_at(now_at.as_ref(), partly_committed, dirty);
            Err(Error::failed(format!("{command} failed; {state}"), None))
        }
        Err(RunError::Interrupted {
            signal,
            cancelled,
            now_at,
            partly_committed,
        }) => {
            if let Some(d) = cancelled {
                sink.event(Event::Diagnostics(std::slice::from_ref(&d)));
            }
            let dirty = partly_committed
                .then(|| dirty_id(&mut session, project))
                .flatten();
            let state = left_at(now_at.as_ref(), partly_committed, dirty);
            Err(Error::Interrupted {
                message: format!(
                    "{command} stopped by {}; {state}",
                    crate::interrupt::signal_name(signal)
                ),
                signal,
            })
        }
        Err(RunError::Db(e)) => Err(e.into()),
        Err(RunError::Stage { message, hint }) => Err(Error::failed(message, hint)),
    }
}

/// The version a failed run left dirty, read back from the database (`0007_name`).
fn dirty_id(session: &mut Session, project: &Project) -> Option<String> {
    let applied = session.applied(false, project).ok()?;
    let d = applied.iter().find(|a| a.dirty)?;
    Some(format!("{}_{}", d.version, d.name))
}

/// Where a run that did not finish left the database; `dirty`, a version it left dirty.
fn left_at(now_at: Option<&Version>, partly_committed: bool, dirty: Option<String>) -> String {
    if partly_committed {
        let dirty = dirty
            .map(|d| format!(", and {d} is recorded dirty (it did not finish)"))
            .unwrap_or_default();
        format!(
            "the run stopped; steps before the failing one were committed: the database is at {}{dirty}",
            version_text(now_at)
        )
    } else {
        format!(
            "nothing was applied: the run was rolled back and the database is still at {}",
            version_text(now_at)
        )
    }
}

/// Hands the executor's progress to the sink.
struct Forward<'s>(&'s mut dyn Sink);

impl Progress for Forward<'_> {
    fn step_started(&mut self, step: &Step<'_>) {
        self.0.event(Event::StepStarted(step));
    }

    fn step_done(&mut self, step: &Step<'_>, elapsed: Duration) {
        self.0.event(Event::StepDone(step, elapsed));
    }

    fn retrying(&mut self, retry: &run::Retry<'_>) {
        self.0.event(Event::Retrying(retry));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_target_of_zero_says_what_it_counts() {
        for zero in ["+0", "-0", " -00 "] {
            let e = parse_target(zero, &Project::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains("moves no migration"), "{zero}: {e}");
        }
        let e = parse_target("+x", &Project::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("Can't locate revision"), "{e}");
        assert!(parse_target("+1", &Project::default()).is_ok());
    }
}
