//! `stamp`: record the database as being at a version without running any
//! SQL (the policy stage still runs).

use super::{guard::refuse_dirty, load, parse_target, plan_error, Database, Error, Sink};
use crate::db::history::{self, Event, NewVersion};
use crate::db::DbError;
use crate::plan;
use crate::policies::reconcile::PolicyChange;
use crate::project::Version;
use std::collections::BTreeSet;

/// What to stamp.
#[derive(Debug, Clone)]
pub struct StampRequest {
    pub database: Database,
    /// `head`, `base` or a version.
    pub target: String,
}

/// What `stamp` changed.
#[derive(Debug)]
pub struct StampReport {
    pub from: Option<Version>,
    pub to: Option<Version>,
    /// `0003_name` of each version recorded as applied.
    pub added: Vec<String>,
    /// Each version no longer recorded.
    pub removed: Vec<Version>,
    pub policy_changes: Vec<PolicyChange>,
}

pub fn stamp(req: &StampRequest, sink: &mut dyn Sink) -> Result<StampReport, Error> {
    let (project, declared) = load(&req.database.config, sink)?;
    let target = parse_target(&req.target, &project)?;
    let mut session = req.database.locked(sink)?;
    let applied = session.applied(false, &project)?;
    refuse_dirty(&applied, &project)?;
    let (add, remove) =
        plan::stamp(&project, &applied, &target).map_err(|e| plan_error(&e, &project))?;
    let schema = req.database.config.history_schema.as_str();
    let from = plan::current(&applied);
    // The history keeps each version's SQL: the files are read (and must
    // still be the ones checked).
    let texts = add
        .iter()
        .map(|m| m.read_texts())
        .collect::<Result<Vec<_>, Box<crate::diagnostic::Diagnostic>>>()
        .map_err(|d| super::guard::changed_during_run(&d, sink))?;
    let rows: Vec<NewVersion<'_>> = add
        .iter()
        .zip(&texts)
        .map(|(m, (up, down))| NewVersion::of(m, up, down, None, false))
        .collect();
    let removed: Vec<&Version> = remove.iter().collect();
    let mut now: BTreeSet<_> = applied.iter().map(|a| a.version).collect();
    now.extend(add.iter().map(|m| m.version));
    for v in &remove {
        now.remove(v);
    }
    let to = now.iter().next_back().cloned();
    let changes = session.transaction(|tx| -> Result<_, DbError> {
        history::insert(tx, schema, &rows)?;
        history::delete(tx, schema, &removed)?;
        let changes = crate::policies::reconcile::reconcile(tx, schema, &declared, to.as_ref())
            .map_err(|e| DbError::Other(format!("policy stage: {e}")))?;
        history::log_event(
            tx,
            schema,
            &Event {
                command: "stamp",
                target: Some(&req.target),
                from: from.as_ref(),
                to: to.as_ref(),
                outcome: "ok",
                ..Event::default()
            },
        )?;
        Ok(changes)
    })?;
    session.unlock()?;
    Ok(StampReport {
        from,
        to,
        added: add.iter().map(|m| m.id()).collect(),
        removed: remove,
        policy_changes: changes,
    })
}
