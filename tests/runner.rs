//! The runner end to end: the real `keel` binary against a real PostgreSQL (one throwaway
//! cluster per test binary, a fresh database and a fresh project directory per test).
//!
//! The contract is /work/shared/SPEC.md, sections 4 (commands, targets, `--sql`, exit status,
//! passwords), 6 (history, lock, transactions, dirty state, drift) and 3 (validation before
//! anything runs).
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests query and print freely

mod common;

#[path = "fixtures/runner/support.rs"]
mod support;

use std::fs;
use std::time::Duration;

use common::{fresh_db, TestDb};
use support::{
    line_col, numbers, relation_exists, schema_exists, versions, wait_until, Project, Run,
};

/// Three migrations in the spirit of Alembic's tutorial: tables with defaults, constraints and
/// indexes, then a column added later.
fn alembic_project() -> Project {
    let p = Project::new();
    p.migration(
        1,
        "create_account",
        "CREATE TABLE account (\n    id serial PRIMARY KEY,\n    name varchar(50) NOT NULL,\n    description text\n);\n",
        "DROP TABLE account;\n",
    )
    .migration(
        2,
        "create_order",
        "CREATE TABLE orders (\n    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    account_id int NOT NULL REFERENCES account (id),\n    total numeric(12,2) NOT NULL DEFAULT 0\n);\nCREATE INDEX orders_account_id ON orders (account_id);\n",
        "DROP TABLE orders;\n",
    )
    .migration(
        3,
        "add_last_transaction_date",
        "ALTER TABLE account ADD COLUMN last_transaction_date timestamptz;\nCREATE INDEX account_last_tx ON account (last_transaction_date DESC);\n",
        "DROP INDEX account_last_tx;\nALTER TABLE account DROP COLUMN last_transaction_date;\n",
    )
    .seal();
    p
}

/// The user-visible schema: every column and index outside the system schemas and keel's own.
fn catalog(db: &TestDb) -> Vec<String> {
    let mut c = db.connect();
    let mut out: Vec<String> = c
        .query(
            "SELECT format('column %s.%s.%s #%s %s nullable=%s default=%s',
                           table_schema, table_name, column_name, ordinal_position,
                           data_type, is_nullable, coalesce(column_default, '-'))
             FROM information_schema.columns
             WHERE table_schema NOT IN ('pg_catalog', 'information_schema', 'keel')
             ORDER BY table_schema, table_name, ordinal_position",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    out.extend(
        c.query(
            "SELECT format('index %s.%s: %s', schemaname, indexname, indexdef)
             FROM pg_indexes
             WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'keel')
             ORDER BY schemaname, tablename, indexname",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0)),
    );
    out
}

/// The line of `history` output for one version (`0002_create_order  applied`).
fn history_line<'a>(out: &'a str, id: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(id))
        .unwrap_or_else(|| panic!("no history line for {id} in:\n{out}"))
}

// 1. ------------------------------------------------------------------------------------------

#[test]
fn alembic_walkthrough_upgrade_current_downgrade_history_round_trip() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = alembic_project();
    let mut c = db.connect();

    // Before anything: base, and history lists everything as pending.
    p.keel(url, &["current"]).assert_code(0);

    p.keel(url, &["upgrade", "head"]).assert_code(0);
    assert_eq!(versions(&mut c), numbers(1..=3));
    let after_first_upgrade = catalog(&db);
    assert!(
        after_first_upgrade
            .iter()
            .any(|l| l.contains("account.last_transaction_date")),
        "{after_first_upgrade:#?}"
    );
    assert!(
        after_first_upgrade
            .iter()
            .any(|l| l.contains("orders_account_id")),
        "{after_first_upgrade:#?}"
    );

    let cur = p.keel(url, &["current"]);
    cur.assert_code(0)
        .assert_stdout_has("0003_add_last_transaction_date (head)");

    p.keel(url, &["downgrade", "-1"]).assert_code(0);
    assert_eq!(versions(&mut c), numbers(1..=2));
    assert!(!relation_exists(&mut c, "account_last_tx"));
    let cur = p.keel(url, &["current"]);
    cur.assert_code(0).assert_stdout_has("0002_create_order");
    assert!(
        !cur.stdout.contains("(head)"),
        "not at head any more\n{cur}"
    );

    // A version as target: already there, so nothing to do.
    p.keel(url, &["upgrade", "2"]).assert_code(0);
    assert_eq!(versions(&mut c), numbers(1..=2));

    p.keel(url, &["downgrade", "1"]).assert_code(0);
    assert_eq!(versions(&mut c), numbers(1..=1));
    assert!(!relation_exists(&mut c, "orders"));
    p.keel(url, &["current"])
        .assert_code(0)
        .assert_stdout_has("0001_create_account");

    // A version as target with work to do.
    p.keel(url, &["upgrade", "2"]).assert_code(0);
    assert_eq!(versions(&mut c), numbers(1..=2));
    assert!(relation_exists(&mut c, "orders"));
    assert!(!relation_exists(&mut c, "account_last_tx"));

    p.keel(url, &["downgrade", "base"]).assert_code(0);
    assert_eq!(versions(&mut c), Vec::<String>::new());
    assert!(catalog(&db).is_empty(), "{:#?}", catalog(&db));
    let cur = p.keel(url, &["current"]);
    cur.assert_code(0).assert_stdout_has("base");

    // history --verbose: every version, all pending.
    let h = p.keel(url, &["history", "--verbose"]);
    h.assert_code(0);
    for id in [
        "0001_create_account",
        "0002_create_order",
        "0003_add_last_transaction_date",
    ] {
        let line = history_line(&h.stdout, id);
        assert!(line.contains("pending"), "{id} should be pending\n{h}");
    }
    assert!(history_line(&h.stdout, "0003_add_last_transaction_date").contains("(head)"));

    // Half way: applied and pending side by side, with when/by whom for the applied ones.
    p.keel(url, &["upgrade", "+2"]).assert_code(0);
    let h = p.keel(url, &["history", "--verbose"]);
    h.assert_code(0);
    for id in ["0001_create_account", "0002_create_order"] {
        let line = history_line(&h.stdout, id);
        assert!(
            line.contains("applied") && !line.contains("pending"),
            "{id} should be applied\n{h}"
        );
    }
    let line = history_line(&h.stdout, "0003_add_last_transaction_date");
    assert!(line.contains("pending"), "0003 should be pending\n{h}");
    assert!(
        h.stdout.contains("applied:") && h.stdout.contains(" by "),
        "verbose history says when and by whom\n{h}"
    );

    // upgrade head -> downgrade base -> upgrade head gives the same catalog.
    p.keel(url, &["upgrade", "head"]).assert_code(0);
    let before = catalog(&db);
    assert_eq!(before, after_first_upgrade);
    p.keel(url, &["downgrade", "base"]).assert_code(0);
    assert!(catalog(&db).is_empty());
    p.keel(url, &["upgrade", "head"]).assert_code(0);
    assert_eq!(catalog(&db), before);
    assert_eq!(versions(&mut c), numbers(1..=3));
}

// 2. and 3. -----------------------------------------------------------------------------------

/// Ten migrations creating `t1`..`t10`; number 7 creates `t7` and then selects from a table
/// that does not exist.
fn ten_with_failing_seventh() -> Project {
    let p = Project::new();
    for i in 1..=10u32 {
        let up = if i == 7 {
            "-- t7 first, then a query that cannot work\nCREATE TABLE t7 (id int);\n\nSELECT *\n  FROM no_such_table;\n".to_string()
        } else {
            format!("CREATE TABLE t{i} (id int);\n")
        };
        p.migration(i, &format!("step{i}"), &up, &format!("DROP TABLE t{i};\n"));
    }
    p.seal();
    p
}

/// The failure report names `sql/up/0007_step7.sql:LINE:COL` at `no_such_table`, the
/// SQLSTATE and the server's message.
fn assert_reports_missing_table(p: &Project, run: &support::Run) {
    let text = p.read_up(7, "step7");
    let (line, col) = line_col(&text, "no_such_table");
    let rel = Project::up_rel(7, "step7");
    run.assert_stderr_has(&format!("{rel}:{line}"));
    run.assert_stderr_has(&format!("{rel}:{line}:{col}"));
    run.assert_stderr_has("42P01");
    run.assert_stderr_has("relation \"no_such_table\" does not exist");
}

#[test]
fn failing_statement_rolls_back_the_whole_run() {
    let db = fresh_db();
    let p = ten_with_failing_seventh();
    let run = p.keel(Some(db.url()), &["upgrade"]);
    run.assert_code(1);
    assert_reports_missing_table(&p, &run);
    assert!(
        run.stderr.contains("rolled back"),
        "says it rolled back\n{run}"
    );
    assert!(
        run.stderr.contains("still at base"),
        "says where the database is\n{run}"
    );
    let mut c = db.connect();
    assert_eq!(versions(&mut c), Vec::<String>::new());
    for i in 1..=10 {
        assert!(
            !relation_exists(&mut c, &format!("t{i}")),
            "t{i} must not exist"
        );
    }
}

