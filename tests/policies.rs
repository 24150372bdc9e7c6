//! The RLS stage against a real PostgreSQL: reconcile with upgrades and
//! downgrades, drift, apply without churn, the stage's atomicity with the
//! migrations, and policy tests.
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests query and print freely

mod common;
#[path = "fixtures/runner/support.rs"]
mod support;

use common::fresh_db;
use std::fs;
use support::{versions, Project};

/// The application role (cluster-wide, so made once for all tests; tests
/// running at the same time may race to create it).
fn app_role() {
    let mut c = common::pg::connect(&common::cluster().connection_string("postgres"));
    if let Err(e) = c.batch_execute("CREATE ROLE app_user") {
        let code = e.code().map(|c| c.code().to_string()).unwrap_or_default();
        assert!(code == "42710" || code == "23505", "{e}");
    }
}

/// Tenant tables in migrations 1 and 2; their policies in files that apply
/// from those versions.
fn project() -> Project {
    app_role();
    let p = Project::new();
    p.migration(
        1,
        "households",
        "CREATE TABLE households (id int PRIMARY KEY, name text NOT NULL);\n\
         GRANT SELECT, INSERT ON households TO app_user;\n",
        "DROP TABLE households;\n",
    );
    p.migration(
        2,
        "items",
        "CREATE TABLE items (id int PRIMARY KEY, household_id int NOT NULL REFERENCES households, label text);\n\
         CREATE INDEX items_household_id ON items (household_id);\n\
         GRANT SELECT, INSERT ON items TO app_user;\n",
        "DROP TABLE items;\n",
    );
    let pol = p.root().join("sql/policies");
    fs::create_dir_all(pol.join("tests")).unwrap();
    fs::write(
        pol.join("households.sql"),
        "-- keel:requires 1\n\
         ALTER TABLE households ENABLE ROW LEVEL SECURITY;\n\
         ALTER TABLE households FORCE ROW LEVEL SECURITY;\n\
         CREATE POLICY households_read ON households FOR SELECT TO app_user\n\
         USING (id = nullif(current_setting('app.household', true), '')::int);\n\
         COMMENT ON POLICY households_read ON households IS 'a member reads their household';\n",
    )
    .unwrap();
    fs::write(
        pol.join("items.sql"),
        "-- keel:requires 2\n\
         ALTER TABLE items ENABLE ROW LEVEL SECURITY;\n\
         ALTER TABLE items FORCE ROW LEVEL SECURITY;\n\
         CREATE POLICY items_read ON items FOR SELECT TO app_user\n\
         USING (household_id = (SELECT nullif(current_setting('app.household', true), '')::int));\n",
    )
    .unwrap();
    p.seal();
    p
}

