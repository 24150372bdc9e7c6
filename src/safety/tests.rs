use super::fixture::{lint_files, show};
use super::*;
use crate::diagnostic::codes;

fn offline(ups: &[&str], config: &SafetyConfig) -> Vec<(Severity, Code, String)> {
    resolve(lint_files(ups, 0, config), None, config)
        .iter()
        .map(|d| (d.severity, d.code, show(d)))
        .collect()
}

fn codes_of(ups: &[&str]) -> Vec<Code> {
    offline(ups, &SafetyConfig::default())
        .into_iter()
        .map(|(_, c, _)| c)
        .collect()
}

#[test]
fn rule_ids_are_the_registry_and_each_has_a_section_in_the_docs() {
    let ids: Vec<Code> = RULES.iter().map(|r| r.id()).collect();
    assert_eq!(
        ids,
        codes::SAFETY_RULES,
        "RULES and codes::SAFETY_RULES differ"
    );
    let docs = include_str!("../../docs/safety.md");
    for id in &ids {
        assert!(
            docs.contains(&format!("\n## `{id}`\n")),
            "docs/safety.md has no section for {id}"
        );
    }
    let sections = docs.lines().filter(|l| l.starts_with("## `")).count();
    assert_eq!(
        sections,
        ids.len(),
        "docs/safety.md has a section for a rule keel lacks"
    );
}

#[test]
fn an_allow_above_a_statement_silences_its_rule_there_only() {
    let sql = "\
-- Rebuilt nightly; holds a few rows.
-- keel:allow require-concurrent-index-creation the table holds a few hundred rows
CREATE INDEX a ON items (a);
CREATE INDEX b ON items (b);
";
    assert_eq!(
        offline(&[sql], &SafetyConfig::default()),
        [(
            Severity::Warning,
            codes::REQUIRE_CONCURRENT_INDEX_CREATION,
            "1:5:1 CREATE INDEX without CONCURRENTLY blocks writes to public.items until the index is built".to_string()
        )]
    );
    // Another rule of the same statement still fires.
    assert_eq!(
        codes_of(&["-- x\n-- keel:allow renaming-table why not\nDROP TABLE t;"]),
        [codes::UNUSED_ALLOW, codes::BAN_DROP_TABLE]
    );
}

#[test]
fn an_allow_in_the_header_covers_the_file() {
    let sql = "-- keel:allow require-concurrent-index-creation maintenance window\nCREATE INDEX a ON items (a);\nCREATE INDEX b ON items (b);\n";
    assert!(codes_of(&[sql]).is_empty());
    // Not the next file.
    assert_eq!(
        codes_of(&[sql, "CREATE INDEX c ON items (c);"]),
        [codes::REQUIRE_CONCURRENT_INDEX_CREATION]
    );
}

#[test]
fn an_allow_needs_a_known_rule_and_a_reason() {
    let found = offline(
        &["SELECT 1;\n-- keel:allow ban-drop-table\nDROP TABLE t;\n-- keel:allow ban-drop-tables it is gone\nDROP TABLE u;"],
        &SafetyConfig::default(),
    );
    let errors: Vec<&(Severity, Code, String)> = found
        .iter()
        .filter(|(s, _, _)| *s == Severity::Error)
        .collect();
    assert_eq!(
        errors,
        [
            &(
                Severity::Error,
                codes::BAD_ALLOW,
                "1:3:1 `-- keel:allow ban-drop-table` gives no reason".to_string()
            ),
            &(
                Severity::Error,
                codes::BAD_ALLOW,
                "1:5:1 unknown safety rule `ban-drop-tables`".to_string()
            ),
        ]
    );
    let l = lint_files(
        &["-- a\n-- keel:allow nope x\nSELECT 1;"],
        0,
        &SafetyConfig::default(),
    );
    let hint = l.diagnostics[0].1.hint.clone().unwrap();
    assert!(
        hint.contains("require-concurrent-index-creation, require-concurrent-index-deletion,"),
        "{hint}"
    );
    // In the header, the same checks are header errors (`check_file`).
    let f = super::fixture::up(1, "-- keel:allow ban-drop-table\nDROP TABLE t;");
    let c = crate::sql::check::check_file(&f, Default::default());
    assert_eq!(
        c.diagnostics[0].code,
        codes::BAD_ALLOW,
        "{:?}",
        c.diagnostics
    );
    assert_eq!(
        c.diagnostics[0].message,
        "`-- keel:allow ban-drop-table` gives no reason"
    );
}