#[test]
fn failing_statement_with_transaction_per_migration_keeps_what_came_before() {
    let db = fresh_db();
    let p = ten_with_failing_seventh();
    let run = p.keel(Some(db.url()), &["upgrade", "--transaction-per-migration"]);
    run.assert_code(1);
    assert_reports_missing_table(&p, &run);
    assert!(
        run.stderr.contains("0006"),
        "says the database is at 0006\n{run}"
    );
    let mut c = db.connect();
    assert_eq!(versions(&mut c), numbers(1..=6));
    for i in 1..=6 {
        assert!(relation_exists(&mut c, &format!("t{i}")), "t{i} must exist");
    }
    for i in 7..=10 {
        assert!(
            !relation_exists(&mut c, &format!("t{i}")),
            "t{i} must not exist"
        );
    }
    // The failed run is in the event log.
    let failed: i64 = c
        .query_one(
            "SELECT count(*) FROM keel.events WHERE command = 'upgrade' AND outcome = 'failed'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(failed, 1);
}

// 4. ------------------------------------------------------------------------------------------

#[test]
fn transaction_off_migration_with_create_index_concurrently_applies_clean() {
    let db = fresh_db();
    let p = Project::new();
    p.migration(
        1,
        "items",
        "CREATE TABLE items (id int PRIMARY KEY, label text);\nINSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 5000) g;\n",
        "DROP TABLE items;\n",
    )
    .migration(
        2,
        "items_label_idx",
        "-- keel:transaction off\nCREATE INDEX CONCURRENTLY items_label ON items (label);\n",
        "-- keel:transaction off\nDROP INDEX CONCURRENTLY items_label;\n",
    )
    .migration(
        3,
        "items_note",
        "ALTER TABLE items ADD COLUMN note text;\n",
        "ALTER TABLE items DROP COLUMN note;\n",
    )
    .seal();
    assert!(
        p.read_up(2, "items_label_idx")
            .contains("-- keel:transaction off"),
        "seal keeps the header"
    );
    let url = Some(db.url());
    p.keel(url, &["upgrade"]).assert_code(0);
    let mut c = db.connect();
    assert_eq!(versions(&mut c), numbers(1..=3));
    let dirty: Vec<(String, bool)> = c
        .query(
            "SELECT version::text, dirty FROM keel.versions ORDER BY version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(dirty.iter().all(|(_, d)| !d), "{dirty:?}");
    let valid: bool = c
        .query_one(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_label'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(valid, "the concurrently built index is valid");
    p.keel(url, &["check"]).assert_code(0);
    p.keel(url, &["current"])
        .assert_code(0)
        .assert_stdout_has("0003_items_note (head)");

    // And back down through it.
    p.keel(url, &["downgrade", "base"]).assert_code(0);
    assert_eq!(versions(&mut c), Vec::<String>::new());
    assert!(!relation_exists(&mut c, "items"));
}

// 5. ------------------------------------------------------------------------------------------

/// The pid of the backend running `needle` in `db` (not this test's own query).
fn backend_running(c: &mut postgres::Client, needle: &str) -> Option<i32> {
    c.query_opt(
        "SELECT pid FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()
           AND state = 'active' AND position($1 in query) > 0
         LIMIT 1",
        &[&needle],
    )
    .unwrap()
    .map(|r| r.get(0))
}

/// SIGKILLs the spawned keel once its `pg_sleep(30)` is running on the server, then ends the
/// orphaned backend (the server would otherwise sleep on, holding the run lock).
fn kill_during_sleep(db: &TestDb, spawned: &mut support::Spawned) {
    let mut c = db.connect();
    let mut pid = None;
    wait_until(
        "the migration's pg_sleep(30) is running",
        Duration::from_secs(30),
        || {
            if let Ok(Some(status)) = spawned.child.try_wait() {
                panic!(
                    "keel exited before it was killed\n{}",
                    spawned.run(status.code())
                );
            }
            pid = backend_running(&mut c, "pg_sleep(30)");
            pid.is_some()
        },
    );
    spawned.child.kill().unwrap(); // SIGKILL
    let status = spawned.child.wait().unwrap();
    assert_eq!(status.code(), None, "killed by a signal");
    let pid = pid.unwrap();
    let _: bool = c
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap()
        .get(0);
    wait_until(
        "the orphaned backend is gone",
        Duration::from_secs(30),
        || {
            let n: i64 = c
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                    &[&pid],
                )
                .unwrap()
                .get(0);
            n == 0
        },
    );
}

#[test]
fn sigkill_during_a_transactional_run_leaves_the_previous_version() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = Project::new();
    p.migration(1, "a", "CREATE TABLE a (id int);\n", "DROP TABLE a;\n")
        .seal();
    p.keel(url, &["upgrade"]).assert_code(0);
    p.migration(2, "b", "CREATE TABLE b (id int);\n", "DROP TABLE b;\n")
        .migration(
            3,
            "slow",
            "CREATE TABLE c (id int);\nSELECT pg_sleep(30);\n",
            "DROP TABLE c;\n",
        )
        .seal();

    let mut child = p.spawn(url, &["upgrade"], "killed");
    kill_during_sleep(&db, &mut child);

    let mut c = db.connect();
    assert_eq!(
        versions(&mut c),
        numbers(1..=1),
        "still at the previous version"
    );
    assert!(relation_exists(&mut c, "a"));
    assert!(!relation_exists(&mut c, "b"), "nothing of that run applied");
    assert!(!relation_exists(&mut c, "c"), "nothing of that run applied");
    let dirty: i64 = c
        .query_one("SELECT count(*) FROM keel.versions WHERE dirty", &[])
        .unwrap()
        .get(0);
    assert_eq!(dirty, 0);
    p.keel(url, &["current"])
        .assert_code(0)
        .assert_stdout_has("0001_a");

    // The lock died with the session: the next run goes through (3 is not applied, so it may
    // still be edited).
    p.migration(
        3,
        "slow",
        "CREATE TABLE c (id int);\nSELECT pg_sleep(0);\n",
        "DROP TABLE c;\n",
    )
    .seal();
    p.keel(url, &["upgrade", "--lock-timeout", "10"])
        .assert_code(0);
    assert_eq!(versions(&mut c), numbers(1..=3));
}

#[test]
fn sigkill_during_a_transaction_off_migration_leaves_it_dirty_until_repair() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = Project::new();
    p.migration(1, "a", "CREATE TABLE a (id int);\n", "DROP TABLE a;\n")
        .migration(
            2,
            "slow_off",
            "-- keel:transaction off\nSELECT pg_sleep(30);\nCREATE INDEX CONCURRENTLY a_id ON a (id);\n",
            "-- keel:transaction off\nDROP INDEX CONCURRENTLY IF EXISTS a_id;\n",
        )
        .migration(3, "c", "CREATE TABLE c (id int);\n", "DROP TABLE c;\n")
        .seal();

    let mut child = p.spawn(url, &["upgrade"], "killed");
    kill_during_sleep(&db, &mut child);

    let mut c = db.connect();
    // What came before the transaction-off migration was committed; it is recorded dirty.
    assert_eq!(versions(&mut c), numbers(1..=2));
    let dirty: bool = c
        .query_one("SELECT dirty FROM keel.versions WHERE version = 2", &[])
        .unwrap()
        .get(0);
    assert!(dirty, "version 2 is marked dirty");
    assert!(!relation_exists(&mut c, "c"));

    // A dirty database refuses further runs, naming the version and the way out.
    let up = p.keel(url, &["upgrade"]);
    up.assert_code(1)
        .assert_stderr_has("0002")
        .assert_stderr_has("keel repair");
    assert!(up.stderr.contains("dirty"), "says why\n{up}");
    assert!(!relation_exists(&mut c, "c"), "the refused run did nothing");

    // Read-only commands keep working and show the state.
    p.keel(url, &["current"])
        .assert_code(0)
        .assert_output_has("dirty");
    let h = p.keel(url, &["history"]);
    h.assert_code(0);
    assert!(
        history_line(&h.stdout, "0002_slow_off").contains("dirty"),
        "{h}"
    );
    let check = p.keel(url, &["check"]);
    check
        .assert_code(1)
        .assert_output_has("dirty")
        .assert_output_has("keel repair 2");

    // repair clears it, and is logged.
    p.keel(url, &["repair", "2"]).assert_code(0);
    let dirty: bool = c
        .query_one("SELECT dirty FROM keel.versions WHERE version = 2", &[])
        .unwrap()
        .get(0);
    assert!(!dirty, "repair clears the dirty mark");
    let repairs: i64 = c
        .query_one(
            "SELECT count(*) FROM keel.events WHERE command = 'repair' AND outcome = 'ok'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(repairs, 1);

    p.keel(url, &["upgrade"]).assert_code(0);
    assert_eq!(versions(&mut c), numbers(1..=3));
    assert!(relation_exists(&mut c, "c"));
}

/// A `transaction off` migration that fails half way: the failure says which version is left
/// dirty, and a DBA who undoes what ran has a way to say so (`repair --undone`), as one who
/// finishes it has (`repair`); each records what is true.
#[test]
fn a_dirty_version_undone_by_hand_is_recorded_as_not_applied() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = Project::new();
    p.migration(1, "a", "CREATE TABLE a (id int);\n", "DROP TABLE a;\n")
        .migration(
            2,
            "half",
            "-- keel:transaction off\nCREATE TABLE half (id int);\nSELECT 1 / 0;\n",
            "-- keel:transaction off\nDROP TABLE half;\n",
        )
        .seal();
    p.keel(url, &["upgrade"])
        .assert_code(1)
        .assert_stderr_has("the database is at 0001, and 0002_half is recorded dirty");
    let refused = p.keel(url, &["upgrade"]);
    refused
        .assert_code(1)
        .assert_stderr_has("`keel repair 2 --undone` (recorded as not applied)");
    p.keel(url, &["repair", "1", "--undone"])
        .assert_code(2)
        .assert_stderr_has("is not dirty");
    // The dirty version as the files write it.
    p.keel(url, &["current"])
        .assert_code(0)
        .assert_stderr_has("dirty: 0002_half did not finish");
    let json = p.keel(url, &["--format", "json", "current"]);
    json.assert_stdout_has("\"dirty\":\"0002\"");

    // Undone by hand, then recorded so.
    let mut c = db.connect();
    c.batch_execute("DROP TABLE half").unwrap();
    p.keel(url, &["repair", "2", "--undone"])
        .assert_code(0)
        .assert_stdout_has("recorded as not applied");
    assert_eq!(versions(&mut c), numbers(1..=1));
    let (from, to): (Option<String>, Option<String>) = {
        let r = c
            .query_one(
                "SELECT from_version::text, to_version::text FROM keel.events
                 WHERE command = 'repair' ORDER BY id DESC LIMIT 1",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((from.as_deref(), to.as_deref()), (Some("2"), Some("1")));

    // Fixed (a pending file may be edited), it runs again.
    p.migration(
        2,
        "half",
        "-- keel:transaction off\nCREATE TABLE half (id int);\n",
        "-- keel:transaction off\nDROP TABLE half;\n",
    )
    .seal();
    p.keel(url, &["upgrade"]).assert_code(0);
    assert_eq!(versions(&mut c), numbers(1..=2));
}

/// A version added below the newest applied one is refused with a way out that works: the
/// hint's downgrade and upgrade apply everything in order (stamping would unrecord the newer
/// version while its table stays).
#[test]
fn an_out_of_order_version_is_refused_with_a_way_out_that_works() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = Project::new();
    for (v, t) in [(1, "a"), (2, "b"), (3, "c"), (5, "e")] {
        p.migration(
            v,
            t,
            &format!("CREATE TABLE {t} (id int);\n"),
            &format!("DROP TABLE {t};\n"),
        );
    }
    p.seal();
    p.keel(url, &["upgrade"]).assert_code(0);
    p.migration(4, "d", "CREATE TABLE d (id int);\n", "DROP TABLE d;\n")
        .seal();
    let hint = "or run `keel downgrade 3` and `keel upgrade`, which reverts the newer versions and applies them all in order";
    p.keel(url, &["upgrade"])
        .assert_code(1)
        .assert_stderr_has(
            "version 0004 is not applied but the newer version 0005 is (out of order)",
        )
        .assert_stderr_has(hint);
    p.keel(url, &["check"])
        .assert_code(1)
        .assert_stderr_has("out-of-order")
        .assert_stderr_has(hint);
    p.keel(url, &["downgrade", "3"]).assert_code(0);
    p.keel(url, &["upgrade"]).assert_code(0);
    let mut c = db.connect();
    assert_eq!(versions(&mut c), numbers(1..=5));
    assert!(relation_exists(&mut c, "d") && relation_exists(&mut c, "e"));
}

/// When keel cannot create its history schema, the error says the server's reason (here an
/// application table where keel's would go), not only that a step failed.
#[test]
fn a_history_schema_that_cannot_be_created_says_why() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = Project::new();
    p.migration(1, "a", "CREATE TABLE a (id int);\n", "DROP TABLE a;\n")
        .seal();
    std::fs::write(p.root().join("keel.toml"), "history_schema = \"public\"\n").unwrap();
    db.connect()
        .batch_execute("CREATE TABLE public.events (id int)")
        .unwrap();
    p.keel(url, &["upgrade"])
        .assert_code(1)
        .assert_stderr_has("evolving the history schema `public`")
        .assert_stderr_has("relation \"events\" already exists");
}

