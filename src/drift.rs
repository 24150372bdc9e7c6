//! Classifying an edit of an applied migration: cosmetic (comments and
//! whitespace only) or semantic (the SQL changed), with a readable diff.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

/// How an applied file differs from the text recorded when it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Only comments or whitespace changed.
    Cosmetic,
    /// The SQL changed; `diff` is a unified diff from recorded to current.
    Semantic { diff: String },
}

/// Compares the recorded body with the current one.
pub fn classify(recorded: &str, current: &str, path: &str) -> Edit {
    match (significant_tokens(recorded), significant_tokens(current)) {
        (Some(a), Some(b)) if a == b => Edit::Cosmetic,
        _ => Edit::Semantic {
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
        assert_eq!(classify(a, b, "x.sql"), Edit::Cosmetic);
    }

    #[test]
    fn changed_statements_are_semantic_with_a_diff() {
        let a = "CREATE TABLE t (id int);\n";
        let b = "CREATE TABLE t (id bigint);\n";
        match classify(a, b, "sql/up/0001_t.sql") {
            Edit::Semantic { diff } => {
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
            Edit::Semantic { .. }
        ));
    }
}
