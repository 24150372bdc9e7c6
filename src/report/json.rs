//! The documents `--format json` prints: one type per document, built by
//! the command and printed by [`Reporter::json`](super::Reporter::json).
//! `docs/json.md` describes each one field by field, and a test checks the
//! two against each other.
//!
//! Keys are printed sorted at every level (the reporter serializes through
//! [`serde_json::Value`], whose maps are ordered), so the order of the
//! fields here is free; field names and values are the interface.

use crate::db::history::AppliedVersion;
use crate::diagnostic::Diagnostic;
use crate::policies::matrix::Grid;
use crate::policies::reconcile::Change as PolicyChange;
use crate::policies::status::TableStatus;
use crate::validation::Counts;
use crate::verify::diff;
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
}

/// `keel dev-db status`.
#[derive(Debug, Serialize)]
pub struct DevDbStatus<'a> {
    pub running: bool,
    pub pid: Option<u32>,
    pub url: &'a str,
    pub data_dir: &'a Path,
    pub log: &'a Path,
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
    pub version: &'a str,
    pub name: &'a str,
}

/// `keel show`.
#[derive(Debug, Serialize)]
pub struct Show<'a> {
    pub version: &'a str,
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
    pub version: &'a str,
    pub up: &'a Path,
    pub down: &'a Path,
}

/// `keel seal`.
#[derive(Debug, Serialize)]
pub struct Seal<'a> {
    pub sealed: &'a [String],
}

/// `keel repair`.
#[derive(Debug, Serialize)]
pub struct Repair<'a> {
    pub version: &'a str,
    pub changes: &'a [String],
    pub sealed: &'a [String],
}

/// `keel current`.
#[derive(Debug, Serialize)]
pub struct Current<'a> {
    pub version: Option<&'a str>,
    pub name: Option<&'a str>,
    pub head: Option<&'a str>,
    pub at_head: bool,
    pub dirty: Option<&'a str>,
}

/// One version of `keel history` (which prints an array of them).
#[derive(Debug, Serialize)]
pub struct HistoryRow<'a> {
    pub version: &'a str,
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
    Applied(Step<'a>),
    Reverted(Step<'a>),
    Summary(Summary<'a>),
}

/// A step done.
#[derive(Debug, Serialize)]
pub struct Step<'a> {
    pub version: &'a str,
    pub name: &'a str,
    pub ms: f64,
}

/// The last line of a run.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Summary<'a> {
    Run(RunSummary<'a>),
    NothingToRun(NothingToRun<'a>),
    Stamp(StampSummary<'a>),
}

/// `upgrade` or `downgrade` ran steps.
#[derive(Debug, Serialize)]
pub struct RunSummary<'a> {
    pub command: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub steps: usize,
    pub ms: f64,
}

/// `upgrade` or `downgrade` had no step to run (only the policy stage).
#[derive(Debug, Serialize)]
pub struct NothingToRun<'a> {
    pub command: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub steps: usize,
    pub policy_changes: usize,
}

/// `stamp`.
#[derive(Debug, Serialize)]
pub struct StampSummary<'a> {
    pub command: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub added: &'a [String],
    pub removed: Vec<&'a str>,
}

/// `keel policies matrix`.
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
    pub version: &'a str,
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
    pub fn of(c: &'a diff::Change) -> SchemaChange<'a> {
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