// 6. ------------------------------------------------------------------------------------------

#[test]
fn editing_an_applied_file_is_drift_until_repair() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = Project::new();
    p.migration(
        1,
        "widgets",
        "CREATE TABLE widgets (id int);\nCREATE INDEX widgets_id ON widgets (id);\n",
        "DROP TABLE widgets;\n",
    )
    .seal();
    p.keel(url, &["upgrade"]).assert_code(0);
    p.keel(url, &["check"]).assert_code(0);
    let rel = Project::up_rel(1, "widgets");

    // A comment-only edit, sealed: cosmetic drift.
    p.migration(
        1,
        "widgets",
        "-- widgets, one row per widget\nCREATE TABLE widgets (id int);  -- the key\n\nCREATE INDEX widgets_id ON widgets (id);\n",
        "DROP TABLE widgets;\n",
    )
    .seal();
    let check = p.keel(url, &["check"]);
    check.assert_code(1).assert_stderr_has(&rel);
    assert!(check.stderr.contains("cosmetic"), "{check}");
    assert!(!check.stderr.contains("semantic"), "{check}");

    // A changed statement, sealed: semantic drift with a diff.
    p.migration(
        1,
        "widgets",
        "CREATE TABLE widgets (id bigint);\nCREATE INDEX widgets_id ON widgets (id);\n",
        "DROP TABLE widgets;\n",
    )
    .seal();
    let check = p.keel(url, &["check"]);
    check.assert_code(1).assert_stderr_has(&rel);
    assert!(check.stderr.contains("semantic"), "{check}");
    let diff_lines: Vec<&str> = check.stderr.lines().map(str::trim_start).collect();
    assert!(
        diff_lines.contains(&"-CREATE TABLE widgets (id int);"),
        "diff shows the applied line\n{check}"
    );
    assert!(
        diff_lines.contains(&"+CREATE TABLE widgets (id bigint);"),
        "diff shows the new line\n{check}"
    );

    // repair accepts the edit; check is clean again, and the event log has it.
    p.keel(url, &["repair", "1"]).assert_code(0);
    p.keel(url, &["check"]).assert_code(0);
    let mut c = db.connect();
    let repairs: i64 = c
        .query_one(
            "SELECT count(*) FROM keel.events WHERE command = 'repair'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(repairs, 1);
    let recorded: String = c
        .query_one("SELECT up_sql FROM keel.versions WHERE version = 1", &[])
        .unwrap()
        .get(0);
    assert!(recorded.contains("bigint"), "{recorded}");
}

/// Two one-table migrations, sealed and applied at `url`.
fn widgets_and_gadgets_applied(url: Option<&str>) -> Project {
    let p = Project::new();
    p.migration(
        1,
        "widgets",
        "CREATE TABLE widgets (id int);\n",
        "DROP TABLE widgets;\n",
    )
    .migration(
        2,
        "gadgets",
        "CREATE TABLE gadgets (id int);\n",
        "DROP TABLE gadgets;\n",
    )
    .seal();
    p.keel(url, &["upgrade"]).assert_code(0);
    p
}