fn live_policies(c: &mut postgres::Client) -> Vec<String> {
    c.query(
        "SELECT tablename || '.' || policyname FROM pg_policies WHERE schemaname = 'public' ORDER BY 1",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// A downgrade drops every managed policy before its steps (a down step may drop a column one
/// uses) and declares them again after. What came back exactly as it was is reported once per
/// table (the table was still locked for it), not as a drop and a create per policy; what did
/// not come back, or came back different, is reported as before.
#[test]
fn a_downgrade_reports_policies_that_came_back_unchanged_once_per_table() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = project();
    let mut c = db.connect();
    p.keel(url, &["upgrade"]).assert_code(0);

    let run = p.keel(url, &["downgrade", "-1"]);
    run.assert_code(0)
        .assert_output_has(
            "policy: 1 policy dropped for the down steps and created again unchanged on public.households",
        )
        .assert_output_has(
            "policy: drop policy items_read (not declared at this version) on public.items",
        );
    assert!(
        !run.all().contains("drop policy households_read")
            && !run.all().contains("create policy households_read"),
        "{run}"
    );
    assert_eq!(live_policies(&mut c), ["households.households_read"]);

    // Changed by hand: the declaration brings back something else, and says so.
    p.keel(url, &["upgrade"]).assert_code(0);
    c.batch_execute("ALTER POLICY households_read ON households USING (true)")
        .unwrap();
    let run = p.keel(url, &["downgrade", "-1"]);
    run.assert_code(0)
        .assert_output_has("policy: drop policy households_read")
        .assert_output_has("policy: create policy households_read");
    assert!(!run.all().contains("created again unchanged"), "{run}");
}

#[test]
fn policies_follow_upgrades_and_downgrades() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = project();
    let mut c = db.connect();

    p.keel(url, &["upgrade", "1"]).assert_code(0);
    assert_eq!(live_policies(&mut c), ["households.households_read"]);
    p.keel(url, &["policies", "status"]).assert_code(0);

    p.keel(url, &["upgrade"]).assert_code(0);
    assert_eq!(
        live_policies(&mut c),
        ["households.households_read", "items.items_read"]
    );
    p.keel(url, &["policies", "status"]).assert_code(0);

    // Back to before the items table existed: its policy goes with it.
    p.keel(url, &["downgrade", "1"]).assert_code(0);
    assert_eq!(live_policies(&mut c), ["households.households_read"]);
    p.keel(url, &["policies", "status"]).assert_code(0);

    p.keel(url, &["downgrade", "base"]).assert_code(0);
    assert!(live_policies(&mut c).is_empty());

    p.keel(url, &["upgrade"]).assert_code(0);
    assert_eq!(
        live_policies(&mut c),
        ["households.households_read", "items.items_read"]
    );
    p.keel(url, &["policies", "status"]).assert_code(0);
    let forced: bool = c
        .query_one(
            "SELECT relforcerowsecurity FROM pg_class WHERE relname = 'items'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(forced);
}

#[test]
fn a_failing_policy_stage_rolls_back_the_migrations_of_the_run() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = project();
    // A policy naming a column that does not exist at version 2.
    fs::write(
        p.root().join("sql/policies/items.sql"),
        "-- keel:requires 2\n\
         ALTER TABLE items ENABLE ROW LEVEL SECURITY;\n\
         CREATE POLICY items_read ON items FOR SELECT TO app_user USING (no_such_column = 1);\n",
    )
    .unwrap();
    let mut c = db.connect();
    let run = p.keel(url, &["upgrade"]);
    run.assert_code(1)
        .assert_stderr_has("policy stage")
        .assert_stderr_has("items_read")
        .assert_stderr_has("no_such_column");
    assert!(
        versions(&mut c).is_empty(),
        "the migrations of the run were rolled back\n{run}"
    );
    let tables: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname IN ('households', 'items')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 0, "{run}");
}

#[test]
fn a_hand_edit_is_drift_until_apply_and_a_second_apply_is_a_no_op() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = project();
    let mut c = db.connect();
    p.keel(url, &["upgrade"]).assert_code(0);

    c.batch_execute("ALTER POLICY items_read ON items USING (true)")
        .unwrap();
    let status = p.keel(url, &["policies", "status"]);
    status
        .assert_code(1)
        .assert_stdout_has("items_read")
        .assert_stdout_has("changed")
        .assert_stdout_has("live:     USING (true)");
    p.keel(url, &["check"])
        .assert_code(1)
        .assert_stderr_has("policy-drift")
        .assert_stderr_has("items_read");
    let json = p.keel(url, &["--format", "json", "policies", "status"]);
    json.assert_code(1);
    let v: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(v["drift"], true);

    p.keel(url, &["policies", "apply"])
        .assert_code(0)
        .assert_stdout_has("applied 1 policy change");
    p.keel(url, &["policies", "status"]).assert_code(0);

    // No churn: the policy keeps its identity when nothing changed.
    let oid = |c: &mut postgres::Client| -> u32 {
        c.query_one(
            "SELECT oid FROM pg_policy WHERE polname = 'items_read'",
            &[],
        )
        .unwrap()
        .get(0)
    };
    let before = oid(&mut c);
    p.keel(url, &["policies", "apply"])
        .assert_code(0)
        .assert_stdout_has("no changes");
    p.keel(url, &["upgrade"]).assert_code(0);
    assert_eq!(oid(&mut c), before, "a no-op apply issues no DDL");

    // An undeclared policy on a managed table is dropped; RLS stays on
    // when a table's declarations go away (fail closed).
    c.batch_execute("CREATE POLICY sneaky ON items FOR SELECT TO app_user USING (true)")
        .unwrap();
    fs::remove_file(p.root().join("sql/policies/items.sql")).unwrap();
    p.keel(url, &["policies", "apply"]).assert_code(0);
    assert_eq!(live_policies(&mut c), ["households.households_read"]);
    let rls: bool = c
        .query_one(
            "SELECT relrowsecurity FROM pg_class WHERE relname = 'items'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(rls, "RLS stays on without declarations");
}

