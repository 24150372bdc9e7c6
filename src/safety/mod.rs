//! The safety lint of `keel check`: statements of pending up migrations that
//! take strong locks or rewrite tables, break running code, or pick types
//! that hurt later.
//!
//! Every rule is one file in `rules/`, with its id (squawk's name), its
//! [`Kind`] and its tests, registered in [`RULES`]; `docs/safety.md` has a
//! section per rule with why and the safe rewrite. A rule is a pure function
//! of one [`Change`] (what a statement does, read from sqlparser's tree by
//! [`crate::sql::ddl`] while `check_file` held it: nothing is parsed twice)
//! and of the [`Schema`] the files built before it. Statements sqlparser
//! rejects have no changes, hence no findings.
//!
//! [`lint`] walks the up files in version order: applied ones only build
//! the schema; pending ones are judged. What the run itself creates is
//! empty and unseen by other sessions, so lock and compatibility rules do
//! not fire on it. [`resolve`] then gives each finding its level: from
//! `keel.toml`, else from its kind and, online, from the size of its table
//! ([`Live`], read by `db::table_size`). Nothing here talks to PostgreSQL
//! or prints.

pub mod allow;
mod rules;
pub mod schema;

use crate::config::{RuleLevel, SafetyConfig};
use crate::diagnostic::{Code, Diagnostic, Position, Severity, Source};
use crate::header::TransactionMode;
use crate::policies::model::TableName;
use crate::project::{Project, SqlText, Version};
use crate::sql::check::CheckedFile;
use crate::sql::ddl::{Action, Change, Column, Loc, Type};
pub use rules::RULES;
use schema::Schema;
use std::collections::BTreeMap;

/// What a rule is about, which sets its default level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A strong lock held while the table is scanned or rewritten: an error
    /// online on a table over the threshold, a note under it, a warning
    /// offline.
    Lock,
    /// Code running against the old schema breaks (renames, drops): a
    /// warning.
    Compatibility,
    /// A type that hurts later: a warning. Fires on new tables too.
    Style,
}

/// What a finding locks: the table whose size decides its level online.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Table(TableName),
    /// An index, whose table the files or the catalog name.
    Index(TableName),
}

/// One finding of a rule, before it is placed in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub message: String,
    /// The safe rewrite.
    pub hint: String,
    pub target: Option<Target>,
    /// Where in the statement, when more precise than the statement.
    pub at: Option<Loc>,
    /// For `SET NOT NULL`: the column a validated CHECK on the live table
    /// may prove not null.
    pub not_null: Option<String>,
}

impl Finding {
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Finding {
        Finding {
            message: message.into(),
            hint: hint.into(),
            target: None,
            at: None,
            not_null: None,
        }
    }

    pub fn on(mut self, target: Target) -> Finding {
        self.target = Some(target);
        self
    }

    pub fn at(mut self, at: Option<Loc>) -> Finding {
        self.at = at;
        self
    }
}

/// One safety rule.
pub trait SafetyRule: Sync {
    /// The stable id (squawk's): the diagnostic's code, the heading in
    /// `docs/safety.md`, the name in `-- keel:allow` and `[safety.rules]`.
    fn id(&self) -> Code;
    fn kind(&self) -> Kind;
    /// The findings for `change`, judged against `schema` as it is before
    /// the change.
    fn check(&self, change: &Change, schema: &Schema) -> Vec<Finding>;
}

/// One up file to lint, with what checking it found.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub file: &'a SqlText,
    pub checked: &'a CheckedFile,
    /// It runs in this run: judged. Applied ones only build the schema.
    pub pending: bool,
}

/// The up files of `project` in version order, with their check results:
/// `texts` and `checked` in [`Project::files`] order (up, down, up, ...).
pub fn inputs<'a>(
    project: &Project,
    texts: &'a [SqlText],
    checked: &'a [CheckedFile],
    pending: impl Fn(&Version) -> bool,
) -> Vec<Input<'a>> {
    project
        .migrations
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            Some(Input {
                file: texts.get(2 * i)?,
                checked: checked.get(2 * i)?,
                pending: pending(&m.version),
            })
        })
        .collect()
}

/// A finding placed in its file, waiting for its level.
#[derive(Debug, Clone)]
pub struct Found {
    /// The file's place in the run, for the order of the report.
    pub file: usize,
    pub kind: Kind,
    /// Code, message, place and hint; the level is set by [`resolve`].
    pub diagnostic: Diagnostic,
    pub target: Option<Target>,
    pub not_null: Option<String>,
}

/// What [`lint`] found.
#[derive(Debug, Default)]
pub struct Lint {
    pub findings: Vec<Found>,
    /// Problems with allow lines, at their final level, with their file's
    /// place in the run.
    pub diagnostics: Vec<(usize, Diagnostic)>,
}