/// The files of an applied version are gone (a checkout older than the database, a migration
/// deleted by hand): `upgrade` refuses, naming the version and the fix, instead of saying there
/// is nothing to do or applying newer files on top of what it cannot read.
#[test]
fn upgrade_refuses_an_applied_version_with_no_files() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = widgets_and_gadgets_applied(url);
    fs::remove_file(p.up_path(2, "gadgets")).unwrap();
    fs::remove_file(p.down_path(2, "gadgets")).unwrap();

    for args in [&["upgrade"][..], &["upgrade", "--sql"]] {
        p.keel(url, args)
            .assert_code(1)
            .assert_stderr_has("applied version 0002_gadgets has no file in sql/up")
            .assert_stderr_has("keel history --verbose");
    }
    // `check` and `downgrade` name it in the same words.
    for args in [&["check"][..], &["downgrade", "-1"]] {
        p.keel(url, args)
            .assert_code(1)
            .assert_stderr_has("applied version 0002_gadgets has no file in sql/up");
    }

    // A newer file is not applied on top of the one that is gone.
    p.migration(
        3,
        "gizmos",
        "CREATE TABLE gizmos (id int);\n",
        "DROP TABLE gizmos;\n",
    )
    .seal();
    p.keel(url, &["upgrade"])
        .assert_code(1)
        .assert_stderr_has("0002_gadgets");
    let mut c = db.connect();
    assert!(!relation_exists(&mut c, "gizmos"));
    assert_eq!(versions(&mut c), numbers(1..=2));
}

/// The files of an applied version renamed: the same SQL under another name. `check` warns
/// (the history and the files no longer say the same thing), `repair` records the new name and
/// says so, and `check` is quiet again.
#[test]
fn renaming_an_applied_migration_is_reported_and_repair_records_the_new_name() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = widgets_and_gadgets_applied(url);
    for (from, to) in [
        (p.up_path(2, "gadgets"), p.up_path(2, "gizmos")),
        (p.down_path(2, "gadgets"), p.down_path(2, "gizmos")),
    ] {
        fs::rename(from, to).unwrap();
    }
    p.keel(url, &["check"])
        .assert_code(0)
        .assert_stderr_has("applied-file-renamed")
        .assert_stderr_has("applied as 0002_gadgets")
        .assert_stderr_has("keel repair 2");

    p.keel(url, &["repair", "2"])
        .assert_code(0)
        .assert_stdout_has("name gadgets → gizmos");
    let check = p.keel(url, &["check"]);
    check.assert_code(0);
    assert!(!check.all().contains("applied-file-renamed"), "{check}");
    let name: String = db
        .connect()
        .query_one("SELECT name FROM keel.versions WHERE version = 2", &[])
        .unwrap()
        .get(0);
    assert_eq!(name, "gizmos");
}

/// A DBA edits an applied up file by hand and does not seal it. `seal` refuses (the version is
/// applied) and sends them to `repair`, so `repair` must accept the unsealed edit in one step:
/// seal the version's files, record them, log the event; `check` then passes.
#[test]
fn an_unsealed_hand_edit_of_an_applied_file_is_accepted_by_repair_in_one_step() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = widgets_and_gadgets_applied(url);

    // The hand edit: a comment and a changed type, checksum line left as it was.
    let up = p.up_path(2, "gadgets");
    let edited = fs::read_to_string(&up)
        .unwrap()
        .replace("(id int)", "(id bigint) -- wider ids");
    fs::write(&up, &edited).unwrap();
    let down_before = fs::read_to_string(p.down_path(2, "gadgets")).unwrap();

    p.keel(url, &["check"]).assert_code(1);
    p.keel(url, &["seal", "2"])
        .assert_code(1)
        .assert_stderr_has("keel repair 2");

    let repair = p.keel(url, &["repair", "2"]);
    repair.assert_code(0).assert_no_panic();
    assert!(repair.all().contains("sealed"), "{repair}");

    // The file is sealed now: its checksum line matches its body, nothing else changed.
    let sealed = fs::read_to_string(&up).unwrap();
    assert_ne!(sealed, edited, "repair rewrote the checksum line");
    assert!(sealed.contains("(id bigint) -- wider ids"), "{sealed}");
    assert_eq!(
        fs::read_to_string(p.down_path(2, "gadgets")).unwrap(),
        down_before,
        "a down file whose checksum matched is left byte for byte"
    );
    p.keel(url, &["check", "--offline"]).assert_code(0);
    p.keel(url, &["check"]).assert_code(0);

    let mut c = db.connect();
    let recorded: String = c
        .query_one("SELECT up_sql FROM keel.versions WHERE version = 2", &[])
        .unwrap()
        .get(0);
    assert!(recorded.contains("bigint"), "{recorded}");
    let repairs: i64 = c
        .query_one(
            "SELECT count(*) FROM keel.events WHERE command = 'repair' AND outcome = 'ok'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(repairs, 1);
    // The other version's files were not an excuse: an unsealed edit of version 1 still blocks.
    let up1 = p.up_path(1, "widgets");
    let text1 = fs::read_to_string(&up1).unwrap();
    fs::write(&up1, text1.replace("(id int)", "(id int, x int)")).unwrap();
    let other = p.keel(url, &["repair", "2"]);
    other
        .assert_code(1)
        .assert_stderr_has(&Project::up_rel(1, "widgets"));
}

#[test]
fn crlf_line_endings_and_trailing_blanks_are_not_drift() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = Project::new();
    p.migration(
        1,
        "gadgets",
        "CREATE TABLE gadgets (id int);\nCREATE INDEX gadgets_id ON gadgets (id);\n",
        "DROP TABLE gadgets;\n",
    )
    .seal();
    p.keel(url, &["upgrade"]).assert_code(0);

    // Rewrite the applied up file (header included) as a Windows editor would, with trailing
    // blanks and extra blank lines, without sealing again.
    let path = p.up_path(1, "gadgets");
    let text = fs::read_to_string(&path).unwrap();
    let windows: String = text
        .lines()
        .map(|l| format!("{l}  \t\r\n"))
        .collect::<String>()
        + "\r\n\r\n";
    fs::write(&path, &windows).unwrap();
    assert_ne!(fs::read_to_string(&path).unwrap(), text);

    p.keel(None, &["check", "--offline"]).assert_code(0);
    let check = p.keel(url, &["check"]);
    check.assert_code(0);
    assert!(!check.all().contains("applied-file-changed"), "{check}");
    let h = p.keel(url, &["history"]);
    h.assert_code(0);
    assert!(
        !history_line(&h.stdout, "0001_gadgets").contains("changed"),
        "{h}"
    );
    // Runs are not refused either.
    p.keel(url, &["upgrade"]).assert_code(0);
}

// 7. ------------------------------------------------------------------------------------------

/// A valid two-migration project, already applied to `db` up to version 1, with version 2
/// pending: every bad-input case starts from here so "nothing applied" is visible.
fn applied_once(db: &TestDb) -> Project {
    let p = Project::new();
    p.migration(
        1,
        "one",
        "CREATE TABLE one (id int);\n",
        "DROP TABLE one;\n",
    )
    .seal();
    p.keel(Some(db.url()), &["upgrade"]).assert_code(0);
    p.migration(
        2,
        "two",
        "CREATE TABLE two (id int);\n",
        "DROP TABLE two;\n",
    )
    .seal();
    p
}

/// The upgrade was refused (exit `code`, no panic) and nothing changed.
#[track_caller]
fn assert_refused_untouched(db: &TestDb, run: &support::Run, code: i32) {
    run.assert_code(code);
    let mut c = db.connect();
    assert_eq!(versions(&mut c), numbers(1..=1), "nothing applied\n{run}");
    assert!(!relation_exists(&mut c, "two"), "nothing applied\n{run}");
}

#[test]
fn bad_input_missing_down_file() {
    let db = fresh_db();
    let p = applied_once(&db);
    fs::remove_file(p.down_path(2, "two")).unwrap();
    let run = p.keel(Some(db.url()), &["upgrade"]);
    assert_refused_untouched(&db, &run, 1);
    run.assert_stderr_has("sql/up/0002_two.sql")
        .assert_stderr_has("down");
}

#[test]
fn bad_input_duplicate_version() {
    let db = fresh_db();
    let p = applied_once(&db);
    p.migration(
        2,
        "two_again",
        "CREATE TABLE two_again (id int);\n",
        "DROP TABLE two_again;\n",
    )
    .seal();
    let run = p.keel(Some(db.url()), &["upgrade"]);
    assert_refused_untouched(&db, &run, 1);
    run.assert_stderr_has("0002_two.sql")
        .assert_stderr_has("0002_two_again.sql");
    assert!(!relation_exists(&mut db.connect(), "two_again"));
}

#[test]
fn bad_input_unknown_header_key() {
    let db = fresh_db();
    let p = applied_once(&db);
    let path = p.up_path(2, "two");
    let text = fs::read_to_string(&path).unwrap();
    // A typo of `transaction`, under the (valid) checksum line.
    let (first, rest) = text.split_once('\n').unwrap();
    fs::write(&path, format!("{first}\n-- keel:transacton off\n{rest}")).unwrap();
    let run = p.keel(Some(db.url()), &["upgrade"]);
    assert_refused_untouched(&db, &run, 1);
    run.assert_stderr_has("sql/up/0002_two.sql:2")
        .assert_stderr_has("transacton");
}

