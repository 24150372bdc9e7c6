//! Lexical facts about one statement that need no database and no full
//! parse: transaction control, statements PostgreSQL refuses to run inside a
//! transaction block, and new enum values.
//!
//! These look at the bare words of a statement (never inside strings or
//! comments), so they work the same for statements sqlparser understands and
//! for those it does not.

use super::split::{words, Word};

/// What a statement means for keel's transaction handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// `BEGIN`, `COMMIT`, ... : keel owns the transaction.
    TransactionControl(&'static str),
    /// A statement that cannot run inside a transaction block.
    NonTransactional(&'static str),
    /// `ALTER TYPE ... ADD VALUE '<label>'`: the label cannot be used in the
    /// transaction that added it.
    AddsEnumValue(String),
    Other,
}

/// Classifies one statement's text.
pub fn classify(text: &str) -> Class {
    // Most statements (INSERT, SELECT, UPDATE, COMMENT, GRANT, ...) are told
    // apart by their first word alone: no need to scan a large INSERT twice.
    const FIRST: &[&str] = &[
        "BEGIN", "START", "COMMIT", "END", "ABORT", "PREPARE", "ROLLBACK", "CREATE", "DROP",
        "REINDEX", "VACUUM", "CLUSTER", "ALTER",
    ];
    match words(text).next() {
        Some(w) if FIRST.iter().any(|k| w.text.eq_ignore_ascii_case(k)) => {}
        _ => return Class::Other,
    }
    let top: Vec<Word<'_>> = words(text).filter(|w| w.paren_depth == 0).collect();
    let is = |i: usize, kw: &str| top.get(i).is_some_and(|w| w.text.eq_ignore_ascii_case(kw));
    let has = |kw: &str| top.iter().any(|w| w.text.eq_ignore_ascii_case(kw));

    // BEGIN ATOMIC only appears inside CREATE FUNCTION, so a leading BEGIN is
    // always transaction control.
    for (kw, name) in [
        ("BEGIN", "BEGIN"),
        ("START", "START TRANSACTION"),
        ("COMMIT", "COMMIT"),
        ("END", "END"),
        ("ABORT", "ABORT"),
        ("PREPARE", "PREPARE TRANSACTION"),
    ] {
        if is(0, kw) && (kw != "PREPARE" || is(1, "TRANSACTION")) {
            return Class::TransactionControl(name);
        }
    }
    // `ROLLBACK TO SAVEPOINT` is fine inside keel's transaction; a plain
    // ROLLBACK is not.
    if is(0, "ROLLBACK") {
        let to_at = if is(1, "TRANSACTION") || is(1, "WORK") {
            2
        } else {
            1
        };
        if !is(to_at, "TO") {
            return Class::TransactionControl("ROLLBACK");
        }
    }

    let create_index_concurrently = is(0, "CREATE")
        && (is(1, "INDEX") && is(2, "CONCURRENTLY")
            || is(1, "UNIQUE") && is(2, "INDEX") && is(3, "CONCURRENTLY"));
    if create_index_concurrently {
        return Class::NonTransactional("CREATE INDEX CONCURRENTLY");
    }
    if is(0, "DROP") && is(1, "INDEX") && is(2, "CONCURRENTLY") {
        return Class::NonTransactional("DROP INDEX CONCURRENTLY");
    }
    if is(0, "REINDEX") {
        if has("CONCURRENTLY") {
            return Class::NonTransactional("REINDEX CONCURRENTLY");
        }
        if is(1, "DATABASE") || is(1, "SYSTEM") {
            return Class::NonTransactional("REINDEX DATABASE/SYSTEM");
        }
    }
    if is(0, "VACUUM") {
        return Class::NonTransactional("VACUUM");
    }
    if is(0, "CLUSTER") && top.len() == 1 {
        return Class::NonTransactional("CLUSTER without a table");
    }
    for (a, b, name) in [
        ("CREATE", "DATABASE", "CREATE DATABASE"),
        ("DROP", "DATABASE", "DROP DATABASE"),
        ("ALTER", "SYSTEM", "ALTER SYSTEM"),
        ("CREATE", "TABLESPACE", "CREATE TABLESPACE"),
        ("DROP", "TABLESPACE", "DROP TABLESPACE"),
        ("CREATE", "SUBSCRIPTION", "CREATE SUBSCRIPTION"),
        ("DROP", "SUBSCRIPTION", "DROP SUBSCRIPTION"),
    ] {
        if is(0, a) && is(1, b) {
            return Class::NonTransactional(name);
        }
    }
    if is(0, "ALTER") && is(1, "DATABASE") && has("TABLESPACE") && has("SET") {
        return Class::NonTransactional("ALTER DATABASE ... SET TABLESPACE");
    }
    if is(0, "ALTER")
        && is(1, "TABLE")
        && has("DETACH")
        && top
            .last()
            .is_some_and(|w| w.text.eq_ignore_ascii_case("CONCURRENTLY"))
    {
        return Class::NonTransactional("ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY");
    }

    if is(0, "ALTER") && is(1, "TYPE") {
        if let Some(pos) = top
            .iter()
            .position(|w| w.text.eq_ignore_ascii_case("VALUE"))
        {
            if pos > 0 && top[pos - 1].text.eq_ignore_ascii_case("ADD") {
                if let Some(label) = first_string_after(text, top[pos].range.end) {
                    return Class::AddsEnumValue(label);
                }
            }
        }
    }
    Class::Other
}

/// The first plain string literal after byte `from` of `text` (its value,
/// with `''` turned into `'`), e.g. the label of `ADD VALUE 'x'`.
pub fn first_string_after(text: &str, from: usize) -> Option<String> {
    let rest = text.get(from..)?;
    let start = rest.find('\'')?;
    let mut out = String::new();
    let mut chars = rest[start + 1..].chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            if chars.peek() == Some(&'\'') {
                chars.next();
                out.push('\'');
            } else {
                return Some(out);
            }
        } else {
            out.push(c);
        }
    }
    None
}

