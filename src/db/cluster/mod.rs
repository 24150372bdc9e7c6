//! Throwaway PostgreSQL clusters from the machine's server binaries.
//!
//! Two users: `keel dev-db` ([`DevDb`], a cluster under the project's `.keel/` that persists
//! between runs) and the integration tests ([`Cluster::throwaway`], one cluster per test binary).
//! Both run the machine's own `initdb`, `pg_ctl` and `postgres` ([`ServerBinaries`]), and both
//! serve only a private Unix socket with `trust` authentication: no TCP listener, no password,
//! so a connection URL can be printed and copied safely.
//!
//! PostgreSQL refuses to run as root. When keel runs as root (containers, CI), every server
//! command runs as the `postgres` OS user instead, every directory the server writes is handed to
//! that user first, and paths that user cannot reach are reported (or, for the dev cluster,
//! avoided) before the server gets a chance to fail obscurely.
//!
//! One file per concern: `binaries` finds the server programs, `os_user` the OS user they
//! run as and the permissions of the paths they use, `command` runs them, `url` builds
//! connection strings, `server` is the cluster itself (init, start, stop), `dev_db` the
//! project's dev cluster and its record, `reaper` the throwaway clusters of the tests, and
//! `error` what can go wrong.

mod binaries;
mod command;
mod dev_db;
mod error;
mod os_user;
mod reaper;
mod server;
mod url;

pub use binaries::{ServerBinaries, BINDIR_ENV, CACHE_ENV};
pub use dev_db::{write_keel_gitignore, DevDb, KEEL_GITIGNORE};
pub use error::ClusterError;
pub use server::{Cluster, ClusterSpec, ClusterStatus, DEFAULT_DB, SUPERUSER};
pub use url::{connection_string, connection_url};
