//! The documents `--format json` prints: one type per document, built by
//! the command and printed by [`Reporter::json`](super::Reporter::json).
//! `docs/json.md` describes each one field by field, and a test checks the
//! two against each other.
//!
//! Keys are printed sorted at every level (the reporter serializes through
//! [`serde_json::Value`], whose maps are ordered), so the order of the
//! fields here is free; field names and values are the interface.

use crate::adopt::ChecksumCheck;
use crate::db::history::AppliedVersion;
use crate::db::run::RunError;
use crate::diagnostic::Diagnostic;
use crate::import::{Plan as ImportPlan, PlannedFile};
use crate::migrate::AdoptReport;
use crate::policies::matrix::Grid;
use crate::policies::reconcile::PolicyChange;
use crate::policies::status::TableStatus;
use crate::project_check::Counts;
use crate::verify::diff;
use crate::verify::{Problem, Report as VerifyReport, Verdict};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// An error that ends a command (also on stderr as text).
#[derive(Debug, Serialize)]
pub struct Error<'a> {
    pub error: &'a str,
    pub hint: Option<&'a str>,
}

/// `keel check`.
#[derive(Debug, Serialize)]
pub struct Check<'a> {
    pub ok: bool,
    pub errors: usize,
    pub warnings: usize,
    pub migrations: usize,
    pub statements: &'a Counts,
    pub diagnostics: &'a [Diagnostic],
}

/// `keel policies lint`.
#[derive(Debug, Serialize)]
pub struct Lint<'a> {
    pub ok: bool,
    pub errors: usize,
    pub warnings: usize,
    pub live: bool,
    pub diagnostics: &'a [Diagnostic],
}

/// `keel dev-db start`.
#[derive(Debug, Serialize)]
pub struct DevDbStarted<'a> {
    pub running: bool,
    pub url: &'a str,
    pub data_dir: &'a Path,
    pub pg_major: Option<u32>,
}

/// `keel dev-db url`.
#[derive(Debug, Serialize)]
pub struct DevDbUrl<'a> {
    pub url: &'a str,
}

/// `keel dev-db stop`.
#[derive(Debug, Serialize)]
pub struct DevDbStopped<'a> {
    pub running: bool,
    pub data_dir: &'a Path,
}

/// `keel dev-db destroy`.
#[derive(Debug, Serialize)]
pub struct DevDbDestroyed<'a> {
    pub deleted: bool,
    pub data_dir: &'a Path,
}

/// `keel fleet upgrade|downgrade|check|policies apply`: a line per target as it finishes.
#[derive(Debug, Serialize)]
pub struct FleetTarget<'a> {
    /// Always `target`.
    pub event: &'static str,
    pub target: &'a str,
    pub group: &'a str,
    /// `ok`, `failed`, `unreachable` or `skipped`.
    pub outcome: &'static str,
    pub ms: f64,
    /// Before and after (upgrade, downgrade, policies apply).
    pub from: Option<String>,
    pub to: Option<String>,
    /// Migrations applied or reverted.
    pub steps: Option<usize>,
    pub policy_changes: Option<usize>,
    /// The error's first line (failed, unreachable), or why it was skipped.
    pub message: Option<String>,
    /// `path:line:column` of the failing statement or file, when there is one.
    pub location: Option<String>,
}

impl<'a> FleetTarget<'a> {
    pub fn of(d: &'a crate::fleet::Done) -> FleetTarget<'a> {
        use crate::fleet::Outcome;
        let mut t = FleetTarget {
            event: "target",
            target: &d.name,
            group: &d.group,
            outcome: d.outcome.word(),
            ms: d.elapsed.as_secs_f64() * 1000.0,
            from: None,
            to: None,
            steps: None,
            policy_changes: None,
            message: None,
            location: None,
        };
        match &d.outcome {
            Outcome::Ran {
                from,
                to,
                steps,
                policy_changes,
            } => {
                t.from = Some(crate::migrate::version_text(from.as_ref()));
                t.to = Some(crate::migrate::version_text(to.as_ref()));
                t.steps = Some(*steps);
                t.policy_changes = Some(*policy_changes);
            }
            Outcome::Failed { message, location } => {
                t.message = Some(message.clone());
                t.location = location.clone();
            }
            Outcome::Unreachable { message } => t.message = Some(message.clone()),
            Outcome::Skipped { why } => t.message = Some((*why).to_string()),
            Outcome::Checked { .. } | Outcome::Status(_) => {}
        }
        t
    }
}

/// The last line of a fleet run.
#[derive(Debug, Serialize)]
pub struct FleetSummary<'a> {
    /// Always `fleet`.
    pub event: &'static str,
    pub command: &'a str,
    pub succeeded: usize,
    pub failed: usize,
    pub unreachable: usize,
    pub skipped: usize,
    pub ms: f64,
}

