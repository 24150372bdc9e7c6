//! Fixtures for the safety tests: up files checked as `keel check` checks
//! them, then linted.

use super::*;
use crate::header::{self, Checksum};
use crate::project::FileKind;
use crate::sql::check::{check_file, Options};
use std::path::PathBuf;

/// The up file of migration `n` with body `sql`; leading `-- keel:` lines
/// of `sql` go to its header, after the checksum line.
pub fn up(n: usize, sql: &str) -> SqlText {
    let mut extra = Vec::new();
    let mut body = sql;
    while let Some(rest) = body.strip_prefix(header::PREFIX) {
        let (line, next) = rest.split_once('\n').unwrap_or((rest, ""));
        extra.push(line);
        body = next;
    }
    let text = format!(
        "{}{body}",
        header::render(Checksum::of_body(body), None, &extra)
    );
    SqlText::new(
        PathBuf::from(format!("sql/up/{n:04}_m.sql")),
        FileKind::Up,
        text,
    )
}

/// Lints the up files `ups` (migrations 1, 2, ...), the first `applied`
/// of them already applied.
pub fn lint_files(ups: &[&str], applied: usize, config: &SafetyConfig) -> Lint {
    let files: Vec<SqlText> = ups.iter().enumerate().map(|(i, s)| up(i + 1, s)).collect();
    let options = Options {
        ddl: true,
        ..Options::default()
    };
    let checked: Vec<CheckedFile> = files.iter().map(|f| check_file(f, options)).collect();
    let inputs: Vec<Input> = files
        .iter()
        .zip(&checked)
        .enumerate()
        .map(|(i, (file, checked))| Input {
            file,
            checked,
            pending: i >= applied,
        })
        .collect();
    lint(&inputs, config)
}

/// A diagnostic as `N:line:column message`, N the migration's number.
pub fn show(d: &Diagnostic) -> String {
    let n: usize = d
        .path
        .as_ref()
        .and_then(|p| p.file_name()?.to_str()?.get(..4)?.parse().ok())
        .unwrap_or(0);
    format!(
        "{n}:{}:{} {}",
        d.line.unwrap_or(0),
        d.column.unwrap_or(0),
        d.message
    )
}

/// `rule`'s findings when `ups` are all pending.
pub fn run(rule: &dyn SafetyRule, ups: &[&str]) -> Vec<String> {
    run_applied(rule, ups, 0)
}

/// `rule`'s findings when the first `applied` of `ups` are applied.
pub fn run_applied(rule: &dyn SafetyRule, ups: &[&str], applied: usize) -> Vec<String> {
    let l = lint_files(ups, applied, &SafetyConfig::default());
    assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
    l.findings
        .iter()
        .filter(|f| f.diagnostic.code == rule.id())
        .map(|f| {
            assert_eq!(f.kind, rule.kind());
            show(&f.diagnostic)
        })
        .collect()
}
