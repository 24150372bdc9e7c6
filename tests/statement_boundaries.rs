//! What runs is exactly what was checked: statement boundaries as the server sees them, one
//! statement per round trip, and bytes PostgreSQL cannot carry refused offline.
//!
//! The contract is /work/shared/SPEC.md, sections 3 (validation before anything runs) and 6
//! (transactions).
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests query and print freely

mod common;

#[path = "fixtures/runner/support.rs"]
mod support;

use std::fs;

use common::fresh_db;
use support::{line_col, numbers, relation_exists, versions, Project};

/// A string continued on the next line keeps `E''` escapes, so `\'` there is an escaped quote and
/// the `;` after it ends the statement for the server (scan.l's `{quotecontinue}`). A splitter
/// that does not join the two literals sees one statement and lets the rest through unchecked.
const SMUGGLING: &str = "SELECT E'x'\n'\\' '; CREATE TABLE t2(); COMMIT; --'\n;\n";

#[test]
fn a_statement_hidden_by_string_continuation_is_refused_before_anything_runs() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = Project::new();
    p.migration(1, "smuggle", SMUGGLING, "SELECT 1;\n")
        .migration(2, "fails", "SELECT * FROM no_such_table;\n", "SELECT 1;\n")
        .seal();
    let text = p.read_up(1, "smuggle");
    let rel = Project::up_rel(1, "smuggle");
    let (line, col) = line_col(&text, "COMMIT");

    let run = p.keel(url, &["upgrade"]);
    let mut c = db.connect();
    assert!(
        !relation_exists(&mut c, "t2"),
        "the hidden CREATE TABLE must never run\n{run}"
    );
    assert_eq!(versions(&mut c), Vec::<String>::new(), "{run}");
    run.assert_code(1)
        .assert_stderr_has(&format!("{rel}:{line}:{col}"))
        .assert_stderr_has("error[transaction-control]: explicit COMMIT")
        .assert_stderr_has("nothing was applied: the migrations to run have errors");
    let offline = p.keel(None, &["check", "--offline"]);
    offline
        .assert_code(1)
        .assert_stderr_has("error[transaction-control]: explicit COMMIT")
        .assert_stderr_has(&format!("{rel}:{line}:{col}"));
}

#[test]
fn a_statement_hidden_in_a_policy_file_fails_the_allow_list() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = Project::new();
    p.migration(
        1,
        "items",
        "CREATE TABLE items (id int PRIMARY KEY, label text);\n",
        "DROP TABLE items;\n",
    );
    let pol = p.root().join("sql/policies");
    fs::create_dir_all(&pol).unwrap();
    // keel without `{quotecontinue}` reads one CREATE POLICY; the server reads a CREATE POLICY,
    // then a CREATE TABLE.
    fs::write(
        pol.join("items.sql"),
        "-- keel:requires 1\n\
         ALTER TABLE items ENABLE ROW LEVEL SECURITY;\n\
         CREATE POLICY items_read ON items FOR SELECT USING (label = E'x'\n\
         '\\' '); CREATE TABLE t2(); --');\n",
    )
    .unwrap();
    p.seal();
    let text = fs::read_to_string(pol.join("items.sql")).unwrap();
    let (line, _) = line_col(&text, "CREATE TABLE t2");

    let run = p.keel(url, &["upgrade"]);
    let mut c = db.connect();
    assert!(
        !relation_exists(&mut c, "t2"),
        "the hidden CREATE TABLE must never run\n{run}"
    );
    assert!(!relation_exists(&mut c, "items"), "{run}");
    run.assert_code(1)
        .assert_stderr_has("policy-file-statement")
        .assert_stderr_has(&format!("sql/policies/items.sql:{line}:"));
}

