//! Declared against live, per managed table: for `keel policies status`
//! and the policy-drift part of `keel check`.

use super::declared::Declared;
use super::live;
use super::model::{Command, Policy, TableName};
use super::reconcile;
use crate::db::{Connection, DbError};
use crate::diagnostic::{codes, Diagnostic};
use crate::project::Version;
use serde::Serialize;

/// The state of one policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Live equals what keel applied from the current declaration.
    Ok,
    /// Declared, not in the database.
    Missing,
    /// In the database, not declared.
    Extra,
    /// Edited in the database since keel applied it.
    Changed,
    /// The declaration changed since it was applied (`policies apply`).
    Pending,
    /// In the database with the declared name, but not applied by keel.
    Unmanaged,
}

/// One policy's line in the status.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyStatus {
    pub name: String,
    pub command: Option<Command>,
    pub state: State,
    /// The declared USING / WITH CHECK, as written.
    pub declared: Option<String>,
    /// The live USING / WITH CHECK, as PostgreSQL prints them.
    pub live: Option<String>,
    /// What keel recorded when it applied the policy.
    pub recorded: Option<String>,
}

/// One managed table.
#[derive(Debug, Clone, Serialize)]
pub struct TableStatus {
    pub table: TableName,
    pub exists: bool,
    pub declared_force: bool,
    pub rls: bool,
    pub force: bool,
    pub policies: Vec<PolicyStatus>,
}

impl TableStatus {
    pub fn drifted(&self) -> bool {
        !self.exists
            || !self.rls
            || self.force != self.declared_force
            || self.policies.iter().any(|p| p.state != State::Ok)
    }
}

/// Compares the declarations that apply at `at` with the database.
pub fn status(
    client: &mut impl Connection,
    schema: &str,
    declared: &Declared,
    at: Option<&Version>,
) -> Result<Vec<TableStatus>, DbError> {
    let wanted = declared.at(at);
    // The status is of declared tables only: with none at this version there is nothing to
    // compare, and no catalog is read (a check or a fleet status of a project without
    // policies pays no query for them).
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let tables: Vec<&TableName> = wanted.iter().map(|t| &t.table).collect();
    let live = live::read(client, &tables)?;
    let recorded = if crate::db::history::exists(client, schema)? {
        reconcile::recorded_differs(client, schema)?
    } else {
        Default::default()
    };
    let mut out = Vec::new();
    for decl in wanted {
        let lt = live.get(&decl.table);
        let mut policies = Vec::new();
        for (p, file) in decl.policy_files() {
            let lp = lt.and_then(|t| t.policies.iter().find(|lp| lp.name == p.name));
            let rec = recorded.get(&(decl.table.clone(), p.name.clone()));
            let state = match (lp, rec) {
                (None, _) => State::Missing,
                (Some(_), None) => State::Unmanaged,
                (Some(l), Some((hash, r))) => {
                    if r != l {
                        State::Changed
                    } else if *hash != file.source_hash() {
                        State::Pending
                    } else {
                        State::Ok
                    }
                }
            };
            policies.push(PolicyStatus {
                name: p.name.clone(),
                command: Some(p.command),
                state,
                declared: Some(p.definition()),
                live: lp.map(Policy::definition),
                recorded: rec.map(|(_, r)| r.definition()),
            });
        }
        if let Some(t) = lt {
            for lp in &t.policies {
                if !decl.policies.iter().any(|p| p.name == lp.name) {
                    policies.push(PolicyStatus {
                        name: lp.name.clone(),
                        command: Some(lp.command),
                        state: State::Extra,
                        declared: None,
                        live: Some(lp.definition()),
                        recorded: None,
                    });
                }
            }
        }
        out.push(TableStatus {
            table: decl.table.clone(),
            exists: lt.is_some(),
            declared_force: decl.force,
            rls: lt.is_some_and(|t| t.rls),
            force: lt.is_some_and(|t| t.force),
            policies,
        });
    }
    Ok(out)
}

/// Policy drift as diagnostics (for `keel check`).
pub fn drift_diagnostics(tables: &[TableStatus], declared: &Declared) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for t in tables {
        let path = declared.tables.get(&t.table).map(|d| d.path.clone());
        let with_path = |d: Diagnostic| match &path {
            Some(p) => d.with_path(p),
            None => d,
        };
        if !t.exists {
            out.push(with_path(Diagnostic::error(
                codes::POLICY_DRIFT,
                format!("table {} does not exist", t.table),
            )));
            continue;
        }
        if !t.rls {
            out.push(with_path(
                Diagnostic::error(
                    codes::POLICY_DRIFT,
                    format!("row level security is off on {}", t.table),
                )
                .with_hint("run `keel policies apply`"),
            ));
        }
        if t.force != t.declared_force {
            out.push(with_path(
                Diagnostic::error(
                    codes::POLICY_DRIFT,
                    format!(
                        "FORCE ROW LEVEL SECURITY on {} differs from the declaration",
                        t.table
                    ),
                )
                .with_hint("run `keel policies apply`"),
            ));
        }
        for p in t.policies.iter().filter(|p| p.state != State::Ok) {
            let what = match p.state {
                State::Missing => "is declared but missing from the database",
                State::Extra => "is in the database but not declared",
                State::Changed => "was changed in the database",
                State::Pending => "was edited in its file and not applied yet",
                State::Unmanaged => "exists but was not applied by keel",
                State::Ok => "",
            };
            let mut d = Diagnostic::error(codes::POLICY_DRIFT, format!("policy {} on {} {what}", p.name, t.table))
                .with_hint("`keel policies status` shows the details; `keel policies apply` restores the declarations");
            if let (Some(l), Some(r)) = (&p.live, &p.recorded) {
                if l != r {
                    d = d
                        .with_note(format!("applied: {r}"))
                        .with_note(format!("live:    {l}"));
                }
            }
            out.push(with_path(d));
        }
    }
    out
}