#[test]
fn policy_tests_fail_on_a_leak_and_pass_when_isolated() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = project();
    p.keel(url, &["upgrade"]).assert_code(0);
    let tests = p.root().join("sql/policies/tests");
    let body = |expected: i32| {
        format!(
            "INSERT INTO households VALUES (1, 'one'), (2, 'two');\n\
             INSERT INTO items VALUES (10, 1, 'milk'), (20, 2, 'bread');\n\
             SET LOCAL ROLE app_user;\n\
             SELECT set_config('app.household', '1', true);\n\
             DO $$ BEGIN\n\
               IF (SELECT count(*) FROM items) <> {expected} THEN\n\
                 RAISE EXCEPTION 'leak: household 1 sees % items', (SELECT count(*) FROM items);\n\
               END IF;\n\
             END $$;\n"
        )
    };
    fs::write(tests.join("isolation.sql"), body(1)).unwrap();
    p.keel(url, &["policies", "test"])
        .assert_code(0)
        .assert_stdout_has("PASS")
        .assert_stdout_has("1 passed, 0 failed");

    // A test that expects to see both households' rows: the policy hides
    // one, so it fails, naming the file and the line.
    fs::write(tests.join("isolation.sql"), body(2)).unwrap();
    p.keel(url, &["policies", "test"])
        .assert_code(1)
        .assert_stdout_has("FAIL sql/policies/tests/isolation.sql:5:")
        .assert_stdout_has("leak: household 1 sees 1 items")
        .assert_stdout_has("0 passed, 1 failed");

    // Nothing of the test stays behind.
    let mut c = db.connect();
    let n: i64 = c
        .query_one("SELECT count(*) FROM households", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 0);

    // A test that never switches role, run as a superuser, cannot fail.
    fs::write(
        tests.join("isolation.sql"),
        "DO $$ BEGIN IF (SELECT count(*) FROM items) > 100 THEN RAISE EXCEPTION 'leak'; END IF; END $$;\n",
    )
    .unwrap();
    p.keel(url, &["policies", "test"])
        .assert_code(1)
        .assert_output_has("policy-test-bypasses-rls")
        .assert_output_has("SET LOCAL ROLE");

    let json = p.keel(url, &["--format", "json", "policies", "test"]);
    json.assert_code(1);
    let v: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(v["failed"], 1);
}

#[test]
fn matrix_shows_who_may_do_what() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = project();
    p.keel(url, &["upgrade"]).assert_code(0);
    let m = p.keel(url, &["policies", "status", "--matrix"]);
    m.assert_code(0)
        .assert_stdout_has("public.items")
        .assert_stdout_has("items_read")
        .assert_stdout_has("denied");
    let json = p.keel(url, &["--format", "json", "policies", "status", "--matrix"]);
    let v: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(v["source"], "live database");
}

/// Whether `public.<name>` exists in the configured database.
fn table_exists(c: &mut postgres::Client, name: &str) -> bool {
    c.query_one(
        "SELECT to_regclass($1) IS NOT NULL",
        &[&format!("public.{name}")],
    )
    .unwrap()
    .get(0)
}

