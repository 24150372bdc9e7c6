//! The Row Level Security stage: policies are declared in `sql/policies/`,
//! not migrated. After every run keel makes the database match the
//! declarations that apply at the new version.
//!
//! One model of a policy serves every part: [`model::Policy`] (with
//! [`TableName`] and [`Command`]) holds what every side knows of a policy,
//! and its [`Source`] what only one side knows: the file's statements and
//! position, or the catalog's `pg_get_expr` text.
//!
//! - [`model`]: the policy, its table name and command, wherever they come
//!   from;
//! - [`declared`]: what the files declare (tables, flags, their policies);
//! - [`live`]: the catalog as PostgreSQL has it (in `db/`);
//! - [`reconcile`]: making live match declared, inside the run's transaction
//!   (the SQL is [`crate::db::policy`]'s);
//! - [`status`]: declared against live, for `policies status` and `check`;
//! - [`stage`]: the policy stage as a run's hook (drop before down steps,
//!   reconcile after the last step);
//! - [`lint`]: RLS mistakes, from the files and from the catalog (the rules
//!   read the same policies, with what the lint works out about them);
//! - [`matrix`]: which policy lets each role run each command, per table;
//! - [`isolation`]: running the tenant isolation tests of `sql/policies/tests/`
//!   (in `db/`, as [`crate::db::policy_test`]).

pub mod declared;
pub mod lint;
pub mod matrix;
pub mod model;
pub mod reconcile;
pub mod stage;
pub mod status;

pub use crate::db::policy_live as live;
pub use crate::db::policy_test as isolation;
pub use declared::{Declared, TableDecl};
pub use model::{CatalogText, Command, FileSource, Policy, Source, TableName};
