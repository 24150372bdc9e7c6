//! Validation of a whole project: every file checked (in parallel: files are
//! independent), plus the rules that look across files.

use crate::diagnostic::{codes, Diagnostic, Position};
use crate::header::TransactionMode;
use crate::project::{FileKind, SqlText};
use crate::sql::check::{self, CheckedFile, Options, Parse};
use crate::sql::rules::{self, Class};

/// Everything validation found.
#[derive(Debug, Default)]
pub struct Validation {
    /// One entry per file of [`Project::files`], in the same order.
    pub files: Vec<CheckedFile>,
    /// Cross-file findings.
    pub diagnostics: Vec<Diagnostic>,
}

/// Statement counts for the summary line.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Counts {
    pub statements: usize,
    /// Validated by sqlparser.
    pub sqlparser: usize,
    /// Validated by PostgreSQL's own parser (sqlparser could not).
    pub server: usize,
}

impl Validation {
    /// All diagnostics, file by file, then the cross-file ones.
    pub fn all_diagnostics(&self) -> Vec<Diagnostic> {
        self.files
            .iter()
            .flat_map(|f| f.diagnostics.iter().cloned())
            .chain(self.diagnostics.iter().cloned())
            .collect()
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for f in &self.files {
            for s in &f.statements {
                c.statements += 1;
                if s.parse == Parse::Valid {
                    c.sqlparser += 1;
                }
            }
        }
        c
    }
}

/// Checks every file of a project, given in [`crate::project::Project::files`]
/// order (as [`crate::project::load`] reads them).
pub fn validate(files: &[SqlText], options: Options) -> Validation {
    let files: Vec<&SqlText> = files.iter().collect();
    let checked = check_parallel(&files, options);
    let mut v = Validation {
        files: checked,
        diagnostics: Vec::new(),
    };
    enum_value_rule(&files, &v.files, &mut v.diagnostics);
    v
}

/// Checks files on all cores (files are independent).
pub fn check_parallel(files: &[&SqlText], options: Options) -> Vec<CheckedFile> {
    crate::parallel::map(files, 1, |f| check::check_file(f, options))
}

/// `ALTER TYPE ... ADD VALUE 'x'` followed, in the same transaction, by a
/// statement that uses `'x'`: PostgreSQL refuses ("unsafe use of new value").
/// By default a whole run is one transaction, so later up files count too,
/// until a `transaction off` migration commits.
fn enum_value_rule(files: &[&SqlText], checked: &[CheckedFile], out: &mut Vec<Diagnostic>) {
    let mut added: Vec<(String, &SqlText, usize)> = Vec::new();
    for (file, c) in files.iter().zip(checked) {
        if file.kind != FileKind::Up {
            continue;
        }
        if file.facts.transaction == TransactionMode::Off {
            added.clear();
            continue;
        }
        for s in &c.statements {
            let text = &file.text[s.text.clone()];
            for (label, origin, at) in &added {
                if rules::mentions_label(text, label) {
                    let pos = Position::of(&origin.text, *at);
                    out.push(
                        Diagnostic::warning(
                            codes::ENUM_VALUE_IN_SAME_TRANSACTION,
                            format!(
                                "enum value '{label}' is used in the transaction that adds it ({}:{})",
                                origin.path.display(),
                                pos.line
                            ),
                        )
                        .at(&file.path, &file.text, s.text.clone())
                        .with_hint("PostgreSQL refuses a new enum value before its transaction commits: add the value in a `-- keel:transaction off` migration, or run with `--transaction-per-migration` and use it in a later one"),
                    );
                }
            }
            if let Class::AddsEnumValue(label) = &s.class {
                added.push((label.clone(), *file, s.text.start));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{self, Checksum};
    use std::path::PathBuf;

    /// One migration's up and down files.
    fn migration(v: u128, up: &str, extra: &[&str]) -> [SqlText; 2] {
        let file = |dir: &str, body: &str, kind| {
            SqlText::new(
                PathBuf::from(format!("sql/{dir}/{v:04}_m.sql")),
                kind,
                format!(
                    "{}{body}",
                    header::render(Checksum::of_body(body), None, extra)
                ),
            )
        };
        [
            file("up", up, FileKind::Up),
            file("down", "SELECT 1;", FileKind::Down),
        ]
    }

    fn codes(migrations: Vec<[SqlText; 2]>) -> Vec<codes::Code> {
        let files: Vec<SqlText> = migrations.into_iter().flatten().collect();
        validate(&files, Options::default())
            .diagnostics
            .iter()
            .map(|d| d.code)
            .collect()
    }

    #[test]
    fn a_new_enum_value_used_in_the_same_run_is_a_warning() {
        let add = "ALTER TYPE mood ADD VALUE 'meh';";
        let used = "INSERT INTO feelings VALUES ('meh');";
        assert_eq!(
            codes(vec![migration(1, &format!("{add}\n{used}"), &[])]),
            [codes::ENUM_VALUE_IN_SAME_TRANSACTION]
        );
        assert_eq!(
            codes(vec![migration(1, add, &[]), migration(2, used, &[])]),
            [codes::ENUM_VALUE_IN_SAME_TRANSACTION]
        );
        // A `transaction off` migration commits before what follows.
        assert!(codes(vec![
            migration(1, add, &[]),
            migration(2, "VACUUM;", &["transaction off"]),
            migration(3, used, &[]),
        ])
        .is_empty());
    }
}
