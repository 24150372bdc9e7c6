//! Making the database's policies match the declarations, inside the
//! caller's transaction, so a run moves schema and policies together or not
//! at all.
//!
//! No churn: a policy whose declaration is unchanged (same source hash) and
//! whose catalog text still equals what keel recorded after creating it gets
//! no DDL. Fail closed: a managed table is always RLS-enabled; a table whose
//! declarations disappear keeps RLS on with no policy.

use super::policy_live::{self as live, LivePolicy};
use crate::db::DbError;
use crate::policies::declared::{Declared, PolicyDecl, TableDecl, TableName};
use crate::project::Version;
use crate::sql::ident::quote_ident;
use postgres::GenericClient;
use std::collections::{BTreeMap, BTreeSet};

/// One change made (or to be made).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Change {
    #[serde(serialize_with = "as_text")]
    pub table: TableName,
    pub action: String,
    pub sql: String,
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

/// A recorded policy (what keel applied last).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Recorded {
    source_hash: String,
    live: LivePolicy,
}

fn recorded(
    client: &mut impl GenericClient,
    schema: &str,
) -> Result<BTreeMap<(TableName, String), Recorded>, DbError> {
    let rows = client
        .query(
            &format!(
                "SELECT table_schema, table_name, policy_name, source_hash, command, permissive, roles,
                        qual, with_check, comment
                 FROM {schema}.policy_state"
            ),
            &[],
        )
        .map_err(|e| DbError::query("reading the recorded policies", &e))?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let table = TableName {
                schema: r.get(0),
                name: r.get(1),
            };
            let name: String = r.get(2);
            let command: String = r.get(4);
            (
                (table, name.clone()),
                Recorded {
                    source_hash: r.get(3),
                    live: LivePolicy {
                        name,
                        command: command_from_name(&command),
                        permissive: r.get(5),
                        roles: r.get(6),
                        qual: r.get(7),
                        with_check: r.get(8),
                        comment: r.get(9),
                    },
                },
            )
        })
        .collect())
}

fn command_from_name(s: &str) -> crate::policies::Command {
    use crate::policies::Command::*;
    match s {
        "SELECT" => Select,
        "INSERT" => Insert,
        "UPDATE" => Update,
        "DELETE" => Delete,
        _ => All,
    }
}

/// The tables keel manages now.
pub fn managed_tables(
    conn: &mut impl super::Connection,
    schema: &str,
) -> Result<BTreeSet<TableName>, DbError> {
    let client = super::client(conn);
    let rows = client
        .query(
            &format!("SELECT table_schema, table_name FROM {schema}.policy_tables"),
            &[],
        )
        .map_err(|e| DbError::query("reading the managed tables", &e))?;
    Ok(rows
        .into_iter()
        .map(|r| TableName {
            schema: r.get(0),
            name: r.get(1),
        })
        .collect())
}

/// Drops every policy on managed tables and forgets them, keeping RLS on.
/// Runs before down migrations, which may drop a column or table a policy
/// depends on; [`reconcile`] re-declares what applies afterwards.
pub fn drop_managed_policies(
    conn: &mut impl super::Connection,
    schema: &str,
) -> Result<Vec<Change>, DbError> {
    let client = super::client(conn);
    let managed = managed_tables(client, schema)?;
    let refs: Vec<&TableName> = managed.iter().collect();
    let live = live::read(client, &refs)?;
    let mut changes = Vec::new();
    for t in live.values() {
        for p in &t.policies {
            let sql = format!("DROP POLICY {} ON {}", quote_ident(&p.name), t.table.sql());
            exec(client, &sql)?;
            changes.push(Change {
                table: t.table.clone(),
                action: format!("drop policy {} (re-declared after the run)", p.name),
                sql,
            });
        }
    }
    client
        .execute(&format!("DELETE FROM {schema}.policy_state"), &[])
        .map_err(|e| DbError::query("forgetting the recorded policies", &e))?;
    Ok(changes)
}

fn exec(client: &mut impl GenericClient, sql: &str) -> Result<(), DbError> {
    client
        .batch_execute(sql)
        .map_err(|e| DbError::query(&format!("running `{sql}`"), &e))
}