impl<'a> FleetSummary<'a> {
    pub fn of(
        command: &'a str,
        s: &crate::fleet::Summary,
        took: std::time::Duration,
    ) -> FleetSummary<'a> {
        FleetSummary {
            event: "fleet",
            command,
            succeeded: s.count("ok"),
            failed: s.count("failed"),
            unreachable: s.count("unreachable"),
            skipped: s.count("skipped"),
            ms: took.as_secs_f64() * 1000.0,
        }
    }
}

/// `keel fleet status`.
#[derive(Debug, Serialize)]
pub struct FleetStatus {
    pub targets: Vec<FleetStatusRow>,
}

/// One target of `keel fleet status`.
#[derive(Debug, Serialize)]
pub struct FleetStatusRow {
    pub target: String,
    pub group: String,
    pub reachable: bool,
    /// Why it is not reachable, or why reading it failed.
    pub error: Option<String>,
    pub current: Option<String>,
    pub pending: Option<usize>,
    pub dirty: Option<String>,
    pub drift: Option<usize>,
    pub missing_files: Option<usize>,
    pub policy_drift: Option<bool>,
}

impl FleetStatusRow {
    pub fn of(d: &crate::fleet::Done) -> FleetStatusRow {
        use crate::fleet::Outcome;
        let mut row = FleetStatusRow {
            target: d.name.clone(),
            group: d.group.clone(),
            reachable: false,
            error: None,
            current: None,
            pending: None,
            dirty: None,
            drift: None,
            missing_files: None,
            policy_drift: None,
        };
        match &d.outcome {
            Outcome::Status(s) => {
                row.reachable = true;
                row.current = s.current.map(|v| v.digits());
                row.pending = Some(s.pending);
                row.dirty = s.dirty.map(|v| v.digits());
                row.drift = Some(s.drift);
                row.missing_files = Some(s.missing);
                row.policy_drift = Some(s.policy_drift);
            }
            Outcome::Unreachable { message } => row.error = Some(message.clone()),
            // Connected, then the read failed (a role that may not read the history).
            Outcome::Failed { message, .. } => {
                row.reachable = true;
                row.error = Some(message.clone());
            }
            Outcome::Skipped { why } => row.error = Some((*why).to_string()),
            Outcome::Ran { .. } | Outcome::Checked { .. } => row.reachable = true,
        }
        row
    }
}

/// `keel dev-db status`.
#[derive(Debug, Serialize)]
pub struct DevDbStatus<'a> {
    pub running: bool,
    pub pid: Option<u32>,
    pub url: &'a str,
    pub data_dir: &'a Path,
    pub log: &'a Path,
    pub pg_major: Option<u32>,
}

/// `keel init`.
#[derive(Debug, Serialize)]
pub struct Init<'a> {
    pub created: &'a [PathBuf],
    pub config: &'a Path,
    pub dir: &'a Path,
    pub next: &'a [String],
}

/// `keel heads` (`null` when there is no migration yet).
#[derive(Debug, Serialize)]
pub struct Head<'a> {
    pub version: String,
    pub name: &'a str,
}

/// `keel show`.
#[derive(Debug, Serialize)]
pub struct Show<'a> {
    pub version: String,
    pub name: &'a str,
    pub message: Option<&'a str>,
    pub transaction: bool,
    pub irreversible: bool,
    pub up: ShowFile<'a>,
    pub down: ShowFile<'a>,
}

/// One file of [`Show`].
#[derive(Debug, Serialize)]
pub struct ShowFile<'a> {
    pub path: &'a Path,
    pub checksum: String,
    pub sql: String,
}

/// `keel revision`.
#[derive(Debug, Serialize)]
pub struct Revision<'a> {
    pub version: String,
    pub up: &'a Path,
    pub down: &'a Path,
}

