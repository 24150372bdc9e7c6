//! A migration never stalls a live database for long: each transaction waits at most
//! `ddl_lock_timeout` for a table lock, then is rolled back and retried after a pause, naming
//! the session that held the lock; the application's queries queue behind keel only that long.
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests query and print freely

mod common;

#[path = "fixtures/runner/support.rs"]
mod support;

use std::thread::sleep;
use std::time::{Duration, Instant};

use common::{fresh_db, TestDb};
use support::{relation_exists, versions, wait_until, Project};

/// A session that read `table` in a transaction it keeps open: it holds an ACCESS SHARE lock
/// that every `ALTER TABLE` must wait for.
fn hold_read_lock(db: &TestDb, table: &str, application: &str) -> (postgres::Client, i32) {
    let mut c = db.connect();
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    c.batch_execute(&format!("SET application_name = '{application}'"))
        .unwrap();
    c.batch_execute(&format!("BEGIN; SELECT count(*) FROM {table}"))
        .unwrap();
    (c, pid)
}

fn retry_events(db: &TestDb) -> Vec<String> {
    db.connect()
        .query(
            "SELECT coalesce(detail, '') FROM keel.events WHERE outcome = 'retry' ORDER BY id",
            &[],
        )
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .unwrap_or_default()
}

#[test]
fn a_blocked_migration_names_the_blocker_retries_and_never_stalls_the_application() {
    let db = fresh_db();
    db.connect()
        .batch_execute("CREATE TABLE items (id int); INSERT INTO items VALUES (1), (2)")
        .unwrap();
    let p = Project::new();
    p.migration(
        1,
        "note",
        "ALTER TABLE items ADD COLUMN note text;\n",
        "ALTER TABLE items DROP COLUMN note;\n",
    );
    p.seal();

    let (mut blocker, blocker_pid) = hold_read_lock(&db, "items", "blocker-app");
    let mut keel = p.spawn(
        Some(db.url()),
        &["upgrade", "--ddl-lock-timeout", "1s"],
        "keel",
    );

    // keel's ALTER waits in the lock queue now; a query of the application queues behind it,
    // but only until keel gives up on the lock (1 s), not until the blocker ends.
    sleep(Duration::from_millis(300));
    let started = Instant::now();
    let n: i64 = db
        .connect()
        .query_one("SELECT count(*) FROM items", &[])
        .unwrap()
        .get(0);
    let stalled = started.elapsed();
    eprintln!("the application's SELECT waited {stalled:?} behind keel");
    assert_eq!(n, 2);
    assert!(
        stalled < Duration::from_secs(2),
        "the SELECT waited {stalled:?}: more than the lock timeout plus one second"
    );

    wait_until("keel has retried once", Duration::from_secs(20), || {
        !retry_events(&db).is_empty()
    });
    blocker.batch_execute("COMMIT").unwrap();
    let run = keel
        .wait_timeout(Duration::from_secs(60))
        .expect("keel finishes once the blocker is gone");
    run.assert_code(0)
        .assert_stderr_has("warning: ERROR 55P03: canceling statement due to lock timeout at sql/up/0001_note.sql:2:1; ")
        .assert_stderr_has(&format!(
            "blocked by pid {blocker_pid} (user postgres, application blocker-app, idle in transaction since "
        ))
        .assert_stderr_has("holding items (AccessShareLock)): BEGIN; SELECT count(*) FROM items")
        .assert_stderr_has("attempt 1 of 6 failed, retrying in ");
    let mut c = db.connect();
    assert_eq!(versions(&mut c), ["1"]);
    let note_exists: bool = c
        .query_one(
            "SELECT EXISTS (SELECT FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'note')",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(note_exists);
    // Every retry is one event.
    let events = retry_events(&db);
    assert!(!events.is_empty());
    assert!(
        events[0].contains(&format!("blocked by pid {blocker_pid}")),
        "{events:?}"
    );
    let retries_said = run.stderr.matches("retrying in").count();
    assert_eq!(events.len(), retries_said, "{events:?}\n{run}");
}

#[test]
fn a_blocker_that_never_ends_leaves_nothing_applied_after_the_last_attempt() {
    let db = fresh_db();
    db.connect()
        .batch_execute("CREATE TABLE items (id int)")
        .unwrap();
    let p = Project::new();
    p.migration(
        1,
        "new_table",
        "CREATE TABLE fresh (id int);\n",
        "DROP TABLE fresh;\n",
    );
    p.migration(
        2,
        "note",
        "ALTER TABLE items ADD COLUMN note text;\n",
        "ALTER TABLE items DROP COLUMN note;\n",
    );
    p.seal();
    let (_blocker, blocker_pid) = hold_read_lock(&db, "items", "never-ends");

    let started = Instant::now();
    let run = p.keel(
        Some(db.url()),
        &[
            "upgrade",
            "--ddl-lock-timeout",
            "300ms",
            "--ddl-lock-retries",
            "2",
        ],
    );
    eprintln!("gave up after {:?}", started.elapsed());
    run.assert_code(1)
        .assert_stderr_has("attempt 1 of 3 failed")
        .assert_stderr_has("attempt 2 of 3 failed")
        .assert_stderr_has(&format!(
            "blocked by pid {blocker_pid} (user postgres, application never-ends"
        ))
        .assert_stderr_has("(3 attempts)")
        .assert_stderr_has("nothing was applied");
    let mut c = db.connect();
    assert!(versions(&mut c).is_empty());
    assert!(!relation_exists(&mut c, "fresh"), "nothing was applied");
    assert_eq!(retry_events(&db).len(), 2);
    let failed: i64 = c
        .query_one(
            "SELECT count(*) FROM keel.events WHERE outcome = 'failed'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(failed, 1);
}

/// Two projects (their own history schemas, so their runs do not take turns) whose migrations
/// lock two tables in opposite orders: PostgreSQL breaks the deadlock by failing one, which
/// is retried once the other committed. Both end at head with all four columns.
#[test]
fn a_deadlock_between_two_runs_is_retried_and_both_finish() {
    let db = fresh_db();
    db.connect()
        .batch_execute("CREATE TABLE a (id int); CREATE TABLE b (id int)")
        .unwrap();
    let project = |schema: &str, first: &str, second: &str, col: &str| {
        let p = Project::new();
        std::fs::write(
            p.root().join("keel.toml"),
            format!("history_schema = \"{schema}\"\nddl_lock_timeout = \"20s\"\n"),
        )
        .unwrap();
        p.migration(
            1,
            "cross",
            &format!(
                "ALTER TABLE {first} ADD COLUMN {col} int;\nSELECT pg_sleep(1.5);\nALTER TABLE {second} ADD COLUMN {col} int;\n"
            ),
            &format!("ALTER TABLE {first} DROP COLUMN {col};\nALTER TABLE {second} DROP COLUMN {col};\n"),
        );
        p.seal();
        p
    };
    let one = project("keel_one", "a", "b", "x");
    let two = project("keel_two", "b", "a", "y");
    let mut runs = [
        one.spawn(Some(db.url()), &["upgrade"], "one"),
        two.spawn(Some(db.url()), &["upgrade"], "two"),
    ];
    let done: Vec<_> = runs
        .iter_mut()
        .map(|r| r.wait_timeout(Duration::from_secs(60)).expect("finished"))
        .collect();
    for run in &done {
        run.assert_code(0);
    }
    let retried: Vec<_> = done
        .iter()
        .filter(|r| r.stderr.contains("ERROR 40P01: deadlock detected"))
        .collect();
    assert_eq!(
        retried.len(),
        1,
        "exactly one run lost the deadlock: {done:?}"
    );
    let mut c = db.connect();
    let columns: i64 = c
        .query_one(
            "SELECT count(*) FROM information_schema.columns
              WHERE table_name IN ('a', 'b') AND column_name IN ('x', 'y')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(columns, 4);
    for schema in ["keel_one", "keel_two"] {
        let n: i64 = c
            .query_one(&format!("SELECT count(*) FROM {schema}.versions"), &[])
            .unwrap()
            .get(0);
        assert_eq!(n, 1, "{schema}");
    }
}

/// Outside a transaction, a statement that gave up on a lock did nothing and runs again; a
/// concurrent index build is not retried (it can leave an INVALID index), and says so.
#[test]
fn transaction_off_statements_are_retried_unless_they_build_an_index_concurrently() {
    let db = fresh_db();
    db.connect()
        .batch_execute("CREATE TABLE items (id int)")
        .unwrap();
    let p = Project::new();
    p.migration(
        1,
        "off",
        "-- keel:transaction off\nALTER TABLE items ADD COLUMN note text;\n",
        "-- keel:transaction off\nALTER TABLE items DROP COLUMN note;\n",
    );
    p.seal();
    let (mut blocker, _) = hold_read_lock(&db, "items", "short");
    let mut keel = p.spawn(
        Some(db.url()),
        &["upgrade", "--ddl-lock-timeout", "500ms"],
        "off",
    );
    wait_until("keel has retried once", Duration::from_secs(20), || {
        !retry_events(&db).is_empty()
    });
    blocker.batch_execute("COMMIT").unwrap();
    keel.wait_timeout(Duration::from_secs(60))
        .expect("finished")
        .assert_code(0)
        .assert_stderr_has("attempt 1 of 6 failed");
    assert_eq!(versions(&mut db.connect()), ["1"]);

    p.migration(
        2,
        "index",
        "-- keel:transaction off\nCREATE INDEX CONCURRENTLY items_note ON items (note);\n",
        "-- keel:transaction off\nDROP INDEX CONCURRENTLY items_note;\n",
    );
    p.seal();
    // A concurrent build waits for every transaction that could write to the table to end.
    let (mut writer, _) = hold_read_lock(&db, "items", "long");
    writer
        .batch_execute("INSERT INTO items (id) VALUES (1)")
        .unwrap();
    let run = p.keel(Some(db.url()), &["upgrade", "--ddl-lock-timeout", "500ms"]);
    run.assert_code(1).assert_stderr_has(
        "not retried: an interrupted concurrent index build can leave an INVALID index",
    );
    assert!(!run.stderr.contains("retrying in"), "{run}");
    eprintln!("{run}");
    // The build was interrupted after its catalog entry: `keel check` names the leftover.
    p.keel(Some(db.url()), &["check"])
        .assert_code(1)
        .assert_output_has("index public.items_note is INVALID")
        .assert_output_has("DROP INDEX CONCURRENTLY public.items_note;");
}
