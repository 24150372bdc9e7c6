//! The PostgreSQL clusters keel starts for itself: throwaway test clusters (and their cleanup
//! when the test process dies), the per-test databases, and the project's dev cluster.
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests query and print freely

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use keel::db::cluster::{Cluster, ClusterError, ClusterSpec, DevDb, ServerBinaries};

/// Set (to `<mode>:<output file>`) only in the child process of the reaper tests.
const REAPER_HELPER_ENV: &str = "KEEL_TEST_REAPER_HELPER";

fn select_one(client: &mut postgres::Client) -> i32 {
    client.query_one("select 1", &[]).unwrap().get(0)
}

fn running_as_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Alive means it exists and is not a zombie waiting for its parent to reap it.
fn process_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesized command name, which may itself contain spaces.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting until {what}"
        );
        sleep(Duration::from_millis(100));
    }
}

/// A project directory that every user can enter, so the dev cluster lives inside it even
/// when the tests run as root.
fn open_project_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Deletes a dev cluster even when the test fails halfway.
struct DestroyOnDrop<'a>(&'a DevDb);

impl Drop for DestroyOnDrop<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.0.destroy() {
            eprintln!("could not clean up the dev cluster: {e}");
        }
    }
}

#[test]
fn server_binaries_are_found() {
    let bins = ServerBinaries::find().unwrap();
    for program in [bins.initdb(), bins.pg_ctl(), bins.postgres()] {
        assert!(program.is_file(), "{}", program.display());
        assert_eq!(program.parent(), Some(bins.bindir()));
    }
}

#[test]
fn shared_cluster_answers_select_1_through_its_url() {
    let cluster = common::cluster();
    let url = cluster.url("postgres");
    assert!(url.starts_with("postgresql:///postgres?host=%2F"), "{url}");
    assert!(url.ends_with("&user=postgres"), "{url}");
    assert_eq!(select_one(&mut common::pg::connect(&url)), 1);

    let status = cluster.status().unwrap();
    assert!(status.running);
    assert!(status.pid.is_some());
    assert_eq!(status.url, url);
}

#[test]
fn throwaway_cluster_starts_and_is_deleted_on_drop() {
    let started = Instant::now();
    let cluster = Cluster::throwaway().unwrap();
    eprintln!("throwaway cluster init + start: {:?}", started.elapsed());

    let mut client = common::pg::connect(&cluster.url("postgres"));
    assert_eq!(select_one(&mut client), 1);
    // The server must not listen on TCP: the socket is what keeps `trust` private.
    let listen: String = client
        .query_one("show listen_addresses", &[])
        .unwrap()
        .get(0);
    assert_eq!(listen, "");
    drop(client);

    // Starting again is a no-op.
    let pid = cluster.pid().unwrap().expect("running");
    cluster.start().unwrap();
    assert_eq!(cluster.pid().unwrap(), Some(pid));

    let root = cluster.data_dir().parent().unwrap().to_path_buf();
    let stopped = Instant::now();
    drop(cluster);
    eprintln!("throwaway cluster stop + delete: {:?}", stopped.elapsed());
    assert!(!root.exists(), "{} is still there", root.display());
    assert!(!process_alive(pid), "postmaster {pid} still runs");
}

#[test]
fn failed_start_shows_the_server_log() {
    let dir = open_project_dir();
    let spec = ClusterSpec::in_dir(dir.path(), 25999);
    let cluster = Cluster::init(ServerBinaries::find().unwrap(), spec).unwrap();
    let conf = cluster.data_dir().join("postgresql.conf");
    let mut text = fs::read_to_string(&conf).unwrap();
    text.push_str("\nkeel_no_such_setting = 1\n");
    fs::write(&conf, text).unwrap();

    let err = cluster.start().unwrap_err();
    assert!(matches!(err, ClusterError::StartFailed { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("pg_ctl"), "{message}");
    assert!(message.contains("server.log"), "{message}");
    assert!(message.contains("keel_no_such_setting"), "{message}");
    assert!(!cluster.is_running().unwrap());
}

#[test]
fn init_where_the_server_user_cannot_reach_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let spec = ClusterSpec::in_dir(&dir.path().join("project"), 25998);
    let result = Cluster::init(ServerBinaries::find().unwrap(), spec);
    if !running_as_root() {
        // As a regular user the server runs as us, so our own private directory is fine.
        result.unwrap();
        return;
    }
    let err = result.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, ClusterError::NotReachable { .. }), "{err:?}");
    assert!(message.contains(dir.path().to_str().unwrap()), "{message}");
    assert!(message.contains("mode 700"), "{message}");
    assert!(message.contains("hint: `chmod o+x"), "{message}");
}