#[test]
fn transaction_control_in_a_policy_test_is_refused_before_anything_runs() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = project();
    p.keel(url, &["upgrade"]).assert_code(0);
    let tests = p.root().join("sql/policies/tests");
    // A clean test runs first in name order: it must not run either.
    fs::write(
        tests.join("a_clean.sql"),
        "CREATE TABLE ran_clean (id int);\nSET LOCAL ROLE app_user;\nSELECT 1;\n",
    )
    .unwrap();
    for (stmt, code) in [
        ("COMMIT", "COMMIT"),
        ("END", "END"),
        ("ROLLBACK", "ROLLBACK"),
        ("ABORT", "ABORT"),
        ("COMMIT AND CHAIN", "COMMIT"),
        ("BEGIN", "BEGIN"),
        ("START TRANSACTION", "START TRANSACTION"),
        ("PREPARE TRANSACTION 'x'", "PREPARE TRANSACTION"),
        ("COMMIT PREPARED 'x'", "COMMIT"),
    ] {
        fs::write(
            tests.join("leak.sql"),
            format!(
                "CREATE TABLE leaked (id int);\n{stmt};\nSET LOCAL ROLE app_user;\nSELECT 1;\n"
            ),
        )
        .unwrap();
        let run = p.keel(url, &["policies", "test"]);
        let mut c = db.connect();
        assert!(
            !table_exists(&mut c, "leaked"),
            "`{stmt}` in a policy test left its table behind:\n{run}"
        );
        assert!(
            !table_exists(&mut c, "ran_clean"),
            "a test ran although another was refused:\n{run}"
        );
        run.assert_code(1)
            .assert_output_has("sql/policies/tests/leak.sql:2:1")
            .assert_output_has(&format!("explicit {code} in a policy test"))
            .assert_output_has(
                "remove it: each test runs in one transaction that keel always rolls back",
            )
            .assert_output_has("no policy test was run");
    }
    // Savepoints stay inside the test's transaction: allowed, and still
    // rolled back.
    fs::write(
        tests.join("leak.sql"),
        "SAVEPOINT s;\nCREATE TABLE leaked (id int);\nRELEASE SAVEPOINT s;\n\
         SAVEPOINT t;\nROLLBACK TO SAVEPOINT t;\nSET LOCAL ROLE app_user;\nSELECT 1;\n",
    )
    .unwrap();
    p.keel(url, &["policies", "test"])
        .assert_code(0)
        .assert_stdout_has("2 passed, 0 failed");
    let mut c = db.connect();
    assert!(!table_exists(&mut c, "leaked"));
    assert!(!table_exists(&mut c, "ran_clean"));
}

#[test]
fn a_policy_test_cannot_smuggle_statements_past_its_checks() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = project();
    p.keel(url, &["upgrade"]).assert_code(0);
    // PostgreSQL's lexer joins the two string literals (whitespace with a
    // newline between them), so the server sees a CREATE TABLE and a COMMIT
    // where a splitter that misses the continuation sees one SELECT.
    fs::write(
        p.root().join("sql/policies/tests/smuggle.sql"),
        "SELECT E'x'\n'\\' '; CREATE TABLE smuggled (); COMMIT; --'\n;\nSET LOCAL ROLE app_user;\n",
    )
    .unwrap();
    let run = p.keel(url, &["policies", "test"]);
    assert!(
        !table_exists(&mut db.connect(), "smuggled"),
        "a policy test smuggled a committed table:\n{run}"
    );
    // The splitter cuts where the server does, so the hidden COMMIT is found
    // on its own line before anything runs.
    run.assert_code(1)
        .assert_output_has("explicit COMMIT in a policy test")
        .assert_output_has("sql/policies/tests/smuggle.sql:2:34");

    // Nor can a DO block or a procedure commit: inside the test's
    // transaction block PostgreSQL refuses it, and the test fails.
    fs::write(
        p.root().join("sql/policies/tests/smuggle.sql"),
        "CREATE TABLE smuggled ();\nDO $$ BEGIN COMMIT; END $$;\nSET LOCAL ROLE app_user;\n",
    )
    .unwrap();
    let run = p.keel(url, &["policies", "test"]);
    assert!(!table_exists(&mut db.connect(), "smuggled"), "{run}");
    run.assert_code(1)
        .assert_stdout_has("FAIL sql/policies/tests/smuggle.sql:2:")
        .assert_stdout_has("invalid transaction termination");
}

#[test]
fn a_policy_test_that_cannot_be_split_fails_with_its_position() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = project();
    p.keel(url, &["upgrade"]).assert_code(0);
    let tests = p.root().join("sql/policies/tests");
    fs::write(
        tests.join("broken.sql"),
        "SET LOCAL ROLE app_user;\nSELECT 1;\nSELECT 'never closed;\nSELECT 2;\n",
    )
    .unwrap();
    p.keel(url, &["policies", "test"])
        .assert_code(1)
        .assert_output_has("sql/policies/tests/broken.sql:3:8")
        .assert_output_has("unterminated string literal");
    // A statement PostgreSQL refuses in a transaction block is refused
    // offline too, as in a transactional migration.
    fs::write(
        tests.join("broken.sql"),
        "SET LOCAL ROLE app_user;\nVACUUM items;\n",
    )
    .unwrap();
    p.keel(url, &["policies", "test"])
        .assert_code(1)
        .assert_output_has("sql/policies/tests/broken.sql:2:1")
        .assert_output_has("VACUUM cannot run inside a transaction block");
}

