//! Classifying an edit of an applied migration: cosmetic (comments and
//! whitespace only) or semantic (the SQL changed), with a readable diff.

use crate::db::DbError;
use crate::diagnostic::{codes, Diagnostic};
use crate::project::{Migration, Project};
use crate::session::Session;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

/// How an applied file differs from the text recorded when it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Only comments or whitespace changed.
    Cosmetic,
    /// The SQL changed; `diff` is a unified diff from recorded to current.
    Semantic { diff: String },
}

/// Everything `keel check` reports about the database against the files:
/// edited applied files, applied versions without files, out-of-order
/// pending versions, a dirty database, pending migrations, and indexes left
/// INVALID by a failed `CREATE INDEX CONCURRENTLY`.
pub fn database_diagnostics(
    session: &mut Session,
    project: &Project,
    require_up_to_date: bool,
) -> Result<Vec<Diagnostic>, DbError> {
    let mut out = Vec::new();
    let applied = session.applied(true, project)?;
    for a in &applied {
        let Some(m) = project.find(&a.version) else {
            out.push(
                Diagnostic::error(
                    codes::APPLIED_FILE_MISSING,
                    format!("applied version {}_{} has no file on disk", a.version, a.name),
                )
                .with_hint("restore the files from version control (the applied SQL is recorded: `keel history --verbose`)"),
            );
            continue;
        };
        for (file, recorded_sum, recorded_sql) in [
            (&m.up, &a.up_checksum, &a.up_sql),
            (&m.down, &a.down_checksum, &a.down_sql),
        ] {
            if file.actual_checksum().to_string() == *recorded_sum {
                continue;
            }
            let path = file.path.display().to_string();
            let d = match classify(recorded_sql, file.body(), &path) {
                Change::Cosmetic => Diagnostic::error(
                    codes::APPLIED_FILE_CHANGED,
                    "applied migration was edited after it ran (cosmetic: comments and whitespace only)",
                ),
                Change::Semantic { diff } => Diagnostic::error(
                    codes::APPLIED_FILE_CHANGED,
                    "applied migration was edited after it ran (semantic: its SQL changed)",
                )
                .with_note(diff.trim_end().to_string()),
            };
            out.push(d.with_path(&file.path).with_hint(format!(
                "restore the file as it was applied, or accept the edit with `keel repair {}`",
                m.version.number
            )));
        }
    }
    if let Some(d) = applied.iter().find(|a| a.dirty) {
        out.push(
            Diagnostic::error(
                codes::DIRTY,
                format!(
                    "the database is dirty: {}_{} ({}, outside a transaction) did not finish (statement {})",
                    d.version,
                    d.name,
                    d.dirty_direction.unwrap_or(crate::plan::Direction::Up),
                    d.dirty_statement.unwrap_or(0)
                ),
            )
            .with_hint(format!(
                "finish or undo that statement by hand, then `keel repair {}`",
                d.version.number
            )),
        );
    }
    let current = applied.iter().map(|a| &a.version).max();
    let pending: Vec<&Migration> = project
        .migrations
        .iter()
        .filter(|m| !applied.iter().any(|a| a.version == m.version))
        .collect();
    for m in &pending {
        if current.is_some_and(|c| &m.version < c) {
            out.push(
                Diagnostic::error(
                    codes::OUT_OF_ORDER,
                    format!(
                        "{} is not applied but the newer version {} is",
                        m.id(),
                        current.map(|c| c.to_string()).unwrap_or_default()
                    ),
                )
                .with_path(&m.up.path)
                .with_hint("give it a version above the newest applied one, or apply it by hand and `keel stamp` it"),
            );
        }
    }
    if !pending.is_empty() {
        let list: Vec<String> = pending.iter().take(5).map(|m| m.id()).collect();
        let more = if pending.len() > 5 { ", ..." } else { "" };
        let message = format!(
            "{} pending migration(s): {}{more}",
            pending.len(),
            list.join(", ")
        );
        out.push(if require_up_to_date {
            Diagnostic::error(
                codes::NOT_UP_TO_DATE,
                format!("Target database is not up to date. {message}"),
            )
            .with_hint("run `keel upgrade head`")
        } else {
            Diagnostic::warning(codes::PENDING, message).with_hint("run `keel upgrade head`")
        });
    }
    for name in crate::db::catalog::invalid_indexes(session)? {
        out.push(
            Diagnostic::error(
                codes::INVALID_INDEX,
                format!("index {name} is INVALID (left by a failed CREATE INDEX CONCURRENTLY)"),
            )
            .with_hint(format!(
                "run `DROP INDEX CONCURRENTLY {name};`, then create it again"
            )),
        );
    }
    Ok(out)
}

/// Compares the recorded body with the current one.
pub fn classify(recorded: &str, current: &str, path: &str) -> Change {
    match (significant_tokens(recorded), significant_tokens(current)) {
        (Some(a), Some(b)) if a == b => Change::Cosmetic,
        _ => Change::Semantic {
            diff: unified_diff(recorded, current, path),
        },
    }
}

/// The tokens of `sql` without whitespace and comments; None when the
/// tokenizer cannot read it (then any change counts as semantic).
fn significant_tokens(sql: &str) -> Option<Vec<Token>> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize().ok()?;
    Some(
        tokens
            .into_iter()
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .collect(),
    )
}

/// A unified diff of the normalized texts (line endings and trailing blanks
/// never show up as changes).
pub fn unified_diff(recorded: &str, current: &str, path: &str) -> String {
    let a = crate::header::normalize(recorded) + "\n";
    let b = crate::header::normalize(current) + "\n";
    similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(2)
        .header(
            &format!("{path} (as applied)"),
            &format!("{path} (on disk)"),
        )
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_whitespace_are_cosmetic() {
        let a = "CREATE TABLE t (id int);\n";
        let b = "-- the table\nCREATE TABLE t (\n  id int  /* key */\n);\n";
        assert_eq!(classify(a, b, "x.sql"), Change::Cosmetic);
    }

    #[test]
    fn changed_statements_are_semantic_with_a_diff() {
        let a = "CREATE TABLE t (id int);\n";
        let b = "CREATE TABLE t (id bigint);\n";
        match classify(a, b, "sql/up/0001_t.sql") {
            Change::Semantic { diff } => {
                assert!(diff.contains("-CREATE TABLE t (id int);"), "{diff}");
                assert!(diff.contains("+CREATE TABLE t (id bigint);"), "{diff}");
                assert!(diff.contains("sql/up/0001_t.sql (on disk)"), "{diff}");
            }
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn string_contents_matter() {
        assert!(matches!(
            classify("SELECT 'a  b';", "SELECT 'a b';", "x"),
            Change::Semantic { .. }
        ));
    }
}
