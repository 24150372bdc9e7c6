//! Making the database's policies match the declarations, inside the
//! caller's transaction, so a run moves schema and policies together or not
//! at all.
//!
//! No churn: a policy whose declaration is unchanged (same source hash) and
//! whose catalog text still equals what keel recorded after creating it gets
//! no DDL. Fail closed: a managed table is always RLS-enabled; a table whose
//! declarations disappear keeps RLS on with no policy.
//!
//! The decisions are made here; the DDL and keel's record of what it applied
//! are sent by [`crate::db::policy`].

use super::declared::{Declared, TableDecl};
use super::live;
use super::model::{Policy, TableName};
use crate::db::policy as state;
use crate::db::{Connection, DbError};
use crate::project::Version;
use crate::sql::ident::quote_ident;
use std::collections::{BTreeMap, BTreeSet};

/// One change made (or to be made).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PolicyChange {
    #[serde(serialize_with = "as_text")]
    pub table: TableName,
    pub action: String,
    pub sql: String,
    /// The policies this line stands for were dropped and created again exactly as they were
    /// ([`settle_dropped`]): DDL ran, but nothing changed. Counts of changes leave it out.
    #[serde(skip)]
    pub unchanged: bool,
}

fn as_text<S: serde::Serializer>(t: &TableName, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_string())
}

/// Why reconciling failed (the run rolls back).
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("policy file `{path}` declares policies for table {table}, which does not exist at version {version}")]
    MissingTable {
        path: String,
        table: TableName,
        version: String,
    },
    #[error("applying policy {policy} on {table} from `{path}` failed: {message}")]
    Statement {
        path: String,
        table: TableName,
        policy: String,
        message: String,
    },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl ReconcileError {
    pub fn hint(&self) -> Option<String> {
        match self {
            ReconcileError::MissingTable { .. } => Some(
                "set `-- keel:requires <version>` in the policy file to the migration that creates the table".into(),
            ),
            ReconcileError::Statement { .. } => Some(
                "the policy names a table, column or function that does not exist at this version; fix the policy or its `-- keel:requires`".into(),
            ),
            ReconcileError::Db(_) => None,
        }
    }
}

/// Drops every policy on managed tables and forgets them, keeping RLS on.
/// Runs before down migrations, which may drop a column or table a policy
/// depends on; [`reconcile`] re-declares what applies afterwards.
pub fn drop_managed_policies(
    conn: &mut impl Connection,
    schema: &str,
) -> Result<Vec<Dropped>, DbError> {
    let managed = state::managed_tables(conn, schema)?;
    let refs: Vec<&TableName> = managed.iter().collect();
    let live = live::read(conn, &refs)?;
    let mut dropped = Vec::new();
    for t in live.into_values() {
        for p in t.policies {
            let sql = format!("DROP POLICY {} ON {}", quote_ident(&p.name), t.table.sql());
            state::run_ddl(conn, &sql)?;
            dropped.push(Dropped {
                change: PolicyChange {
                    table: t.table.clone(),
                    action: format!("drop policy {} for the down steps", p.name),
                    sql,
                    unchanged: false,
                },
                policy: p,
            });
        }
    }
    state::forget_all(conn, schema)?;
    Ok(dropped)
}

/// A policy [`drop_managed_policies`] dropped: the change, and the policy as it was.
pub struct Dropped {
    pub change: PolicyChange,
    pub policy: Policy,
}

/// How a policy that did not exist is reported when it is created.
fn created(name: &str) -> String {
    format!("create policy {name}")
}

/// The drops of `dropped` and what [`reconcile`] then did (`made`), as a downgrade reports
/// them once the declarations are back. A policy dropped before the steps and created again
/// exactly as it was is folded away: per table, one change says how many came back unchanged (a
/// one-step downgrade of a project with 40 policies would otherwise report 80 changes for none;
/// the table still gets a line, since dropping and creating a policy locks it). A policy that
/// did not come back says so.
pub fn settle_dropped(
    conn: &mut impl Connection,
    dropped: &[Dropped],
    made: Vec<PolicyChange>,
) -> Result<Vec<PolicyChange>, DbError> {
    let tables: Vec<&TableName> = dropped
        .iter()
        .map(|d| &d.policy.table)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let live = live::read(conn, &tables)?;
    let mut out = Vec::with_capacity(dropped.len() + made.len());
    // Per table: the policies that came back as they were, and the SQL that ran for them.
    let mut unchanged: BTreeMap<&TableName, (Vec<&str>, Vec<String>)> = BTreeMap::new();
    for d in dropped {
        let back = live
            .get(&d.policy.table)
            .and_then(|t| t.policies.iter().find(|p| p.name == d.policy.name));
        match back {
            Some(p) if *p == d.policy => {
                let (names, sql) = unchanged.entry(&d.policy.table).or_default();
                names.push(&d.policy.name);
                sql.push(d.change.sql.clone());
            }
            Some(_) => out.push(d.change.clone()),
            None => out.push(PolicyChange {
                action: format!(
                    "drop policy {} (not declared at this version)",
                    d.policy.name
                ),
                ..d.change.clone()
            }),
        }
    }
    for c in made {
        match unchanged.get_mut(&c.table) {
            Some((names, sql)) if names.iter().any(|n| c.action == created(n)) => sql.push(c.sql),
            _ => out.push(c),
        }
    }
    for (table, (names, sql)) in unchanged {
        let policies = if names.len() == 1 {
            "policy"
        } else {
            "policies"
        };
        out.push(PolicyChange {
            table: table.clone(),
            action: format!(
                "{} {policies} dropped for the down steps and created again unchanged",
                names.len()
            ),
            sql: sql.join(";\n"),
            unchanged: true,
        });
    }
    Ok(out)
}

