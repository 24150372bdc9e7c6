//! Helpers shared by the integration tests. Each `tests/*.rs` binary includes them with
//! `mod common;`.

// Every test binary compiles this module, and not every binary uses every helper (or
// every re-export).
#![allow(dead_code, unused_imports)]

pub mod keel;
pub mod pg;

pub use self::keel::{
    copy_dir, keel_bin, suite_bindir, without_ambient_env, Keel, Run, AMBIENT_ENV, KEEL_TIMEOUT,
    PASSED_ENV,
};
pub use pg::{cluster, fresh_db, server_major, TestDb};

/// A TCP port nothing listens on right now (for a server started by a test).
#[allow(dead_code)]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Puts `line` first in the cluster's `pg_hba.conf` (the first matching line wins). Takes
/// effect at the next start.
pub fn hba_first(cluster: &::keel::db::cluster::Cluster, line: &str) {
    let hba = cluster.data_dir().join("pg_hba.conf");
    let text = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(&hba, format!("{line}\n{text}")).unwrap();
}

/// Restarts the cluster listening on 127.0.0.1 at a free port, with `settings` besides;
/// returns the port.
pub fn restart_on_loopback(
    cluster: &::keel::db::cluster::Cluster,
    settings: &[(&str, &str)],
) -> u16 {
    cluster.stop().unwrap();
    let port = free_port();
    let port_text = port.to_string();
    let mut all = vec![
        ("listen_addresses", "127.0.0.1"),
        ("port", port_text.as_str()),
    ];
    all.extend_from_slice(settings);
    cluster
        .start_with(&all)
        .expect("server on 127.0.0.1 starts");
    port
}
