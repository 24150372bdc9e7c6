//! `keel fleet`: one plan on many databases, on two clusters, in groups, with `on_error`, a
//! canary, re-runs that finish what is left, and SIGKILL leaving each database at its old or
//! its new version.
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests query and print freely

mod common;

#[path = "fixtures/runner/support.rs"]
mod support;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use keel::db::cluster::{Cluster, DEFAULT_DB};
use support::{versions, Project};

/// A second cluster, so the fleet spans two servers.
fn second_cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| Cluster::throwaway().expect("a second throwaway cluster"))
}

/// A new database on `cluster`; returns its URL.
fn database_on(cluster: &Cluster) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!("fleet_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    common::pg::connect(&cluster.connection_string(DEFAULT_DB))
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    cluster.url(&name)
}

/// A project of three migrations (each creates a table), and a fleet of `urls` named
/// `t01`, `t02`, ... in `keel.toml`.
fn project(
    urls: &[String],
    header: &str,
    group_of: impl Fn(usize) -> Option<&'static str>,
) -> Project {
    let p = Project::new();
    for (v, name) in [(1, "one"), (2, "two"), (3, "three")] {
        p.migration(
            v,
            name,
            &format!("CREATE TABLE {name} (id int);\n"),
            &format!("DROP TABLE {name};\n"),
        );
    }
    p.seal();
    let mut toml = format!("[fleet]\n{header}\n");
    for (i, url) in urls.iter().enumerate() {
        write!(
            toml,
            "\n[[fleet.targets]]\nname = \"t{:02}\"\nurl = \"{url}\"\n",
            i + 1
        )
        .unwrap();
        if let Some(g) = group_of(i) {
            writeln!(toml, "group = \"{g}\"").unwrap();
        }
    }
    std::fs::write(p.root().join("keel.toml"), toml).unwrap();
    p
}

fn head_of(url: &str) -> Vec<String> {
    let mut c = common::pg::connect(url);
    let exists: bool = c
        .query_one("SELECT to_regclass('keel.versions') IS NOT NULL", &[])
        .unwrap()
        .get(0);
    if exists {
        versions(&mut c)
    } else {
        Vec::new()
    }
}

const HEAD: [&str; 3] = ["1", "2", "3"];