impl Lint {
    /// The tables and indexes lock findings name, once each: what
    /// [`resolve`] wants the size of online.
    pub fn targets(&self) -> Vec<Target> {
        let mut t: Vec<Target> = self
            .findings
            .iter()
            .filter(|f| f.kind == Kind::Lock)
            .filter_map(|f| f.target.clone())
            .collect();
        t.sort();
        t.dedup();
        t
    }
}

/// Judges the pending files of `inputs` (in version order) with every rule
/// `config` does not turn off.
pub fn lint(inputs: &[Input], config: &SafetyConfig) -> Lint {
    let rules: Vec<&dyn SafetyRule> = RULES
        .iter()
        .copied()
        .filter(|r| config.level(r.id()) != Some(RuleLevel::Off))
        .collect();
    let mut schema = Schema::default();
    let mut out = Lint::default();
    for (seq, input) in inputs.iter().enumerate() {
        let statements = &input.checked.statements;
        if !input.pending {
            for c in statements.iter().flat_map(|s| &s.changes) {
                schema.apply(c, false);
            }
            schema.commit();
            continue;
        }
        let file = input.file;
        let source = Source::new(&file.path, &file.text);
        let mut problems = Vec::new();
        let mut allows = allow::Allows::read(file, statements, &source, &mut problems);
        // By default a run is one transaction; a `transaction off` file
        // commits what came before and runs each statement on its own.
        let transactional = file.header.transaction() == TransactionMode::On;
        for (i, s) in statements.iter().enumerate() {
            if !transactional {
                schema.commit();
            }
            for change in &s.changes {
                // On what the run creates, only style rules can fire: the
                // others are asked only to mark an allow as used.
                let exempt = on_new(change, &schema);
                for rule in &rules {
                    if exempt && rule.kind() != Kind::Style && !allows.names(rule.id(), i) {
                        continue;
                    }
                    for f in rule.check(change, &schema) {
                        if allows.silences(rule.id(), i) {
                            continue;
                        }
                        let new = f.target.as_ref().is_some_and(|t| schema.is_new(t));
                        if new && rule.kind() != Kind::Style {
                            continue;
                        }
                        let span = match f.at {
                            Some((line, column)) => {
                                let (line, column) = (u64::from(line), u64::from(column));
                                let at =
                                    Position::offset_of(&file.text, s.text.start, line, column)
                                        .clamp(s.text.start, s.text.end);
                                at..word_end(&file.text, at, s.text.end)
                            }
                            None => s.text.clone(),
                        };
                        out.findings.push(Found {
                            file: seq,
                            kind: rule.kind(),
                            diagnostic: Diagnostic::warning(rule.id(), f.message)
                                .located(&source, span)
                                .with_hint(f.hint),
                            target: f.target,
                            not_null: f.not_null,
                        });
                    }
                }
                schema.apply(change, true);
            }
        }
        if !transactional {
            schema.commit();
        }
        allows.unused(statements, &source, config, &mut problems);
        out.diagnostics
            .extend(problems.into_iter().map(|d| (seq, d)));
    }
    out
}

/// Whether everything `change` locks or changes was created by the run.
fn on_new(change: &Change, schema: &Schema) -> bool {
    match change {
        Change::CreateTable { .. } => false,
        Change::CreateIndex { table, .. } | Change::Alter { table, .. } => schema.new_table(table),
        Change::DropIndex { indexes } => indexes.iter().all(|i| schema.new_index(i)),
        Change::DropTable { tables } => tables.iter().all(|t| schema.new_table(t)),
    }
}

/// The end of the word at `at` (a name, quoted or not), not past `end`.
fn word_end(text: &str, at: usize, end: usize) -> usize {
    let rest = &text[at..end];
    let len = if let Some(q) = rest.strip_prefix('"') {
        q.find('"').map_or(rest.len(), |i| i + 2)
    } else {
        rest.find(|c: char| c.is_whitespace() || matches!(c, ',' | '(' | ')' | ';'))
            .unwrap_or(rest.len())
    };
    at + len
}

/// What the catalog says about a table a finding names.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSize {
    /// The table (for an index, the index's table).
    pub table: TableName,
    /// Estimated rows (`pg_class.reltuples` scaled to the table's current
    /// size, or the statistics' live rows); `None` when PostgreSQL has no
    /// estimate yet.
    pub rows: Option<f64>,
    /// `pg_total_relation_size`: heap, indexes and TOAST.
    pub bytes: i64,
    /// `pg_get_constraintdef` of its validated CHECK constraints.
    pub checks: Vec<String>,
}