#[test]
fn fresh_databases_are_distinct() {
    let a = common::fresh_db();
    let b = common::fresh_db();
    assert_ne!(a.name(), b.name());
    assert_ne!(a.url(), b.url());

    let mut ca = a.connect();
    let mut cb = b.connect();
    let name_a: String = ca
        .query_one("select current_database()", &[])
        .unwrap()
        .get(0);
    let name_b: String = cb
        .query_one("select current_database()", &[])
        .unwrap()
        .get(0);
    assert_eq!(name_a, a.name());
    assert_eq!(name_b, b.name());

    ca.batch_execute("create table only_in_a (id int)").unwrap();
    let seen_in_b: bool = cb
        .query_one("select to_regclass('only_in_a') is not null", &[])
        .unwrap()
        .get(0);
    assert!(!seen_in_b);

    // The key/value form reaches the same database.
    let mut kv = common::pg::connect(a.connection_string());
    let name: String = kv
        .query_one("select current_database()", &[])
        .unwrap()
        .get(0);
    assert_eq!(name, a.name());
}

#[test]
fn dev_db_lifecycle_keeps_its_data() {
    let project = open_project_dir();
    let dev = DevDb::new(project.path()).unwrap();
    let _cleanup = DestroyOnDrop(&dev);
    let keel_dir = fs::canonicalize(project.path()).unwrap().join(".keel");
    assert_eq!(dev.data_dir(), keel_dir.join("pgdata"));
    assert_eq!(dev.socket_dir(), keel_dir.join("run"));
    assert_eq!(dev.log_file(), keel_dir.join("server.log"));
    assert!((20000..30000).contains(&dev.port()));
    assert!(!dev.status().unwrap().running);

    let first = dev.start_major(Some(common::server_major())).unwrap();
    assert!(first.running);
    let second = dev.start_major(Some(common::server_major())).unwrap();
    assert_eq!(second.pid, first.pid, "a second start must be a no-op");

    let record: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(keel_dir.join("dev-db.json")).unwrap()).unwrap();
    assert_eq!(record["port"], dev.port());
    assert_eq!(record["data_dir"], dev.data_dir().to_str().unwrap());
    assert_eq!(record["socket_dir"], dev.socket_dir().to_str().unwrap());

    let mut client = common::pg::connect(&dev.url());
    client
        .batch_execute("create table kept (note text); insert into kept values ('still here')")
        .unwrap();
    drop(client);
    assert!(dev.status().unwrap().running);

    dev.stop().unwrap();
    let stopped = dev.status().unwrap();
    assert!(!stopped.running);
    assert_eq!(stopped.pid, None);
    dev.stop().unwrap(); // stopping a stopped cluster is fine

    // A later run finds the same cluster through the record.
    let again = DevDb::new(project.path()).unwrap();
    assert_eq!(again.url(), dev.url());
    again.start_major(Some(common::server_major())).unwrap();
    let mut client = common::pg::connect(&again.url());
    let note: String = client
        .query_one("select note from kept", &[])
        .unwrap()
        .get(0);
    assert_eq!(note, "still here");
    drop(client);

    dev.destroy().unwrap();
    assert!(!dev.data_dir().exists());
    assert!(!keel_dir.join("dev-db.json").exists());
}

/// Every `dev-db` command answers `--format json` with one document, as docs/json.md promises
/// of every command: `url`, `stop` and `destroy` printed nothing.
#[test]
fn dev_db_url_stop_and_destroy_answer_in_json() {
    let project = open_project_dir();
    let dev = DevDb::new(project.path()).unwrap();
    let _cleanup = DestroyOnDrop(&dev);
    dev.start_major(Some(common::server_major())).unwrap();
    let json = |args: &[&str]| -> serde_json::Value {
        let run = common::Keel::new(project.path())
            .args(["--format", "json", "dev-db"])
            .args(args)
            .run();
        run.assert_code(0);
        serde_json::from_str(run.stdout.trim())
            .unwrap_or_else(|e| panic!("not one JSON document ({e})\n{run}"))
    };
    let data_dir = dev.data_dir().to_str().unwrap().to_string();
    assert_eq!(json(&["url"])["url"], dev.url());
    let stopped = json(&["stop"]);
    assert_eq!(stopped["running"], false, "{stopped}");
    assert_eq!(stopped["data_dir"], data_dir, "{stopped}");
    assert!(!dev.status().unwrap().running);
    let deleted = json(&["destroy"]);
    assert_eq!(deleted["deleted"], true, "{deleted}");
    assert_eq!(deleted["data_dir"], data_dir, "{deleted}");
    assert!(!dev.data_dir().exists());
}

