//! keel: a PostgreSQL migration runner for pure SQL.
//!
//! A run goes files on disk ([`project`]) → split and validated statements
//! ([`sql`], [`project_check`]) → a [`plan`] → the database ([`db`]); [`migrate`]
//! drives it end to end and reports typed events, which [`cli`] renders through
//! [`report`]. `docs/architecture.md` is the map: what each module does and
//! what it may depend on.

pub mod adopt;
pub mod backoff;
pub mod cli;
pub mod config;
pub mod db;
pub mod diagnostic;
pub mod drift;
pub mod fleet;
pub mod header;
pub mod history_model;
pub mod import;
pub mod interrupt;
pub mod migrate;
pub mod online_checks;
pub mod parallel;
pub mod plan;
pub mod policies;
pub mod project;
pub mod report;
pub mod safe_fs;
pub mod safety;
pub use db::session;
pub mod project_check;
pub mod sql;
pub mod verify;