impl TableSize {
    /// Whether a validated CHECK proves `column` not null, so that `SET NOT
    /// NULL` needs no scan (PostgreSQL skips it).
    pub fn proves_not_null(&self, column: &str) -> bool {
        self.checks.iter().any(|def| {
            def.strip_prefix("CHECK ")
                .and_then(|e| crate::sql::parse::expression(e).ok())
                .is_some_and(|e| {
                    crate::sql::ddl::not_null_columns(&e)
                        .iter()
                        .any(|c| c == column)
                })
        })
    }
}

/// What the database says about the targets of the findings: `None` for
/// one it does not have.
#[derive(Debug, Default)]
pub struct Live {
    pub sizes: BTreeMap<Target, Option<TableSize>>,
}

/// Gives each finding its level and returns every diagnostic: allow
/// problems, then findings in file order. `live` is `None` offline.
pub fn resolve(lint: Lint, live: Option<&Live>, config: &SafetyConfig) -> Vec<Diagnostic> {
    let mut out = lint.diagnostics;
    for f in lint.findings {
        let mut d = f.diagnostic;
        let code = d.code;
        let configured = |default: Severity| match config.level(code) {
            Some(RuleLevel::Error) => Severity::Error,
            Some(RuleLevel::Warning) => Severity::Warning,
            _ => default,
        };
        let severity = match (f.kind, live) {
            (Kind::Lock, Some(live)) => {
                let size = f
                    .target
                    .as_ref()
                    .and_then(|t| live.sizes.get(t))
                    .and_then(Option::as_ref);
                match size {
                    Some(s) if f.not_null.as_deref().is_some_and(|c| s.proves_not_null(c)) => {
                        continue;
                    }
                    Some(s) => {
                        let level = match s.rows {
                            Some(rows) if rows <= config.threshold_rows as f64 => Severity::Note,
                            _ => configured(Severity::Error),
                        };
                        d = d.with_note(size_note(s, config.threshold_rows));
                        level
                    }
                    None => {
                        d = d.with_note(
                            "the table is not in the database, so keel cannot tell its size",
                        );
                        configured(Severity::Warning)
                    }
                }
            }
            _ => configured(Severity::Warning),
        };
        d.severity = severity;
        out.push((f.file, d));
    }
    // File by file in run order, then by place.
    out.sort_by_key(|(file, d)| (*file, d.line, d.column));
    out.into_iter().map(|(_, d)| d).collect()
}

/// `public.items: about 52,000 rows, 4 MB (estimates: ...)`, and what the
/// threshold made of it.
fn size_note(s: &TableSize, threshold: u64) -> String {
    let size = format!("{}, {}", rows(s.rows), bytes(s.bytes));
    match s.rows {
        Some(r) if r <= threshold as f64 => format!(
            "{}: {size}; at most {} rows (`[safety] threshold_rows`), so a note rather than an error",
            s.table,
            group(threshold)
        ),
        Some(_) => format!(
            "{}: {size} (estimated from pg_class.reltuples and pg_total_relation_size)",
            s.table
        ),
        None => format!(
            "{}: {size}; PostgreSQL has no row estimate yet (run ANALYZE), so keel assumes it is large",
            s.table
        ),
    }
}

fn rows(rows: Option<f64>) -> String {
    match rows {
        Some(r) => {
            let r = r.round() as u64;
            format!("about {} row{}", group(r), if r == 1 { "" } else { "s" })
        }
        None => "rows unknown".to_string(),
    }
}

/// Bytes as `pg_size_pretty` writes them.
fn bytes(n: i64) -> String {
    let mut size = n as f64;
    for unit in ["bytes", "kB", "MB", "GB", "TB"] {
        if size.abs() < 10_240.0 || unit == "TB" {
            return format!("{} {unit}", size.round());
        }
        size /= 1024.0;
    }
    unreachable!("the loop returns at TB")
}

/// `1234567` as `1,234,567`.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The columns `change` gives a type (created, added or retyped), with
/// where their names are: what the type rules read.
pub fn typed_columns(change: &Change) -> impl Iterator<Item = (&str, &Type, Option<Loc>)> {
    let (many, one): (&[Column], _) = match change {
        Change::CreateTable { columns, .. } => (columns, None),
        Change::Alter {
            action: Action::AddColumn(c),
            ..
        } => (&[], Some((c.name.as_str(), &c.ty, c.at))),
        Change::Alter {
            action: Action::SetType { column, ty, at, .. },
            ..
        } => (&[], Some((column.as_str(), ty, *at))),
        _ => (&[], None),
    };
    many.iter()
        .map(|c| (c.name.as_str(), &c.ty, c.at))
        .chain(one)
}

#[cfg(test)]
pub(crate) mod fixture;

#[cfg(test)]
mod tests;
