//! `keel upgrade`, `keel downgrade` and `keel stamp`: the commands that move
//! the database between versions.

use super::{Context, Failure};
use crate::db::history::{self, AppliedVersion, Event, NewVersion};
use crate::db::run::{self, Progress, RunError, Settings};
use crate::diagnostic::Diagnostic;
use crate::drift::{self, Change};
use crate::plan::{self, Direction, Plan, Step, Target};
use crate::policies::declared::Declared;
use crate::policies::reconcile::Change as PolicyChange;
use crate::policies::stage::Stage;
use crate::project::{FileKind, Migration, Project, SqlFile};
use crate::session::{Session, SessionError};
use crate::sql::validate::{self, Options};
use crate::validation;
use std::collections::BTreeSet;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct UpgradeArgs {
    /// head, a version, or +N
    #[arg(default_value = "head", allow_hyphen_values = true)]
    pub target: String,
    #[command(flatten)]
    pub moving: MoveFlags,
}

#[derive(Debug, clap::Args)]
pub struct DowngradeArgs {
    /// base, a version, or -N
    #[arg(allow_hyphen_values = true)]
    pub target: String,
    #[command(flatten)]
    pub moving: MoveFlags,
}

/// Flags shared by `upgrade` and `downgrade`.
#[derive(Debug, clap::Args)]
pub struct MoveFlags {
    /// Print the SQL that would run, touch nothing
    #[arg(long)]
    pub sql: bool,
    /// Commit after each migration instead of once for the whole run
    #[arg(long)]
    pub transaction_per_migration: bool,
    #[command(flatten)]
    pub run: RunFlags,
}

#[derive(Debug, clap::Args)]
pub struct StampArgs {
    /// head, base or a version
    pub target: String,
    #[command(flatten)]
    pub run: RunFlags,
}

/// Flags of every command that takes the run lock.
#[derive(Debug, Clone, clap::Args)]
pub struct RunFlags {
    /// Seconds to wait for another runner's lock [default: 60, or keel.toml]
    #[arg(long, value_name = "SECONDS")]
    pub lock_timeout: Option<u64>,
    /// Treat statements no parser could validate as errors
    #[arg(long)]
    pub strict: bool,
}

pub fn upgrade(ctx: &Context, a: UpgradeArgs) -> Result<(), Failure> {
    move_to(ctx, Direction::Up, &a.target, &a.moving)
}

pub fn downgrade(ctx: &Context, a: DowngradeArgs) -> Result<(), Failure> {
    move_to(ctx, Direction::Down, &a.target, &a.moving)
}