#[test]
fn dev_db_moves_out_of_a_project_the_server_user_cannot_enter() {
    // Like a clone under /root: as root, the postgres user cannot enter it.
    let project = tempfile::tempdir().unwrap();
    fs::set_permissions(project.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let dev = DevDb::new(project.path()).unwrap();
    let _cleanup = DestroyOnDrop(&dev);
    let keel_dir = fs::canonicalize(project.path()).unwrap().join(".keel");
    let base = dev.data_dir().parent().unwrap().to_path_buf();
    if running_as_root() {
        assert!(
            base.to_str().unwrap().starts_with("/var/tmp/keel-dev-"),
            "{}",
            base.display()
        );
    } else {
        assert_eq!(base, keel_dir);
    }

    dev.start_major(Some(common::server_major())).unwrap();
    assert_eq!(select_one(&mut common::pg::connect(&dev.url())), 1);
    let record = fs::read_to_string(keel_dir.join("dev-db.json")).unwrap();
    assert!(
        record.contains(dev.data_dir().to_str().unwrap()),
        "{record}"
    );

    dev.destroy().unwrap();
    assert!(
        !base.exists() || base == keel_dir,
        "{} is left",
        base.display()
    );
}

#[test]
fn dev_db_with_a_long_path_gets_a_short_socket_dir() {
    let project = open_project_dir();
    let mut deep = project.path().to_path_buf();
    for _ in 0..3 {
        deep.push("a-rather-long-directory-name-to-overflow-sun-path");
        fs::create_dir(&deep).unwrap();
    }
    let dev = DevDb::new(&deep).unwrap();
    let _cleanup = DestroyOnDrop(&dev);
    assert!(dev.data_dir().starts_with(fs::canonicalize(&deep).unwrap()));
    let socket_dir = dev.socket_dir().to_path_buf();
    assert!(
        socket_dir.to_str().unwrap().starts_with("/tmp/keel-"),
        "{}",
        socket_dir.display()
    );

    dev.start_major(Some(common::server_major())).unwrap();
    assert_eq!(select_one(&mut common::pg::connect(&dev.url())), 1);
    dev.destroy().unwrap();
    assert!(!socket_dir.exists());
}

/// Not a test of its own: the child process of the reaper tests below, a `#[test]` only so
/// that they can start this binary to run it. Started with `KEEL_TEST_REAPER_HELPER` set, it
/// starts a throwaway cluster, reports where it is, then dies without running any destructor.
/// Does nothing in a normal test run.
#[test]
fn reaper_helper_process() {
    let Ok(spec) = std::env::var(REAPER_HELPER_ENV) else {
        return;
    };
    let (mode, out) = spec.split_once(':').unwrap();
    let cluster = Cluster::throwaway().unwrap();
    let pid = cluster.pid().unwrap().unwrap();
    let report = format!(
        "{pid}\n{}\n{}\n",
        cluster.data_dir().display(),
        cluster.socket_dir().display()
    );
    // Written whole, then renamed: the parent polls for the file.
    fs::write(format!("{out}.tmp"), report).unwrap();
    fs::rename(format!("{out}.tmp"), out).unwrap();
    match mode {
        "abort" => std::process::abort(),
        _ => loop {
            sleep(Duration::from_secs(1));
        },
    }
}

struct HelperCluster {
    pid: u32,
    root: PathBuf,
    socket_dir: PathBuf,
}

fn spawn_helper(mode: &str, out: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "reaper_helper_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(REAPER_HELPER_ENV, format!("{mode}:{}", out.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn read_helper_report(out: &Path) -> HelperCluster {
    let report = fs::read_to_string(out).unwrap();
    let mut lines = report.lines();
    let pid = lines.next().unwrap().parse().unwrap();
    let data_dir = PathBuf::from(lines.next().unwrap());
    let socket_dir = PathBuf::from(lines.next().unwrap());
    HelperCluster {
        pid,
        root: data_dir.parent().unwrap().to_path_buf(),
        socket_dir,
    }
}

fn assert_cleaned_up(helper: &HelperCluster) {
    let died = Instant::now();
    wait_until(
        "the reaper stops the server and deletes its directory",
        Duration::from_secs(10),
        || !process_alive(helper.pid) && !helper.root.exists() && !helper.socket_dir.exists(),
    );
    eprintln!(
        "reaper cleaned up {:?} after the test process died",
        died.elapsed()
    );
}

/// Guards the throwaway cluster's reaper (`keel::db::cluster`): when the process that started
/// a cluster aborts, without running any destructor, the cluster is still stopped and its
/// directories deleted, so crashed test runs leave no servers behind.
#[test]
fn reaper_cleans_up_after_abort() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cluster.txt");
    let status = spawn_helper("abort", &out).wait().unwrap();
    assert!(!status.success(), "the helper should have aborted");
    assert!(
        out.exists(),
        "the helper did not start its cluster ({status})"
    );
    let helper = read_helper_report(&out);
    assert_cleaned_up(&helper);
}