#[test]
fn policies_and_tables_named_by_reserved_words() {
    let db = fresh_db();
    let url = Some(db.url());
    app_role();
    let p = Project::new();
    p.migration(
        1,
        "reserved",
        "CREATE TABLE \"order\" (id int PRIMARY KEY);\nCREATE TABLE \"user\" (id int PRIMARY KEY);\n\
         GRANT SELECT ON \"order\", \"user\" TO app_user;\n",
        "DROP TABLE \"order\";\nDROP TABLE \"user\";\n",
    );
    let pol = p.root().join("sql/policies");
    fs::create_dir_all(&pol).unwrap();
    let declare = |with_policies: bool| {
        let policies = if with_policies {
            "CREATE POLICY \"select\" ON \"order\" FOR SELECT TO app_user USING (id > 0);\n\
             COMMENT ON POLICY \"select\" ON \"order\" IS 'positive ids';\n\
             CREATE POLICY \"user\" ON public.\"user\" FOR SELECT TO app_user USING (true);\n"
        } else {
            ""
        };
        fs::write(
            pol.join("reserved.sql"),
            format!(
                "-- keel:requires 1\n\
                 ALTER TABLE \"order\" ENABLE ROW LEVEL SECURITY;\n\
                 ALTER TABLE \"order\" FORCE ROW LEVEL SECURITY;\n\
                 ALTER TABLE public.\"user\" ENABLE ROW LEVEL SECURITY;\n{policies}"
            ),
        )
        .unwrap();
    };
    declare(true);
    p.seal();
    p.keel(url, &["upgrade"]).assert_code(0);
    let mut c = db.connect();
    assert_eq!(live_policies(&mut c), ["order.select", "user.user"]);
    p.keel(url, &["policies", "status"])
        .assert_code(0)
        .assert_stdout_has("public.order")
        .assert_stdout_has("public.user");
    p.keel(url, &["policies", "status", "--matrix"])
        .assert_code(0);
    // Changed in the database: restored, which drops the live one first.
    c.batch_execute(
        "DROP POLICY \"select\" ON \"order\"; CREATE POLICY \"select\" ON \"order\" USING (false)",
    )
    .unwrap();
    p.keel(url, &["policies", "status"]).assert_code(1);
    p.keel(url, &["policies", "apply"]).assert_code(0);
    p.keel(url, &["policies", "status"]).assert_code(0);
    // No longer declared: dropped.
    declare(false);
    p.seal();
    p.keel(url, &["policies", "apply"]).assert_code(0);
    assert!(live_policies(&mut c).is_empty());
    p.keel(url, &["policies", "status"]).assert_code(0);
    // Declared again, then the downgrade drops them before the tables go.
    declare(true);
    p.seal();
    p.keel(url, &["policies", "apply"]).assert_code(0);
    assert_eq!(live_policies(&mut c), ["order.select", "user.user"]);
    p.keel(url, &["downgrade", "base"]).assert_code(0);
    assert!(live_policies(&mut c).is_empty());
    assert!(!table_exists(&mut c, "order"));
}

#[test]
fn identifiers_are_quoted_as_the_server_quotes_them() {
    let db = fresh_db();
    let rows = db
        .connect()
        .query(
            "SELECT w, quote_ident(w) FROM (SELECT word FROM pg_get_keywords() \
             UNION ALL SELECT unnest(ARRAY['items', 'Items', '1x', '_x1', 'a\"b', 'café', 'x$', 'a b'])) AS k(w)",
            &[],
        )
        .unwrap();
    assert!(rows.len() > 400, "pg_get_keywords() lists every keyword");
    // keel quotes what any of PostgreSQL 13 to 18 reserves: these are bare
    // on the majors before the one that made them keywords.
    const LATER: &[&str] = &[
        "json",
        "json_array",
        "json_arrayagg",
        "json_exists",
        "json_object",
        "json_objectagg",
        "json_query",
        "json_scalar",
        "json_serialize",
        "json_table",
        "json_value",
        "merge_action",
        "system_user",
    ];
    for r in rows {
        let word: String = r.get(0);
        let server: String = r.get(1);
        let keel = keel::sql::ident::quote_ident(&word);
        assert!(
            keel == server || (LATER.contains(&word.as_str()) && keel == format!("\"{word}\"")),
            "{word}: keel {keel}, server {server}"
        );
    }
}