#[test]
fn an_allow_that_silences_nothing_is_a_warning() {
    let cases = [
        // The rule does not match the statement.
        ("-- keel:allow ban-drop-table old\nCREATE INDEX CONCURRENTLY i ON t (a);", "1:2:1 `-- keel:allow ban-drop-table` silences nothing: the rule matches no statement of this file"),
        ("SELECT 1;\n-- keel:allow ban-drop-table old\nSELECT 2;", "1:3:1 `-- keel:allow ban-drop-table` silences nothing: the rule does not match this statement"),
        // A blank line between: not directly above.
        ("SELECT 1;\n-- keel:allow ban-drop-table old\n\nDROP TABLE t;", "1:3:1 `-- keel:allow ban-drop-table` is not directly above a statement: it silences nothing"),
        ("SELECT 1;\n-- keel:allow ban-drop-table old\n", "1:3:1 `-- keel:allow ban-drop-table` is not directly above a statement: it silences nothing"),
        ("SELECT 1;\n-- keel:allow ban-drop-table old\nDROP TABLE t WITH (nonsense;", "1:3:1 `-- keel:allow ban-drop-table` silences nothing: sqlparser cannot read the statement, so no safety rule looks at it"),
    ];
    for (sql, says) in cases {
        let found: Vec<String> = offline(&[sql], &SafetyConfig::default())
            .into_iter()
            .filter(|(_, c, _)| *c == codes::UNUSED_ALLOW)
            .map(|(s, _, m)| {
                assert_eq!(s, Severity::Warning);
                m
            })
            .collect();
        assert_eq!(found, [says], "{sql}");
    }
    // Inside a string or a function body, it is not an allow at all.
    assert!(codes_of(&["SELECT '\n-- keel:allow ban-drop-table x\n';"]).is_empty());
    // Used whenever the rule matches, even where it would not fire: the
    // same file online would need it.
    assert!(codes_of(&[
        "CREATE TABLE t (a bigint);\n-- keel:allow require-concurrent-index-creation small\nCREATE INDEX i ON t (a);"
    ])
    .is_empty());
}

#[test]
fn tables_of_this_run_are_exempt_from_lock_and_compatibility_rules_not_style() {
    let same_file = "CREATE TABLE t (id int, at timestamp);\nCREATE INDEX i ON t (at);\nALTER TABLE t RENAME COLUMN at TO seen;\nALTER TABLE t ALTER COLUMN id SET NOT NULL;";
    assert_eq!(
        codes_of(&[same_file]),
        [codes::PREFER_BIGINT_OVER_INT, codes::PREFER_TIMESTAMPTZ]
    );
    // An earlier migration of the run, and the same statements on a table
    // an applied migration created.
    let create = "CREATE TABLE t (id bigint, at timestamptz);";
    let change = "CREATE INDEX i ON t (at);\nALTER TABLE t RENAME COLUMN at TO seen;";
    assert!(codes_of(&[create, change]).is_empty());
    let l = lint_files(&[create, change], 1, &SafetyConfig::default());
    let found: Vec<Code> = l.findings.iter().map(|f| f.diagnostic.code).collect();
    assert_eq!(
        found,
        [
            codes::REQUIRE_CONCURRENT_INDEX_CREATION,
            codes::RENAMING_COLUMN
        ]
    );
}

#[test]
fn keel_toml_sets_a_rules_level_or_turns_it_off() {
    let sql =
        "-- keel:allow prefer-identity legacy ids\nCREATE TABLE t (id serial);\nDROP TABLE old;";
    let config = SafetyConfig {
        threshold_rows: 10_000,
        rules: vec![
            (codes::BAN_DROP_TABLE, RuleLevel::Error),
            (codes::PREFER_BIGINT_OVER_INT, RuleLevel::Off),
            (codes::PREFER_IDENTITY, RuleLevel::Off),
        ],
    };
    // No unused-allow either: the allow waits for its rule to be back on.
    let found: Vec<(Severity, Code)> = offline(&[sql], &config)
        .into_iter()
        .map(|(s, c, _)| (s, c))
        .collect();
    assert_eq!(found, [(Severity::Error, codes::BAN_DROP_TABLE)]);
    // The defaults offline: every finding a warning.
    let found: Vec<(Severity, Code)> = offline(&[sql], &SafetyConfig::default())
        .into_iter()
        .map(|(s, c, _)| (s, c))
        .collect();
    assert_eq!(
        found,
        [
            (Severity::Warning, codes::PREFER_BIGINT_OVER_INT),
            (Severity::Warning, codes::BAN_DROP_TABLE)
        ]
    );
}

