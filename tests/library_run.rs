//! A run started without the command line: `keel::migrate` takes a typed
//! request, reports typed events to a sink, and returns a typed report or
//! error. This is how many databases at once, retries and importers start
//! runs.
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests query and print freely

mod common;

use keel::config::Config;
use keel::migrate::{self, Database, Error, Event, Request, Sink};
use keel::plan::Direction;
use std::path::Path;

/// Records what a run reports, as text.
#[derive(Default)]
struct Recorder(Vec<String>);

impl Sink for Recorder {
    fn event(&mut self, event: Event<'_>) {
        self.0.push(match event {
            Event::UsingDevDb => "dev-db".into(),
            Event::WaitingForLock(h) => format!("waiting {h}"),
            Event::Diagnostics(d) => format!(
                "diagnostics {}",
                d.iter()
                    .map(|d| d.code.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Event::StepStarted(s) => format!("start {}", s.migration.id()),
            Event::StepDone(s, _) => format!("done {}", s.migration.id()),
            Event::Retrying(r) => format!("retrying {} of {}", r.attempt, r.attempts),
        });
    }
}

fn write_pair(dir: &Path, id: &str, up: &str, down: &str) {
    write_pair_with(dir, id, "", up, down);
}

/// A sealed pair whose up file has the extra header lines `header`.
fn write_pair_with(dir: &Path, id: &str, header: &str, up: &str, down: &str) {
    for (side, head, body) in [("up", header, up), ("down", "", down)] {
        let folder = dir.join(side);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(
            folder.join(format!("{id}.sql")),
            keel::header::seal(&format!("-- keel:checksum x\n{head}{body}")),
        )
        .unwrap();
    }
}

/// psql running the script `path` on `url`, stopping at the first error.
fn psql_file(path: &Path, url: &str) -> std::process::Output {
    std::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(path)
        .arg(url)
        .output()
        .unwrap()
}

fn request(dir: &Path, url: &str, direction: Direction, target: &str) -> Request {
    Request {
        database: Database {
            config: Config {
                dir: dir.to_path_buf(),
                ..Config::default()
            },
            database_url: Some(url.to_string()),
            lock_timeout: None,
            interrupt: None,
        },
        direction,
        target: target.to_string(),
        per_migration: false,
        strict: false,
    }
}

#[test]
fn a_run_started_from_the_library_applies_reports_and_reverts() {
    let db = common::fresh_db();
    let project = tempfile::tempdir().unwrap();
    let sql = project.path().join("sql");
    write_pair(
        &sql,
        "0001_items",
        "CREATE TABLE items (id int);\n",
        "DROP TABLE items;\n",
    );
    write_pair(
        &sql,
        "0002_notes",
        "CREATE TABLE notes (id int);\n",
        "DROP TABLE notes;\n",
    );

    let mut events = Recorder::default();
    let report = migrate::run(&request(&sql, db.url(), Direction::Up, "head"), &mut events)
        .unwrap_or_else(|e| panic!("upgrade head: {e:?}, events {:?}", events.0));
    assert_eq!(report.steps, 2);
    assert_eq!(report.from, None);
    assert_eq!(
        report.to.as_ref().map(|v| v.to_string()).as_deref(),
        Some("0002")
    );
    assert!(report.elapsed.is_some());
    assert_eq!(
        events.0,
        [
            "diagnostics ",
            "start 0001_items",
            "done 0001_items",
            "start 0002_notes",
            "done 0002_notes"
        ],
        "events in order"
    );

    // At head: nothing to run, and the report says so.
    let mut events = Recorder::default();
    let report = migrate::run(&request(&sql, db.url(), Direction::Up, "head"), &mut events)
        .expect("no-op upgrade");
    assert_eq!((report.steps, report.elapsed), (0, None));

    // A target that names nothing is a usage error, not a failed run.
    let err = migrate::run(&request(&sql, db.url(), Direction::Down, "0042"), &mut ())
        .expect_err("unknown target");
    assert!(matches!(err, Error::Usage { .. }), "{err:?}");

    let report = migrate::run(&request(&sql, db.url(), Direction::Down, "base"), &mut ())
        .expect("downgrade base");
    assert_eq!((report.steps, report.to), (2, None));
}

/// `upgrade --sql` prints the history writes a run performs, from the same SQL text: a printed
/// script that stops at a failing statement of a `transaction off` migration leaves the same
/// dirty record (direction and statement) as a run that stops there.
#[test]
fn the_printed_script_leaves_the_history_a_run_leaves() {
    let project = tempfile::tempdir().unwrap();
    let sql = project.path().join("sql");
    std::fs::create_dir_all(sql.join("up")).unwrap();
    std::fs::create_dir_all(sql.join("down")).unwrap();
    let (printed, ran) = (common::fresh_db(), common::fresh_db());
    // The history exists, as it does wherever the script is meant to run.
    for db in [&printed, &ran] {
        migrate::run(&request(&sql, db.url(), Direction::Up, "head"), &mut ()).unwrap();
    }
    write_pair_with(
        &sql,
        "0001_off",
        "-- keel:transaction off\n",
        "CREATE TABLE x1 (id int);\nSELECT 1 / 0;\n",
        "DROP TABLE x1;\n",
    );
    let script = migrate::render_sql(
        &request(&sql, printed.url(), Direction::Up, "head"),
        &mut (),
    )
    .expect("--sql");
    let path = project.path().join("upgrade.sql");
    std::fs::write(&path, &script).unwrap();
    let psql = psql_file(&path, printed.url());
    assert!(
        !psql.status.success(),
        "the script stops at 1 / 0:\n{script}"
    );
    migrate::run(&request(&sql, ran.url(), Direction::Up, "head"), &mut ())
        .expect_err("the run stops at 1 / 0");

    let record = |db: &common::TestDb| {
        let row = db
            .connect()
            .query_one(
                "SELECT dirty, dirty_direction, dirty_statement FROM keel.versions WHERE version = 1",
                &[],
            )
            .unwrap();
        (
            row.get::<_, bool>(0),
            row.get::<_, Option<String>>(1),
            row.get::<_, Option<i32>>(2),
        )
    };
    assert_eq!(record(&ran), (true, Some("up".to_string()), Some(2)));
    assert_eq!(record(&printed), record(&ran), "{script}");
}

/// A downgrade that fails on its second step, committing after each migration, says where it
/// left the database: the first revert is committed, the failing one is not.
#[test]
fn a_failed_downgrade_reports_the_version_it_left() {
    let db = common::fresh_db();
    let project = tempfile::tempdir().unwrap();
    let sql = project.path().join("sql");
    write_pair(
        &sql,
        "0001_a",
        "CREATE TABLE a (id int);\n",
        "DROP TABLE a;\n",
    );
    write_pair(
        &sql,
        "0002_b",
        "CREATE TABLE b (id int);\n",
        "DROP TABLE missing_b;\n",
    );
    write_pair(
        &sql,
        "0003_c",
        "CREATE TABLE c (id int);\n",
        "DROP TABLE c;\n",
    );
    migrate::run(&request(&sql, db.url(), Direction::Up, "head"), &mut ()).unwrap();

    let mut req = request(&sql, db.url(), Direction::Down, "base");
    req.per_migration = true;
    let err = migrate::run(&req, &mut ()).expect_err("0002's down fails");
    let Error::Failed { message, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(
        message.contains("steps before the failing one were committed: the database is at 0002"),
        "{message}"
    );
    let mut c = db.connect();
    let versions: Vec<String> = c
        .query(
            "SELECT version::text FROM keel.versions ORDER BY version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, ["1", "2"]);
}

#[test]
fn a_caller_can_stop_a_run_and_nothing_is_left_running_or_applied() {
    use keel::interrupt::Interrupt;
    let db = common::fresh_db();
    let project = tempfile::tempdir().unwrap();
    let sql = project.path().join("sql");
    write_pair(
        &sql,
        "0001_a",
        "CREATE TABLE a (id int);\nSELECT pg_sleep(600);\n",
        "DROP TABLE a;\n",
    );
    let interrupt = Interrupt::new();
    let mut req = request(&sql, db.url(), Direction::Up, "head");
    req.database.interrupt = Some(interrupt.clone());
    let run = std::thread::spawn(move || migrate::run(&req, &mut ()));
    let mut c = db.connect();
    let sleeping = |c: &mut postgres::Client| -> bool {
        c.query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
             AND state = 'active' AND query = 'SELECT pg_sleep(600)')",
            &[],
        )
        .unwrap()
        .get(0)
    };
    let start = std::time::Instant::now();
    while !sleeping(&mut c) {
        assert!(start.elapsed().as_secs() < 30, "the migration never slept");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        interrupt.trigger(Interrupt::BY_CALLER),
        1,
        "one session watched"
    );
    let err = run.join().unwrap().expect_err("the run was stopped");
    let Error::Interrupted { message, signal } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*signal, Interrupt::BY_CALLER);
    assert!(
        message.contains("upgrade stopped by the caller; nothing was applied: the run was rolled back and the database is still at base"),
        "{message}"
    );
    assert!(
        !sleeping(&mut c),
        "the statement was cancelled, not left running"
    );
    let table: Option<String> = c
        .query_one("SELECT to_regclass('a')::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(table, None);
}

/// `upgrade --sql` for a database keel never ran on carries keel's history schema, written as
/// keel writes it (refinery's rows included): psql runs the script, and keel then finds the
/// database at head with the history a run leaves. A dirty database gets no script, as it
/// gets no run.
#[test]
fn the_printed_script_runs_on_a_new_database_and_refuses_a_dirty_one() {
    let project = tempfile::tempdir().unwrap();
    let sql = project.path().join("sql");
    write_pair(
        &sql,
        "0001_a",
        "CREATE TABLE a (id int);\n",
        "DROP TABLE a;\n",
    );
    write_pair(
        &sql,
        "0002_b",
        "CREATE TABLE b (id int);\n",
        "DROP TABLE b;\n",
    );
    let (printed, ran) = (common::fresh_db(), common::fresh_db());
    let script = migrate::render_sql(
        &request(&sql, printed.url(), Direction::Up, "head"),
        &mut (),
    )
    .expect("--sql");
    let path = project.path().join("upgrade.sql");
    std::fs::write(&path, &script).unwrap();
    let psql = psql_file(&path, printed.url());
    assert!(
        psql.status.success(),
        "{}\n{script}",
        String::from_utf8_lossy(&psql.stderr)
    );
    migrate::run(&request(&sql, ran.url(), Direction::Up, "head"), &mut ()).unwrap();
    let again = migrate::run(
        &request(&sql, printed.url(), Direction::Up, "head"),
        &mut (),
    )
    .expect("keel takes the printed history as its own");
    assert_eq!(again.steps, 0, "nothing left to run");
    let rows = |db: &common::TestDb, sql: &str| -> Vec<String> {
        db.connect()
            .query(sql, &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    for query in [
        "SELECT version || ' ' || name || ' ' || checksum FROM keel.schema_history ORDER BY version",
        "SELECT version::text || ' ' || name || ' ' || up_checksum FROM keel.versions ORDER BY version",
        "SELECT applied::text || ' ' || hash_sum::text FROM keel.summary",
    ] {
        assert_eq!(rows(&printed, query), rows(&ran, query), "{query}");
    }

    printed
        .connect()
        .execute(
            "UPDATE keel.versions SET dirty = true WHERE version = 2",
            &[],
        )
        .unwrap();
    let err = migrate::render_sql(
        &request(&sql, printed.url(), Direction::Down, "base"),
        &mut (),
    )
    .expect_err("a dirty database gets no script");
    assert!(err.to_string().contains("dirty"), "{err}");
}