#[test]
fn bad_input_bad_checksum() {
    let db = fresh_db();
    let p = applied_once(&db);
    let path = p.up_path(2, "two");
    let text = fs::read_to_string(&path).unwrap();
    fs::write(&path, text + "CREATE TABLE sneaky (id int);\n").unwrap();
    let run = p.keel(Some(db.url()), &["upgrade"]);
    assert_refused_untouched(&db, &run, 1);
    run.assert_stderr_has("sql/up/0002_two.sql")
        .assert_stderr_has("checksum");
    assert!(!relation_exists(&mut db.connect(), "sneaky"));
}

#[test]
fn bad_input_target_not_on_disk() {
    let db = fresh_db();
    let p = applied_once(&db);
    for args in [
        &["upgrade", "99"][..],
        &["downgrade", "99"],
        &["stamp", "99"],
    ] {
        let run = p.keel(Some(db.url()), args);
        run.assert_no_panic()
            .assert_stderr_has("Can't locate revision identified by '99'");
        assert!(matches!(run.code, Some(1) | Some(2)), "exit 1 or 2\n{run}");
        let mut c = db.connect();
        assert_eq!(versions(&mut c), numbers(1..=1), "{run}");
        assert!(!relation_exists(&mut c, "two"), "{run}");
        assert!(relation_exists(&mut c, "one"), "{run}");
    }
}

/// SPEC 4: exit 2 is "usage or configuration error (bad arguments, ...)". keel already treats
/// `upgrade abc`, `repair 99`, `seal 99` and `show 99` (same message) as usage errors, so a
/// target that is not on disk is a bad argument too.
#[test]
fn target_not_on_disk_is_a_usage_error_like_the_other_commands() {
    let db = fresh_db();
    let p = applied_once(&db);
    let url = Some(db.url());
    p.keel(url, &["upgrade", "abc"])
        .assert_code(2)
        .assert_stderr_has("Can't locate revision identified by 'abc'");
    p.keel(url, &["repair", "99"])
        .assert_code(2)
        .assert_stderr_has("Can't locate revision identified by '99'");
    for args in [
        &["upgrade", "99"][..],
        &["downgrade", "99"],
        &["stamp", "99"],
    ] {
        p.keel(url, args)
            .assert_code(2)
            .assert_stderr_has("Can't locate revision identified by '99'");
    }
}

#[test]
fn bad_input_downgrade_through_irreversible_is_refused_before_anything_runs() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = Project::new();
    p.migration(
        1,
        "one",
        "CREATE TABLE one (id int);\n",
        "DROP TABLE one;\n",
    )
    .migration(
        2,
        "backfill",
        "CREATE TABLE backfilled (id int);\n",
        "-- keel:irreversible\n",
    )
    .migration(
        3,
        "three",
        "CREATE TABLE three (id int);\n",
        "DROP TABLE three;\n",
    )
    .seal();
    p.keel(url, &["upgrade"]).assert_code(0);
    let mut c = db.connect();
    assert_eq!(versions(&mut c), numbers(1..=3));

    let run = p.keel(url, &["downgrade", "base"]);
    run.assert_code(1)
        .assert_stderr_has("irreversible")
        .assert_stderr_has("0002");
    // Refused up front: not even 3's down ran.
    assert_eq!(versions(&mut c), numbers(1..=3));
    assert!(relation_exists(&mut c, "three"));
    assert!(relation_exists(&mut c, "backfilled"));

    // Down to a version above it still works.
    p.keel(url, &["downgrade", "-1"]).assert_code(0);
    assert_eq!(versions(&mut c), numbers(1..=2));
    let run = p.keel(url, &["downgrade", "1"]);
    run.assert_code(1).assert_stderr_has("irreversible");
    assert_eq!(versions(&mut c), numbers(1..=2));
}

#[test]
fn bad_input_unreachable_server_names_host_and_port() {
    let p = Project::new();
    p.migration(
        1,
        "one",
        "CREATE TABLE one (id int);\n",
        "DROP TABLE one;\n",
    )
    .seal();
    for args in [
        &["upgrade"][..],
        &["current"],
        &["check"],
        &["downgrade", "base"],
    ] {
        let run = p.keel(Some("postgresql://u@127.0.0.1:1/db"), args);
        run.assert_code(1).assert_stderr_has("127.0.0.1");
        assert!(
            run.stderr.contains("port=1") || run.stderr.contains("127.0.0.1:1"),
            "names the port\n{run}"
        );
        assert!(run.stderr.contains("error"), "{run}");
    }
}

#[test]
fn bad_input_password_never_appears_in_any_output() {
    const SECRET: &str = "Sup3rSecret";
    let p = Project::new();
    p.migration(
        1,
        "one",
        "CREATE TABLE one (id int);\n",
        "DROP TABLE one;\n",
    )
    .seal();
    let urls = [
        "postgresql://u:Sup3rSecret@127.0.0.1:1/db".to_string(),
        "postgresql://u:Sup3rSecret@127.0.0.1:1/db?sslmode=verify-full".to_string(),
        "postgresql://u:Sup3rSecret@127.0.0.1:1/db?bogus_option=1".to_string(),
        "host=127.0.0.1 port=1 user=u password=Sup3rSecret dbname=db".to_string(),
    ];
    let commands: [&[&str]; 9] = [
        &["upgrade"],
        &["upgrade", "--sql"],
        &["downgrade", "base"],
        &["current"],
        &["history", "--verbose"],
        &["check"],
        &["stamp", "head"],
        &["repair", "1"],
        &["seal"],
    ];
    for url in &urls {
        for args in commands {
            let run = p.keel(Some(url), args);
            run.assert_no_panic();
            assert!(!run.all().contains(SECRET), "password leaked\n{run}");
        }
        // The same through DATABASE_URL.
        let mut cmd = assert_cmd::Command::from_std(p.command(None, &["upgrade"]));
        let out = cmd
            .env("DATABASE_URL", url)
            .timeout(common::KEEL_TIMEOUT)
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(SECRET), "password leaked: {all}");
        assert_ne!(out.status.code(), Some(0), "{all}");
    }
}

#[test]
fn bad_input_no_database_configured_is_a_usage_error() {
    let p = Project::new();
    p.migration(
        1,
        "one",
        "CREATE TABLE one (id int);\n",
        "DROP TABLE one;\n",
    )
    .seal();
    for args in [
        &["upgrade"][..],
        &["downgrade", "base"],
        &["current"],
        &["check"],
        &["stamp", "head"],
        &["repair", "1"],
    ] {
        let run = p.keel(None, args);
        run.assert_code(2).assert_stderr_has("error:");
        assert!(
            run.stderr.contains("no database"),
            "says what is missing\n{run}"
        );
    }
}

/// A URL that was given but cannot be used is a configuration error (exit 2) for every command
/// that reads the database, never silently treated as "no database": `history` must not claim
/// nothing is configured, and `upgrade --sql` must not print a plan from base for a database it
/// never looked at.
#[test]
fn bad_input_malformed_database_url_is_a_configuration_error() {
    let p = Project::new();
    p.migration(
        1,
        "one",
        "CREATE TABLE one (id int);\n",
        "DROP TABLE one;\n",
    )
    .seal();
    for url in [
        "postgresql://u@127.0.0.1:1/db?sslmode=bogus",
        "postgresql://u@127.0.0.1:notaport/db",
    ] {
        for args in [
            &["upgrade"][..],
            &["downgrade", "base"],
            &["current"],
            &["check"],
            &["stamp", "head"],
            &["history"],
            &["upgrade", "--sql"],
        ] {
            let run = p.keel(Some(url), args);
            run.assert_code(2).assert_stderr_has("error:");
            assert!(
                !run.all().contains("no database configured"),
                "a URL was configured\n{run}"
            );
        }
    }
}

/// Adds a row from a "future" keel to refinery's table, in refinery's own format.
fn add_future_history_row(c: &mut postgres::Client, applied_on: &str) {
    c.execute(
        "INSERT INTO keel.schema_history (version, name, applied_on, checksum)
         VALUES (999, 'from_the_future', $1, '1234567890')",
        &[&applied_on],
    )
    .unwrap();
}

