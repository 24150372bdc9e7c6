//! The Row Level Security stage: policies are declared in `sql/policies/`,
//! not migrated. After every run keel makes the database match the
//! declarations that apply at the new version.
//!
//! - [`declared`]: the model read from the files;
//! - [`live`]: the catalog as PostgreSQL has it (in `db/`);
//! - [`reconcile`]: making live match declared, inside the run's transaction
//!   (in `db/`);
//! - [`status`]: declared against live, for `policies status` and `check`;
//! - [`lint`]: RLS mistakes, from the files and from the catalog;
//! - [`tests`]: running the tenant isolation tests (in `db/`).

pub mod declared;
pub mod lint;
pub mod matrix;
pub mod stage;
pub mod status;

pub use crate::db::policy as reconcile;
pub use crate::db::policy_live as live;
pub use crate::db::policy_test as tests;
pub use declared::{Command, Declared, PolicyDecl, TableDecl, TableName};
