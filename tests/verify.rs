//! `keel verify` end to end: the real binary against a real PostgreSQL (SPEC 8).
//!
//! Each test copies a fixture project from `tests/fixtures/verify/<case>` to a temporary
//! directory, seals it, and runs `keel verify --database-url <fresh database>`. The tests of
//! this binary run one at a time (they share one cluster, and each checks that no
//! `keel_verify_%` database is left on it afterwards).
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests query and print freely

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use common::{copy_dir, fresh_db, Keel, Run, TestDb};

/// One verify at a time, so "no scratch database is left" means this test's.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The scratch database keel said it was using.
fn scratch_name(run: &Run) -> String {
    let at = run
        .stderr
        .find("dbname=keel_verify_")
        .unwrap_or_else(|| panic!("no scratch database named in:\n{}", run.stderr));
    run.stderr[at + "dbname=".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// A fixture copied to a temporary directory.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn fixture(case: &str) -> Project {
        let from = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/verify")
            .join(case);
        let dir = tempfile::Builder::new()
            .prefix("keel-verify-")
            .tempdir()
            .unwrap();
        copy_dir(&from, dir.path());
        let p = Project { dir };
        p.keel(None, &["seal"]).assert_code(0);
        p
    }

    fn keel(&self, url: Option<&str>, args: &[&str]) -> Run {
        Keel::new(self.dir.path()).url(url).args(args).run()
    }

    fn verify(&self, db: &TestDb, extra: &[&str]) -> Run {
        let mut args = vec!["verify"];
        args.extend_from_slice(extra);
        self.keel(Some(db.url()), &args)
    }
}

/// Every `keel_verify_%` database on the cluster.
fn scratch_databases(db: &TestDb) -> Vec<String> {
    db.connect()
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'keel\\_verify\\_%' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// SPEC 8: the scratch database is always dropped.
#[track_caller]
fn assert_scratch_gone(db: &TestDb, run: &Run) {
    let name = scratch_name(run);
    let left = scratch_databases(db);
    assert!(
        left.is_empty(),
        "scratch databases left behind: {left:?} (this run used {name})"
    );
}

/// Whether the configured database has a schema of that name.
fn has_schema(db: &TestDb, schema: &str) -> bool {
    db.connect()
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&schema],
        )
        .unwrap()
        .get(0)
}

#[test]
fn good_migrations_verify() {
    let _serial = serial();
    let db = fresh_db();
    let p = Project::fixture("good");
    let started = Instant::now();
    let run = p.verify(&db, &[]);
    let took = started.elapsed();
    run.assert_code(0)
        .assert_output_has("  ok 0001_create_items")
        .assert_output_has("  ok 0002_touch_updated_at")
        .assert_output_has("  ok 0003_note_index")
        .assert_output_has("verified 3 migrations: 3 reversible, 0 irreversible");
    // Down through 0002 leaves RLS on: the stage's fail-closed rule, only a note.
    run.assert_output_has("note: row level security public.items");
    assert_scratch_gone(&db, &run);
    // The configured database itself is not touched.
    assert!(
        !has_schema(&db, "keel"),
        "verify wrote to the configured database"
    );
    eprintln!("verify of the good fixture took {took:?}");
}

#[test]
fn a_down_that_forgets_an_index_is_named_with_the_index() {
    let _serial = serial();
    let db = fresh_db();
    let p = Project::fixture("forgot_index");
    let run = p.verify(&db, &[]);
    run.assert_code(1)
        .assert_output_has("  ok 0001_create_items")
        .assert_output_has(
            "0002_add_name_index: after down, the schema differs from before up:\n  + index public.items_name_idx ON public.items USING btree (name)",
        )
        .assert_output_has("sql/down/0002_add_name_index.sql");
    // Verification stops at the first failure.
    assert!(!run.all().contains("0003_later"), "{}", run.all());
    assert_scratch_gone(&db, &run);
}