/// `keel import`.
#[derive(Debug, Serialize)]
pub struct Import<'a> {
    pub ok: bool,
    pub dry_run: bool,
    pub tool: &'a str,
    pub source: &'a Path,
    pub dir: &'a Path,
    pub migrations: Vec<ImportMigration<'a>>,
    pub skipped: Vec<ImportSkipped<'a>>,
    pub written: usize,
    pub diagnostics: &'a [Diagnostic],
}

/// One pair of [`Import`].
#[derive(Debug, Serialize)]
pub struct ImportMigration<'a> {
    pub version: String,
    pub name: &'a str,
    pub message: Option<&'a str>,
    pub up: ImportFile<'a>,
    pub down: ImportFile<'a>,
    pub irreversible: bool,
    pub notes: &'a [String],
}

/// One file of [`ImportMigration`].
#[derive(Debug, Serialize)]
pub struct ImportFile<'a> {
    pub path: &'a Path,
    pub source: &'a Path,
    pub transaction: bool,
}

/// A source file [`Import`] did not import.
#[derive(Debug, Serialize)]
pub struct ImportSkipped<'a> {
    pub path: &'a Path,
    pub reason: &'a str,
}

impl<'a> Import<'a> {
    /// The document for `plan`, of which `written` files were written (0 for a dry run or a
    /// refused import).
    pub fn of(plan: &'a ImportPlan, dry_run: bool, written: usize) -> Import<'a> {
        let file = |f: &'a PlannedFile| ImportFile {
            path: &f.path,
            source: &f.source,
            transaction: !f.transaction_off,
        };
        Import {
            ok: !plan.has_errors(),
            dry_run,
            tool: plan.tool.name(),
            source: &plan.source,
            dir: &plan.dir,
            migrations: plan
                .migrations
                .iter()
                .map(|m| ImportMigration {
                    version: m.version.digits(),
                    name: &m.name,
                    message: m.message.as_deref(),
                    up: file(&m.up),
                    down: file(&m.down),
                    irreversible: m.irreversible,
                    notes: &m.notes,
                })
                .collect(),
            skipped: plan
                .skipped
                .iter()
                .map(|s| ImportSkipped {
                    path: &s.path,
                    reason: &s.reason,
                })
                .collect(),
            written,
            diagnostics: &plan.diagnostics,
        }
    }
}

/// `keel adopt`.
#[derive(Debug, Serialize)]
pub struct Adopt<'a> {
    pub ok: bool,
    pub dry_run: bool,
    pub tool: &'a str,
    pub table: &'a str,
    pub from: Option<String>,
    pub to: Option<String>,
    pub adopted: Vec<AdoptVersion<'a>>,
    pub already: &'a [String],
    pub notes: &'a [String],
    pub diagnostics: &'a [Diagnostic],
}

/// One version of [`Adopt`].
#[derive(Debug, Serialize)]
pub struct AdoptVersion<'a> {
    pub version: String,
    pub name: &'a str,
    pub peer: Option<&'a str>,
    pub checksum: &'a str,
    pub checksum_note: Option<&'a str>,
}

impl<'a> Adopt<'a> {
    /// The document of a finished adoption (or dry run), with its warnings.
    pub fn of(report: &'a AdoptReport, diagnostics: &'a [Diagnostic]) -> Adopt<'a> {
        Adopt {
            ok: true,
            dry_run: report.dry_run,
            tool: report.tool.name(),
            table: &report.table,
            from: Some(crate::migrate::version_text(report.from.as_ref())),
            to: Some(crate::migrate::version_text(report.to.as_ref())),
            adopted: report
                .adopted
                .iter()
                .map(|v| {
                    let (checksum, checksum_note) = match &v.checksum {
                        ChecksumCheck::NotRecorded => ("not recorded", None),
                        ChecksumCheck::Matches => ("matches", None),
                        ChecksumCheck::Differs => ("differs", None),
                        ChecksumCheck::NotCompared(why) => ("not compared", Some(why.as_str())),
                    };
                    AdoptVersion {
                        version: v.version.digits(),
                        name: &v.name,
                        peer: v.peer.as_deref(),
                        checksum,
                        checksum_note,
                    }
                })
                .collect(),
            already: &report.already,
            notes: &report.notes,
            diagnostics,
        }
    }

    /// The document of a refused adoption: the problems, nothing recorded.
    pub fn refused(
        tool: &'a str,
        table: &'a str,
        dry_run: bool,
        diagnostics: &'a [Diagnostic],
    ) -> Adopt<'a> {
        Adopt {
            ok: false,
            dry_run,
            tool,
            table,
            from: None,
            to: None,
            adopted: Vec::new(),
            already: &[],
            notes: &[],
            diagnostics,
        }
    }
}