fn history_snapshot(c: &mut postgres::Client) -> Vec<String> {
    let mut out: Vec<String> = c
        .query(
            "SELECT format('%s %s %s %s', version, name, applied_on, checksum)
             FROM keel.schema_history ORDER BY version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    out.extend(
        c.query(
            "SELECT format('v %s %s %s', version, up_checksum, dirty) FROM keel.versions ORDER BY version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0)),
    );
    out.extend(
        c.query(
            "SELECT format('e %s %s', id, command) FROM keel.events ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0)),
    );
    out
}

/// A login role for `db` named after it (`<db>_<suffix>`), set up by `grants` (`{role}` and
/// `{db}` replaced), and the database's URL as that role, with a project of one migration.
fn as_role(db: &TestDb, suffix: &str, grants: &str) -> (String, String, Project) {
    let role = format!("{}_{suffix}", db.name());
    db.connect()
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN; {}",
            grants.replace("{role}", &role).replace("{db}", db.name())
        ))
        .unwrap();
    let url = db.url().replace("user=postgres", &format!("user={role}"));
    assert_ne!(url, db.url());
    let p = Project::new();
    p.migration(
        1,
        "one",
        "CREATE TABLE one (id int);\n",
        "DROP TABLE one;\n",
    )
    .seal();
    (role, url, p)
}

/// A role that is neither superuser nor allowed to read every setting takes the run lock over
/// a Unix socket: keel cannot read `unix_socket_directories` then, so it proves the connection
/// direct another way instead of failing.
#[test]
fn an_ordinary_role_takes_the_lock_over_a_unix_socket() {
    let db = fresh_db();
    let (_, url, p) = as_role(
        &db,
        "app",
        "GRANT CREATE ON DATABASE {db} TO {role}; GRANT CREATE ON SCHEMA public TO {role};",
    );
    assert!(url.contains("host=%2F") || url.contains("host=/"), "{url}");
    let run = p.keel(Some(&url), &["upgrade"]);
    run.assert_code(0);
    assert_eq!(versions(&mut db.connect()), vec!["1".to_string()], "{run}");
}

/// A DBA made the history schema for keel's role, which may not create schemas in the
/// database: keel creates its tables inside and never asks for `CREATE SCHEMA` (which needs
/// CREATE on the database even when the schema exists).
#[test]
fn a_history_schema_made_by_a_dba_needs_no_create_on_the_database() {
    let db = fresh_db();
    let (role, url, p) = as_role(
        &db,
        "owner",
        "REVOKE CREATE ON DATABASE {db} FROM PUBLIC; CREATE SCHEMA keel AUTHORIZATION {role};
         GRANT CREATE ON SCHEMA public TO {role};",
    );
    let run = p.keel(Some(&url), &["upgrade"]);
    run.assert_code(0);
    let mut admin = db.connect();
    let owner: String = admin
        .query_one(
            "SELECT tableowner::text FROM pg_tables WHERE schemaname = 'keel' AND tablename = 'versions'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(owner, role, "{run}");
    assert_eq!(versions(&mut admin), vec!["1".to_string()], "{run}");
    // A second run finds the schema current in one query and has nothing to do.
    p.keel(Some(&url), &["upgrade"])
        .assert_code(0)
        .assert_stderr_has("nothing to do");
}

#[test]
fn bad_input_history_schema_from_a_newer_keel_is_refused_and_left_alone() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = applied_once(&db);
    let mut c = db.connect();
    add_future_history_row(&mut c, "2031-01-02T03:04:05.123456789Z");
    let before = history_snapshot(&mut c);
    for args in [
        &["upgrade"][..],
        &["downgrade", "base"],
        &["stamp", "head"],
        &["repair", "1"],
    ] {
        let run = p.keel(url, args);
        run.assert_code(1);
        assert!(
            run.stderr.to_lowercase().contains("newer"),
            "says the history comes from a newer keel\n{run}"
        );
        assert_eq!(history_snapshot(&mut c), before, "{run}");
        assert!(!relation_exists(&mut c, "two"), "{run}");
        assert!(relation_exists(&mut c, "one"), "{run}");
    }
}

/// Same, with `applied_on` in a format refinery 0.10 cannot parse (a newer keel, or a hand
/// edit, may write `now()::text`): still a clear refusal, never a panic.
#[test]
fn bad_input_newer_history_with_an_unparsable_timestamp_does_not_panic() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = applied_once(&db);
    let mut c = db.connect();
    add_future_history_row(&mut c, "2031-01-02 03:04:05.123456+00");
    let before = history_snapshot(&mut c);
    let run = p.keel(url, &["upgrade"]);
    run.assert_code(1);
    assert_eq!(history_snapshot(&mut c), before, "{run}");
    assert!(!relation_exists(&mut c, "two"), "{run}");
}

// 8. ------------------------------------------------------------------------------------------

#[test]
fn upgrade_sql_prints_the_run_and_touches_nothing() {
    let db = fresh_db();
    let p = Project::new();
    p.migration(
        1,
        "users",
        "CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL);\n",
        "DROP TABLE users;\n",
    )
    .migration(
        2,
        "users_email",
        "CREATE UNIQUE INDEX users_email ON users (email);\n",
        "DROP INDEX users_email;\n",
    )
    .seal();
    let run = p.keel(Some(db.url()), &["upgrade", "--sql"]);
    run.assert_code(0);
    let out = &run.stdout;
    let pos = |needle: &str| {
        out.find(needle)
            .unwrap_or_else(|| panic!("stdout should contain {needle:?}\n{run}"))
    };
    let begin = pos("BEGIN;");
    let create = pos("CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL);");
    let insert1 = pos("INSERT INTO keel.versions");
    let index = pos("CREATE UNIQUE INDEX users_email ON users (email);");
    let commit = out.rfind("COMMIT;").expect("COMMIT;");
    assert!(
        begin < create && create < insert1 && insert1 < index && index < commit,
        "{run}"
    );
    assert_eq!(
        out.matches("INSERT INTO keel.versions").count(),
        2,
        "one history row per migration\n{run}"
    );

    let mut c = db.connect();
    assert!(
        !schema_exists(&mut c, "keel"),
        "no keel schema created\n{run}"
    );
    assert!(!relation_exists(&mut c, "users"));
    let tables: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 0, "nothing created");

    // Without any database, the same SQL (from base).
    let offline = p.keel(None, &["upgrade", "--sql"]);
    offline.assert_code(0);
    assert_eq!(offline.stdout, run.stdout);
}

// 9. ------------------------------------------------------------------------------------------

#[test]
fn statements_sqlparser_cannot_parse_do_not_block_upgrade() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = Project::new();
    p.migration(
        1,
        "deferrable",
        "CREATE TABLE parent (id int PRIMARY KEY);\n\
         CREATE TABLE child (a int, b int, CONSTRAINT child_a_fk FOREIGN KEY (a) REFERENCES parent (id));\n\
         ALTER TABLE child ALTER CONSTRAINT child_a_fk DEFERRABLE;\n\
         CREATE STATISTICS child_ab (dependencies) ON a, b FROM child;\n",
        "DROP TABLE child;\nDROP TABLE parent;\n",
    )
    .seal();
    let text = p.read_up(1, "deferrable");
    let rel = Project::up_rel(1, "deferrable");

    // Offline, both are reported as unvalidated warnings (not errors).
    let offline = p.keel(None, &["check", "--offline"]);
    offline.assert_code(0);
    assert_eq!(
        offline.all().matches("unvalidated").count(),
        2,
        "both statements are unvalidated\n{offline}"
    );
    for needle in ["ALTER TABLE child ALTER CONSTRAINT", "CREATE STATISTICS"] {
        let (line, _) = line_col(&text, needle);
        offline.assert_output_has(&format!("{rel}:{line}:"));
    }

    // Online, PostgreSQL's parser validates them.
    let online = p.keel(url, &["check"]);
    online.assert_code(0).assert_output_has("2 by PostgreSQL");
    assert!(!online.all().contains("unvalidated"), "{online}");

    p.keel(url, &["upgrade"]).assert_code(0);
    let mut c = db.connect();
    assert_eq!(versions(&mut c), numbers(1..=1));
    let deferrable: bool = c
        .query_one(
            "SELECT condeferrable FROM pg_constraint WHERE conname = 'child_a_fk'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(deferrable);
    let stats: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_statistic_ext WHERE stxname = 'child_ab'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(stats, 1);
}

#[test]
fn syntax_error_only_postgres_can_judge_stops_upgrade_before_anything_runs() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = Project::new();
    p.migration(
        1,
        "marker",
        "CREATE SEQUENCE marker;\n",
        "DROP SEQUENCE marker;\n",
    )
    .seal();
    p.keel(url, &["upgrade"]).assert_code(0);
    // nextval() is not transactional: had the first statement run, the sequence would show
    // it even after a rollback.
    p.migration(
        2,
        "bad",
        "SELECT nextval('marker');\nCREATE TABLE before_the_error (x int);\nCREATE TABLE t2 (a int,, b int);\n",
        "DROP TABLE t2;\n",
    )
    .seal();
    let text = p.read_up(2, "bad");
    let (line, col) = line_col(&text, ",,");
    let rel = Project::up_rel(2, "bad");

    // Offline, sqlparser cannot judge it: a warning, not an error.
    let offline = p.keel(None, &["check", "--offline"]);
    offline.assert_code(0).assert_output_has("unvalidated");

    let run = p.keel(url, &["upgrade"]);
    run.assert_code(1)
        .assert_stderr_has("syntax error")
        .assert_stderr_has(&format!("{rel}:{line}:{}", col + 1));
    let mut c = db.connect();
    assert_eq!(versions(&mut c), numbers(1..=1));
    assert!(!relation_exists(&mut c, "before_the_error"));
    assert!(!relation_exists(&mut c, "t2"));
    let called: bool = c
        .query_one("SELECT is_called FROM marker", &[])
        .unwrap()
        .get(0);
    assert!(!called, "the statements before the error never ran");

    // check online reports the same syntax error.
    let check = p.keel(url, &["check"]);
    check
        .assert_code(1)
        .assert_stderr_has("syntax error")
        .assert_stderr_has(&format!("{rel}:{line}:{}", col + 1));
}

