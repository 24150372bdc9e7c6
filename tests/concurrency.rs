//! Several keel runners against one database at the same time (SPEC 6): the polling advisory
//! lock makes them take turns, the waiters say who holds the lock and then see the work done,
//! no migration is applied twice, and a `CREATE INDEX CONCURRENTLY` by the holder never
//! deadlocks with a waiter.
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests query and print freely

mod common;

#[path = "fixtures/runner/support.rs"]
mod support;

use std::thread::sleep;
use std::time::{Duration, Instant};

use common::fresh_db;
use support::{numbers, versions, wait_until, Project};

#[test]
fn sixteen_runners_at_once_apply_fifty_migrations_exactly_once() {
    const RUNNERS: usize = 16;
    const MIGRATIONS: u32 = 50;
    let db = fresh_db();
    let p = Project::new();
    // Each migration creates a table (a second apply would fail) and logs itself in a table
    // with a primary key (a second apply would violate it).
    p.migration(
        1,
        "m1",
        "CREATE TABLE applied_log (version int PRIMARY KEY, backend int NOT NULL);\nCREATE TABLE t1 (id int);\nINSERT INTO applied_log VALUES (1, pg_backend_pid());\n",
        "DROP TABLE t1;\nDROP TABLE applied_log;\n",
    );
    for i in 2..=MIGRATIONS {
        p.migration(
            i,
            &format!("m{i}"),
            &format!("CREATE TABLE t{i} (id int);\nINSERT INTO applied_log VALUES ({i}, pg_backend_pid());\n"),
            &format!("DROP TABLE t{i};\n"),
        );
    }
    p.seal();

    let started = Instant::now();
    let mut children: Vec<_> = (0..RUNNERS)
        .map(|i| p.spawn(Some(db.url()), &["upgrade"], &format!("runner{i}")))
        .collect();
    let runs: Vec<_> = children
        .iter_mut()
        .map(|c| {
            c.wait_timeout(Duration::from_secs(120))
                .unwrap_or_else(|| panic!("{} did not finish within 120 s", c.args))
        })
        .collect();
    eprintln!("{RUNNERS} runners finished in {:?}", started.elapsed());
    for run in &runs {
        run.assert_code(0);
    }

    let mut c = db.connect();
    assert_eq!(versions(&mut c), numbers(1..=MIGRATIONS));
    let (rows, distinct, backends): (i64, i64, i64) = {
        let r = c
            .query_one(
                "SELECT count(*), count(DISTINCT version), count(DISTINCT backend) FROM applied_log",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    assert_eq!(rows, i64::from(MIGRATIONS));
    assert_eq!(distinct, i64::from(MIGRATIONS));
    assert!(backends >= 1);
    let dirty: i64 = c
        .query_one("SELECT count(*) FROM keel.versions WHERE dirty", &[])
        .unwrap()
        .get(0);
    assert_eq!(dirty, 0);

    // Exactly one runner applied anything; the others said they waited for the holder and
    // found the work done.
    let applied_by: Vec<&support::Run> = runs
        .iter()
        .filter(|r| r.stderr.contains("applied 0001_m1"))
        .collect();
    assert_eq!(
        applied_by.len(),
        1,
        "exactly one runner applies the migrations"
    );
    let waited: Vec<&support::Run> = runs
        .iter()
        .filter(|r| {
            r.stderr
                .contains("waiting for the migration lock held by pid ")
        })
        .collect();
    assert!(
        !waited.is_empty(),
        "at least one runner reports that it waited, naming the holder\n{}",
        runs.iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );

    // The event log: one `upgrade` event moved the database base -> 50, and the runs that
    // waited are recorded too, with the wait and the holder
    // (src/db/run.rs: detail "waited for the lock held by pid N, user ..., ...").
    // (from, to, waited_ms, detail, outcome)
    type EventRow = (
        Option<String>,
        Option<String>,
        Option<f64>,
        Option<String>,
        String,
    );
    let events: Vec<EventRow> = c
        .query(
            "SELECT from_version::text, to_version::text, waited_ms, detail, outcome
             FROM keel.events WHERE command = 'upgrade' ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    let moved: Vec<_> = events
        .iter()
        .filter(|e| e.0.is_none() && e.1.as_deref() == Some("50"))
        .collect();
    assert_eq!(moved.len(), 1, "one run moved base -> 50: {events:#?}");
    assert!(
        events.iter().all(|e| e.4 == "ok"),
        "no run failed: {events:#?}"
    );
    let waited_events: Vec<_> = events
        .iter()
        .filter(|e| {
            e.2.is_some_and(|ms| ms > 0.0)
                && e.3
                    .as_deref()
                    .is_some_and(|d| d.starts_with("waited for the lock held by pid "))
        })
        .collect();
    assert!(
        !waited_events.is_empty(),
        "keel.events shows at least one run that waited for the lock, naming the holder \
         ({} of {RUNNERS} runners said they waited): {events:#?}",
        waited.len()
    );
}

#[test]
fn create_index_concurrently_by_the_holder_does_not_deadlock_with_a_waiting_runner() {
    let db = fresh_db();
    let p = Project::new();
    p.migration(
        1,
        "events",
        "CREATE TABLE events (id int PRIMARY KEY, kind text NOT NULL);\n\
         INSERT INTO events SELECT g, 'kind ' || (g % 17) FROM generate_series(1, 20000) g;\n\
         SELECT pg_sleep(2);\n",
        "DROP TABLE events;\n",
    )
    .migration(
        2,
        "events_kind",
        "-- keel:transaction off\nCREATE INDEX CONCURRENTLY events_kind ON events (kind);\n",
        "-- keel:transaction off\nDROP INDEX CONCURRENTLY events_kind;\n",
    )
    .seal();

    let started = Instant::now();
    let mut a = p.spawn(Some(db.url()), &["upgrade"], "runner_a");
    sleep(Duration::from_millis(500));
    // B must arrive while A holds the run lock (A holds it for at least its 2 s sleep).
    let mut c = db.connect();
    wait_until(
        "runner A holds the run lock",
        Duration::from_secs(10),
        || {
            c.query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database
                            WHERE l.locktype = 'advisory' AND l.granted
                              AND d.datname = current_database())",
                &[],
            )
            .unwrap()
            .get(0)
        },
    );
    let mut b = p.spawn(Some(db.url()), &["upgrade"], "runner_b");
    let limit = Duration::from_secs(30);
    let run_a = a.wait_timeout(limit.saturating_sub(started.elapsed()));
    let run_b = b.wait_timeout(limit.saturating_sub(started.elapsed()));
    let (Some(run_a), Some(run_b)) = (run_a, run_b) else {
        // Show what each side was doing when it was stopped.
        let activity: Vec<String> = c
            .query(
                "SELECT format('%s %s %s %s', pid, state, wait_event_type, query)
                 FROM pg_stat_activity WHERE datname = current_database()",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        panic!(
            "the runners did not both finish within {limit:?} (deadlock?)\n{}\n{}\n{activity:#?}",
            a.run(None),
            b.run(None)
        );
    };
    eprintln!("both runners finished in {:?}", started.elapsed());
    run_a.assert_code(0);
    run_b.assert_code(0);
    run_a
        .assert_stderr_has("applied 0001_events")
        .assert_stderr_has("applied 0002_events_kind");
    // B started while A held the lock: it waited, then found nothing left to do.
    run_b.assert_stderr_has("waiting for the migration lock held by pid ");
    assert!(
        !run_b.stderr.contains("applied 0001_events"),
        "B applies nothing\n{run_b}"
    );

    assert_eq!(versions(&mut c), numbers(1..=2));
    let (valid, dirty): (bool, i64) = (
        c.query_one(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_kind'::regclass",
            &[],
        )
        .unwrap()
        .get(0),
        c.query_one("SELECT count(*) FROM keel.versions WHERE dirty", &[])
            .unwrap()
            .get(0),
    );
    assert!(valid, "the index is valid");
    assert_eq!(dirty, 0);
}