/// `keel seal`.
#[derive(Debug, Serialize)]
pub struct Seal<'a> {
    pub sealed: &'a [String],
}

/// `keel repair`.
#[derive(Debug, Serialize)]
pub struct Repair<'a> {
    pub version: String,
    pub changes: &'a [String],
    pub sealed: &'a [String],
}

/// `keel current`.
#[derive(Debug, Serialize)]
pub struct Current<'a> {
    pub version: Option<String>,
    pub name: Option<&'a str>,
    pub head: Option<String>,
    pub at_head: bool,
    pub dirty: Option<String>,
}

/// One version of `keel history` (which prints an array of them).
#[derive(Debug, Serialize)]
pub struct HistoryRow<'a> {
    pub version: String,
    pub name: String,
    pub state: &'a str,
    pub head: bool,
    pub message: Option<&'a str>,
    pub applied: Option<&'a AppliedVersion>,
    pub up_checksum: Option<String>,
    pub down_checksum: Option<String>,
}

/// The JSON lines of `upgrade`, `downgrade` and `stamp`: a line per step,
/// then a summary.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum RunEvent<'a> {
    /// A finding about the files or a statement, as it is reported: a validation error, the
    /// statement that failed (its file, line, SQLSTATE and message), a warning.
    Diagnostic(&'a Diagnostic),
    Applied(Step<'a>),
    Reverted(Step<'a>),
    Retrying(Retrying<'a>),
    Summary(Summary<'a>),
}

/// A transaction (or a `transaction off` statement) that gave up on a lock, to run again.
#[derive(Debug, Serialize)]
pub struct Retrying<'a> {
    /// The attempt that failed (1-based) and how many there may be.
    pub attempt: u32,
    pub attempts: u32,
    /// The server's error, as the diagnostic states it.
    pub message: &'a str,
    /// `path:line:column` of the statement.
    pub location: Option<String>,
    /// The sessions that held the lock, one line each.
    pub blockers: Vec<String>,
    /// The pause before the next attempt.
    pub pause_ms: f64,
}

/// A step done.
#[derive(Debug, Serialize)]
pub struct Step<'a> {
    pub version: String,
    pub name: &'a str,
    pub ms: f64,
}

/// The last line of a run: where it went, and what it did.
#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    pub command: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    #[serde(flatten)]
    pub outcome: Outcome<'a>,
}

/// What a run did, in [`Summary`].
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Outcome<'a> {
    /// `upgrade` or `downgrade` ran steps.
    Ran { steps: usize, ms: f64 },
    /// `upgrade` or `downgrade` had no step to run (only the policy stage).
    NothingToRun { steps: usize, policy_changes: usize },
    /// `stamp` recorded and forgot versions.
    Stamped {
        added: &'a [String],
        removed: Vec<String>,
    },
}

/// `keel policies status --matrix`.
#[derive(Debug, Serialize)]
pub struct PolicyMatrix<'a> {
    pub source: &'a str,
    pub tables: &'a [Grid],
}

/// `keel policies apply`.
#[derive(Debug, Serialize)]
pub struct PoliciesApplied<'a> {
    pub changes: &'a [PolicyChange],
}

/// `keel policies status`.
#[derive(Debug, Serialize)]
pub struct PoliciesStatus<'a> {
    pub drift: bool,
    pub tables: &'a [TableStatus],
}

/// `keel policies test`.
#[derive(Debug, Serialize)]
pub struct PolicyTests<'a> {
    pub passed: usize,
    pub failed: usize,
    pub files: &'a [PolicyTestFile<'a>],
}

/// One test file of [`PolicyTests`].
#[derive(Debug, Serialize)]
pub struct PolicyTestFile<'a> {
    pub path: &'a Path,
    pub passed: bool,
    pub statements: usize,
    pub ms: f64,
    pub failure: Option<Diagnostic>,
}

