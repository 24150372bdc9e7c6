//! A run that is stopped from outside (Ctrl-C, SIGTERM from a CI runner or an orchestrator,
//! SIGKILL, the OOM killer) must not leave its statement running on the server: a backend whose
//! client is gone keeps executing (PostgreSQL notices a closed connection only when it next
//! talks to it), holding the run lock and every table lock the migration took, for as long as the
//! statement lasts. Each test starts a migration that sleeps for ten minutes, stops keel while
//! the server runs it, and checks that the statement ends at once and nothing was applied.
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests query and print freely

mod common;

#[path = "fixtures/runner/support.rs"]
mod support;

use std::time::Duration;

use common::{fresh_db, server_major, TestDb};
use support::{relation_exists, versions, wait_until, Project, Spawned};

/// What the migrations sleep in: a statement that ends by itself only after ten minutes.
const SLEEP: &str = "SELECT pg_sleep(600)";

/// How long the server may take to end a statement whose run was stopped. The check runs
/// every second; the rest is slack for a loaded machine.
const ENDS_WITHIN: Duration = Duration::from_secs(20);

/// The pids of the sessions in `db` running `SLEEP`.
fn sleepers(db: &TestDb) -> Vec<i32> {
    db.connect()
        .query(
            "SELECT pid FROM pg_stat_activity
             WHERE datname = current_database() AND state = 'active' AND query = $1",
            &[&SLEEP],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// True when some session holds an advisory lock in `db` (keel's run lock is one).
fn advisory_lock_held(db: &TestDb) -> bool {
    db.connect()
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database
             WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database())",
            &[],
        )
        .unwrap()
        .get(0)
}

/// A project whose first migration creates a table and then sleeps.
fn sleeping_project() -> Project {
    let p = Project::new();
    p.migration(
        1,
        "create_then_sleep",
        &format!("CREATE TABLE stopped (id int);\n{SLEEP};\n"),
        "DROP TABLE stopped;\n",
    )
    .seal();
    p
}

/// Starts `keel upgrade` on `db` and waits until the server runs the sleep.
fn upgrade_until_sleeping(p: &Project, db: &TestDb, args: &[&str], label: &str) -> Spawned {
    let mut all = vec!["upgrade"];
    all.extend_from_slice(args);
    let mut run = p.spawn(Some(db.url()), &all, label);
    wait_until("the migration sleeps", Duration::from_secs(30), || {
        if let Ok(Some(status)) = run.child.try_wait() {
            panic!("keel ended before the sleep: {}", run.run(status.code()));
        }
        !sleepers(db).is_empty()
    });
    run
}

fn signal(child: &std::process::Child, sig: libc::c_int) {
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on our own child's pid; no memory involved.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig})");
}

/// Nothing of the stopped run remains: no statement, no lock, no table, no version.
fn nothing_applied(db: &TestDb) {
    assert!(sleepers(db).is_empty(), "the statement still runs");
    assert!(!advisory_lock_held(db), "the run lock is still held");
    let mut c = db.connect();
    assert!(!relation_exists(&mut c, "stopped"), "the table was kept");
    assert!(versions(&mut c).is_empty(), "a version was recorded");
}

#[test]
fn a_killed_keel_leaves_no_statement_running() {
    let db = fresh_db();
    let p = sleeping_project();
    let mut run = upgrade_until_sleeping(&p, &db, &[], "killed");
    signal(&run.child, libc::SIGKILL);
    let _ = run.child.wait();
    if server_major() < 14 {
        // PostgreSQL 13 cannot check for a closed connection while a statement runs
        // (`client_connection_check_interval` came in 14): the statement goes on until it
        // ends, which the README says. Prove the limitation is real, then end it here.
        std::thread::sleep(Duration::from_secs(3));
        let pids = sleepers(&db);
        assert_eq!(pids.len(), 1, "on PostgreSQL 13 the statement runs on");
        db.connect()
            .execute("SELECT pg_terminate_backend($1)", &[&pids[0]])
            .unwrap();
    }
    wait_until("the server ends the statement", ENDS_WITHIN, || {
        sleepers(&db).is_empty()
    });
    wait_until("the run lock is free", ENDS_WITHIN, || {
        !advisory_lock_held(&db)
    });
    nothing_applied(&db);
}