fn parse_target(s: &str, project: &Project) -> Result<Target, Failure> {
    Target::parse(s).ok_or_else(|| {
        Failure::usage(
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
) -> Result<Plan<'a>, Failure> {
    match direction {
        Direction::Up => plan::upgrade(project, applied, target),
        Direction::Down => plan::downgrade(project, applied, target),
    }
    .map_err(|e| plan_failure(&e, project))
}

/// A target that names nothing, or the wrong kind of target, is a bad
/// argument (exit 2); any other planning error means the work cannot be done.
fn plan_failure(e: &plan::PlanError, project: &Project) -> Failure {
    match e {
        plan::PlanError::UnknownRevision { .. } | plan::PlanError::WrongTarget { .. } => {
            Failure::usage(e.to_string(), Some(e.hint(project)))
        }
        _ => Failure::failed(e.to_string(), Some(e.hint(project))),
    }
}

/// Loads the project and checks what must hold before any run: the layout
/// and every file's header and checksum. Statement checks come later, for
/// the files a run will execute.
pub fn load_for_run(ctx: &Context) -> Result<(Project, Declared), Failure> {
    checked_load(ctx, crate::project::scan(&ctx.config.dir)?, false, &[])
}

/// [`load_for_run`] that tolerates an unsealed edit (a checksum that does not
/// match its body, or none) in the files `unsealed`: `keel repair` seals and
/// records them, so the edit a DBA made by hand is not a dead end. Every
/// other problem in the folder still refuses.
pub fn load_accepting_edits(
    ctx: &Context,
    layout: crate::project::Layout,
    unsealed: &[&std::path::Path],
) -> Result<(Project, Declared), Failure> {
    checked_load(ctx, layout, false, unsealed)
}

/// [`load_for_run`] of a folder already listed. `lean` releases each
/// migration's text once its header is checked: a run reads each file again
/// when it checks and runs it, so its memory stays flat however many
/// migrations there are.
fn checked_load(
    ctx: &Context,
    layout: crate::project::Layout,
    lean: bool,
    unsealed: &[&std::path::Path],
) -> Result<(Project, Declared), Failure> {
    let loaded = crate::project::load_layout(layout, |f, diags| {
        if lean && matches!(f.kind, FileKind::Up | FileKind::Down) {
            validate::header_diagnostics(f, diags);
            f.release();
        }
    });
    let mut diags = loaded.diagnostics;
    for f in loaded.project.files().filter(|f| !f.is_released()) {
        validate::header_diagnostics(f, &mut diags);
    }
    diags.retain(|d| {
        !(is_unsealed_edit(d) && d.path.as_deref().is_some_and(|p| unsealed.contains(&p)))
    });
    // Policy files are small and always applied: validate them fully.
    let policy_files: Vec<&SqlFile> = loaded.project.policies.iter().collect();
    diags.extend(
        validation::check_parallel(&policy_files, Options::default())
            .into_iter()
            .flat_map(|c| c.diagnostics)
            .filter(|d| !is_unsealed_edit(d)),
    );
    let declared = crate::policies::declared::declare(&loaded.project.policies);
    diags.extend(declared.diagnostics.iter().cloned());
    if diags.iter().any(Diagnostic::is_error) {
        ctx.reporter.diagnostics(&diags);
        return Err(Failure::failed(
            "nothing was applied: the migrations folder has errors",
            Some("`keel check --offline` lists them".to_string()),
        ));
    }
    Ok((loaded.project, declared))
}

/// A file edited without `keel seal`: its checksum line is missing or does
/// not match its body.
fn is_unsealed_edit(d: &Diagnostic) -> bool {
    d.code == "checksum-mismatch" || d.code == "missing-checksum"
}

/// Opens a session; configuration problems are usage errors (exit 2).
pub fn open(ctx: &Context) -> Result<Session, Failure> {
    let session = Session::open(ctx.database_url.as_deref(), &ctx.config.history_schema)
        .map_err(session_failure)?;
    note_dev_db(ctx, &session);
    Ok(session)
}

/// Says so when the embedded default (the project's dev database) is used.
fn note_dev_db(ctx: &Context, session: &Session) {
    if session.target.source == crate::db::connect::Source::DevDb {
        ctx.reporter
            .note("using the local dev database (.keel); set DATABASE_URL to use another");
    }
}

pub fn session_failure(e: SessionError) -> Failure {
    match e {
        SessionError::Connect(c) if c.is_configuration() => {
            Failure::usage(c.to_string(), Some(c.hint()))
        }
        SessionError::Connect(c) => Failure::failed(c.to_string(), Some(c.hint())),
        SessionError::Lock(l) => {
            let hint = l.hint();
            Failure::failed(l.to_string(), hint)
        }
        SessionError::Db(d) => {
            let hint = d.hint();
            Failure::failed(d.to_string(), hint)
        }
    }
}

pub fn db_failure(e: crate::db::DbError) -> Failure {
    session_failure(SessionError::Db(e))
}

/// Opens a session when a database is configured; `None` when none is (a
/// malformed URL is still an error).
pub fn open_optional(ctx: &Context) -> Result<Option<Session>, Failure> {
    match Session::open(ctx.database_url.as_deref(), &ctx.config.history_schema) {
        Ok(s) => {
            note_dev_db(ctx, &s);
            Ok(Some(s))
        }
        Err(SessionError::Connect(crate::db::connect::ConnectError::NotConfigured)) => Ok(None),
        Err(e) => Err(session_failure(e)),
    }
}

/// Opens a session and takes the run lock, saying who holds it while waiting.
pub fn locked(ctx: &Context, flags: &RunFlags) -> Result<Session, Failure> {
    let mut session = open(ctx)?;
    let timeout = flags
        .lock_timeout
        .map_or(ctx.config.lock_timeout, Duration::from_secs);
    let r = &ctx.reporter;
    session
        .lock(timeout, |holder| {
            r.note(format!("waiting for the migration lock held by {holder}"))
        })
        .map_err(session_failure)?;
    Ok(session)
}

/// Refuses to run on a dirty database.
pub fn refuse_dirty(applied: &[AppliedVersion], project: &Project) -> Result<(), Failure> {
    let Some(d) = applied.iter().find(|a| a.dirty) else {
        return Ok(());
    };
    let file = project.find(&d.version).and_then(|m| {
        let f = if d.dirty_direction.as_deref() == Some("down") {
            &m.down
        } else {
            &m.up
        };
        f.reread().ok()
    });
    let location = match (file, d.dirty_statement) {
        (Some(f), Some(n)) if n > 0 => {
            let stmts = run::statements(&f);
            let line = stmts
                .get(n as usize - 1)
                .map(|r| crate::diagnostic::Position::of(&f.text, r.start).line);
            format!(
                "; it stopped at statement {n}{}",
                line.map(|l| format!(" ({}:{l})", f.path.display()))
                    .unwrap_or_default()
            )
        }
        _ => String::new(),
    };
    Err(Failure::failed(
        format!(
            "the database is dirty: {}_{} ({}, outside a transaction) did not finish{location}",
            d.version,
            d.name,
            d.dirty_direction.as_deref().unwrap_or("up"),
        ),
        Some(format!(
            "look at what that statement left behind and finish or undo it by hand, then run `keel repair {}`",
            d.version.number
        )),
    ))
}

/// Refuses to run when an applied file was changed in substance since it
/// ran (cosmetic edits pass).
fn refuse_drift(
    ctx: &Context,
    session: &mut Session,
    project: &Project,
    applied: &[AppliedVersion],
) -> Result<(), Failure> {
    let changed: Vec<&Migration> = applied
        .iter()
        .filter_map(|a| {
            project
                .find(&a.version)
                .filter(|m| m.up.actual_checksum().to_string() != a.up_checksum)
        })
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    let recorded = session.applied(true, project).map_err(db_failure)?;
    for m in changed {
        let Some(a) = recorded.iter().find(|a| a.version == m.version) else {
            continue;
        };
        let up = m.up.reread().map_err(|d| changed_failure(ctx, &d))?;
        if let Change::Semantic { .. } =
            drift::classify(&a.up_sql, up.body(), &m.up.path.display().to_string())
        {
            return Err(Failure::failed(
                format!(
                    "applied migration `{}` was changed after it ran",
                    m.up.path.display()
                ),
                Some(format!(
                    "`keel check` shows the difference; restore the file, or accept the edit with `keel repair {}`",
                    m.version.number
                )),
            ));
        }
    }
    Ok(())
}

/// A migration file that could not be read again after it was checked, or
/// was edited in between.
fn changed_failure(ctx: &Context, d: &Diagnostic) -> Failure {
    ctx.reporter.diagnostics(std::slice::from_ref(d));
    Failure::failed("nothing was applied", None)
}

/// Full validation of the files a plan executes, including the server's
/// parser for what sqlparser could not read. Prints warnings; errors stop
/// the run before anything executes.
fn validate_plan(
    ctx: &Context,
    session: &mut Session,
    plan: &Plan<'_>,
    strict: bool,
) -> Result<(), Failure> {
    let files: Vec<&SqlFile> = plan.steps.iter().map(step_file).collect();
    // Each file is read again, checked and dropped; only statements
    // sqlparser rejected are kept, with their file, for the server's parser.
    // Files go by batches, so that memory stays flat however many
    // migrations run.
    let mut checked = Vec::with_capacity(files.len());
    let mut kept = Vec::new();
    for batch in files.chunks(256) {
        let results = crate::parallel::map(batch, 1, |f| {
            let file = f.reread()?;
            let mut c = crate::sql::validate::check_file(&file, Options { strict: false });
            c.statements
                .retain(|s| matches!(s.parse, crate::sql::validate::Parse::Rejected { .. }));
            // Usually nothing is left: give the space back.
            c.statements.shrink_to_fit();
            c.diagnostics.shrink_to_fit();
            let keep = (!c.statements.is_empty()).then(|| file.into_owned());
            Ok::<_, Box<Diagnostic>>((keep, c))
        });
        for r in results {
            match r {
                Ok((keep, c)) => {
                    kept.extend(keep.map(|f| (checked.len(), f)));
                    checked.push(c);
                }
                Err(d) => return Err(changed_failure(ctx, &d)),
            }
        }
    }
    let kept_files: Vec<&SqlFile> = kept.iter().map(|(_, f)| f).collect();
    let mut kept_checks: Vec<_> = kept
        .iter()
        .map(|(i, _)| std::mem::take(&mut checked[*i]))
        .collect();
    session
        .server_validate(&kept_files, &mut kept_checks)
        .map_err(db_failure)?;
    for ((i, _), c) in kept.iter().zip(kept_checks) {
        checked[*i] = c;
    }
    let mut diags: Vec<Diagnostic> = checked.into_iter().flat_map(|c| c.diagnostics).collect();
    if strict {
        for d in &mut diags {
            if d.code == "unvalidated" {
                d.severity = crate::diagnostic::Severity::Error;
            }
        }
    }
    ctx.reporter.diagnostics(&diags);
    if diags.iter().any(Diagnostic::is_error) {
        return Err(Failure::failed(
            "nothing was applied: the migrations to run have errors",
            None,
        ));
    }
    Ok(())
}

fn step_file<'a>(s: &Step<'a>) -> &'a SqlFile {
    match s.direction {
        Direction::Up => &s.migration.up,
        Direction::Down => &s.migration.down,
    }
}

