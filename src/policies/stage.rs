//! The policy stage as part of a run: before down steps, policies on
//! managed tables are dropped (a down migration may drop a column they use);
//! after the last step, the declarations that apply at the new version are
//! reconciled, in the same transaction.

use super::declared::Declared;
use super::reconcile::{self, PolicyChange, ReconcileError};
use crate::db::run::{Hooks, RunError};
use crate::project::Version;
use postgres::Client;

/// The stage's state across one run.
pub struct Stage<'a> {
    pub declared: &'a Declared,
    pub schema: &'a str,
    /// Drop managed policies before the steps (downgrades).
    pub drop_first: bool,
    /// What the stage changed, for the report.
    pub changes: Vec<PolicyChange>,
    /// The policies dropped before the steps, as they were.
    dropped: Vec<reconcile::Dropped>,
}

impl<'a> Stage<'a> {
    pub fn new(declared: &'a Declared, schema: &'a str, drop_first: bool) -> Stage<'a> {
        Stage {
            declared,
            schema,
            drop_first,
            changes: Vec::new(),
            dropped: Vec::new(),
        }
    }
}

impl From<ReconcileError> for RunError {
    fn from(e: ReconcileError) -> Self {
        RunError::Stage {
            hint: e.hint(),
            message: format!("policy stage: {e}"),
        }
    }
}

impl Hooks for Stage<'_> {
    fn before_steps(&mut self, client: &mut Client) -> Result<(), RunError> {
        if self.drop_first {
            self.dropped = reconcile::drop_managed_policies(client, self.schema)?;
            // Reported as they are, should the run end before the policies come back.
            self.changes
                .extend(self.dropped.iter().map(|d| d.change.clone()));
        }
        Ok(())
    }

    fn before_commit(&mut self, client: &mut Client, at: Option<&Version>) -> Result<(), RunError> {
        let made = reconcile::reconcile(client, self.schema, self.declared, at)?;
        if self.dropped.is_empty() {
            self.changes.extend(made);
        } else {
            // The drops, reported as they were, are settled with what came back.
            self.changes = reconcile::settle_dropped(client, &self.dropped, made)?;
        }
        Ok(())
    }
}
