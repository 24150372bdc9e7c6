//! Behind a transaction-pooling proxy a session advisory lock is not a
//! lock: keel must refuse to run there and say how to connect instead. The
//! proxy is a real pgbouncer (`apt-get install pgbouncer`), one database
//! pooled per transaction and one per session, in front of a throwaway
//! cluster.
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests query and print freely

mod common;

#[path = "fixtures/runner/support.rs"]
mod support;

use keel::db::cluster::Cluster;
use std::os::unix::fs::{chown, MetadataExt};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::Project;

/// pgbouncer, run as the server's OS user (it refuses to run as root);
/// killed when dropped.
struct Pgbouncer(Child);

impl Drop for Pgbouncer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_pgbouncer(cluster: &Cluster, dir: &std::path::Path, port: u16) -> Pgbouncer {
    let version = Command::new("pgbouncer").arg("--version").output();
    assert!(
        version.as_ref().is_ok_and(|o| o.status.success()),
        "this test needs pgbouncer on PATH: install it with `apt-get install pgbouncer` ({version:?})"
    );
    let owner = std::fs::metadata(cluster.data_dir()).unwrap();
    let server = format!(
        "host={} port={} user=postgres dbname=postgres",
        cluster.socket_dir().display(),
        cluster.port()
    );
    let ini = dir.join("pgbouncer.ini");
    std::fs::write(
        &ini,
        format!(
            "[databases]\n\
             tx = {server} pool_mode=transaction\n\
             sess = {server} pool_mode=session\n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {port}\n\
             unix_socket_dir =\n\
             auth_type = trust\n\
             auth_file = {auth}\n\
             logfile = {log}\n\
             ignore_startup_parameters = extra_float_digits,options\n",
            auth = dir.join("users.txt").display(),
            log = dir.join("pgbouncer.log").display(),
        ),
    )
    .unwrap();
    std::fs::write(dir.join("users.txt"), "\"postgres\" \"\"\n").unwrap();
    for p in [dir.to_path_buf(), ini, dir.join("users.txt")] {
        chown(&p, Some(owner.uid()), Some(owner.gid())).unwrap();
    }
    // Started as the server's user directly, not through `runuser`, which would fork: killing
    // it would leave pgbouncer running after the test.
    let child = Command::new("pgbouncer")
        .arg(dir.join("pgbouncer.ini"))
        .uid(owner.uid())
        .gid(owner.gid())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pgbouncer starts");
    let bouncer = Pgbouncer(child);
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "pgbouncer did not listen on {port}: {}",
            std::fs::read_to_string(dir.join("pgbouncer.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    bouncer
}

#[test]
fn a_transaction_pooler_is_refused_and_a_session_pooler_is_not() {
    let cluster = Cluster::throwaway().expect("throwaway cluster");
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let _bouncer = start_pgbouncer(&cluster, dir.path(), port);

    let project = Project::new();
    project
        .migration(1, "table", "CREATE TABLE t (id int);\n", "DROP TABLE t;\n")
        .seal();
    let url = |db: &str| format!("postgresql://postgres@127.0.0.1:{port}/{db}?sslmode=disable");

    let run = project.keel(Some(&url("tx")), &["upgrade"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stderr.contains("transaction-pooling proxy"), "{run}");
    assert!(
        run.stderr.contains(
            "hint: connect keel directly to PostgreSQL, or through a session-pooling port"
        ),
        "{run}"
    );
    // Nothing ran.
    let mut c =
        postgres::Client::connect(&cluster.connection_string("postgres"), postgres::NoTls).unwrap();
    let t: Option<String> = c
        .query_one("SELECT to_regclass('public.t')::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(t, None, "{run}");

    let run = project.keel(Some(&url("sess")), &["upgrade"]);
    assert_eq!(run.code, Some(0), "a session pooler keeps the lock: {run}");
}
