//! keel's transaction rules applied to an imported migration, the same for every tool:
//!
//! - A statement PostgreSQL refuses inside a transaction block (`CREATE INDEX CONCURRENTLY`,
//!   `VACUUM`, ...: [`rules::classify`] decides, as it does for `keel check`) makes its file
//!   `-- keel:transaction off`, whatever the source tool said: the tools that detect it
//!   themselves (Flyway, sqlx for some statements) would have run it outside one.
//! - A `BEGIN` ... `COMMIT` around the whole file (golang-migrate and Flyway files often
//!   carry one, since those tools do not open a transaction for a multi-statement file) is
//!   removed from a transactional file: keel opens the transaction itself, and refuses
//!   explicit transaction control inside it. Transaction control anywhere else is left for
//!   validation to report at its line.
//! - A down side without any statement means there is no way back: it becomes
//!   `-- keel:irreversible` rather than a down that silently does nothing.

use super::{Body, ImportedFile, ImportedMigration};
use crate::diagnostic::{codes, Diagnostic};
use crate::sql::rules::{self, Class};
use crate::sql::split::{self, Statement};
use std::ops::Range;

/// Applies the rules above to `m`; a file they cannot make valid is a problem in `problems`.
pub fn prepare(m: &mut ImportedMigration, problems: &mut Vec<Diagnostic>) {
    if let Some(down) = &m.down {
        if has_no_statement(&down.body) {
            m.notes.push(format!(
                "down: {} has no statement: imported as `-- keel:irreversible`",
                down_place(&m.up, down)
            ));
            m.down = None;
        }
    }
    prepare_file(&mut m.up, "up", &mut m.notes, problems);
    if let Some(down) = &mut m.down {
        prepare_file(down, "down", &mut m.notes, problems);
    }
}

/// How a note names where a down came from: its file, or for a file holding both sides the
/// down section of it.
fn down_place(up: &ImportedFile, down: &ImportedFile) -> String {
    let file = format!("`{}`", down.body.file.rel.display());
    if std::sync::Arc::ptr_eq(&up.body.file, &down.body.file) {
        format!("the down section of {file}")
    } else {
        file
    }
}

/// True when `body` splits into no statement at all (comments and blanks only). A body that
/// cannot be split is not empty: validation reports why.
fn has_no_statement(body: &Body) -> bool {
    let text = body.text();
    let mut statements = split::split(&text);
    statements.next().is_none()
}

fn prepare_file(
    file: &mut ImportedFile,
    side: &str,
    notes: &mut Vec<String>,
    problems: &mut Vec<Diagnostic>,
) {
    let text = file.body.text();
    let Ok(statements) = split::split(&text).collect::<Result<Vec<Statement>, _>>() else {
        // Validation reports where the file cannot be split.
        return;
    };
    let classes: Vec<Class> = statements
        .iter()
        .map(|s| rules::classify(&text[s.text.clone()]))
        .collect();
    let non_transactional = statements.iter().zip(&classes).find_map(|(s, c)| match c {
        Class::NonTransactional(what) => Some((s, *what)),
        _ => None,
    });
    if let Some((begin, commit)) = wrapping(&text, &statements, &classes) {
        if let Some((s, what)) = non_transactional {
            let at = file.body.source_offset(s.text.start);
            let end = at + s.text.len();
            problems.push(
                Diagnostic::error(
                    codes::IMPORT_TRANSACTION_BLOCK,
                    format!(
                        "{what} cannot run inside a transaction block, and this file wraps it in BEGIN ... COMMIT"
                    ),
                )
                .at(&file.body.file.shown, &file.body.file.text, at..end)
                .with_hint("take the statement out of the BEGIN ... COMMIT block in the source file (PostgreSQL refuses it there too), then import again"),
            );
            return;
        }
        if file.transaction_off {
            notes.push(format!(
                "{side}: kept the BEGIN (line {}) and COMMIT (line {}) around the whole file: it runs outside keel's transaction, as the source ran it",
                file.body.source_line(begin.text.start),
                file.body.source_line(commit.text.start),
            ));
        } else {
            notes.push(format!(
                "{side}: removed the BEGIN (line {}) and COMMIT (line {}) around the whole file: keel runs the migration in its own transaction",
                file.body.source_line(begin.text.start),
                file.body.source_line(commit.text.start),
            ));
            // The later range first: removing it leaves the earlier offsets as they are.
            file.body.remove(whole_lines(&text, commit));
            file.body.remove(whole_lines(&text, begin));
        }
    }
    if let Some((s, what)) = non_transactional {
        if !file.transaction_off {
            file.transaction_off = true;
            notes.push(format!(
                "{side}: {what} (line {}) cannot run inside a transaction: imported as `-- keel:transaction off`",
                file.body.source_line(s.text.start)
            ));
        }
    }
}