/// `keel verify`.
#[derive(Debug, Serialize)]
pub struct Verify<'a> {
    pub command: &'a str,
    pub ok: bool,
    pub scratch: Scratch<'a>,
    pub migrations: Vec<Verified<'a>>,
    pub verified: usize,
    pub reversible: usize,
    pub irreversible: usize,
    pub failed: Option<String>,
    pub ms: f64,
}

/// The scratch database of [`Verify`].
#[derive(Debug, Serialize)]
pub struct Scratch<'a> {
    pub database: &'a str,
    pub created: bool,
}

/// One migration of [`Verify`]: checked, or the one that failed (the
/// fields after `ms` are those of a failure and of notes, when present).
#[derive(Debug, Serialize)]
pub struct Verified<'a> {
    pub id: String,
    pub version: String,
    pub name: &'a str,
    pub result: &'a str,
    pub checked: bool,
    pub ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<Vec<SchemaNote<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub differences: Option<Vec<SchemaChange<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostic: Option<&'a Diagnostic>,
}

/// A difference between two schema snapshots.
#[derive(Debug, Serialize)]
pub struct SchemaChange<'a> {
    pub change: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
}

impl<'a> SchemaChange<'a> {
    pub fn of(c: &'a diff::CatalogChange) -> SchemaChange<'a> {
        let key = c.key();
        SchemaChange {
            change: c.verb(),
            kind: key.kind.label(),
            name: &key.name,
            before: c.before(),
            after: c.after(),
        }
    }
}

/// A change between two schema snapshots that is not a difference.
#[derive(Debug, Serialize)]
pub struct SchemaNote<'a> {
    pub kind: &'a str,
    pub name: &'a str,
    pub note: &'a str,
}

impl<'a> SchemaNote<'a> {
    pub fn of(n: &'a diff::Note) -> SchemaNote<'a> {
        SchemaNote {
            kind: n.key.kind.label(),
            name: &n.key.name,
            note: &n.message,
        }
    }
}

/// `docs/json.md` has a table per document (a `###` heading) listing its
/// fields in the order printed: the same names as a sample of each type,
/// serialized with every optional field present.
impl<'r> Verify<'r> {
    /// The document `keel verify --format json` prints for `report`, verified on the scratch
    /// database `database` (`created` when verify made it).
    pub fn of(
        report: &'r VerifyReport<'_>,
        database: &'r str,
        created: bool,
        elapsed: std::time::Duration,
    ) -> Verify<'r> {
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        let mut migrations: Vec<Verified<'r>> = report
            .checked
            .iter()
            .map(|c| {
                let m = c.migration;
                let (result, notes) = match &c.verdict {
                    Verdict::Reversible { notes } => {
                        ("reversible", notes.iter().map(SchemaNote::of).collect())
                    }
                    Verdict::Irreversible => ("irreversible", Vec::new()),
                };
                Verified {
                    id: m.id(),
                    version: m.version.digits(),
                    name: &m.name,
                    result,
                    checked: result == "reversible",
                    ms: ms(c.elapsed),
                    notes: Some(notes),
                    message: None,
                    phase: None,
                    differences: None,
                    error: None,
                    diagnostic: None,
                }
            })
            .collect();
        let failure = report.stopped.as_ref().map(|s| {
            let m = s.migration;
            let mut v = Verified {
                id: m.id(),
                version: m.version.digits(),
                name: &m.name,
                result: "failed",
                checked: true,
                ms: ms(s.elapsed),
                notes: None,
                message: Some(s.problem.summary()),
                phase: None,
                differences: None,
                error: None,
                diagnostic: None,
            };
            match &s.problem {
                Problem::NotRestored { phase, diff } => {
                    v.phase = Some(phase.label());
                    v.differences = Some(diff.changes.iter().map(SchemaChange::of).collect());
                    v.notes = Some(diff.notes.iter().map(SchemaNote::of).collect());
                }
                Problem::Step { phase, error } => {
                    v.phase = Some(phase.label());
                    v.error = Some(error.to_string());
                    if let RunError::Statement { diagnostic, .. } = error {
                        v.diagnostic = Some(diagnostic);
                    }
                }
                Problem::Snapshot(e) => {
                    v.error = Some(e.to_string());
                }
            }
            v
        });
        let failed = failure.as_ref().map(|f| f.id.clone());
        migrations.extend(failure);
        Verify {
            command: "verify",
            ok: report.stopped.is_none(),
            scratch: Scratch { database, created },
            migrations,
            verified: report.checked.len(),
            reversible: report.reversible(),
            irreversible: report.irreversible(),
            failed,
            ms: ms(elapsed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::codes;
    use crate::policies::matrix::Cell;
    use crate::policies::model::{Command, TableName};
    use crate::policies::status::{PolicyStatus, State};
    use crate::project::Version;
    use serde_json::Value;
    use std::collections::BTreeMap;

    fn value(v: impl Serialize) -> Value {
        serde_json::to_value(v).unwrap()
    }

    fn fleet_done() -> crate::fleet::Done {
        crate::fleet::Done {
            name: "t1".into(),
            group: "canary".into(),
            outcome: crate::fleet::Outcome::Ran {
                from: None,
                to: None,
                steps: 1,
                policy_changes: 0,
            },
            elapsed: std::time::Duration::from_millis(5),
        }
    }

    fn fleet_target() -> FleetTarget<'static> {
        let d: &'static crate::fleet::Done = Box::leak(Box::new(fleet_done()));
        FleetTarget::of(d)
    }

    fn fleet_summary() -> FleetSummary<'static> {
        FleetSummary::of(
            "upgrade",
            &crate::fleet::Summary::default(),
            std::time::Duration::ZERO,
        )
    }

