//! `adopt`: another tool's history table read and its applied versions recorded as keel's,
//! without running any SQL (the policy stage still runs, as after `stamp`). The peer's table
//! is read, never written.

use super::{guard::refuse_dirty, load, Database, Error, Event, Sink};
use crate::adopt::{self, ChecksumCheck, PeerRows, Sources, Tool};
use crate::db::history::{self, NewVersion};
use crate::db::peer_history::{self, PeerTable};
use crate::db::DbError;
use crate::diagnostic::Diagnostic;
use crate::policies::reconcile::PolicyChange;
use crate::project::{Project, Version};
use std::path::PathBuf;

/// What to adopt.
#[derive(Debug, Clone)]
pub struct AdoptRequest {
    pub database: Database,
    pub tool: Tool,
    /// The tool's migrations folder, where the original files of `-- keel:source` are read
    /// to recompute the tool's checksums (sqlx, Flyway); `None` compares none.
    pub from: Option<PathBuf>,
    /// The tool's history table (`table` or `schema.table`); `None`: the tool's default.
    pub table: Option<String>,
    /// Read and decide, write nothing (and take no lock).
    pub dry_run: bool,
    /// A checksum that differs is a warning instead of an error.
    pub accept_checksum_mismatch: bool,
}

/// What `adopt` recorded (or, in a dry run, would record).
#[derive(Debug)]
pub struct AdoptReport {
    pub tool: Tool,
    /// The peer's table, `schema.table`.
    pub table: String,
    pub dry_run: bool,
    /// keel's version before and after.
    pub from: Option<Version>,
    pub to: Option<Version>,
    /// The versions recorded as applied, ascending.
    pub adopted: Vec<AdoptedVersion>,
    /// `0003_name` of each version the peer applied that keel already recorded.
    pub already: Vec<String>,
    /// Rows of the peer's history that were not adopted, and why.
    pub notes: Vec<String>,
    pub policy_changes: Vec<PolicyChange>,
}

/// One version `adopt` recorded.
#[derive(Debug, Clone)]
pub struct AdoptedVersion {
    pub version: Version,
    pub name: String,
    /// The version as the peer's history names it, when it names it (not for a version
    /// below golang-migrate's current one or a Flyway baseline).
    pub peer: Option<String>,
    pub checksum: ChecksumCheck,
}

impl AdoptedVersion {
    /// `0003_name`.
    pub fn id(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }
}

/// Reads the peer's history, refuses (every problem to the sink as diagnostics, then
/// [`Error::Reported`]) or records the versions it applied, under the run lock and in one
/// transaction with an `adopt` event.
pub fn adopt(req: &AdoptRequest, sink: &mut dyn Sink) -> Result<AdoptReport, Error> {
    let table_name = req
        .table
        .clone()
        .unwrap_or_else(|| req.tool.default_table().to_string());
    if !adopt::valid_table_name(&table_name) {
        return Err(Error::usage(
            format!("`{table_name}` is not a table name keel reads"),
            Some(
                "write `TABLE` or `SCHEMA.TABLE` with plain identifiers (letters, digits, `_`)"
                    .to_string(),
            ),
        ));
    }
    let (project, declared) = load(&req.database.config, sink)?;
    let sources = if req.tool.needs_sources() {
        sources(&project, sink)?
    } else {
        Sources::new()
    };
    let config = &req.database.config;
    let mut session = if req.dry_run {
        super::open(config, req.database.database_url.as_deref(), sink)?
    } else {
        req.database.locked(sink)?
    };
    let applied = session.applied(false, &project)?;
    refuse_dirty(&applied, &project)?;
    let from = crate::plan::current(&applied);
    let applied: Vec<Version> = applied.iter().map(|a| a.version).collect();
    let schema = config.history_schema.as_str();
    let outcome = session.transaction(|tx| -> Result<_, Error> {
        // Read in the transaction that records: what is recorded is what was read.
        let found = peer_history::locate(tx, &table_name)?;
        let table = match adopt::check_table(req.tool, &table_name, found.as_ref()) {
            Ok(t) => t,
            Err(d) => return Ok(Outcome::Refused(vec![*d])),
        };
        let rows = read_rows(tx, req.tool, table)?;
        let mut peer = adopt::interpret(&rows, &table.shown, &sources);
        let on_disk: Vec<Version> = project.migrations.iter().map(|m| m.version).collect();
        let decision = adopt::decide(req.tool, &peer, &on_disk, &applied);
        let (checks, checksum_diags) = adopt::compare_checksums(
            req.tool,
            &peer,
            &decision.adopt,
            &sources,
            req.from.as_deref(),
            req.accept_checksum_mismatch,
        );
        let mut problems = std::mem::take(&mut peer.problems);
        problems.extend(decision.problems);
        problems.extend(checksum_diags);
        if problems.iter().any(Diagnostic::is_error) {
            return Ok(Outcome::Refused(problems));
        }
        let adopted: Vec<AdoptedVersion> = decision
            .adopt
            .iter()
            .zip(checks)
            .map(|(v, checksum)| AdoptedVersion {
                version: *v,
                name: project
                    .find(v)
                    .map_or_else(String::new, |m| m.name.to_string()),
                peer: peer
                    .named
                    .iter()
                    .find(|p| p.number == v.number())
                    .map(|p| p.shown.clone()),
                checksum,
            })
            .collect();
        let to = applied.iter().chain(&decision.adopt).max().copied();
        let mut report = AdoptReport {
            tool: req.tool,
            table: table.shown.clone(),
            dry_run: req.dry_run,
            from,
            to,
            adopted,
            already: decision
                .already
                .iter()
                .filter_map(|v| project.find(v).map(|m| m.id()))
                .collect(),
            notes: peer.notes,
            policy_changes: Vec::new(),
        };
        // Nothing to record changes nothing: no row, no event, no policy stage.
        if req.dry_run || report.adopted.is_empty() {
            return Ok(Outcome::Done(report, problems));
        }
        record(tx, schema, &project, &declared, &mut report, sink)?;
        Ok(Outcome::Done(report, problems))
    })?;
    session.unlock()?;
    match outcome {
        Outcome::Refused(problems) => {
            sink.event(Event::Diagnostics(&problems));
            Err(Error::Reported)
        }
        Outcome::Done(report, warnings) => {
            if !warnings.is_empty() {
                sink.event(Event::Diagnostics(&warnings));
            }
            Ok(report)
        }
    }
}

