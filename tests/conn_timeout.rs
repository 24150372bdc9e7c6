//! A server that vanishes in the middle of a run: keel must fail in bounded
//! time instead of waiting on a dead TCP connection for hours while the
//! run's locks are held.
//!
//! Stopping the server process alone (SIGSTOP) is not a vanished server: the
//! kernel still acknowledges TCP data and keepalive probes for a stopped
//! process, so no TCP-level setting can notice it. The test therefore also
//! takes the network away: the whole test runs in a private network
//! namespace (as root), and `lo` is brought down there after the server is
//! stopped, so nothing answers any more, as when a host disappears.
//!
//! Two cases: keel waiting for a reply (only keepalive probes go out; they
//! find the dead peer), and keel sending (its data is never acknowledged;
//! `tcp_user_timeout` ends the connection). On Linux, with
//! `tcp_user_timeout` set, it also bounds how long keepalive probes may go
//! unanswered, so here both cases end after about its 4 seconds.
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests query and print freely

mod common;

#[path = "fixtures/runner/support.rs"]
mod support;

use keel::db::cluster::Cluster;
use std::process::Command;
use std::time::{Duration, Instant};
use support::Project;

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("`ip` runs");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn signal(pid: i32, sig: libc::c_int) {
    // SAFETY: kill(2) with a pid read from pg_stat_activity; no memory involved.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {sig}): {}",
        std::io::Error::last_os_error()
    );
}

#[test]
fn a_vanished_server_fails_a_run_in_bounded_time() {
    // The namespace belongs to this thread, and to every process it starts
    // (the cluster and keel); no other test runs in this binary.
    // SAFETY: unshare(2) takes flags only.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(
        rc,
        0,
        "this test needs root for a private network namespace: unshare(CLONE_NEWNET): {}",
        std::io::Error::last_os_error()
    );
    ip(&["link", "set", "lo", "up"]);

    let cluster = Cluster::throwaway().expect("throwaway cluster");
    common::hba_first(&cluster, "host all postgres 127.0.0.1/32 trust");
    let port = common::restart_on_loopback(&cluster, &[]);

    let project = Project::new();
    project
        .migration(1, "wait", "SELECT pg_sleep(600);\n", "SELECT 1;\n")
        .seal();
    // Short keepalives (libpq's names); tcp_user_timeout (milliseconds, as
    // libpq) bounds how long unacknowledged probes may go unanswered.
    let url = format!(
        "postgresql://postgres@127.0.0.1:{port}/postgres?keepalives=1&keepalives_idle=1\
         &keepalives_interval=1&keepalives_count=3&tcp_user_timeout=4000&connect_timeout=5"
    );
    // Over the socket, which taking `lo` down does not touch.
    let admin_url = keel::db::cluster::connection_string(cluster.socket_dir(), port, "postgres");
    let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls).unwrap();

    // 1. keel waits for a reply (its migration runs): only keepalive probes
    // go out, and they go unanswered.
    let mut run = project.spawn(Some(&url), &["upgrade"], "upgrade");
    let backend = wait_for_query(&mut admin, &mut run, "SELECT pg_sleep(600)%");
    // The server stops answering, then the network goes.
    signal(backend, libc::SIGSTOP);
    let (result, took) = vanish(&mut run);
    signal(backend, libc::SIGCONT);
    check(result, took, "waiting for a reply");
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&backend])
        .unwrap();

    // 2. keel sends (it polls for the run lock another session holds): its
    // data goes unacknowledged.
    let holder = keel::db::lock::key("keel");
    admin
        .execute("SELECT pg_advisory_lock($1)", &[&holder])
        .unwrap();
    let mut run = project.spawn(
        Some(&url),
        &["upgrade", "--lock-timeout", "600"],
        "upgrade-locked",
    );
    let backend = wait_for_query(&mut admin, &mut run, "SELECT pg_try_advisory_lock%");
    let (result, took) = vanish(&mut run);
    check(result, took, "sending while polling for the lock");
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&backend])
        .unwrap();
}

/// The pid of the backend running keel's `query` (a LIKE pattern), once it
/// runs.
fn wait_for_query(admin: &mut postgres::Client, keel: &mut support::Spawned, query: &str) -> i32 {
    let started = Instant::now();
    loop {
        let row = admin
            .query_opt(
                "SELECT pid FROM pg_stat_activity WHERE query LIKE $1 AND application_name = 'keel'",
                &[&query],
            )
            .unwrap();
        if let Some(r) = row {
            return r.get(0);
        }
        if let Some(status) = keel.child.try_wait().unwrap() {
            panic!(
                "keel ended before `{query}` ran: {}",
                keel.run(status.code())
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "`{query}` never ran"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Takes the network away until keel exits (at most a minute), then brings
/// it back. Returns keel's run and how long it took to give up.
fn vanish(keel: &mut support::Spawned) -> (Result<support::Run, support::Run>, Duration) {
    ip(&["link", "set", "lo", "down"]);
    let gone = Instant::now();
    let result = keel.wait_timeout(Duration::from_secs(60));
    let took = gone.elapsed();
    ip(&["link", "set", "lo", "up"]);
    (result.ok_or_else(|| keel.run(None)), took)
}

fn check(result: Result<support::Run, support::Run>, took: Duration, case: &str) {
    let run = result.unwrap_or_else(|run| {
        panic!("{case}: keel still waited on the vanished server after {took:?}: {run}")
    });
    assert_eq!(run.code, Some(1), "{case}: {run}");
    assert!(
        took < Duration::from_secs(20),
        "{case}: keel took {took:?} to notice: {run}"
    );
    assert!(run.stderr.contains("error:"), "{case}: {run}");
    eprintln!("{case}: keel gave up {took:?} after the server vanished:\n{run}");
}