    fn fleet_status_row() -> FleetStatusRow {
        FleetStatusRow::of(&fleet_done())
    }

    fn fleet_status() -> FleetStatus {
        FleetStatus { targets: vec![] }
    }

    /// Every document and every object in one, by its name in the doc.
    fn samples() -> Vec<(&'static str, Value)> {
        let p = Path::new("sql/up/0001_a.sql");
        let strings = ["a".to_string()];
        let paths = [p.to_path_buf()];
        let d = Diagnostic::error(codes::CHECKSUM_MISMATCH, "m")
            .with_path(p)
            .with_hint("h")
            .with_note("n");
        let diagnostics = std::slice::from_ref(&d);
        let counts = Counts::default();
        let file = || ShowFile {
            path: p,
            checksum: "c".into(),
            sql: "s".into(),
        };
        let version = Version::parse("0001").unwrap();
        let applied = AppliedVersion {
            version,
            name: "a".into(),
            up_checksum: "c".into(),
            down_checksum: "c".into(),
            up_sql: String::new(),
            down_sql: String::new(),
            irreversible: false,
            applied_at: "t".into(),
            applied_by: "r".into(),
            client_host: None,
            duration_ms: None,
            keel_version: "v".into(),
            dirty: false,
            dirty_direction: None,
            dirty_statement: None,
        };
        let table = TableName {
            schema: "public".into(),
            name: "t".into(),
        };
        let policy = PolicyStatus {
            name: "p".into(),
            command: Some(Command::Select),
            state: State::Ok,
            declared: None,
            live: None,
            recorded: None,
        };
        let tables = [TableStatus {
            table: table.clone(),
            exists: true,
            declared_force: true,
            rls: true,
            force: true,
            policies: vec![policy.clone()],
        }];
        let changes = [PolicyChange {
            table,
            action: "a".into(),
            sql: "s".into(),
            unchanged: false,
        }];
        let grids = [Grid {
            table: "t".into(),
            rls: true,
            roles: vec!["r".into()],
            commands: vec!["SELECT"],
            cells: vec![vec![Cell::Denied]],
        }];
        let test_files = [PolicyTestFile {
            path: p,
            passed: false,
            statements: 1,
            ms: 1.0,
            failure: Some(d.clone()),
        }];
        let step = || Step {
            version: "0001".into(),
            name: "a",
            ms: 1.0,
        };
        let note = || SchemaNote {
            kind: "table",
            name: "t",
            note: "n",
        };
        let change = SchemaChange {
            change: "added",
            kind: "table",
            name: "t",
            before: None,
            after: Some("d"),
        };
        let import_file = || ImportFile {
            path: p,
            source: p,
            transaction: true,
        };
        let import_migration = ImportMigration {
            version: "0001".into(),
            name: "a",
            message: Some("m"),
            up: import_file(),
            down: import_file(),
            irreversible: false,
            notes: &strings,
        };
        let verified = Verified {
            id: "0001_a".into(),
            version: "0001".into(),
            name: "a",
            result: "failed",
            checked: true,
            ms: 1.0,
            notes: Some(vec![note()]),
            message: Some("m".into()),
            phase: Some("down"),
            differences: Some(vec![change]),
            error: Some("e".into()),
            diagnostic: Some(&d),
        };
        vec![
            (
                "error",
                value(Error {
                    error: "e",
                    hint: None,
                }),
            ),
            ("diagnostic", value(&d)),
            (
                "init",
                value(Init {
                    created: &paths,
                    config: p,
                    dir: p,
                    next: &strings,
                }),
            ),
            (
                "revision",
                value(Revision {
                    version: "0001".into(),
                    up: p,
                    down: p,
                }),
            ),
            ("seal", value(Seal { sealed: &strings })),
            (
                "import",
                value(Import {
                    ok: true,
                    dry_run: false,
                    tool: "sqlx",
                    source: p,
                    dir: p,
                    migrations: vec![],
                    skipped: vec![],
                    written: 0,
                    diagnostics,
                }),
            ),
            (
                "adopt",
                value(Adopt {
                    ok: true,
                    dry_run: false,
                    tool: "sqlx",
                    table: "public._sqlx_migrations",
                    from: Some("base".into()),
                    to: Some("0001".into()),
                    adopted: vec![],
                    already: &strings,
                    notes: &strings,
                    diagnostics,
                }),
            ),
            (
                "adopted version",
                value(AdoptVersion {
                    version: "0001".into(),
                    name: "a",
                    peer: Some("1"),
                    checksum: "not compared",
                    checksum_note: Some("n"),
                }),
            ),
            ("import migration", value(&import_migration)),
            ("import file", value(&import_migration.up)),
            (
                "skipped file",
                value(ImportSkipped {
                    path: p,
                    reason: "r",
                }),
            ),
            (
                "check",
                value(Check {
                    ok: true,
                    errors: 0,
                    warnings: 0,
                    migrations: 0,
                    statements: &counts,
                    diagnostics,
                }),
            ),
            ("statements", value(counts)),
            (
                "heads",
                value(Head {
                    version: "0001".into(),
                    name: "a",
                }),
            ),
            (
                "show",
                value(Show {
                    version: "0001".into(),
                    name: "a",
                    message: None,
                    transaction: true,
                    irreversible: false,
                    up: file(),
                    down: file(),
                }),
            ),
            ("show file", value(file())),
            (
                "current",
                value(Current {
                    version: None,
                    name: None,
                    head: None,
                    at_head: true,
                    dirty: None,
                }),
            ),
            (
                "history",
                value(HistoryRow {
                    version: "0001".into(),
                    name: "a".into(),
                    state: "applied",
                    head: true,
                    message: None,
                    applied: Some(&applied),
                    up_checksum: None,
                    down_checksum: None,
                }),
            ),
            ("applied", value(&applied)),
            ("applied event", value(RunEvent::Applied(step()))),
            ("diagnostic event", value(RunEvent::Diagnostic(&d))),
            ("reverted", value(RunEvent::Reverted(step()))),
            ("fleet target", value(fleet_target())),
            ("fleet summary", value(fleet_summary())),
            ("fleet status", value(fleet_status())),
            ("fleet status target", value(fleet_status_row())),
            (
                "retrying event",
                value(RunEvent::Retrying(Retrying {
                    attempt: 1,
                    attempts: 6,
                    message: "m",
                    location: None,
                    blockers: vec![],
                    pause_ms: 1.0,
                })),
            ),
            (
                "summary",
                value(RunEvent::Summary(Summary {
                    command: "upgrade",
                    from: "base",
                    to: "0001",
                    outcome: Outcome::Ran { steps: 1, ms: 1.0 },
                })),
            ),
            (
                "summary with nothing to run",
                value(RunEvent::Summary(Summary {
                    command: "upgrade",
                    from: "base",
                    to: "base",
                    outcome: Outcome::NothingToRun {
                        steps: 0,
                        policy_changes: 0,
                    },
                })),
            ),
            (
                "summary of stamp",
                value(RunEvent::Summary(Summary {
                    command: "stamp",
                    from: "base",
                    to: "0001",
                    outcome: Outcome::Stamped {
                        added: &strings,
                        removed: vec![],
                    },
                })),
            ),
            (
                "repair",
                value(Repair {
                    version: "0001".into(),
                    changes: &strings,
                    sealed: &strings,
                }),
            ),
            (
                "verify",
                value(Verify {
                    command: "verify",
                    ok: false,
                    scratch: Scratch {
                        database: "d",
                        created: true,
                    },
                    migrations: vec![],
                    verified: 0,
                    reversible: 0,
                    irreversible: 0,
                    failed: None,
                    ms: 1.0,
                }),
            ),
            (
                "scratch",
                value(Scratch {
                    database: "d",
                    created: true,
                }),
            ),
            ("verified", value(&verified)),
            (
                "schema change",
                value(&verified.differences.as_ref().unwrap()[0]),
            ),
            ("schema note", value(note())),
            (
                "policies apply",
                value(PoliciesApplied { changes: &changes }),
            ),
            ("policy change", value(&changes[0])),
            (
                "policies status",
                value(PoliciesStatus {
                    drift: false,
                    tables: &tables,
                }),
            ),
            ("table status", value(&tables[0])),
            ("policy status", value(&policy)),
            (
                "policies status --matrix",
                value(PolicyMatrix {
                    source: "live database",
                    tables: &grids,
                }),
            ),
            ("grid", value(&grids[0])),
            (
                "policies test",
                value(PolicyTests {
                    passed: 0,
                    failed: 1,
                    files: &test_files,
                }),
            ),
            ("policy test", value(&test_files[0])),
            (
                "policies lint",
                value(Lint {
                    ok: true,
                    errors: 0,
                    warnings: 0,
                    live: false,
                    diagnostics,
                }),
            ),
            (
                "dev-db start",
                value(DevDbStarted {
                    running: true,
                    url: "u",
                    data_dir: p,
                    pg_major: Some(17),
                }),
            ),
            ("dev-db url", value(DevDbUrl { url: "u" })),
            (
                "dev-db stop",
                value(DevDbStopped {
                    running: false,
                    data_dir: p,
                }),
            ),
            (
                "dev-db destroy",
                value(DevDbDestroyed {
                    deleted: true,
                    data_dir: p,
                }),
            ),
            (
                "dev-db status",
                value(DevDbStatus {
                    running: true,
                    pid: Some(1),
                    url: "u",
                    data_dir: p,
                    log: p,
                    pg_major: Some(17),
                }),
            ),
        ]
    }