/// Makes the live policies match the declarations that apply at `at`.
/// Returns the DDL it ran (empty when nothing needed to change).
pub fn reconcile(
    conn: &mut impl super::Connection,
    schema: &str,
    declared: &Declared,
    at: Option<&Version>,
) -> Result<Vec<Change>, ReconcileError> {
    let client = super::client(conn);
    let wanted: Vec<&TableDecl> = declared.at(at);
    let previously = managed_tables(client, schema)?;
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
    let live = live::read(client, &all)?;
    let mut rec = recorded(client, schema)?;
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
            exec(client, &sql)?;
            changes.push(change(&decl.table, "enable row level security", sql));
        }
        if lt.force != decl.force {
            let sql = format!(
                "ALTER TABLE {t} {} ROW LEVEL SECURITY",
                if decl.force { "FORCE" } else { "NO FORCE" }
            );
            exec(client, &sql)?;
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
                exec(client, &sql)?;
                rec.remove(&(decl.table.clone(), lp.name.clone()));
                forget(client, schema, &decl.table, &lp.name)?;
                changes.push(change(
                    &decl.table,
                    &format!("drop undeclared policy {}", lp.name),
                    sql,
                ));
            }
        }
        for p in &decl.policies {
            let current = lt.policies.iter().find(|lp| lp.name == p.name);
            let record = rec.get(&(decl.table.clone(), p.name.clone()));
            let unchanged = match (current, record) {
                (Some(c), Some(r)) => r.source_hash == p.source_hash() && r.live == *c,
                _ => false,
            };
            if unchanged {
                continue;
            }
            let action = match (current, record) {
                (None, _) => format!("create policy {}", p.name),
                (Some(_), Some(r)) if r.source_hash == p.source_hash() => {
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
            statements.push(p.sql.clone());
            statements.extend(p.comment_sql.clone());
            for statement in &statements {
                crate::db::statement::run_one(client, statement).map_err(|e| {
                    ReconcileError::Statement {
                        path: p.path.display().to_string(),
                        table: decl.table.clone(),
                        policy: p.name.clone(),
                        message: crate::db::connect::error_text(&e),
                    }
                })?;
            }
            let sql = statements.join(";\n");
            record_policy(client, schema, p)?;
            changes.push(change(&decl.table, &action, sql));
        }
        client
            .execute(
                &format!(
                    "INSERT INTO {schema}.policy_tables (table_schema, table_name) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING"
                ),
                &[&decl.table.schema, &decl.table.name],
            )
            .map_err(|e| DbError::query("recording a managed table", &e))?;
    }

    // Tables no longer declared at this version: drop their policies but
    // keep RLS on (fail closed). Tables that no longer exist are forgotten.
    let wanted_names: BTreeSet<&TableName> = wanted.iter().map(|t| &t.table).collect();
    for table in previously.iter().filter(|t| !wanted_names.contains(t)) {
        if let Some(lt) = live.get(table) {
            for lp in &lt.policies {
                let sql = format!("DROP POLICY {} ON {}", quote_ident(&lp.name), table.sql());
                exec(client, &sql)?;
                changes.push(change(
                    table,
                    &format!("drop policy {} (no longer declared; RLS stays on)", lp.name),
                    sql,
                ));
            }
        }
        client
            .execute(
                &format!(
                    "DELETE FROM {schema}.policy_state WHERE table_schema = $1 AND table_name = $2"
                ),
                &[&table.schema, &table.name],
            )
            .map_err(|e| DbError::query("forgetting policies", &e))?;
        client
            .execute(
                &format!("DELETE FROM {schema}.policy_tables WHERE table_schema = $1 AND table_name = $2"),
                &[&table.schema, &table.name],
            )
            .map_err(|e| DbError::query("forgetting a managed table", &e))?;
    }
    Ok(changes)
}

fn change(table: &TableName, action: &str, sql: String) -> Change {
    Change {
        table: table.clone(),
        action: action.to_string(),
        sql,
    }
}

fn forget(
    client: &mut impl GenericClient,
    schema: &str,
    table: &TableName,
    policy: &str,
) -> Result<(), DbError> {
    client
        .execute(
            &format!(
                "DELETE FROM {schema}.policy_state WHERE table_schema = $1 AND table_name = $2 AND policy_name = $3"
            ),
            &[&table.schema, &table.name, &policy],
        )
        .map_err(|e| DbError::query("forgetting a policy", &e))?;
    Ok(())
}

/// Records a just-created policy with the catalog's text for it.
fn record_policy(
    client: &mut impl GenericClient,
    schema: &str,
    p: &PolicyDecl,
) -> Result<(), DbError> {
    let live = live::read(client, &[&p.table])?;
    let Some(lp) = live
        .get(&p.table)
        .and_then(|t| t.policies.iter().find(|lp| lp.name == p.name))
    else {
        return Err(DbError::Other(format!(
            "policy {} on {} is not in the catalog after creating it (is its name written differently?)",
            p.name, p.table
        )));
    };
    client
        .execute(
            &format!(
                "INSERT INTO {schema}.policy_state
                   (table_schema, table_name, policy_name, source_hash, command, permissive, roles, qual, with_check, comment)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (table_schema, table_name, policy_name) DO UPDATE SET
                   source_hash = EXCLUDED.source_hash, command = EXCLUDED.command,
                   permissive = EXCLUDED.permissive, roles = EXCLUDED.roles, qual = EXCLUDED.qual,
                   with_check = EXCLUDED.with_check, comment = EXCLUDED.comment,
                   applied_at = clock_timestamp()"
            ),
            &[
                &p.table.schema,
                &p.table.name,
                &p.name,
                &p.source_hash(),
                &lp.command.name(),
                &lp.permissive,
                &lp.roles,
                &lp.qual,
                &lp.with_check,
                &lp.comment,
            ],
        )
        .map_err(|e| DbError::query("recording a policy", &e))?;
    Ok(())
}

/// Per (table, policy): the declaration hash and catalog text keel
/// recorded when it applied the policy.
pub type RecordedPolicies = BTreeMap<(TableName, String), (String, LivePolicy)>;

/// Whether `live` differs from what keel recorded (a hand edit), per policy.
pub fn recorded_differs(
    conn: &mut impl super::Connection,
    schema: &str,
) -> Result<RecordedPolicies, DbError> {
    let client = super::client(conn);
    Ok(recorded(client, schema)?
        .into_iter()
        .map(|(k, r)| (k, (r.source_hash, r.live)))
        .collect())
}