#[test]
fn an_irreversible_migration_is_applied_not_checked_and_verification_goes_on() {
    let _serial = serial();
    let db = fresh_db();
    let p = Project::fixture("irreversible");
    let run = p.verify(&db, &[]);
    run.assert_code(0)
        .assert_output_has("  ok 0001_create_items")
        .assert_output_has("  skipped 0002_drop_note (irreversible: applied, not checked)")
        .assert_output_has("  ok 0003_add_label")
        .assert_output_has("verified 3 migrations: 2 reversible, 1 irreversible");
    assert_scratch_gone(&db, &run);
}

#[test]
fn a_down_that_fails_is_reported_with_its_file() {
    let _serial = serial();
    let db = fresh_db();
    let p = Project::fixture("down_fails");
    let run = p.verify(&db, &[]);
    run.assert_code(1)
        .assert_output_has("  FAILED 0002_add_name_index (down)")
        .assert_output_has("sql/down/0002_add_name_index.sql:3")
        .assert_output_has("items_nmae_idx")
        .assert_output_has("0002_add_name_index: its down failed");
    assert_scratch_gone(&db, &run);
}

#[test]
fn a_column_that_only_moved_is_a_note() {
    let _serial = serial();
    let db = fresh_db();
    let p = Project::fixture("reorder");
    let run = p.verify(&db, &[]);
    run.assert_code(0)
        .assert_output_has("note: column public.items.kind moved: position 4 → position 5")
        .assert_output_has("verified 2 migrations: 2 reversible, 0 irreversible");
    assert_scratch_gone(&db, &run);
}

#[test]
fn json_output_is_one_object_with_every_migration() {
    let _serial = serial();
    let db = fresh_db();
    let p = Project::fixture("irreversible");
    let run = p.verify(&db, &["--format", "json"]);
    run.assert_code(0);
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}):\n{}", run.stdout));
    assert_eq!(v["ok"], true);
    assert_eq!(v["verified"], 3);
    assert_eq!(v["irreversible"], 1);
    let results: Vec<&str> = v["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["reversible", "irreversible", "reversible"]);
    assert!(v["scratch"]["database"]
        .as_str()
        .unwrap()
        .starts_with("keel_verify_"));
    assert!(scratch_databases(&db).is_empty());

    let p = Project::fixture("forgot_index");
    let run = p.verify(&db, &["--format", "json"]);
    run.assert_code(1);
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}):\n{}", run.stdout));
    assert_eq!(v["ok"], false);
    assert_eq!(v["failed"], "0002_add_name_index");
    let failed = &v["migrations"][1];
    assert_eq!(failed["phase"], "down");
    assert_eq!(failed["differences"][0]["change"], "added");
    assert_eq!(failed["differences"][0]["kind"], "index");
    assert_eq!(failed["differences"][0]["name"], "public.items_name_idx");
    assert!(scratch_databases(&db).is_empty());
}

#[test]
fn a_given_scratch_database_is_used_and_kept_and_must_be_empty() {
    let _serial = serial();
    let configured = fresh_db();
    let scratch = fresh_db();
    let p = Project::fixture("good");
    // No configured database needed: only the scratch one.
    let run = p.keel(None, &["verify", "--scratch-url", scratch.url()]);
    run.assert_code(0)
        .assert_output_has("verified 3 migrations: 3 reversible, 0 irreversible");
    assert!(scratch_databases(&configured).is_empty());
    assert!(
        has_schema(&scratch, "keel"),
        "the given scratch was not used"
    );
    // It now holds the schema, so a second run refuses it.
    let run = p.keel(None, &["verify", "--scratch-url", scratch.url()]);
    run.assert_code(2)
        .assert_output_has("is not empty")
        .assert_output_has("schema keel")
        .assert_output_has("type public.item_kind");
    // An empty one (a `"$SCRATCH_URL"` that is not set) is no database at all.
    p.keel(None, &["verify", "--scratch-url", ""])
        .assert_code(2)
        .assert_output_has("--scratch-url is empty")
        .assert_output_has("leave it out to let keel create and drop one");
}

