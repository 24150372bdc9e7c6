//! The RLS stage against a real PostgreSQL: reconcile with upgrades and
//! downgrades, drift, apply without churn, the stage's atomicity with the
//! migrations, and policy tests.

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