/// True when `text` mentions the enum label `label` as a string literal.
pub fn mentions_label(text: &str, label: &str) -> bool {
    let quoted = format!("'{}'", label.replace('\'', "''"));
    text.contains(&quoted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_control() {
        for s in [
            "BEGIN",
            "begin transaction",
            "START TRANSACTION",
            "COMMIT",
            "end",
            "ROLLBACK",
            "rollback work",
            "ABORT",
            "PREPARE TRANSACTION 'x'",
        ] {
            assert!(matches!(classify(s), Class::TransactionControl(_)), "{s}");
        }
        for s in [
            "ROLLBACK TO SAVEPOINT a",
            "ROLLBACK TRANSACTION TO a",
            "SAVEPOINT a",
            "PREPARE q AS SELECT 1",
            "SELECT 'BEGIN'",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END",
        ] {
            assert_eq!(classify(s), Class::Other, "{s}");
        }
    }

    #[test]
    fn non_transactional() {
        for s in [
            "CREATE INDEX CONCURRENTLY i ON t (a)",
            "create unique index concurrently i on t (a)",
            "DROP INDEX CONCURRENTLY i",
            "REINDEX (VERBOSE) INDEX CONCURRENTLY i",
            "REINDEX DATABASE d",
            "VACUUM ANALYZE t",
            "CREATE DATABASE d",
            "DROP DATABASE d",
            "ALTER SYSTEM SET work_mem = '8MB'",
            "ALTER TABLE p DETACH PARTITION c CONCURRENTLY",
        ] {
            assert!(matches!(classify(s), Class::NonTransactional(_)), "{s}");
        }
        for s in [
            "CREATE INDEX i ON t (a)",
            "REINDEX INDEX i",
            "COMMENT ON INDEX i IS 'CREATE INDEX CONCURRENTLY'",
            "-- VACUUM\nSELECT 1",
        ] {
            assert_eq!(classify(s), Class::Other, "{s}");
        }
    }

    #[test]
    fn enum_values() {
        assert_eq!(
            classify("ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh' AFTER 'ok'"),
            Class::AddsEnumValue("meh".into())
        );
        assert_eq!(
            classify("ALTER TYPE mood ADD VALUE 'it''s'"),
            Class::AddsEnumValue("it's".into())
        );
        assert!(mentions_label("INSERT INTO t VALUES ('it''s')", "it's"));
        assert!(!mentions_label("INSERT INTO t VALUES ('meh2')", "meh"));
    }
}
