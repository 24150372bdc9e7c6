//! keel: a PostgreSQL migration runner for pure SQL.
//!
//! Data flows one way: files on disk ([`project`]) → parsed and validated
//! statements ([`sql`]) → a plan → a database run ([`db`]) → a report ([`report`]).

pub mod cli;
pub mod config;
pub mod db;
pub mod diagnostic;
pub mod drift;
pub mod header;
pub mod history_model;
pub mod migrate;
pub mod parallel;
pub mod plan;
pub mod policies;
pub mod project;
pub mod report;
pub mod safe_fs;
pub use db::session;
pub mod sql;
pub mod validation;
pub mod verify;