/// Versions compare as numbers everywhere, also past 9: `current`, a no-op
/// `upgrade` (which reconciles policies at the newest version) and
/// `downgrade -1` all see 12 as newer than 9.
#[test]
fn versions_past_nine_are_ordered_as_numbers() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = Project::new();
    for v in 1..=12u32 {
        p.migration(
            v,
            &format!("t{v}"),
            &format!("CREATE TABLE t{v} (id int);\n"),
            &format!("DROP TABLE t{v};\n"),
        );
    }
    std::fs::create_dir_all(p.root().join("sql/policies")).unwrap();
    std::fs::write(
        p.root().join("sql/policies/t12.sql"),
        "-- keel:requires 12\nALTER TABLE t12 ENABLE ROW LEVEL SECURITY;\n\
         CREATE POLICY t12_read ON t12 FOR SELECT TO public USING (id > 0);\n",
    )
    .unwrap();
    p.seal();
    let mut c = db.connect();
    let policies = |c: &mut postgres::Client| -> i64 {
        c.query_one(
            "SELECT count(*) FROM pg_policies WHERE tablename = 't12'",
            &[],
        )
        .unwrap()
        .get(0)
    };
    p.keel(url, &["upgrade"]).assert_code(0);
    assert_eq!(policies(&mut c), 1);
    // The no-op run reconciles at 12, not at 9: the policy stays.
    p.keel(url, &["upgrade"]).assert_code(0);
    assert_eq!(policies(&mut c), 1);
    p.keel(url, &["current"])
        .assert_code(0)
        .assert_stdout_has("0012_t12 (head)");
    p.keel(url, &["downgrade", "-1"]).assert_code(0);
    assert_eq!(versions(&mut c), numbers(1..=11));
}

/// Progress: a line per migration with its duration and a summary; nothing
/// with `--quiet`; JSON lines with `--format json`, the last the summary.
#[test]
fn progress_lines_quiet_and_json() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = Project::new();
    for v in 1..=5u32 {
        p.migration(
            v,
            &format!("p{v}"),
            &format!("CREATE TABLE p{v} (id int);\n"),
            &format!("DROP TABLE p{v};\n"),
        );
    }
    p.seal();
    let run = p.keel(url, &["upgrade"]);
    run.assert_code(0);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("  applied "))
        .collect();
    assert_eq!(lines.len(), 5, "{run}");
    assert!(
        lines
            .iter()
            .all(|l| l.ends_with(" ms") || l.ends_with(" s")),
        "{run}"
    );
    assert!(
        run.stderr
            .contains("upgraded base → 0005: 5 migrations in "),
        "{run}"
    );

    p.keel(url, &["downgrade", "base"]).assert_code(0);
    let quiet = p.keel(url, &["--quiet", "upgrade"]);
    quiet.assert_code(0);
    assert!(
        quiet.stdout.is_empty() && quiet.stderr.is_empty(),
        "{quiet}"
    );

    p.keel(url, &["downgrade", "base"]).assert_code(0);
    let json = p.keel(url, &["--format", "json", "upgrade"]);
    json.assert_code(0);
    let events: Vec<serde_json::Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(events.len(), 6, "{json}");
    assert!(events[..5].iter().all(|e| e["event"] == "applied"));
    assert_eq!(events[5]["event"], "summary");
    assert_eq!(events[5]["steps"], 5);
}

/// In JSON, a failed run says what failed and where, on its own line before the `error`
/// document: the statement's file, line, SQLSTATE and message, or the file's syntax error.
#[test]
fn a_failed_run_in_json_names_the_statement_and_the_file() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = Project::new();
    p.migration(
        1,
        "bad_insert",
        "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1),\n (nosuchcol);\n",
        "DROP TABLE t;\n",
    )
    .seal();
    let lines = |run: &Run| -> Vec<serde_json::Value> {
        run.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}\n{run}")))
            .collect()
    };
    let run = p.keel(url, &["--format", "json", "upgrade"]);
    run.assert_code(1);
    let events = lines(&run);
    let failed = events
        .iter()
        .find(|e| e["event"] == "diagnostic")
        .unwrap_or_else(|| panic!("no diagnostic line: {run}"));
    assert_eq!(failed["code"], "statement-failed", "{run}");
    assert_eq!(failed["path"], "sql/up/0001_bad_insert.sql", "{run}");
    assert_eq!(failed["line"], 4, "{run}");
    assert!(
        failed["message"].as_str().unwrap().contains("42703"),
        "{run}"
    );
    assert!(events.last().unwrap()["error"].is_string(), "{run}");

    std::fs::write(p.up_path(1, "bad_insert"), "SELEC 1;\n").unwrap();
    p.seal();
    let run = p.keel(url, &["--format", "json", "upgrade"]);
    run.assert_code(1);
    let events = lines(&run);
    assert!(
        events.iter().any(|e| e["event"] == "diagnostic"
            && e["severity"] == "error"
            && e["path"] == "sql/up/0001_bad_insert.sql"
            && e["line"] == 2),
        "{run}"
    );
}

/// A failed `CREATE INDEX CONCURRENTLY` leaves an INVALID index; `check`
/// names it with the statement that removes it.
#[test]
fn check_reports_an_invalid_index_left_by_a_failed_concurrent_build() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = Project::new();
    p.migration(
        1,
        "dupes",
        "CREATE TABLE dupes (a int);\nINSERT INTO dupes VALUES (1), (1);\n",
        "DROP TABLE dupes;\n",
    );
    p.migration(
        2,
        "unique_a",
        "-- keel:transaction off\nCREATE UNIQUE INDEX CONCURRENTLY dupes_a ON dupes (a);\n",
        "-- keel:transaction off\nDROP INDEX CONCURRENTLY dupes_a;\n",
    );
    p.seal();
    p.keel(url, &["upgrade"])
        .assert_code(1)
        .assert_stderr_has("23505");
    p.keel(url, &["check"])
        .assert_code(1)
        .assert_stderr_has("invalid-index")
        .assert_stderr_has("DROP INDEX CONCURRENTLY public.dupes_a;")
        .assert_stderr_has("dirty");
}

// The no-op summary ---------------------------------------------------------------------------

/// A database upgraded to versions 1, 2 and 10 (each a table), and their project.
fn upgraded_to_1_2_10() -> (TestDb, Project) {
    let db = fresh_db();
    let p = Project::new();
    for (v, name) in [(1, "a"), (2, "b"), (10, "c")] {
        p.migration(
            v,
            name,
            &format!("CREATE TABLE t{v} (id int);\n"),
            &format!("DROP TABLE t{v};\n"),
        );
    }
    p.seal();
    p.keel(Some(db.url()), &["upgrade"]).assert_code(0);
    (db, p)
}

/// `upgrade` at head trusts one summary row (count and sum of version hashes) kept by triggers:
/// it must agree with the same digest computed from the files, follow any writer (a DBA's
/// DELETE or TRUNCATE), and be computed from the rows when the table is missing.
#[test]
fn the_no_op_summary_follows_every_writer_and_matches_the_files() {
    use keel::db::history::{summary, version_hash, versions_digest};
    use keel::project::Version;
    let (db, p) = upgraded_to_1_2_10();
    let url = Some(db.url());
    let mut c = db.connect();
    let digest = |c: &mut postgres::Client| summary(c, "keel", true).unwrap().unwrap().digest;
    let on_disk = |vs: &[&str]| {
        let vs: Vec<Version> = vs.iter().map(|s| Version::parse(s).unwrap()).collect();
        versions_digest(vs.iter())
    };
    assert_eq!(digest(&mut c), on_disk(&["1", "2", "10"]));
    p.keel(url, &["upgrade"])
        .assert_code(0)
        .assert_stderr_has("nothing to do");

    // The SQL hash is the Rust hash, up to the widest version.
    let widest = "99999999999999999999";
    let sql_hash: i64 = c
        .query_one(&format!("SELECT keel.version_hash({widest})"), &[])
        .unwrap()
        .get(0);
    assert_eq!(
        sql_hash as u64,
        version_hash(&Version::parse(widest).unwrap())
    );

    // Read without the summary table (a history written by an older keel): the same digest.
    let mut tx = c.transaction().unwrap();
    tx.batch_execute("DROP TABLE keel.summary CASCADE").unwrap();
    assert_eq!(
        summary(&mut tx, "keel", false).unwrap().unwrap().digest,
        on_disk(&["1", "2", "10"])
    );
    tx.rollback().unwrap();

    // A row deleted by hand: the summary follows, and `upgrade` runs version 10 again (and
    // fails, since its table is still there) instead of reporting nothing to do.
    c.batch_execute("DELETE FROM keel.versions WHERE version = 10")
        .unwrap();
    assert_eq!(digest(&mut c), on_disk(&["1", "2"]));
    p.keel(url, &["upgrade"])
        .assert_code(1)
        .assert_stderr_has("already exists");

    c.batch_execute("TRUNCATE keel.versions").unwrap();
    assert_eq!(digest(&mut c), on_disk(&[]));
    assert_eq!(on_disk(&[]), "0:0");
}

