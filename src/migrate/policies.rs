//! The policy stage on its own: a run with no migration steps.

use super::Error;
use crate::db::history::{self, Event};
use crate::policies::declared::Declared;
use crate::policies::reconcile::PolicyChange;
use crate::project::Version;
use crate::session::Session;
use std::time::Duration;

/// Reconciles the policies alone, in one transaction with its event;
/// returns what changed. `waited` is how long taking the lock took and who
/// held it, for the event.
pub fn policies_only(
    session: &mut Session,
    schema: &str,
    declared: &Declared,
    at: Option<&Version>,
    command: &str,
    target: &str,
    waited: &(Option<Duration>, Option<String>),
) -> Result<Vec<PolicyChange>, Error> {
    session.transaction(|tx| {
        let changes =
            crate::policies::reconcile::reconcile(tx, schema, declared, at).map_err(|e| {
                Error::failed(format!("policy stage: {e}; nothing was changed"), e.hint())
            })?;
        let mut detail = Vec::new();
        if let Some(h) = &waited.1 {
            detail.push(format!("waited for the lock held by {h}"));
        }
        if !changes.is_empty() {
            detail.push(format!("{} policy change(s)", changes.len()));
        }
        history::log_event(
            tx,
            schema,
            &Event {
                command,
                target: Some(target),
                from: at,
                to: at,
                outcome: "ok",
                detail: (!detail.is_empty()).then(|| detail.join("; ")),
                waited_ms: waited.0.map(|d| d.as_secs_f64() * 1000.0),
            },
        )?;
        Ok(changes)
    })
}

/// Applies the declared policies at the database's current version, under
/// the run lock; returns what changed.
pub fn apply_policies(
    db: &super::Database,
    sink: &mut dyn super::Sink,
) -> Result<Vec<PolicyChange>, Error> {
    let (project, declared) = super::load(&db.config, sink)?;
    Ok(apply_declared(db, &project, &declared, sink)?.1)
}

/// `keel policies apply` with the project already loaded (`keel fleet policies apply`):
/// returns the database's version and how many policies changed.
pub fn apply_prepared_policies(
    db: &super::Database,
    prepared: &super::Prepared,
    sink: &mut dyn super::Sink,
) -> Result<(Option<Version>, usize), Error> {
    let (at, changes) = apply_declared(db, &prepared.project, &prepared.declared, sink)?;
    Ok((at, changes.len()))
}

fn apply_declared(
    db: &super::Database,
    project: &crate::project::Project,
    declared: &Declared,
    sink: &mut dyn super::Sink,
) -> Result<(Option<Version>, Vec<PolicyChange>), Error> {
    let mut session = db.locked(sink)?;
    let applied = session.applied(false, project)?;
    super::refuse_dirty(&applied, project)?;
    let at = crate::plan::current(&applied);
    let waited = session.lock_wait();
    let changes = policies_only(
        &mut session,
        &db.config.history_schema,
        declared,
        at.as_ref(),
        "policies",
        "apply",
        &waited,
    )?;
    session.unlock()?;
    Ok((at, changes))
}
