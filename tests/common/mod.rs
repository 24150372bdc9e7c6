//! Helpers shared by the integration tests. Each `tests/*.rs` binary includes them with
//! `mod common;`.

// Every test binary compiles this module, and not every binary uses every helper (or
// every re-export).
#![allow(dead_code, unused_imports)]

pub mod pg;

pub use pg::{cluster, fresh_db, TestDb};

/// A TCP port nothing listens on right now (for a server started by a test).
#[allow(dead_code)]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Variables that could point keel at some other database or change its output; every keel
/// started by these tests runs without them.
#[allow(dead_code)]
pub const AMBIENT_ENV: &[&str] = &[
    "DATABASE_URL",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICE",
    "PGSSLMODE",
    "PGSSLROOTCERT",
    "PGAPPNAME",
    "PGCONNECT_TIMEOUT",
    "KEEL_DIR",
    "GITHUB_ACTIONS",
    "NO_COLOR",
];