/// What the transaction decided.
enum Outcome {
    Refused(Vec<Diagnostic>),
    /// With the warnings found (accepted checksum differences).
    Done(AdoptReport, Vec<Diagnostic>),
}

/// Writes the adopted versions (with their files' text, as `stamp` does), the policy stage at
/// the new version and the `adopt` event.
fn record(
    tx: &mut postgres::Transaction<'_>,
    schema: &str,
    project: &Project,
    declared: &crate::policies::declared::Declared,
    report: &mut AdoptReport,
    sink: &mut dyn Sink,
) -> Result<(), Error> {
    let migrations: Vec<&crate::project::Migration> = report
        .adopted
        .iter()
        .filter_map(|a| project.find(&a.version))
        .collect();
    // The history keeps each version's SQL: the files are read (and must still be the ones
    // checked).
    let texts = migrations
        .iter()
        .map(|m| m.read_texts())
        .collect::<Result<Vec<_>, Box<Diagnostic>>>()
        .map_err(|d| super::guard::changed_during_run(&d, sink))?;
    let rows: Vec<NewVersion<'_>> = migrations
        .iter()
        .zip(&texts)
        .map(|(m, (up, down))| NewVersion::of(m, up, down, None, false))
        .collect();
    history::insert(tx, schema, &rows)?;
    report.policy_changes =
        crate::policies::reconcile::reconcile(tx, schema, declared, report.to.as_ref())
            .map_err(|e| DbError::Other(format!("policy stage: {e}")))?;
    let n = report.adopted.len();
    history::log_event(
        tx,
        schema,
        &history::Event {
            command: "adopt",
            target: Some(report.tool.name()),
            from: report.from.as_ref(),
            to: report.to.as_ref(),
            outcome: "ok",
            detail: Some(format!(
                "from {} ({}): {}",
                report.tool.name(),
                report.table,
                crate::report::count(n, "version")
            )),
            ..history::Event::default()
        },
    )?;
    Ok(())
}

/// The peer's rows, by the tool's reader.
fn read_rows(
    tx: &mut postgres::Transaction<'_>,
    tool: Tool,
    table: &PeerTable,
) -> Result<PeerRows, DbError> {
    Ok(match tool {
        Tool::Sqlx => PeerRows::Sqlx(peer_history::sqlx(tx, table)?),
        Tool::GolangMigrate => PeerRows::GolangMigrate(peer_history::golang_migrate(tx, table)?),
        Tool::Dbmate => PeerRows::Dbmate(peer_history::dbmate(tx, table)?),
        Tool::Flyway => PeerRows::Flyway(peer_history::flyway(tx, table)?),
        Tool::Diesel => PeerRows::Diesel(peer_history::diesel(tx, table)?),
        Tool::Supabase => PeerRows::Supabase(peer_history::supabase(tx, table)?),
        Tool::Alembic => PeerRows::Alembic(peer_history::alembic(tx, table)?),
    })
}

/// Each migration's `-- keel:source`, from its up file.
fn sources(project: &Project, sink: &mut dyn Sink) -> Result<Sources, Error> {
    let mut out = Sources::new();
    for m in &project.migrations {
        let up = m
            .up_file()
            .read()
            .map_err(|d| super::guard::changed_during_run(&d, sink))?;
        if let Some(s) = up.header.source() {
            out.insert(m.version.number(), s.to_string());
        }
    }
    Ok(out)
}