#[test]
fn the_executor_sends_one_statement_and_the_server_refuses_two() {
    let db = fresh_db();
    let mut c = db.connect();
    // Even if the splitter were wrong, a text holding two statements is refused whole.
    let err = keel::db::statement::run_one(&mut c, "CREATE TABLE a1 (); CREATE TABLE a2 ()")
        .expect_err("two statements in one text must be refused");
    let db_err = err.as_db_error().expect("a server error");
    assert_eq!(db_err.code().code(), "42601", "{db_err}");
    assert!(
        db_err.message().contains("multiple commands"),
        "{}",
        db_err.message()
    );
    assert!(!relation_exists(&mut c, "a1"), "nothing of it ran");
    assert!(!relation_exists(&mut c, "a2"), "nothing of it ran");
    // The same goes for a hidden transaction end.
    keel::db::statement::run_one(&mut c, "BEGIN").unwrap();
    assert!(keel::db::statement::run_one(&mut c, "CREATE TABLE a3 (); COMMIT").is_err());
    c.batch_execute("ROLLBACK").unwrap();
    assert!(!relation_exists(&mut c, "a3"), "nothing of it ran");
    // Without a `;` the server's grammar cannot see two statements: such a text (sent as one
    // simple query) is one statement or a syntax error, and nothing of it runs.
    let err = keel::db::statement::run_one(&mut c, "CREATE TABLE a4 () CREATE TABLE a5 ()")
        .expect_err("no separator: a syntax error");
    assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("42601"));
    assert!(!relation_exists(&mut c, "a4"), "nothing of it ran");
    keel::db::statement::run_one(&mut c, "CREATE TABLE a6 (note text DEFAULT 'x')").unwrap();
    assert!(relation_exists(&mut c, "a6"));
}

#[test]
fn statements_outside_a_transaction_and_dollar_bodies_run_one_by_one() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = Project::new();
    p.migration(
        1,
        "items",
        "CREATE TABLE items (id int PRIMARY KEY, label text);\n\
         CREATE FUNCTION add_one(i int) RETURNS int LANGUAGE sql AS $$ SELECT $1 + 1 $$;\n\
         CREATE FUNCTION label_of(i int) RETURNS text LANGUAGE plpgsql AS $body$\n\
         BEGIN RETURN 'item ' || $1 || ';'; END\n\
         $body$;\n\
         INSERT INTO items SELECT g, label_of(add_one(g)) FROM generate_series(1, 100) g;\n\
         SELECT * FROM items;\n",
        "DROP TABLE items;\nDROP FUNCTION add_one(int);\nDROP FUNCTION label_of(int);\n",
    )
    .migration(
        2,
        "maintenance",
        "-- keel:transaction off\n\
         CREATE INDEX CONCURRENTLY items_label ON items (label);\n\
         VACUUM (ANALYZE) items;\n",
        "-- keel:transaction off\nDROP INDEX CONCURRENTLY items_label;\n",
    )
    .seal();
    let run = p.keel(url, &["upgrade"]);
    run.assert_code(0);
    let mut c = db.connect();
    assert_eq!(versions(&mut c), numbers(1..=2));
    let label: String = c
        .query_one("SELECT label FROM items WHERE id = 1", &[])
        .unwrap()
        .get(0);
    assert_eq!(label, "item 2;");
    let valid: bool = c
        .query_one(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_label'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(valid, "the concurrently built index is valid");
    let analyzed: bool = c
        .query_one(
            "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'items'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        analyzed,
        "VACUUM (ANALYZE) ran outside a transaction\n{run}"
    );
    p.keel(url, &["downgrade", "base"]).assert_code(0);
    assert!(!relation_exists(&mut c, "items"));
}

#[test]
fn a_nul_byte_is_an_error_offline_naming_line_and_column() {
    let p = Project::new();
    p.migration(
        1,
        "nul",
        "CREATE TABLE t (a text);\nINSERT INTO t VALUES ('a\0b');\n",
        "DROP TABLE t;\n",
    )
    .seal();
    let run = p.keel(None, &["check", "--offline"]);
    run.assert_code(1);
    // The byte itself is shown escaped (report::printable), the caret under its escape.
    assert_eq!(
        run.stderr,
        "error[nul-byte]: this file contains a NUL byte, which PostgreSQL cannot carry in a statement\n \
         --> sql/up/0001_nul.sql:3:25\n  \
         |\n\
         3 | INSERT INTO t VALUES ('a\\x00b');\n  \
         |                         ^^^^\n  \
         |\n  \
         = help: remove the byte; write binary data as a bytea literal such as '\\x00'\n",
        "{run}"
    );
}

