//! A real PostgreSQL for the integration tests: one throwaway cluster per test binary, and a
//! fresh database per test so tests can run in parallel without seeing each other's tables.
//!
//! The cluster comes from the machine's server binaries (see `keel::db::cluster`). Without
//! them the tests fail with instructions; they never skip silently.
#![allow(clippy::disallowed_methods)] // tests query freely

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use keel::db::cluster::{Cluster, DEFAULT_DB};

/// This test binary's cluster, started on first use.
///
/// It is never dropped (it lives in a `static`); the cluster's watchdog stops and deletes it
/// when the test binary exits, however it exits.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| match Cluster::throwaway() {
        Ok(cluster) => cluster,
        Err(e) => panic!(
            "the integration tests need a PostgreSQL cluster of their own, and could not start one:\n{e}"
        ),
    })
}

/// A database of its own for one test, in this binary's cluster.
///
/// Databases are not dropped afterwards: the whole cluster is deleted when the binary exits,
/// and keeping them leaves something to look at when a test fails.
#[derive(Debug)]
pub struct TestDb {
    name: String,
    url: String,
    connection_string: String,
}

impl TestDb {
    /// The database name, `keel_test_<n>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `postgresql:///keel_test_<n>?host=...&port=...&user=postgres`, as a user would pass it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The same database as a libpq key/value string.
    pub fn connection_string(&self) -> &str {
        &self.connection_string
    }

    /// A new connection to this database.
    pub fn connect(&self) -> postgres::Client {
        connect(&self.url)
    }
}

/// Creates a new, empty database in this binary's cluster.
pub fn fresh_db() -> TestDb {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let cluster = cluster();
    let name = format!("keel_test_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let mut admin = connect(&cluster.connection_string(DEFAULT_DB));
    if let Err(e) = admin.batch_execute(&format!("CREATE DATABASE {name}")) {
        panic!("could not create the test database {name}: {e}");
    }
    TestDb {
        url: cluster.url(&name),
        connection_string: cluster.connection_string(&name),
        name,
    }
}

/// Connects with a URL or key/value string, panicking with the target on failure.
pub fn connect(target: &str) -> postgres::Client {
    match postgres::Client::connect(target, postgres::NoTls) {
        Ok(client) => client,
        Err(e) => panic!("could not connect to {target}: {e}"),
    }
}

/// The major version of this binary's server (13 to 18): `KEEL_PG_BINDIR` chooses it, as
/// `make test PG=17` does. Tests whose SQL needs a newer server say so through it.
pub fn server_major() -> u32 {
    static MAJOR: OnceLock<u32> = OnceLock::new();
    *MAJOR.get_or_init(|| {
        let mut c = connect(&cluster().connection_string(DEFAULT_DB));
        let num: String = c
            .query_one("SHOW server_version_num", &[])
            .expect("server_version_num")
            .get(0);
        num.parse::<u32>().expect("a number") / 10_000
    })
}