/// Guards the throwaway cluster's reaper as above, for a process killed with SIGKILL (as a
/// timed-out CI job is).
#[test]
fn reaper_cleans_up_after_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cluster.txt");
    let mut child = spawn_helper("hang", &out);
    wait_until(
        "the helper has started its cluster",
        Duration::from_secs(60),
        || out.exists() || child.try_wait().unwrap().is_some(),
    );
    assert!(
        out.exists(),
        "the helper exited before starting its cluster"
    );
    let helper = read_helper_report(&out);
    assert!(process_alive(helper.pid));
    child.kill().unwrap(); // SIGKILL: no destructor, no atexit, nothing
    child.wait().unwrap();
    assert_cleaned_up(&helper);
}

/// `make test PG=17` tests what it says: the tests' cluster runs the server that
/// `KEEL_PG_BINDIR` (or, without it, the usual search) chose.
#[test]
fn the_tests_run_the_chosen_server() {
    let bins = ServerBinaries::find().expect("server binaries");
    let out = Command::new(bins.postgres())
        .arg("--version")
        .output()
        .expect("postgres --version");
    // `postgres (PostgreSQL) 17.10`, or `... 15.18 (Debian 15.18-0+deb12u1)`
    let version = String::from_utf8_lossy(&out.stdout);
    let chosen = version
        .split_whitespace()
        .nth(2)
        .unwrap_or_default()
        .to_string();
    let mut c = common::fresh_db().connect();
    let running: String = c.query_one("SHOW server_version", &[]).unwrap().get(0);
    assert_eq!(
        running.split_whitespace().next().unwrap_or_default(),
        chosen,
        "{version}"
    );
    assert_eq!(
        common::server_major().to_string(),
        chosen.split('.').next().unwrap_or_default()
    );
}

/// Deletes a dev cluster through `keel dev-db destroy` (searching, with `cache`), even when the
/// test fails halfway.
struct DestroyByKeel<'a>(&'a Path, &'a Path);

impl Drop for DestroyByKeel<'_> {
    fn drop(&mut self) {
        let run = common::Keel::new(self.0)
            .env_remove("KEEL_PG_BINDIR")
            .env("KEEL_PG_CACHE", self.1)
            .args(["dev-db", "destroy"])
            .run();
        if run.code != Some(0) {
            eprintln!("could not clean up the dev cluster: {run}");
        }
    }
}