#[test]
fn the_printed_sql_ends_a_statement_that_ends_in_a_line_comment() {
    let db = fresh_db();
    let p = Project::new();
    p.migration(
        1,
        "two",
        "CREATE TABLE a1 (id int) -- the first\n;\nCREATE TABLE a2 (id int);\n",
        "DROP TABLE a2;\nDROP TABLE a1;\n",
    )
    .seal();
    // The history exists, as it does wherever the script is meant to run.
    Project::new().keel(Some(db.url()), &["upgrade"]);
    let run = p.keel(Some(db.url()), &["upgrade", "--sql"]);
    run.assert_code(0);
    // The script runs in psql as keel would run it: two statements, not one.
    let script = p.root().join("upgrade.sql");
    fs::write(&script, &run.stdout).unwrap();
    let psql = common::without_ambient_env(&mut std::process::Command::new("psql"))
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(&script)
        .arg(db.url())
        .output()
        .unwrap();
    assert!(
        psql.status.success(),
        "{}\n{run}",
        String::from_utf8_lossy(&psql.stderr)
    );
    let mut c = db.connect();
    assert!(relation_exists(&mut c, "a1"), "{run}");
    assert!(relation_exists(&mut c, "a2"), "{run}");
    assert_eq!(versions(&mut c), numbers(1..=1), "{run}");
}

#[test]
fn the_servers_syntax_check_reads_a_statement_ending_in_a_line_comment() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = Project::new();
    // sqlparser does not know CREATE STATISTICS, so PostgreSQL's parser checks it, inside a
    // wrapper whose own `;` must not land in the statement's trailing comment.
    p.migration(
        1,
        "stats",
        "CREATE TABLE child (a int, b int);\n\
         CREATE STATISTICS child_ab (dependencies) ON a, b FROM child -- a note; with $keel0$\n;\n",
        "DROP TABLE child;\n",
    )
    .seal();
    let run = p.keel(url, &["check"]);
    run.assert_code(0).assert_output_has("1 by PostgreSQL");
    p.keel(url, &["upgrade"]).assert_code(0);
    let mut c = db.connect();
    assert_eq!(versions(&mut c), numbers(1..=1));
}

/// A statement with a `;` inside goes through the extended protocol, whose rows come back in
/// binary (and are dropped). A `SELECT` of a type without binary output (`aclitem`) there fails
/// with a hint; without a `;` it is a simple query and works.
#[test]
fn a_select_of_a_type_without_binary_output_fails_with_a_hint() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = Project::new();
    p.migration(
        1,
        "acl",
        "CREATE TABLE kept (id int);\nSELECT relacl, ';' FROM pg_class WHERE relname = 'pg_class';\n",
        "DROP TABLE kept;\n",
    )
    .seal();
    let run = p.keel(url, &["upgrade"]);
    run.assert_code(1)
        .assert_stderr_has("no binary output function available for type aclitem")
        .assert_stderr_has("::text");
    let mut c = db.connect();
    assert!(!relation_exists(&mut c, "kept"), "{run}");

    p.migration(
        1,
        "acl",
        "CREATE TABLE kept (id int);\nSELECT relacl::text, ';' FROM pg_class WHERE relname = 'pg_class';\nSELECT relacl FROM pg_class WHERE relname = 'pg_class';\n",
        "DROP TABLE kept;\n",
    )
    .seal();
    p.keel(url, &["upgrade"]).assert_code(0);
    assert_eq!(versions(&mut c), numbers(1..=1));
}