#[test]
fn thirty_databases_on_two_clusters_reach_head_in_one_run() {
    let urls: Vec<String> = (0..30)
        .map(|i| {
            if i % 2 == 0 {
                common::fresh_db().url().to_string()
            } else {
                database_on(second_cluster())
            }
        })
        .collect();
    let p = project(&urls, "parallel = 4", |_| None);
    let run = p.keel(None, &["fleet", "upgrade"]);
    run.assert_code(0)
        .assert_stdout_has(
            "fleet upgrade: 30 succeeded, 0 failed, 0 unreachable, 0 skipped (30 targets",
        )
        .assert_stderr_has("t17  base → 0003  3 migrations");
    for url in &urls {
        assert_eq!(head_of(url), HEAD, "{url}");
        assert!(!run.stderr.contains(url.as_str()) && !run.stdout.contains(url.as_str()));
    }
    // A second run has nothing to do, and says so per target.
    p.keel(None, &["fleet", "upgrade"])
        .assert_code(0)
        .assert_stderr_has("t01  at 0003, nothing to run");
    // Status, as a table and as JSON.
    let status = p.keel(None, &["fleet", "status"]);
    status
        .assert_code(0)
        .assert_stdout_has("t30  at 0003, at head");
    let json = p.keel(None, &["fleet", "status", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let targets = doc["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 30);
    assert!(targets
        .iter()
        .all(|t| t["current"] == "0003" && t["pending"] == 0));
}

/// Six targets in one group, one at a time: t03 fails (a table in the way), t05 cannot be
/// reached. Under `stop` nothing starts after t03; under `continue` everything is tried;
/// after the fix, a re-run finishes what is left.
#[test]
fn stop_and_continue_and_a_rerun_after_the_fix() {
    let mut urls: Vec<String> = (0..6)
        .map(|_| common::fresh_db().url().to_string())
        .collect();
    urls[4] = "postgresql:///nowhere?host=/nonexistent-keel-socket-dir&port=5999&connect_timeout=2"
        .to_string();
    common::pg::connect(&urls[2])
        .batch_execute("CREATE TABLE two (in_the_way text)")
        .unwrap();
    let stop = project(&urls, "parallel = 1\non_error = \"stop\"", |_| None);
    let run = stop.keel(None, &["fleet", "upgrade"]);
    run.assert_code(1)
        .assert_stdout_has(
            "fleet upgrade: 2 succeeded, 1 failed, 0 unreachable, 3 skipped (6 targets",
        )
        .assert_stdout_has(
            "t03  FAILED  sql/up/0002_two.sql:2:1: ERROR 42P07: relation \"two\" already exists",
        )
        .assert_stdout_has("t04  skipped: stopped after a failure (on_error = \"stop\")");
    assert_eq!(head_of(&urls[0]), HEAD);
    assert_eq!(head_of(&urls[1]), HEAD);
    assert!(
        head_of(&urls[2]).is_empty(),
        "t03 rolled back: nothing applied"
    );
    assert!(head_of(&urls[3]).is_empty(), "t04 never started");

    let cont = project(&urls, "parallel = 1\non_error = \"continue\"", |_| None);
    let run = cont.keel(None, &["fleet", "upgrade"]);
    run.assert_code(1)
        .assert_stdout_has(
            "fleet upgrade: 4 succeeded, 1 failed, 1 unreachable, 0 skipped (6 targets",
        )
        .assert_stdout_has("unreachable:\n  t05  UNREACHABLE  ");
    assert_eq!(head_of(&urls[3]), HEAD);
    assert_eq!(head_of(&urls[5]), HEAD);

    // The fix, then a re-run without the unreachable one: only t03 has work left.
    common::pg::connect(&urls[2])
        .batch_execute("DROP TABLE two")
        .unwrap();
    let run = cont.keel(None, &["fleet", "upgrade", "--exclude", "t05"]);
    run.assert_code(0)
        .assert_stdout_has("fleet upgrade: 5 succeeded, 0 failed, 0 unreachable, 0 skipped")
        .assert_stderr_has("t03  base → 0003  3 migrations")
        .assert_stderr_has("t01  at 0003, nothing to run");
    assert_eq!(head_of(&urls[2]), HEAD);
}

#[test]
fn a_failing_canary_leaves_every_other_target_untouched() {
    let urls: Vec<String> = (0..5)
        .map(|_| common::fresh_db().url().to_string())
        .collect();
    common::pg::connect(&urls[0])
        .batch_execute("CREATE TABLE three (in_the_way text)")
        .unwrap();
    let p = project(
        &urls,
        "groups = [\"canary\", \"rest\"]\non_error = \"continue\"",
        |i| (i == 0).then_some("canary"),
    );
    let run = p.keel(None, &["fleet", "upgrade"]);
    run.assert_code(1)
        .assert_stdout_has("1 failed, 0 unreachable, 4 skipped")
        .assert_stdout_has("t02  skipped: an earlier group did not succeed everywhere");
    assert!(head_of(&urls[0]).is_empty(), "the canary rolled back");
    for url in &urls[1..] {
        let mut c = common::pg::connect(url);
        let untouched: bool = c
            .query_one(
                "SELECT NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'keel')",
                &[],
            )
            .unwrap()
            .get(0);
        assert!(untouched, "{url} was touched");
    }
}

/// `status` and `check` change nothing, so nothing is held back for them: an unreachable
/// canary under `on_error = "stop"` still leaves every other target read and reported.
#[test]
fn status_and_check_read_every_target_whatever_on_error_and_groups_say() {
    let mut urls: Vec<String> = (0..4)
        .map(|_| common::fresh_db().url().to_string())
        .collect();
    urls[0] = "postgresql:///nowhere?host=/nonexistent-keel-socket-dir&port=5999".to_string();
    let p = project(
        &urls,
        "parallel = 1\non_error = \"stop\"\ngroups = [\"canary\", \"rest\"]",
        |i| (i == 0).then_some("canary"),
    );
    p.keel(None, &["fleet", "upgrade", "--only", "t03"])
        .assert_code(0)
        .assert_stdout_has("1 succeeded, 0 failed, 0 unreachable, 0 skipped (1 target, ");
    let status = p.keel(None, &["fleet", "status"]);
    status
        .assert_code(1)
        .assert_stdout_has("t01  UNREACHABLE")
        .assert_stdout_has("t02  at base, 3 pending")
        .assert_stdout_has("t03  at 0003, at head")
        .assert_stdout_has("t04  at base, 3 pending")
        .assert_stdout_has("4 targets: 3 reachable, 1 unreachable");
    assert!(!status.stdout.contains("skipped"), "{}", status.stdout);
    let json = p.keel(None, &["fleet", "status", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let targets = doc["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 4, "{doc}");
    assert_eq!(targets[0]["reachable"], false, "{doc}");
    for (t, pending) in targets[1..].iter().zip([3, 0, 3]) {
        assert_eq!(t["reachable"], true, "{doc}");
        assert_eq!(t["pending"], pending, "{doc}");
    }
    let check = p.keel(None, &["fleet", "check"]);
    check
        .assert_code(1)
        .assert_stdout_has("3 succeeded, 0 failed, 1 unreachable, 0 skipped");
    // The same fleet's upgrade still holds the rest back behind its canary.
    p.keel(None, &["fleet", "upgrade"])
        .assert_code(1)
        .assert_stdout_has("0 succeeded, 0 failed, 1 unreachable, 3 skipped");
    assert!(head_of(&urls[1]).is_empty(), "t02 never started");
}

/// keel killed outright mid-fleet: every database is at its old version or its new one.
#[test]
fn sigkill_mid_fleet_leaves_each_database_at_its_old_or_new_version() {
    let urls: Vec<String> = (0..8)
        .map(|_| common::fresh_db().url().to_string())
        .collect();
    let p = project(&urls, "parallel = 2", |_| None);
    // Slow enough that the kill lands while some targets run.
    p.migration(
        4,
        "slow",
        "CREATE TABLE slow (id int);\nSELECT pg_sleep(0.4);\n",
        "DROP TABLE slow;\n",
    );
    p.seal();
    let mut child = p.spawn(None, &["fleet", "upgrade"], "killed");
    std::thread::sleep(Duration::from_millis(1200));
    child.child.kill().unwrap(); // SIGKILL
    child.child.wait().unwrap();
    // The server notices the lost connections and rolls their transactions back.
    std::thread::sleep(Duration::from_millis(500));
    let mut at_head = 0;
    for url in &urls {
        let v = head_of(url);
        let mut c = common::pg::connect(url);
        let tables: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('one', 'two', 'three', 'slow')",
                &[],
            )
            .unwrap()
            .get(0);
        match v.len() {
            0 => assert_eq!(tables, 0, "{url}: no version but tables"),
            4 => {
                at_head += 1;
                assert_eq!(tables, 4, "{url}");
            }
            _ => panic!("{url} is between versions: {v:?}"),
        }
    }
    assert!(
        at_head < urls.len(),
        "the kill landed after the fleet finished; nothing was tested"
    );
    // A re-run finishes the rest.
    p.keel(None, &["fleet", "upgrade"]).assert_code(0);
    for url in &urls {
        assert_eq!(head_of(url).len(), 4);
    }
}

/// The text table of `keel fleet status`, with every state a target can be in.
#[test]
fn fleet_status_table() {
    let mut urls: Vec<String> = (0..4)
        .map(|_| common::fresh_db().url().to_string())
        .collect();
    urls[3] = "postgresql:///nowhere?host=/nonexistent-keel-socket-dir&port=5999".to_string();
    let p = project(&urls, "", |_| None);
    p.keel(None, &["fleet", "upgrade", "--only", "t01"])
        .assert_code(0);
    p.keel(None, &["fleet", "upgrade", "1", "--only", "t02"])
        .assert_code(0);
    let run = p.keel(None, &["fleet", "status"]);
    run.assert_code(1);
    // The unreachable target's message names its socket path, which differs per machine.
    let table: String = run
        .stdout
        .lines()
        .map(|l| match l.find("UNREACHABLE") {
            Some(i) => format!("{}UNREACHABLE ...", &l[..i]),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!(table, @r"
    t01  at 0003, at head
    t02  at 0001, 2 pending
    t03  at base, 3 pending
    t04  UNREACHABLE ...
    4 targets: 3 reachable, 1 unreachable
    ");
}

/// What `fleet status` reads from each history in its one query: a changed checksum is
/// drift, a dirty row is named, and a version with no file is missing (and the file it
/// replaced is pending again).
#[test]
fn fleet_status_reads_drift_dirt_and_missing_files() {
    let dbs: Vec<_> = (0..4).map(|_| common::fresh_db()).collect();
    let urls: Vec<String> = dbs.iter().map(|d| d.url().to_string()).collect();
    let p = project(&urls, "", |_| None);
    p.keel(None, &["fleet", "upgrade"]).assert_code(0);
    let edits = [
        "UPDATE keel.versions SET up_checksum = 'sha256:0000' WHERE version = 3",
        "UPDATE keel.versions SET dirty = true, dirty_direction = 'up', dirty_statement = 1 \
         WHERE version = 3",
        "UPDATE keel.versions SET version = 9 WHERE version = 3",
        // Checksums edited by hand into what the server escapes when it copies rows out (tab,
        // newline, backslash, and a text that reads like COPY's NULL): each is drift, and the
        // rows around them are read whole.
        "UPDATE keel.versions SET up_checksum = E'sha256:\\t\\n\\\\' WHERE version = 1; \
         UPDATE keel.versions SET down_checksum = E'\\\\N' WHERE version = 2",
    ];
    for (db, sql) in dbs.iter().zip(edits) {
        db.connect().batch_execute(sql).unwrap();
    }
    let run = p.keel(None, &["fleet", "status", "--format", "json"]);
    run.assert_code(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let t = |i: usize, field: &str| doc["targets"][i][field].clone();
    assert_eq!(t(0, "drift"), 1, "{doc}");
    assert_eq!(t(0, "dirty"), serde_json::Value::Null, "{doc}");
    assert_eq!(t(1, "dirty"), "0003", "{doc}");
    assert_eq!(t(1, "drift"), 0, "{doc}");
    assert_eq!(t(2, "current"), "0009", "{doc}");
    assert_eq!(t(2, "missing_files"), 1, "{doc}");
    assert_eq!(t(2, "pending"), 1, "{doc}");
    assert_eq!(t(3, "drift"), 2, "{doc}");
    assert_eq!(t(3, "current"), "0003", "{doc}");
    assert_eq!(t(3, "dirty"), serde_json::Value::Null, "{doc}");
    let text = p.keel(None, &["fleet", "status"]);
    insta::assert_snapshot!(text.stdout, @r"
    t01  at 0003, at head, 1 changed since applied
    t02  at 0003, at head, DIRTY at 0003
    t03  at 0009, 1 pending, 1 applied without a file
    t04  at 0003, at head, 2 changed since applied
    4 targets: 4 reachable, 0 unreachable
    ");
}

/// A clean database at head costs its status one row: the summary's digest of versions and
/// checksums matches the files, so the versions are not read. A role that may read only the
/// summary gets the whole answer there; where the digest does not match (an edited checksum),
/// the rows are read, and the same role is refused.
#[test]
fn a_clean_database_status_reads_the_summary_row_only() {
    let dbs: Vec<_> = (0..2).map(|_| common::fresh_db()).collect();
    let urls: Vec<String> = dbs.iter().map(|d| d.url().to_string()).collect();
    project(&urls, "", |_| None)
        .keel(None, &["fleet", "upgrade"])
        .assert_code(0);
    dbs[1]
        .connect()
        .batch_execute("UPDATE keel.versions SET up_checksum = 'sha256:0' WHERE version = 2")
        .unwrap();
    let readers: Vec<String> = dbs
        .iter()
        .map(|db| {
            let role = format!("{}_status", db.name());
            db.connect()
                .batch_execute(&format!(
                    "CREATE ROLE {role} LOGIN; GRANT USAGE ON SCHEMA keel TO {role};
                     GRANT SELECT ON keel.summary TO {role};"
                ))
                .unwrap();
            let url = db.url().replace("user=postgres", &format!("user={role}"));
            assert_ne!(url, db.url());
            url
        })
        .collect();
    let p = project(&readers, "", |_| None);
    let run = p.keel(None, &["fleet", "status", "--format", "json"]);
    run.assert_code(1);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let t = |i: usize, field: &str| doc["targets"][i][field].clone();
    assert_eq!(t(0, "error"), serde_json::Value::Null, "{doc}");
    assert_eq!(t(0, "current"), "0003", "{doc}");
    assert_eq!(
        (t(0, "pending"), t(0, "drift")),
        (0.into(), 0.into()),
        "{doc}"
    );
    assert_eq!(t(1, "reachable"), true, "{doc}");
    assert!(
        t(1, "error")
            .as_str()
            .is_some_and(|e| e.contains("permission denied for table versions")),
        "{doc}"
    );
    p.keel(None, &["fleet", "status"])
        .assert_code(1)
        .assert_stdout_has("2 targets: 2 reachable, 0 unreachable, 1 could not be read");
}

/// Targets from a table on a control database, and a URL kept in the environment.
#[test]
fn targets_come_from_a_control_query_and_the_environment() {
    let control = common::fresh_db();
    let listed: Vec<String> = (0..3)
        .map(|_| common::fresh_db().url().to_string())
        .collect();
    let mut c = control.connect();
    c.batch_execute("CREATE TABLE tenants (name text, url text, \"group\" text)")
        .unwrap();
    for (i, url) in listed.iter().enumerate() {
        c.execute(
            "INSERT INTO tenants VALUES ($1, $2, 'rest')",
            &[&format!("q{i}"), url],
        )
        .unwrap();
    }
    let env_db = common::fresh_db();
    let p = project(&[], "", |_| None);
    std::fs::write(
        p.root().join("fleet.toml"),
        "[fleet]\ngroups = [\"canary\", \"rest\"]\n\
         [[fleet.targets]]\nname = \"from_env\"\nurl_env = \"KEEL_TEST_TENANT_URL\"\ngroup = \"canary\"\n\
         [fleet.targets_query]\nurl_env = \"KEEL_TEST_CONTROL_URL\"\n\
         query = \"SELECT name, url, \\\"group\\\" FROM tenants ORDER BY name\"\n",
    )
    .unwrap();
    let run = p
        .keel_cmd(None, &["fleet", "--file", "fleet.toml", "upgrade"])
        .env("KEEL_TEST_TENANT_URL", env_db.url())
        .env("KEEL_TEST_CONTROL_URL", control.url())
        .run();
    run.assert_code(0)
        .assert_stdout_has("fleet upgrade: 4 succeeded, 0 failed, 0 unreachable, 0 skipped");
    for url in listed.iter().map(String::as_str).chain([env_db.url()]) {
        assert_eq!(head_of(url), HEAD);
    }
    // Without the variable, that target is unreachable and says which variable.
    p.keel_cmd(None, &["fleet", "--file", "fleet.toml", "status"])
        .env("KEEL_TEST_CONTROL_URL", control.url())
        .run()
        .assert_code(1)
        .assert_stdout_has("from_env  UNREACHABLE  the environment variable KEEL_TEST_TENANT_URL (its url_env) is not set");
}

/// A target's URL names its database and nothing else: an empty one must not fall back to
/// DATABASE_URL (or the PG* variables, or the dev database), and a malformed one stops the
/// fleet before any database is touched, without quoting it.
#[test]
fn an_empty_or_malformed_target_url_never_reaches_another_database() {
    let victim = common::fresh_db();
    let good = common::fresh_db();
    let p = project(&[], "", |_| None);
    let fleet = |t02: &str| {
        let text = format!(
            "[fleet]\n\n[[fleet.targets]]\nname = \"t01\"\nurl = \"{}\"\n\n\
             [[fleet.targets]]\nname = \"t02\"\nurl = \"{t02}\"\n",
            good.url()
        );
        std::fs::write(p.root().join("fleet.toml"), text).unwrap();
        p.keel_cmd(None, &["fleet", "--file", "fleet.toml", "upgrade"])
            .env("DATABASE_URL", victim.url())
            .run()
    };
    fleet("")
        .assert_code(2)
        .assert_stderr_has("fleet.toml:9:7: [fleet]: target `t02`: its url is empty");
    let run = fleet("postgresql://u:s3cret@localhost:notaport/x");
    run.assert_code(2)
        .assert_stderr_has("fleet.toml:9:7: [fleet]: target `t02`: its url is not a database URL");
    assert!(
        !run.stderr.contains("s3cret") && !run.stdout.contains("s3cret"),
        "{run:?}"
    );
    assert!(head_of(good.url()).is_empty(), "nothing ran");

    // A blank url_env is a target keel cannot reach, said as such.
    std::fs::write(
        p.root().join("fleet.toml"),
        "[fleet]\n[[fleet.targets]]\nname = \"t01\"\nurl_env = \"KEEL_TEST_TENANT_URL\"\n",
    )
    .unwrap();
    p.keel_cmd(None, &["fleet", "--file", "fleet.toml", "upgrade"])
        .env("DATABASE_URL", victim.url())
        .env("KEEL_TEST_TENANT_URL", "  ")
        .run()
        .assert_code(1)
        .assert_stdout_has("t01  UNREACHABLE  the environment variable KEEL_TEST_TENANT_URL (its url_env) is empty");

    // A row of the targets query with an empty url stops the run before any target.
    let control = common::fresh_db();
    control
        .connect()
        .batch_execute(&format!(
            "CREATE TABLE tenants (name text, url text);\
             INSERT INTO tenants VALUES ('q1', '{}'), ('q2', '');",
            good.url()
        ))
        .unwrap();
    let queried = |query: &str, command: &str| {
        std::fs::write(
            p.root().join("fleet.toml"),
            format!(
                "[fleet]\n[fleet.targets_query]\nurl_env = \"KEEL_TEST_CONTROL_URL\"\n\
                 query = \"{query}\"\n"
            ),
        )
        .unwrap();
        p.keel_cmd(None, &["fleet", "--file", "fleet.toml", command])
            .env("DATABASE_URL", victim.url())
            .env("KEEL_TEST_CONTROL_URL", control.url())
            .run()
    };
    queried("SELECT name, url FROM tenants ORDER BY name", "upgrade")
        .assert_code(2)
        .assert_stderr_has("targets_query: the url of `q2` is empty");
    // The query lists targets and writes nothing: a DELETE ... RETURNING is refused, and
    // the control database keeps its rows.
    queried(
        "DELETE FROM tenants WHERE name = 'q1' RETURNING name, url",
        "status",
    )
    .assert_code(1)
    .assert_stderr_has("targets_query failed: cannot execute DELETE in a read-only transaction");
    let kept: i64 = control
        .connect()
        .query_one("SELECT count(*) FROM tenants", &[])
        .unwrap()
        .get(0);
    assert_eq!(kept, 2, "the targets query deleted rows");
    assert!(head_of(good.url()).is_empty(), "nothing ran");
    assert!(
        head_of(victim.url()).is_empty(),
        "DATABASE_URL's database was never touched"
    );
}

/// Ctrl-C starts nothing new: the running target finishes, the others are skipped; and at
/// no time are more than `parallel` connections open.
#[test]
fn ctrl_c_starts_nothing_new_and_connections_stay_within_parallel() {
    let dbs: Vec<common::TestDb> = (0..6).map(|_| common::fresh_db()).collect();
    let names: Vec<String> = dbs.iter().map(|d| d.name().to_string()).collect();
    let urls: Vec<String> = dbs.iter().map(|d| d.url().to_string()).collect();
    let p = project(&urls, "parallel = 2", |_| None);
    p.migration(
        4,
        "slow",
        "CREATE TABLE slow (id int);\nSELECT pg_sleep(0.6);\n",
        "DROP TABLE slow;\n",
    );
    p.seal();
    let mut child = p.spawn(None, &["fleet", "upgrade"], "interrupted");
    let mut admin = common::pg::connect(&common::cluster().connection_string(DEFAULT_DB));
    let mut most = 0;
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(400) {
        let n: i64 = admin
            .query_one(
                // Only this test's databases: the other tests run keel at the same time.
                "SELECT count(*) FROM pg_stat_activity
                  WHERE application_name = 'keel' AND datname = ANY($1)",
                &[&names],
            )
            .unwrap()
            .get(0);
        most = most.max(n);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        (1..=2).contains(&most),
        "{most} connections for parallel = 2"
    );
    let pid = child.child.id() as i32;
    // SIGINT, as Ctrl-C sends.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let run = child
        .wait_timeout(Duration::from_secs(30))
        .expect("keel ends after the running targets");
    run.assert_code(1)
        .assert_stderr_has("interrupted: no new target was started")
        .assert_stdout_has("skipped: interrupted");
    let at_head = urls.iter().filter(|u| head_of(u).len() == 4).count();
    let untouched = urls.iter().filter(|u| head_of(u).is_empty()).count();
    assert_eq!(
        at_head + untouched,
        urls.len(),
        "each at its old or new version"
    );
    assert!(
        (1..=2).contains(&at_head),
        "{at_head} finished: the running ones"
    );
}

/// What `cmd` shows on a terminal of 40 rows and 120 columns: it runs under util-linux
/// `script`'s pseudo-terminal, and stdout and stderr come back together, escape sequences and
/// all, as the terminal received them.
fn on_a_terminal(cmd: std::process::Command) -> (Option<i32>, String) {
    let quote = |s: &std::ffi::OsStr| format!("'{}'", s.to_str().unwrap().replace('\'', r"'\''"));
    let mut line = String::from("stty rows 40 cols 120 && exec ");
    line.push_str(&quote(cmd.get_program()));
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&quote(arg));
    }
    let mut script = std::process::Command::new("script");
    script
        .args(["-qfec", &line, "/dev/null"])
        .env("SHELL", "/bin/sh")
        .stdin(std::process::Stdio::null());
    if let Some(dir) = cmd.get_current_dir() {
        script.current_dir(dir);
    }
    for (name, value) in cmd.get_envs() {
        match value {
            Some(v) => script.env(name, v),
            None => script.env_remove(name),
        };
    }
    let out = assert_cmd::Command::from_std(script)
        .timeout(Duration::from_secs(120))
        .output()
        .expect("util-linux `script`, for a pseudo-terminal");
    (out.status.code(), String::from_utf8(out.stdout).unwrap())
}

/// `text` without its escape sequences, cut where the terminal went back to a line's start:
/// each piece is what one redraw wrote (its lines side by side, padded to the width).
fn redraws(text: &str) -> Vec<String> {
    let mut plain = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: `ESC [`, parameters, then one final byte in @..~.
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
        .split(['\r', '\n'])
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// The targets a redraw shows running: a spinner, the name, then its seconds (`⠋ t01  1.2 s`).
fn running_in<'n>(redraw: &str, names: &[&'n str]) -> Vec<&'n str> {
    names
        .iter()
        .copied()
        .filter(|n| {
            redraw.match_indices(&format!(" {n} ")).any(|(i, m)| {
                let spinner = redraw[..i]
                    .chars()
                    .last()
                    .is_some_and(|c| ('\u{2800}'..='\u{28ff}').contains(&c));
                let rest = redraw[i + m.len()..].trim_start();
                let secs = rest
                    .find(|c: char| !c.is_ascii_digit() && c != '.')
                    .unwrap_or(rest.len());
                spinner && rest[..secs].contains('.') && rest[secs..].starts_with(" s")
            })
        })
        .collect()
}

/// On a terminal, below the finished targets' lines, a line per running target and an overall
/// line; they appear after a second and are cleared before the summary. On a pipe, and with
/// JSON even on a terminal, nothing of it: the same lines as ever.
#[test]
fn a_terminal_shows_the_running_targets_live() {
    let urls: Vec<String> = (0..4)
        .map(|_| common::fresh_db().url().to_string())
        .collect();
    let p = project(&urls, "parallel = 2", |_| None);
    // Long enough that the view shows while two targets run.
    p.migration(
        4,
        "slow",
        "CREATE TABLE slow (id int);\nSELECT pg_sleep(1.5);\n",
        "DROP TABLE slow;\nSELECT pg_sleep(1.5);\n",
    );
    p.seal();
    let names = ["t01", "t02", "t03", "t04"];

    let piped = p.keel(None, &["fleet", "upgrade"]);
    piped.assert_code(0);
    assert!(
        !piped.all().contains(['\x1b', '\r']),
        "nothing animated on a pipe\n{piped}"
    );
    let mut lines: Vec<&str> = piped.stderr.lines().collect();
    lines.sort();
    assert_eq!(lines.len(), 4, "{piped}");
    for (line, name) in lines.iter().zip(names) {
        assert!(
            line.starts_with(&format!("{name}  base → 0004  4 migrations  ")),
            "{piped}"
        );
    }

    let (code, screen) =
        on_a_terminal(p.command(None, &["fleet", "downgrade", "3", "--format", "json"]));
    assert_eq!(code, Some(0), "{screen}");
    assert!(
        !screen.contains('\x1b'),
        "no live view with JSON:\n{screen}"
    );
    for line in screen.lines().map(|l| l.trim_end_matches('\r')) {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("{e}: {line:?} in\n{screen}"));
    }

    let (code, screen) = on_a_terminal(p.command(None, &["fleet", "upgrade"]));
    assert_eq!(code, Some(0), "{screen}");
    let redraws = redraws(&screen);
    assert!(
        redraws.iter().any(|r| running_in(r, &names).len() >= 2),
        "no redraw shows two targets running at once:\n{}",
        redraws.join("\n")
    );
    // Each finished target's line stays, once.
    for name in names {
        let line = format!("{name}  0003 → 0004  1 migration  ");
        assert_eq!(screen.matches(&line).count(), 1, "{line:?}\n{screen:?}");
    }
    // Nothing shows for the first second: the overall line (`0/4 done  1.0 s`, the last of
    // its redraw) starts past it.
    let first = redraws
        .iter()
        .find_map(|r| {
            let rest = r.split_once("/4 done")?.1.trim_end().strip_suffix(" s")?;
            rest.rsplit(' ').next()?.parse::<f64>().ok()
        })
        .unwrap_or_else(|| panic!("no overall line:\n{}", redraws.join("\n")));
    assert!(
        first >= 1.0,
        "shown after {first} s:\n{}",
        redraws.join("\n")
    );
    // Cleared before the summary, and nothing live after it.
    let summary = screen
        .find("fleet upgrade: 4 succeeded")
        .expect("the summary");
    let last = screen.rfind("/4 done").expect("an overall line");
    assert!(last < summary, "{screen:?}");
    assert!(screen[last..summary].contains("\x1b[2K"), "{screen:?}");
    assert!(
        !screen[summary..].contains(|c| ('\u{2800}'..='\u{28ff}').contains(&c)),
        "{screen:?}"
    );
}

/// A fleet downgrade counts the policies it changed: those the policy stage dropped for the
/// down steps and created again exactly as they were are no change.
#[test]
fn a_fleet_downgrade_counts_only_the_policies_that_changed() {
    let url = common::fresh_db().url().to_string();
    let p = project(std::slice::from_ref(&url), "parallel = 1", |_| None);
    let policies = p.root().join("sql/policies");
    std::fs::create_dir_all(&policies).unwrap();
    for (table, from) in [("one", 1), ("three", 3)] {
        std::fs::write(
            policies.join(format!("{table}.sql")),
            format!(
                "-- keel:requires {from}\n\
                 ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;\n\
                 CREATE POLICY {table}_read ON {table} FOR SELECT USING (id > 0);\n"
            ),
        )
        .unwrap();
    }
    p.seal();
    p.keel(None, &["fleet", "upgrade"]).assert_code(0);

    // `one_read` comes back unchanged; `three_read` goes with its table.
    p.keel(None, &["fleet", "downgrade", "2"])
        .assert_code(0)
        .assert_stderr_has("t01  0003 → 0002  1 migration, 1 policy change  ");
    assert_eq!(head_of(&url), ["1", "2"]);
}