/// Makes the live policies match the declarations that apply at `at`.
/// Returns the DDL it ran (empty when nothing needed to change).
pub fn reconcile(
    conn: &mut impl Connection,
    schema: &str,
    declared: &Declared,
    at: Option<&Version>,
) -> Result<Vec<PolicyChange>, ReconcileError> {
    let wanted: Vec<&TableDecl> = declared.at(at);
    let previously = state::managed_tables(conn, schema)?;
    if wanted.is_empty() && previously.is_empty() {
        return Ok(Vec::new());
    }
    // A table both declared and previously managed is read once.
    let all: Vec<&TableName> = wanted
        .iter()
        .map(|t| &t.table)
        .chain(previously.iter())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let live = live::read(conn, &all)?;
    let mut rec = state::recorded(conn, schema)?;
    let mut changes = Vec::new();

    for decl in &wanted {
        let Some(lt) = live.get(&decl.table) else {
            return Err(ReconcileError::MissingTable {
                path: decl.path.display().to_string(),
                table: decl.table.clone(),
                version: at.map_or_else(|| "base".into(), |v| v.to_string()),
            });
        };
        let t = decl.table.sql();
        // Fail closed: a managed table is always RLS-enabled.
        if !lt.rls {
            let sql = format!("ALTER TABLE {t} ENABLE ROW LEVEL SECURITY");
            state::run_ddl(conn, &sql)?;
            changes.push(change(&decl.table, "enable row level security", sql));
        }
        if lt.force != decl.force {
            let sql = format!(
                "ALTER TABLE {t} {} ROW LEVEL SECURITY",
                if decl.force { "FORCE" } else { "NO FORCE" }
            );
            state::run_ddl(conn, &sql)?;
            changes.push(change(
                &decl.table,
                if decl.force {
                    "force row level security"
                } else {
                    "stop forcing row level security"
                },
                sql,
            ));
        }
        for lp in &lt.policies {
            if !decl.policies.iter().any(|p| p.name == lp.name) {
                let sql = format!("DROP POLICY {} ON {t}", quote_ident(&lp.name));
                state::run_ddl(conn, &sql)?;
                rec.remove(&(decl.table.clone(), lp.name.clone()));
                state::forget_policy(conn, schema, &decl.table, &lp.name)?;
                changes.push(change(
                    &decl.table,
                    &format!("drop undeclared policy {}", lp.name),
                    sql,
                ));
            }
        }
        for (p, file) in decl.policy_files() {
            let hash = file.source_hash();
            let current = lt.policies.iter().find(|lp| lp.name == p.name);
            let record = rec.get(&(decl.table.clone(), p.name.clone()));
            let unchanged = match (current, record) {
                (Some(c), Some(r)) => r.source_hash == hash && r.live == *c,
                _ => false,
            };
            if unchanged {
                continue;
            }
            let action = match (current, record) {
                (None, _) => created(&p.name),
                (Some(_), Some(r)) if r.source_hash == hash => {
                    format!("restore policy {} (changed in the database)", p.name)
                }
                (Some(_), _) => format!("replace policy {}", p.name),
            };
            // Each statement on its own: the policy's and its comment's text come from the
            // user's file, so each goes in its own Parse (see `crate::db::statement`).
            let mut statements = Vec::with_capacity(3);
            if current.is_some() {
                statements.push(format!("DROP POLICY {} ON {t}", quote_ident(&p.name)));
            }
            statements.push(file.sql.clone());
            statements.extend(file.comment_sql.clone());
            for statement in &statements {
                state::run_declared(conn, statement).map_err(|message| {
                    ReconcileError::Statement {
                        path: file.path.display().to_string(),
                        table: decl.table.clone(),
                        policy: p.name.clone(),
                        message,
                    }
                })?;
            }
            let sql = statements.join(";\n");
            state::record_policy(conn, schema, p, &hash)?;
            changes.push(change(&decl.table, &action, sql));
        }
        state::manage_table(conn, schema, &decl.table)?;
    }

    // Tables no longer declared at this version: drop their policies but
    // keep RLS on (fail closed). Tables that no longer exist are forgotten.
    let wanted_names: BTreeSet<&TableName> = wanted.iter().map(|t| &t.table).collect();
    for table in previously.iter().filter(|t| !wanted_names.contains(t)) {
        if let Some(lt) = live.get(table) {
            for lp in &lt.policies {
                let sql = format!("DROP POLICY {} ON {}", quote_ident(&lp.name), table.sql());
                state::run_ddl(conn, &sql)?;
                changes.push(change(
                    table,
                    &format!("drop policy {} (no longer declared; RLS stays on)", lp.name),
                    sql,
                ));
            }
        }
        state::forget_table(conn, schema, table)?;
    }
    Ok(changes)
}

fn change(table: &TableName, action: &str, sql: String) -> PolicyChange {
    PolicyChange {
        table: table.clone(),
        action: action.to_string(),
        sql,
        unchanged: false,
    }
}

/// Per (table, policy): the declaration hash and catalog text keel
/// recorded when it applied the policy.
pub type RecordedPolicies = BTreeMap<(TableName, String), (String, Policy)>;

/// Whether `live` differs from what keel recorded (a hand edit), per policy.
pub fn recorded_differs(
    conn: &mut impl Connection,
    schema: &str,
) -> Result<RecordedPolicies, DbError> {
    Ok(state::recorded(conn, schema)?
        .into_iter()
        .map(|(k, r)| (k, (r.source_hash, r.live)))
        .collect())
}