#[test]
fn an_up_that_fails_is_reported_with_its_error() {
    let _serial = serial();
    let db = fresh_db();
    let p = Project::fixture("up_fails");
    let run = p.verify(&db, &[]);
    run.assert_code(1)
        .assert_output_has("  ok 0001_create_items")
        .assert_output_has("  FAILED 0002_add_price (up)")
        .assert_output_has("relation \"public.item\" does not exist")
        .assert_output_has("sql/up/0002_add_price.sql:3")
        .assert_output_has("0002_add_price: its up failed");
    assert_scratch_gone(&db, &run);
}

/// Every kind of object the snapshot knows, created and dropped again: no false difference,
/// and each one is in the snapshot with the server's own text.
#[test]
fn the_snapshot_covers_every_kind_of_object() {
    use keel::verify::snapshot::{self, Kind};
    let _serial = serial();
    let db = fresh_db();
    let p = Project::fixture("everything");
    // A SQL-standard function body needs PostgreSQL 14.
    let standard_body = common::server_major() >= 14;
    if !standard_body {
        let up = p.dir.path().join("sql/up/0001_everything.sql");
        let text = std::fs::read_to_string(&up).unwrap();
        std::fs::write(
            &up,
            text.replace("IMMUTABLE RETURN a + b;", "IMMUTABLE AS 'SELECT a + b';"),
        )
        .unwrap();
        p.keel(None, &["seal"]).assert_code(0);
    }
    let run = p.verify(&db, &[]);
    run.assert_code(0)
        .assert_output_has("verified 1 migration: 1 reversible, 0 irreversible");
    assert_scratch_gone(&db, &run);

    p.keel(Some(db.url()), &["upgrade"]).assert_code(0);
    let s = snapshot::take(&mut db.connect(), "keel").unwrap();
    let def = |kind: Kind, name: &str| -> String {
        s.get(kind, name)
            .unwrap_or_else(|| {
                let keys: Vec<String> = s.entries.keys().map(|k| k.to_string()).collect();
                panic!("no {kind} {name} in the snapshot:\n{}", keys.join("\n"))
            })
            .definition
            .clone()
    };
    assert_eq!(def(Kind::Schema, "app"), "");
    assert!(def(Kind::Extension, "pgcrypto").starts_with("version "));
    assert_eq!(
        def(Kind::Type, "app.positive"),
        "domain over integer NOT NULL DEFAULT 1"
    );
    assert_eq!(def(Kind::Type, "app.pair"), "composite (a integer, b text)");
    assert_eq!(
        def(Kind::Type, "app.floatrange"),
        "range of double precision"
    );
    assert_eq!(def(Kind::Type, "app.mood"), "enum ('sad', 'ok')");
    assert_eq!(
        def(Kind::Constraint, "app.positive.positive_check"),
        "CHECK ((VALUE > 0))"
    );
    assert!(def(Kind::Sequence, "app.s").contains("increment 5"));
    assert!(def(Kind::Sequence, "app.t_id_seq").contains("owned by app.t.id"));
    assert_eq!(def(Kind::Table, "app.t"), "");
    assert_eq!(def(Kind::Table, "app.p"), "PARTITION BY RANGE (at)");
    assert!(def(Kind::Table, "app.p2024").starts_with("PARTITION OF app.p FOR VALUES FROM"));
    assert_eq!(def(Kind::Table, "app.child"), "INHERITS (app.t)");
    assert_eq!(def(Kind::Table, "app.u"), "UNLOGGED WITH (fillfactor=70)");
    assert!(def(Kind::View, "app.v").contains("WHERE"));
    assert!(def(Kind::MaterializedView, "app.mv").contains("count(*)"));
    assert_eq!(
        def(Kind::Column, "app.t.id"),
        "integer NOT NULL DEFAULT nextval('app.t_id_seq'::regclass)"
    );
    assert_eq!(def(Kind::Column, "app.t.n"), "app.positive");
    assert_eq!(
        def(Kind::Column, "app.t.g"),
        "integer GENERATED ALWAYS AS ((id * 2)) STORED"
    );
    assert_eq!(def(Kind::Column, "app.t.c"), "text COLLATE \"C\"");
    assert_eq!(
        s.get(Kind::Column, "app.t.m").unwrap().note.as_deref(),
        Some("position 3")
    );
    assert_eq!(def(Kind::Constraint, "app.t.t_pkey"), "PRIMARY KEY (id)");
    assert_eq!(
        def(Kind::Constraint, "app.t.t_c_check"),
        "CHECK ((c <> ''::text)) NOT VALID"
    );
    assert_eq!(
        def(Kind::Index, "app.p_at_idx"),
        "ON ONLY app.p USING btree (at)"
    );
    // The index behind a constraint is listed as the constraint.
    assert!(s.get(Kind::Index, "app.t_pkey").is_none());
    assert!(
        def(Kind::Function, "app.add(integer,integer)").contains(if standard_body {
            "RETURN (a + b)"
        } else {
            "SELECT a + b"
        })
    );
    assert!(s.get(Kind::Procedure, "app.noop()").is_some());
    assert_eq!(
        def(Kind::Aggregate, "app.mysum(integer)"),
        "sfunc int4pl(integer,integer) stype integer initcond '0'"
    );
    assert_eq!(
        def(Kind::Trigger, "app.t.t_touch"),
        "BEFORE UPDATE ON app.t FOR EACH ROW EXECUTE FUNCTION app.touch()"
    );
    assert_eq!(def(Kind::RowLevelSecurity, "app.t"), "enabled");
    assert_eq!(
        def(Kind::Policy, "app.t.t_read"),
        "PERMISSIVE FOR SELECT TO PUBLIC USING (((n)::integer > 0))"
    );
    assert_eq!(def(Kind::Comment, "table app.t"), "'things'");
    assert_eq!(def(Kind::Comment, "column app.t.n"), "'a number'");
    assert_eq!(def(Kind::Comment, "schema app"), "'the app'");
    assert!(def(Kind::Privileges, "table app.t").contains("=r/"));
    // Extension members are not listed one by one.
    assert!(!s
        .entries
        .keys()
        .any(|k| k.name.contains("gen_random_bytes")));
    // keel's history schema is left out.
    assert!(!s.entries.keys().any(|k| k.name.starts_with("keel.")));
}

