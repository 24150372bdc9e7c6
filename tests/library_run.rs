//! A run started without the command line: `keel::migrate` takes a typed
//! request, reports typed events to a sink, and returns a typed report or
//! error. This is how many databases at once, retries and importers start
//! runs.

mod common;

use keel::config::Config;
use keel::migrate::{self, Error, Event, Request, Sink};
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
        });
    }
}

fn write_pair(dir: &Path, id: &str, up: &str, down: &str) {
    for (side, body) in [("up", up), ("down", down)] {
        let folder = dir.join(side);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(
            folder.join(format!("{id}.sql")),
            keel::header::seal(&format!("-- keel:checksum x\n{body}")),
        )
        .unwrap();
    }
}

fn request(dir: &Path, url: &str, direction: Direction, target: &str) -> Request {
    Request {
        config: Config {
            dir: dir.to_path_buf(),
            ..Config::default()
        },
        database_url: Some(url.to_string()),
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