/// Prints a line per finished step, with a live spinner on a terminal
/// while a step takes longer than a second.
pub struct Lines<'c> {
    pub ctx: &'c Context,
    pub spinner: Option<crate::report::spinner::Spinner>,
}

impl<'c> Lines<'c> {
    pub fn new(ctx: &'c Context) -> Lines<'c> {
        Lines { ctx, spinner: None }
    }
}

impl Progress for Lines<'_> {
    fn step_started(&mut self, step: &Step<'_>) {
        let r = &self.ctx.reporter;
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

    fn step_done(&mut self, step: &Step<'_>, elapsed: Duration) {
        if let Some(s) = self.spinner.take() {
            s.stop();
        }
        let verb = match step.direction {
            Direction::Up => "applied",
            Direction::Down => "reverted",
        };
        let r = &self.ctx.reporter;
        if r.json_output() {
            if !r.quiet {
                r.json(&serde_json::json!({
                    "event": verb,
                    "version": step.migration.version.digits,
                    "name": step.migration.name,
                    "ms": elapsed.as_secs_f64() * 1000.0,
                }));
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

/// `12 ms`, `1.3 s`.
pub fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

fn version_text(v: Option<&crate::project::Version>) -> String {
    v.map_or_else(|| "base".to_string(), |v| v.to_string())
}

fn move_to(
    ctx: &Context,
    direction: Direction,
    target_text: &str,
    m: &MoveFlags,
) -> Result<(), Failure> {
    let (sql_only, per_migration, flags) = (m.sql, m.transaction_per_migration, &m.run);
    // A database already at head needs only the names on disk and one
    // summary row, not every file: `upgrade` then only reconciles the
    // policies.
    if direction == Direction::Up && !sql_only && target_text == "head" {
        use crate::project::listing_cache::{self, DiskVersions, Listing};
        let listing = listing_cache::list(&ctx.config.dir)?;
        let on_disk = match &listing {
            Listing::Cached(v) => Some(v.clone()),
            Listing::Scanned(layout) => (!layout.has_errors()).then(|| DiskVersions::of(layout)),
        };
        if let Some(on_disk) = on_disk {
            let mut session = locked(ctx, flags)?;
            if let Some(done) = upgrade_at_head(ctx, &mut session, &on_disk)? {
                return done;
            }
            let layout = match listing {
                Listing::Scanned(layout) => layout,
                Listing::Cached(_) => crate::project::scan(&ctx.config.dir)?,
            };
            return full_run(
                ctx,
                direction,
                target_text,
                per_migration,
                flags,
                Some((session, layout)),
            );
        }
    }
    if !sql_only {
        return full_run(ctx, direction, target_text, per_migration, flags, None);
    }
    let (project, _) = load_for_run(ctx)?;
    let target = parse_target(target_text, &project)?;
    let command = match direction {
        Direction::Up => "upgrade",
        Direction::Down => "downgrade",
    };
    let make_plan = |applied: &[AppliedVersion]| plan_for(&project, applied, &target, direction);
    // Offline mode: read the state if a database is configured, never
    // write or lock.
    let applied = match open_optional(ctx)? {
        Some(mut s) => s.applied(false, &project).map_err(db_failure)?,
        None => Vec::new(),
    };
    let plan = make_plan(&applied)?;
    let files: Vec<&SqlFile> = plan.steps.iter().map(step_file).collect();
    let checked = validation::check_parallel(
        &files,
        Options {
            strict: flags.strict,
        },
    );
    let diags: Vec<Diagnostic> = checked.into_iter().flat_map(|c| c.diagnostics).collect();
    ctx.reporter.diagnostics(&diags);
    if diags.iter().any(Diagnostic::is_error) {
        return Err(Failure::Reported);
    }
    ctx.reporter.raw(&format!(
        "-- keel {command} {} -> {}\n{}",
        version_text(plan.from.as_ref()),
        version_text(plan.to.as_ref()),
        run::render_sql(&plan, &ctx.config.history_schema, per_migration)
    ));
    Ok(())
}

/// `upgrade` when every version on disk is applied (checked with the
/// summary's digest): only the policy stage runs. `None` when there is work
/// to do after all.
fn upgrade_at_head(
    ctx: &Context,
    session: &mut Session,
    on_disk: &crate::project::listing_cache::DiskVersions,
) -> Result<Option<Result<(), Failure>>, Failure> {
    let Some(summary) = session.summary().map_err(db_failure)? else {
        return Ok(None);
    };
    if summary.dirty.is_some() || summary.digest != on_disk.digest {
        return Ok(None);
    }
    let mut diags = Vec::new();
    let (policy_paths, _) = crate::project::scan_policies(&ctx.config.dir, &mut diags);
    if diags.iter().any(Diagnostic::is_error) {
        // A full run reports the policy folder's problems.
        return Ok(None);
    }
    let policy_files = crate::project::read_policies(&policy_paths, &mut diags);
    let refs: Vec<&SqlFile> = policy_files.iter().collect();
    diags.extend(
        validation::check_parallel(&refs, Options::default())
            .into_iter()
            .flat_map(|c| c.diagnostics)
            .filter(|d| !is_unsealed_edit(d)),
    );
    let declared = crate::policies::declared::declare(&policy_files);
    diags.extend(declared.diagnostics.iter().cloned());
    if diags.iter().any(Diagnostic::is_error) {
        ctx.reporter.diagnostics(&diags);
        return Err(Failure::failed(
            "nothing was applied: the policy files have errors",
            Some("`keel check --offline` lists them".to_string()),
        ));
    }
    // The same set of versions: the newest applied is the head on disk,
    // written as on disk (`0003`, not `3`).
    let at = on_disk.head.clone();
    let waited = session.lock_wait();
    let changes = policies_only(
        ctx,
        session,
        &declared,
        at.as_ref(),
        "upgrade",
        "head",
        &waited,
    )?;
    let r = &ctx.reporter;
    let at_text = version_text(at.as_ref());
    if r.json_output() {
        r.json(&serde_json::json!({"event": "summary", "command": "upgrade", "from": at_text, "to": at_text, "steps": 0, "policy_changes": changes.len()}));
    } else {
        report_policy_changes(ctx, &changes);
        r.note(format!("nothing to do: the database is at {at_text}"));
    }
    session.unlock().map_err(db_failure)?;
    Ok(Some(Ok(())))
}

/// A run that reads every file: validation, drift, plan, execution.
fn full_run(
    ctx: &Context,
    direction: Direction,
    target_text: &str,
    per_migration: bool,
    flags: &RunFlags,
    started: Option<(Session, crate::project::Layout)>,
) -> Result<(), Failure> {
    let (session, layout) = match started {
        Some((s, l)) => (Some(s), l),
        None => (None, crate::project::scan(&ctx.config.dir)?),
    };
    let (project, declared) = checked_load(ctx, layout, true, &[])?;
    let target = parse_target(target_text, &project)?;
    let command = match direction {
        Direction::Up => "upgrade",
        Direction::Down => "downgrade",
    };
    let make_plan = |applied: &[AppliedVersion]| plan_for(&project, applied, &target, direction);

    let mut session = match session {
        Some(s) => s,
        None => locked(ctx, flags)?,
    };
    let waited = session.lock_wait();
    let applied = session.applied(false, &project).map_err(db_failure)?;
    refuse_dirty(&applied, &project)?;
    refuse_drift(ctx, &mut session, &project, &applied)?;
    let plan = make_plan(&applied)?;
    let r = &ctx.reporter;
    if plan.steps.is_empty() {
        let at = version_text(plan.from.as_ref());
        let changes = policies_only(
            ctx,
            &mut session,
            &declared,
            plan.from.as_ref(),
            command,
            target_text,
            &waited,
        )?;
        if r.json_output() {
            r.json(&serde_json::json!({"event": "summary", "command": command, "from": at, "to": at, "steps": 0, "policy_changes": changes.len()}));
        } else {
            report_policy_changes(ctx, &changes);
            r.note(format!("nothing to do: the database is at {at}"));
        }
        session.unlock().map_err(db_failure)?;
        return Ok(());
    }
    validate_plan(ctx, &mut session, &plan, flags.strict)?;

    let applied_set: BTreeSet<_> = applied.iter().map(|a| a.version.clone()).collect();
    let settings = Settings {
        schema: &ctx.config.history_schema,
        per_migration,
        command,
        target: target_text,
        waited: waited.0,
        waited_for: waited.1,
    };
    let mut progress = Lines::new(ctx);
    let mut stage = Stage::new(
        &declared,
        &ctx.config.history_schema,
        direction == Direction::Down,
    );
    let result = run::execute(
        &mut session.client,
        &plan,
        &applied_set,
        &settings,
        &mut progress,
        &mut stage,
    );
    // Clears a spinner left by a failing step before anything else prints.
    drop(progress);
    if result.is_ok() {
        report_policy_changes(ctx, &stage.changes);
    }
    match result {
        Ok(outcome) => {
            let verb = if direction == Direction::Up {
                "upgraded"
            } else {
                "downgraded"
            };
            let (from, to) = (
                version_text(plan.from.as_ref()),
                version_text(plan.to.as_ref()),
            );
            if r.json_output() {
                r.json(&serde_json::json!({
                    "event": "summary", "command": command, "from": from, "to": to,
                    "steps": outcome.steps, "ms": outcome.elapsed.as_secs_f64() * 1000.0,
                }));
            } else {
                r.note(format!(
                    "{verb} {from} → {to}: {} migration{} in {}",
                    outcome.steps,
                    if outcome.steps == 1 { "" } else { "s" },
                    human(outcome.elapsed)
                ));
            }
            session.unlock().map_err(db_failure)?;
            Ok(())
        }
        Err(RunError::Statement {
            diagnostic,
            now_at,
            partly_committed,
        }) => {
            ctx.reporter.diagnostics(std::slice::from_ref(&diagnostic));
            let state = if partly_committed {
                format!(
                    "the run stopped; steps before the failing one were committed: the database is at {}",
                    version_text(now_at.as_ref())
                )
            } else {
                format!(
                    "nothing was applied: the run was rolled back and the database is still at {}",
                    version_text(now_at.as_ref())
                )
            };
            Err(Failure::failed(format!("{command} failed; {state}"), None))
        }
        Err(RunError::Db(e)) => Err(db_failure(e)),
        Err(RunError::Stage { message, hint }) => Err(Failure::failed(message, hint)),
    }
}

/// Reconciles the policies alone (a run with no migration steps), in one
/// transaction with its event; returns what changed.
pub fn policies_only(
    ctx: &Context,
    session: &mut Session,
    declared: &Declared,
    at: Option<&crate::project::Version>,
    command: &str,
    target: &str,
    waited: &(Option<Duration>, Option<String>),
) -> Result<Vec<PolicyChange>, Failure> {
    let schema = ctx.config.history_schema.clone();
    let mut tx = session
        .client
        .transaction()
        .map_err(|e| db_failure(crate::db::DbError::query("starting the transaction", &e)))?;
    let changes =
        crate::policies::reconcile::reconcile(&mut tx, &schema, declared, at).map_err(|e| {
            Failure::failed(format!("policy stage: {e}; nothing was changed"), e.hint())
        })?;
    let mut detail = Vec::new();
    if let Some(h) = &waited.1 {
        detail.push(format!("waited for the lock held by {h}"));
    }
    if !changes.is_empty() {
        detail.push(format!("{} policy change(s)", changes.len()));
    }
    history::log_event(
        &mut tx,
        &schema,
        &Event {
            command,
            target: Some(target),
            from: at,
            to: at,
            outcome: "ok",
            detail: (!detail.is_empty()).then(|| detail.join("; ")),
            waited_ms: waited.0.map(|d| d.as_secs_f64() * 1000.0),
        },
    )
    .map_err(db_failure)?;
    tx.commit()
        .map_err(|e| db_failure(crate::db::DbError::query("committing", &e)))?;
    Ok(changes)
}

/// One line per policy change, on stderr.
pub fn report_policy_changes(ctx: &Context, changes: &[PolicyChange]) {
    for c in changes {
        ctx.reporter
            .note(format!("  policy: {} on {}", c.action, c.table));
    }
}

pub fn stamp(ctx: &Context, a: StampArgs) -> Result<(), Failure> {
    let (project, declared) = load_for_run(ctx)?;
    let target = parse_target(&a.target, &project)?;
    let mut session = locked(ctx, &a.run)?;
    let applied = session.applied(false, &project).map_err(db_failure)?;
    refuse_dirty(&applied, &project)?;
    let (add, remove) =
        plan::stamp(&project, &applied, &target).map_err(|e| plan_failure(&e, &project))?;
    let schema = ctx.config.history_schema.clone();
    let from = plan::current(&applied);
    let rows: Vec<NewVersion<'_>> = add.iter().map(|m| NewVersion::of(m, None, false)).collect();
    let removed: Vec<&crate::project::Version> = remove.iter().collect();
    let mut now: BTreeSet<_> = applied.iter().map(|a| a.version.clone()).collect();
    now.extend(add.iter().map(|m| m.version.clone()));
    for v in &remove {
        now.remove(v);
    }
    let to = now.iter().next_back().cloned();
    let client = &mut session.client;
    let mut changes = Vec::new();
    let result = (|| -> Result<(), crate::db::DbError> {
        let mut tx = client
            .transaction()
            .map_err(|e| crate::db::DbError::query("starting the transaction", &e))?;
        history::insert(&mut tx, &schema, &rows)?;
        history::delete(&mut tx, &schema, &removed)?;
        changes = crate::policies::reconcile::reconcile(&mut tx, &schema, &declared, to.as_ref())
            .map_err(|e| crate::db::DbError::Other(format!("policy stage: {e}")))?;
        history::log_event(
            &mut tx,
            &schema,
            &Event {
                command: "stamp",
                target: Some(&a.target),
                from: from.as_ref(),
                to: to.as_ref(),
                outcome: "ok",
                ..Event::default()
            },
        )?;
        tx.commit()
            .map_err(|e| crate::db::DbError::query("committing", &e))
    })();
    result.map_err(db_failure)?;
    let r = &ctx.reporter;
    if r.json_output() {
        r.json(&serde_json::json!({
            "event": "summary", "command": "stamp",
            "from": version_text(from.as_ref()), "to": version_text(to.as_ref()),
            "added": add.iter().map(|m| m.id()).collect::<Vec<_>>(),
            "removed": remove.iter().map(|v| v.digits.clone()).collect::<Vec<_>>(),
        }));
    } else {
        report_policy_changes(ctx, &changes);
        for m in &add {
            r.note(format!("  stamped {}", m.id()));
        }
        for v in &remove {
            r.note(format!("  unstamped {v}"));
        }
        r.note(format!(
            "stamped {} → {} without running any SQL",
            version_text(from.as_ref()),
            version_text(to.as_ref())
        ));
    }
    session.unlock().map_err(db_failure)?;
    Ok(())
}