/// The lines keel printed and its exit status, once it ended by itself.
fn ended(run: &mut Spawned) -> support::Run {
    run.wait_timeout(ENDS_WITHIN)
        .unwrap_or_else(|| panic!("keel did not end after the signal: {}", run.args))
}

#[test]
fn ctrl_c_cancels_the_statement_and_rolls_the_run_back() {
    let db = fresh_db();
    let p = sleeping_project();
    let mut run = upgrade_until_sleeping(&p, &db, &[], "sigint");
    signal(&run.child, libc::SIGINT);
    let out = ended(&mut run);
    out.assert_code(130).assert_no_panic();
    // Where it stopped (the cancelled statement, at its line), and where the database is.
    out.assert_stderr_has("57014")
        .assert_stderr_has("sql/up/0001_create_then_sleep.sql:3:1")
        .assert_stderr_has(
            "upgrade stopped by SIGINT; nothing was applied: the run was rolled back and the database is still at base",
        );
    nothing_applied(&db);
    // The event log says so.
    let detail: String = db
        .connect()
        .query_one(
            "SELECT detail FROM keel.events WHERE outcome = 'failed' ORDER BY id DESC LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(detail.contains("stopped by SIGINT"), "{detail}");
}

#[test]
fn sigterm_keeps_what_was_committed_and_says_so() {
    let db = fresh_db();
    let p = Project::new();
    p.migration(
        1,
        "first",
        "CREATE TABLE first (id int);\n",
        "DROP TABLE first;\n",
    )
    .migration(
        2,
        "create_then_sleep",
        &format!("CREATE TABLE stopped (id int);\n{SLEEP};\n"),
        "DROP TABLE stopped;\n",
    )
    .seal();
    let mut run = upgrade_until_sleeping(&p, &db, &["--transaction-per-migration"], "sigterm");
    signal(&run.child, libc::SIGTERM);
    let out = ended(&mut run);
    out.assert_code(143).assert_no_panic().assert_stderr_has(
        "upgrade stopped by SIGTERM; the run stopped; steps before the failing one were committed: the database is at 0001",
    );
    assert!(sleepers(&db).is_empty(), "the statement still runs");
    assert!(!advisory_lock_held(&db), "the run lock is still held");
    let mut c = db.connect();
    assert_eq!(versions(&mut c), ["1"]);
    assert!(relation_exists(&mut c, "first"));
    assert!(!relation_exists(&mut c, "stopped"));
}

#[test]
fn ctrl_c_while_waiting_for_the_run_lock_stops_the_wait() {
    let db = fresh_db();
    let p = sleeping_project();
    // The first run holds the lock, asleep in its migration; the second waits for it.
    let mut holder = upgrade_until_sleeping(&p, &db, &[], "holder");
    let mut waiter = p.spawn(Some(db.url()), &["upgrade"], "waiter");
    wait_until("the second run waits", Duration::from_secs(30), || {
        waiter
            .run(None)
            .stderr
            .contains("waiting for the migration lock")
    });
    signal(&waiter.child, libc::SIGINT);
    let out = ended(&mut waiter);
    out.assert_code(130)
        .assert_no_panic()
        .assert_stderr_has("stopped by SIGINT after")
        .assert_stderr_has("waiting for the migration lock held by pid")
        .assert_stderr_has("nothing was changed");
    // The holder was not disturbed by the other's signal; stop it too.
    assert_eq!(sleepers(&db).len(), 1);
    signal(&holder.child, libc::SIGINT);
    ended(&mut holder).assert_code(130);
    nothing_applied(&db);
}