fn t(name: &str) -> TableName {
    TableName::parse(name).unwrap()
}

fn size(table: &str, rows: Option<f64>, checks: &[&str]) -> Option<TableSize> {
    Some(TableSize {
        table: t(table),
        rows,
        bytes: 5 * 1024 * 1024,
        checks: checks.iter().map(|c| c.to_string()).collect(),
    })
}

fn online(ups: &[&str], live: &Live, config: &SafetyConfig) -> Vec<(Severity, Code, Vec<String>)> {
    resolve(lint_files(ups, 0, config), Some(live), config)
        .into_iter()
        .map(|d| (d.severity, d.code, d.notes))
        .collect()
}

#[test]
fn online_the_size_of_the_table_sets_the_level_of_lock_findings() {
    let ups = ["CREATE INDEX i ON big (a);\nCREATE INDEX j ON small (a);\nCREATE INDEX k ON fresh (a);\nCREATE INDEX l ON gone (a);\nDROP TABLE small;"];
    let mut live = Live::default();
    live.sizes
        .insert(Target::Table(t("big")), size("big", Some(52_340.4), &[]));
    live.sizes
        .insert(Target::Table(t("small")), size("small", Some(12.0), &[]));
    live.sizes
        .insert(Target::Table(t("fresh")), size("fresh", None, &[]));
    live.sizes.insert(Target::Table(t("gone")), None);
    let found = online(&ups, &live, &SafetyConfig::default());
    let lock = codes::REQUIRE_CONCURRENT_INDEX_CREATION;
    assert_eq!(
        found,
        [
            (Severity::Error, lock, vec!["public.big: about 52,340 rows, 5120 kB (estimated from pg_class.reltuples and pg_total_relation_size)".to_string()]),
            (Severity::Note, lock, vec!["public.small: about 12 rows, 5120 kB; at most 10,000 rows (`[safety] threshold_rows`), so a note rather than an error".to_string()]),
            (Severity::Error, lock, vec!["public.fresh: rows unknown, 5120 kB; PostgreSQL has no row estimate yet (run ANALYZE), so keel assumes it is large".to_string()]),
            (Severity::Warning, lock, vec!["the table is not in the database, so keel cannot tell its size".to_string()]),
            // Compatibility rules do not depend on size.
            (Severity::Warning, codes::BAN_DROP_TABLE, vec![]),
        ]
    );
    // The threshold and the level come from keel.toml.
    let config = SafetyConfig {
        threshold_rows: 100_000,
        rules: vec![(lock, RuleLevel::Warning)],
    };
    let levels: Vec<Severity> = online(&ups[..], &live, &config)
        .into_iter()
        .map(|(s, _, _)| s)
        .collect();
    assert_eq!(
        levels,
        [
            Severity::Note,
            Severity::Note,
            Severity::Warning,
            Severity::Warning,
            Severity::Warning
        ]
    );
    assert_eq!(
        lint_files(&ups, 0, &config).targets(),
        [
            Target::Table(t("big")),
            Target::Table(t("fresh")),
            Target::Table(t("gone")),
            Target::Table(t("small"))
        ]
    );
}

#[test]
fn online_a_validated_check_on_the_live_table_makes_set_not_null_safe() {
    let ups = ["ALTER TABLE users ALTER COLUMN email SET NOT NULL;\nALTER TABLE users ALTER COLUMN name SET NOT NULL;"];
    let mut live = Live::default();
    live.sizes.insert(
        Target::Table(t("users")),
        size(
            "users",
            Some(1e6),
            &[
                "CHECK ((email IS NOT NULL))",
                "CHECK (((name)::text <> ''::text))",
            ],
        ),
    );
    let found: Vec<(Severity, Code)> = online(&ups, &live, &SafetyConfig::default())
        .into_iter()
        .map(|(s, c, _)| (s, c))
        .collect();
    assert_eq!(found, [(Severity::Error, codes::ADDING_NOT_NULLABLE_FIELD)]);
}

#[test]
fn sizes_are_written_as_people_read_them() {
    assert_eq!(group(0), "0");
    assert_eq!(group(1_234_567), "1,234,567");
    assert_eq!(bytes(8192), "8192 bytes");
    assert_eq!(bytes(5 * 1024 * 1024 * 1024), "5120 MB");
    assert_eq!(rows(Some(1.0)), "about 1 row");
}