/// The bin directory of another PostgreSQL major than this suite's, fetched by
/// `scripts/pg-binaries` into its cache (which `keel dev-db` searches).
fn other_major() -> (u32, PathBuf) {
    let other = if common::server_major() >= 17 { 16 } else { 17 };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg-binaries");
    let out = Command::new(&script)
        .arg(other.to_string())
        .env_remove("KEEL_PG_BINDIR")
        .output()
        .expect("scripts/pg-binaries");
    assert!(
        out.status.success(),
        "scripts/pg-binaries {other}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bindir = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    (other, bindir)
}

/// `keel dev-db start --pg MAJOR` creates the dev database with that major, found in the
/// `scripts/pg-binaries` cache; later runs choose the binaries by the major that made the data
/// (the record names none), and another major is refused with the fix, nothing changed.
#[test]
fn dev_db_start_pg_chooses_the_major_and_keeps_to_it() {
    let (other, bindir) = other_major();
    // `<cache>/<version>/native/bin`
    let cache = bindir.ancestors().nth(3).unwrap().to_path_buf();
    let project = open_project_dir();
    // This process's KEEL_PG_BINDIR is the suite's major: the dev database of the other one is
    // only handled through keel, which is left to search.
    let dev = DevDb::new(project.path()).unwrap();
    let keel = |args: &[&str]| {
        common::Keel::new(project.path())
            .env_remove("KEEL_PG_BINDIR")
            .env("KEEL_PG_CACHE", &cache)
            .args(args)
            .run()
    };
    let _cleanup = DestroyByKeel(project.path(), &cache);
    let running = || keel(&["dev-db", "status"]).code == Some(0);

    let started = keel(&[
        "dev-db",
        "start",
        "--pg",
        &other.to_string(),
        "--format",
        "json",
    ]);
    started.assert_code(0);
    let json: serde_json::Value = serde_json::from_str(&started.stdout).unwrap();
    assert_eq!(json["pg_major"], other, "{started}");
    let version_num: String = common::pg::connect(&dev.url())
        .query_one("SHOW server_version_num", &[])
        .unwrap()
        .get(0);
    assert_eq!(version_num.parse::<u32>().unwrap() / 10_000, other);
    let record = fs::read_to_string(project.path().join(".keel/dev-db.json")).unwrap();
    assert!(
        !record.contains("bin") && !record.contains(cache.to_str().unwrap()),
        "the record names no program: {record}"
    );
    keel(&["dev-db", "status"])
        .assert_code(0)
        .assert_stdout_has(&format!("pg:   PostgreSQL {other}"));

    // Another major for this data: refused before anything is touched.
    let suite = common::server_major();
    let refused = keel(&["dev-db", "start", "--pg", &suite.to_string()]);
    refused
        .assert_code(1)
        .assert_stderr_has(&format!(
            "was made by PostgreSQL {other}; it cannot run under PostgreSQL {suite}"
        ))
        .assert_stderr_has("keel dev-db destroy");
    assert!(running());

    // Stopped, it starts again under the major that made it, even with no --pg, and a
    // KEEL_PG_BINDIR of another major is refused saying why that major is needed.
    keel(&["dev-db", "stop"]).assert_code(0);
    common::Keel::new(project.path())
        .env("KEEL_PG_BINDIR", common::suite_bindir())
        .args(["dev-db", "start"])
        .run()
        .assert_code(1)
        .assert_stderr_has(&format!(
            "a PostgreSQL {suite} server, but PostgreSQL {other} is needed (the dev database in"
        ));
    assert!(!running());
    keel(&["dev-db", "start"]).assert_code(0);
    assert!(running());

    keel(&["dev-db", "destroy"]).assert_code(0);
    assert!(!dev.data_dir().exists());
}

/// A major that is nowhere: the error names what was found and how to get it; nothing is
/// written.
#[test]
fn dev_db_start_pg_of_a_missing_major_says_what_there_is() {
    let project = open_project_dir();
    let run = common::Keel::new(project.path())
        .env_remove("KEEL_PG_BINDIR")
        .args(["dev-db", "start", "--pg", "99"])
        .run();
    run.assert_code(1)
        .assert_stderr_has("no PostgreSQL 99 server binaries were found; found: ")
        .assert_stderr_has(&format!("{} in ", common::server_major()))
        .assert_stderr_has("scripts/pg-binaries 99");
    assert!(!project.path().join(".keel").exists(), "{run}");
}

/// With no --pg and no KEEL_PG_BINDIR, a new dev database gets the newest major found.
#[test]
fn dev_db_start_defaults_to_the_newest_major() {
    let (other, bindir) = other_major();
    let cache = bindir.ancestors().nth(3).unwrap().to_path_buf();
    let project = open_project_dir();
    let _cleanup = DestroyByKeel(project.path(), &cache);
    let started = common::Keel::new(project.path())
        .env_remove("KEEL_PG_BINDIR")
        .env("KEEL_PG_CACHE", &cache)
        .args(["dev-db", "start", "--format", "json"])
        .run();
    started.assert_code(0);
    let json: serde_json::Value = serde_json::from_str(&started.stdout).unwrap();
    let major = json["pg_major"].as_u64().unwrap() as u32;
    assert!(
        major >= other.max(common::server_major()),
        "{major} is not the newest found\n{started}"
    );
}