    /// The fields of each `###` section of `docs/json.md`, by its heading
    /// without backticks.
    fn documented() -> BTreeMap<String, Vec<String>> {
        let doc = include_str!("../../docs/json.md");
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut current = None;
        for line in doc.lines() {
            if let Some(name) = line.strip_prefix("### ") {
                let name = name.replace('`', "");
                assert!(!out.contains_key(&name), "{name} is documented twice");
                out.insert(name.clone(), Vec::new());
                current = Some(name);
            } else if line.starts_with("## ") {
                current = None;
            } else if let (Some(name), Some(row)) = (&current, line.strip_prefix("| `")) {
                let field = row.split('`').next().unwrap_or_default();
                out.get_mut(name).unwrap().push(field.to_string());
            }
        }
        out
    }

    #[test]
    fn docs_json_md_lists_the_fields_of_every_document() {
        let mut documented = documented();
        // The reverted event is the applied event with another value.
        let step = documented.get("applied event").cloned();
        let samples = samples();
        for (name, sample) in &samples {
            let keys: Vec<String> = match sample {
                Value::Object(map) => map.keys().cloned().collect(),
                other => panic!("{name} is not an object: {other}"),
            };
            if *name == "reverted" {
                assert_eq!(sample["event"], "reverted");
                assert_eq!(Some(&keys), step.as_ref());
                continue;
            }
            let Some(fields) = documented.remove(*name) else {
                panic!("docs/json.md has no section `{name}`");
            };
            assert_eq!(fields, keys, "the fields of `{name}` in docs/json.md");
        }
        assert!(
            documented.is_empty(),
            "docs/json.md documents what keel does not print: {:?}",
            documented.keys().collect::<Vec<_>>()
        );
    }
}