/// A status of many databases trusts the summary's digest of versions and checksums when it
/// describes exactly the first versions on disk. The SQL hash must be the Rust hash (also for a
/// hand-edited text that is not ASCII), follow every writer and dirty flag, and be filled in for
/// a history written before the summary kept it.
#[test]
fn the_checksum_digest_follows_every_writer_and_is_filled_in_for_an_older_history() {
    use keel::db::history::{checksum_digest, checksums_hash, ChecksumDigest};
    use keel::project::Version;
    let (db, p) = upgraded_to_1_2_10();
    let url = Some(db.url());
    let mut c = db.connect();
    // The digest the rows give, worked out in Rust.
    let from_rows = |c: &mut postgres::Client| {
        let rows = c
            .query(
                "SELECT version::text, up_checksum, down_checksum, dirty FROM keel.versions",
                &[],
            )
            .unwrap();
        let (mut versions, mut checksums) = (0u128, 0u128);
        for r in &rows {
            let v = Version::parse(r.get(0)).unwrap();
            versions += u128::from(keel::db::history::version_hash(&v));
            checksums += u128::from(checksums_hash(&v, r.get(1), r.get(2)));
        }
        ChecksumDigest {
            applied: rows.len(),
            versions: format!("{}:{versions}", rows.len()),
            checksums: checksums.to_string(),
            dirty: rows.iter().filter(|r| r.get::<_, bool>(3)).count() as u64,
        }
    };
    let digest = |c: &mut postgres::Client| checksum_digest(c, "keel").unwrap().unwrap();
    assert_eq!(digest(&mut c), from_rows(&mut c));
    assert_eq!(digest(&mut c).applied, 3);

    // Every writer: a hand edit (not ASCII, and a text whose split between up and down would
    // otherwise be ambiguous), a dirty flag, a delete.
    c.batch_execute(
        "UPDATE keel.versions SET up_checksum = 'sha256:é☃', down_checksum = '' WHERE version = 1;
         UPDATE keel.versions SET up_checksum = 'sha256:é', down_checksum = '☃' WHERE version = 2;
         UPDATE keel.versions SET dirty = true WHERE version = 10",
    )
    .unwrap();
    let edited = digest(&mut c);
    assert_eq!(edited, from_rows(&mut c));
    assert_eq!(edited.dirty, 1);
    c.batch_execute("DELETE FROM keel.versions WHERE version = 2")
        .unwrap();
    assert_eq!(digest(&mut c), from_rows(&mut c));

    // A history from before the digest (its summary kept by a function that knows only the
    // count and the versions' hashes): without its columns the digest is not there, and a
    // status reads the rows...
    c.batch_execute(
        "CREATE OR REPLACE FUNCTION keel.keep_summary() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             UPDATE keel.summary SET applied = (SELECT count(*) FROM keel.versions),
                 hash_sum = (SELECT coalesce(sum(keel.version_hash(version)), 0) FROM keel.versions);
             RETURN NULL;
         END $$;
         ALTER TABLE keel.summary DROP COLUMN checksum_sum, DROP COLUMN dirty;
         DROP FUNCTION keel.checksums_hash(numeric, text, text);
         DELETE FROM keel.schema_history WHERE version = 4;
         UPDATE keel.versions SET dirty = false WHERE version = 10;
         INSERT INTO keel.versions (version, name, up_checksum, down_checksum, up_sql, down_sql,
                                    keel_version, dirty)
             SELECT 7, 'by_hand', 'sha256:x', 'sha256:y', '', '', '0', true;",
    )
    .unwrap();
    assert_eq!(checksum_digest(&mut c, "keel").unwrap(), None);
    // ... and the next locked run fills it in from the rows.
    p.keel(url, &["upgrade"]).assert_code(1);
    let filled = digest(&mut c);
    assert_eq!(filled, from_rows(&mut c));
    assert_eq!((filled.applied, filled.dirty), (3, 1));
    c.batch_execute("TRUNCATE keel.versions").unwrap();
    assert_eq!(
        digest(&mut c),
        ChecksumDigest {
            applied: 0,
            versions: "0:0".to_string(),
            checksums: "0".to_string(),
            dirty: 0
        }
    );
}

/// A no-op `upgrade` remembers the listing of folders that have settled, and forgets it as
/// soon as an entry is added.
#[test]
fn a_settled_listing_is_remembered_until_an_entry_changes() {
    let db = fresh_db();
    let url = Some(db.url());
    let p = alembic_project();
    let mut c = db.connect();
    let cache = p.root().join(".cache-home/keel/listings");
    let cached = || -> Vec<std::path::PathBuf> {
        fs::read_dir(&cache)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default()
    };
    p.keel(url, &["upgrade"]).assert_code(0);
    // Folders changed a moment ago are not remembered: a change in the same clock tick as the
    // listing could hide behind an unchanged time stamp.
    p.keel(url, &["upgrade"])
        .assert_code(0)
        .assert_stderr_has("nothing to do");
    assert!(cached().is_empty(), "{:?}", cached());
    std::thread::sleep(Duration::from_millis(2100));
    p.keel(url, &["upgrade"])
        .assert_code(0)
        .assert_stderr_has("nothing to do: the database is at 0003");
    let files = cached();
    assert_eq!(files.len(), 1, "{files:?}");
    // The next run reads the cache: shown by a head edited in it.
    let text = fs::read_to_string(&files[0]).unwrap();
    assert!(text.ends_with("\n0003\n"), "{text}");
    fs::write(&files[0], text.replace("\n0003\n", "\n03\n")).unwrap();
    p.keel(url, &["upgrade"])
        .assert_code(0)
        .assert_stderr_has("nothing to do: the database is at 03");
    // A new pair changes both folders: the cache no longer applies and the version runs.
    p.migration(
        4,
        "add_note",
        "ALTER TABLE account ADD COLUMN note text;\n",
        "ALTER TABLE account DROP COLUMN note;\n",
    )
    .seal();
    p.keel(url, &["upgrade"]).assert_code(0);
    assert_eq!(versions(&mut c), numbers(1..=4));
}

/// On a direct connection the run lock is held by the very session that runs the migrations
/// (keel checks this in a second transaction, and refuses when a transaction-pooling proxy
/// moves it to another server session).
#[test]
fn the_run_lock_is_held_by_the_session_running_the_migrations() {
    let db = fresh_db();
    let p = Project::new();
    p.migration(1, "wait", "SELECT pg_sleep(2);\n", "SELECT 1;\n")
        .seal();
    let mut run = p.spawn(Some(db.url()), &["upgrade"], "upgrade");
    let mut c = db.connect();
    let key = keel::db::lock::key("keel");
    let (hi, lo) = (i64::from((key >> 32) as u32), i64::from(key as u32));
    let mut same = None;
    wait_until("the migration runs", Duration::from_secs(30), || {
        same = c
            .query_opt(
                "SELECT a.pid = l.pid FROM pg_stat_activity a, pg_locks l
                 WHERE a.query LIKE 'SELECT pg_sleep(2)%' AND a.datname = current_database()
                   AND l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                   AND l.classid::bigint = $1 AND l.objid::bigint = $2
                   AND l.database = (SELECT oid FROM pg_database
                                     WHERE datname = current_database())",
                &[&hi, &lo],
            )
            .unwrap()
            .map(|r| r.get::<_, bool>(0));
        same.is_some()
    });
    assert_eq!(
        same,
        Some(true),
        "the lock holder is the migration's session"
    );
    let out = run
        .wait_timeout(common::KEEL_TIMEOUT)
        .expect("keel finishes");
    out.assert_code(0);
    assert!(!out.all().contains("transaction-pooling"), "{out}");
}