/// The first and last statements when they are a plain `BEGIN` and a plain `COMMIT` with no
/// other transaction control between them.
fn wrapping<'s>(
    text: &str,
    statements: &'s [Statement],
    classes: &[Class],
) -> Option<(&'s Statement, &'s Statement)> {
    let (first, last) = (statements.first()?, statements.last()?);
    if statements.len() < 2
        || !is_plain(&text[first.text.clone()], OPENERS)
        || !is_plain(&text[last.text.clone()], CLOSERS)
        || classes[1..classes.len() - 1]
            .iter()
            .any(|c| matches!(c, Class::TransactionControl(_)))
    {
        return None;
    }
    Some((first, last))
}

/// A statement that opens a transaction with no option: with one (`BEGIN ISOLATION LEVEL
/// SERIALIZABLE`) removing it would change what the migration does, so it is left for
/// validation to report.
const OPENERS: &[&str] = &[
    "BEGIN",
    "BEGIN WORK",
    "BEGIN TRANSACTION",
    "START TRANSACTION",
];

/// A statement that commits, with no option (`COMMIT AND CHAIN` is not one).
const CLOSERS: &[&str] = &[
    "COMMIT",
    "COMMIT WORK",
    "COMMIT TRANSACTION",
    "END",
    "END WORK",
    "END TRANSACTION",
];

/// True when `statement`, its words separated by any whitespace, is one of `forms`.
fn is_plain(statement: &str, forms: &[&str]) -> bool {
    let words: Vec<&str> = statement.split_whitespace().collect();
    let written = words.join(" ");
    forms.iter().any(|f| f.eq_ignore_ascii_case(&written))
}

