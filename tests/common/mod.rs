//! Helpers shared by the integration tests. Each `tests/*.rs` binary includes them with
//! `mod common;`.

// Every test binary compiles this module, and not every binary uses every helper (or
// every re-export).
#![allow(dead_code, unused_imports)]

pub mod pg;

pub use pg::{cluster, fresh_db, TestDb};