/// Waits until `done`, polling, or panics naming `what`.
fn wait_for(what: &str, timeout: std::time::Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// SPEC 8: Ctrl-C (SIGINT) or SIGTERM in the middle of a migration still
/// drops the scratch database, and keel exits at once, non-zero.
#[test]
fn an_interrupted_verify_drops_its_scratch_database() {
    let _serial = serial();
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let db = fresh_db();
        let p = Project::fixture("sleeps");
        let mut cmd = Keel::new(p.dir.path())
            .url(Some(db.url()))
            .args(["verify"])
            .command();
        let err_path = p.dir.path().join("verify.stderr");
        let mut child = cmd
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .spawn()
            .unwrap();
        // The migration's pg_sleep(60) is running in the scratch database.
        let mut watch = db.connect();
        wait_for(
            "the migration to start",
            std::time::Duration::from_secs(60),
            || {
                let n: i64 = watch
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity
                      WHERE datname LIKE 'keel\\_verify\\_%' AND query LIKE '%pg_sleep%'",
                        &[],
                    )
                    .unwrap()
                    .get(0);
                n > 0
            },
        );
        let sent = Instant::now();
        let kill = Command::new("kill")
            .args(["-s", signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let mut status = None;
        wait_for("keel to exit", std::time::Duration::from_secs(30), || {
            status = child.try_wait().unwrap();
            status.is_some()
        });
        let took = sent.elapsed();
        let stderr = std::fs::read_to_string(&err_path).unwrap();
        let left = scratch_databases(&db);
        assert!(
            left.is_empty(),
            "SIG{signal}: scratch databases left behind: {left:?}\n--- stderr\n{stderr}"
        );
        assert_eq!(status.unwrap().code(), Some(code), "SIG{signal}\n{stderr}");
        assert!(
            took < std::time::Duration::from_secs(10),
            "SIG{signal}: keel took {took:?} to stop"
        );
        assert!(
            stderr.contains("error: interrupted: the scratch database keel_verify_"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("FAILED"),
            "an interruption is no failure to report:\n{stderr}"
        );
        eprintln!("SIG{signal}: exited {code} {took:?} after the signal");
    }
}

/// SPEC 8: a scratch database left by a verify that could not drop it
/// (killed with SIGKILL) is dropped by the next verify, unless a session
/// uses it.
#[test]
fn the_next_verify_drops_stale_scratch_databases_nobody_uses() {
    let _serial = serial();
    let db = fresh_db();
    let mut admin = db.connect();
    for name in ["keel_verify_x", "keel_verify_busy", "keel_verify_Odd"] {
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap();
    }
    let busy = common::pg::connect(&common::cluster().url("keel_verify_busy"));
    let p = Project::fixture("good");
    let run = p.verify(&db, &[]);
    run.assert_code(0).assert_output_has(
        "dropped 2 scratch databases left by an interrupted verify: keel_verify_Odd, keel_verify_x",
    );
    assert_eq!(scratch_databases(&db), ["keel_verify_busy"]);
    drop(busy);
    wait_for(
        "the session to end",
        std::time::Duration::from_secs(10),
        || {
            let n: i64 = admin
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = 'keel_verify_busy'",
                    &[],
                )
                .unwrap()
                .get(0);
            n == 0
        },
    );
    // Nobody uses it now: the next verify drops it.
    p.verify(&db, &[]).assert_code(0).assert_output_has(
        "dropped 1 scratch database left by an interrupted verify: keel_verify_busy",
    );
    assert!(scratch_databases(&db).is_empty());
}

/// A migration that needs PostgreSQL 18 (a virtual generated column, a named table-level
/// NOT NULL): on 18 it verifies and the snapshot holds the NOT NULL as the column's fact, not
/// as a constraint; before 18, `keel check` rejects it with the server's own message at the
/// server's position, and nothing runs.
#[test]
fn a_migration_for_a_newer_server_is_refused_before_anything_runs() {
    use keel::verify::snapshot::{self, Kind};
    let _serial = serial();
    let db = fresh_db();
    let p = Project::fixture("pg18");
    if common::server_major() >= 18 {
        let run = p.verify(&db, &[]);
        run.assert_code(0)
            .assert_output_has("verified 1 migration: 1 reversible, 0 irreversible");
        p.keel(Some(db.url()), &["upgrade"]).assert_code(0);
        let s = snapshot::take(&mut db.connect(), "keel").unwrap();
        let column = |name: &str| s.get(Kind::Column, name).unwrap().definition.clone();
        assert!(column("public.t18.doubled").contains("GENERATED ALWAYS AS ((a * 2)) VIRTUAL"));
        assert!(column("public.t18.a").contains("NOT NULL"));
        assert!(s
            .get(Kind::Constraint, "public.t18.t18_a_not_null")
            .is_none());
        assert!(s.get(Kind::Constraint, "public.t18.t18_pkey").is_some());
    } else {
        let text = std::fs::read_to_string(p.dir.path().join("sql/up/0001_pg18.sql")).unwrap();
        let line = text.lines().position(|l| l.contains("VIRTUAL")).unwrap() + 1;
        let run = p.keel(Some(db.url()), &["check"]);
        run.assert_code(1)
            .assert_output_has(&format!(
                "(PostgreSQL's parser, PostgreSQL {}.",
                common::server_major()
            ))
            .assert_output_has("if it needs a newer PostgreSQL, this server cannot run it")
            .assert_output_has(&format!("sql/up/0001_pg18.sql:{line}:"));
        p.keel(Some(db.url()), &["upgrade"]).assert_code(1);
        let exists: bool = db
            .connect()
            .query_one("SELECT to_regclass('public.t18') IS NOT NULL", &[])
            .unwrap()
            .get(0);
        assert!(!exists, "nothing ran");
    }
}