/// What to remove for `statement`: from its first word through its `;`, widened to its
/// whole line(s) when nothing else is on them, so that no blank line is left behind.
pub(super) fn whole_lines(text: &str, statement: &Statement) -> Range<usize> {
    let mut start = statement.text.start;
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    if text[line_start..start].trim().is_empty() {
        start = line_start;
    }
    let mut end = statement.span.end;
    let rest = &text[end..];
    let blanks = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    end += blanks;
    if text[end..].starts_with('\n') {
        end += 1;
    }
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{ImportedMigration, SourceText};
    use crate::project::Version;
    use std::path::PathBuf;
    use std::sync::Arc;

    fn file(text: &str, off: bool) -> ImportedFile {
        let mut f = ImportedFile::whole(Arc::new(SourceText {
            rel: PathBuf::from("1_a.up.sql"),
            shown: PathBuf::from("migrations/1_a.up.sql"),
            text: text.to_string(),
        }));
        f.transaction_off = off;
        f
    }

    fn migration(up: &str, off: bool, down: Option<&str>) -> ImportedMigration {
        ImportedMigration {
            version: Version::parse("1").unwrap(),
            description: "a".into(),
            up: file(up, off),
            down: down.map(|d| file(d, false)),
            notes: Vec::new(),
        }
    }

    fn prepared(up: &str, off: bool, down: Option<&str>) -> (ImportedMigration, Vec<Diagnostic>) {
        let mut m = migration(up, off, down);
        let mut problems = Vec::new();
        prepare(&mut m, &mut problems);
        (m, problems)
    }

    #[test]
    fn a_wrapping_begin_commit_is_removed_with_its_lines() {
        let up = "-- users\nBEGIN;\nCREATE TABLE users (id int);\n  commit  ;  \n";
        let (m, problems) = prepared(up, false, None);
        assert!(problems.is_empty());
        assert_eq!(m.up.body.text(), "-- users\nCREATE TABLE users (id int);\n");
        assert!(!m.up.transaction_off);
        assert_eq!(
            m.notes,
            ["up: removed the BEGIN (line 2) and COMMIT (line 4) around the whole file: keel runs the migration in its own transaction"]
        );
        // On one line with the statements.
        let (m, _) = prepared("BEGIN; SELECT 1; COMMIT;", false, None);
        assert_eq!(m.up.body.text(), "SELECT 1; ");
    }

    #[test]
    fn transaction_control_that_does_not_wrap_the_file_is_left_alone() {
        for up in [
            "BEGIN;\nSELECT 1;\nCOMMIT;\nSELECT 2;\n",
            "SELECT 1;\nBEGIN;\nSELECT 2;\nCOMMIT;\n",
            "BEGIN;\nSELECT 1;\nCOMMIT;\nBEGIN;\nSELECT 2;\nCOMMIT;\n",
            "BEGIN ISOLATION LEVEL SERIALIZABLE;\nSELECT 1;\nCOMMIT;\n",
            "BEGIN;\nSELECT 1;\nROLLBACK;\n",
        ] {
            let (m, problems) = prepared(up, false, None);
            assert_eq!(m.up.body.text(), up);
            assert!(m.notes.is_empty() && problems.is_empty(), "{up}");
        }
    }

    #[test]
    fn a_statement_that_needs_no_transaction_turns_the_file_off() {
        let up = "CREATE TABLE t (a int);\nCREATE INDEX CONCURRENTLY t_a ON t (a);\n";
        let (m, problems) = prepared(up, false, Some("DROP TABLE t;"));
        assert!(problems.is_empty());
        assert!(m.up.transaction_off);
        assert!(!m.down.as_ref().unwrap().transaction_off);
        assert_eq!(
            m.notes,
            ["up: CREATE INDEX CONCURRENTLY (line 2) cannot run inside a transaction: imported as `-- keel:transaction off`"]
        );
        // Declared off by the tool: nothing to say.
        let (m, _) = prepared(up, true, None);
        assert!(m.up.transaction_off && m.notes.is_empty());
    }

    #[test]
    fn a_wrapped_non_transactional_statement_is_refused_at_its_line() {
        let up = "BEGIN;\nCREATE INDEX CONCURRENTLY i ON t (a);\nCOMMIT;\n";
        let (_, problems) = prepared(up, false, None);
        let d = &problems[0];
        assert_eq!(
            (d.code, d.line, d.column),
            (codes::IMPORT_TRANSACTION_BLOCK, Some(2), Some(1))
        );
        assert_eq!(
            d.path.as_deref(),
            Some(std::path::Path::new("migrations/1_a.up.sql"))
        );
    }

    #[test]
    fn a_wrapping_block_is_kept_in_a_file_the_source_ran_outside_a_transaction() {
        let up = "BEGIN;\nSELECT 1;\nCOMMIT;\n";
        let (m, _) = prepared(up, true, None);
        assert_eq!(m.up.body.text(), up);
        assert!(m.notes[0].starts_with("up: kept the BEGIN (line 1) and COMMIT (line 3)"));
    }

    #[test]
    fn an_empty_down_becomes_irreversible() {
        let (m, _) = prepared("SELECT 1;", false, Some("-- nothing to undo\n\n"));
        assert!(m.down.is_none());
        assert_eq!(
            m.notes,
            ["down: `1_a.up.sql` has no statement: imported as `-- keel:irreversible`"]
        );
        let (m, _) = prepared("SELECT 1;", false, Some("SELECT 'x"));
        assert!(m.down.is_some(), "a down that cannot be split is not empty");
    }
}
