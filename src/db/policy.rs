//! Policy DDL and keel's record of the policies it applied
//! (`policy_state`, `policy_tables` in the history schema): the SQL behind
//! [`crate::policies::reconcile`], which decides what to run.

use super::policy_live as live;
use super::DbError;
use crate::policies::model::{Command, Policy, TableName};
use postgres::GenericClient;
use std::collections::{BTreeMap, BTreeSet};

/// A recorded policy (what keel applied last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The declaration's [`crate::policies::FileSource::source_hash`].
    pub source_hash: String,
    /// The policy as the catalog had it just after keel created it.
    pub live: Policy,
}

/// Every policy keel recorded, per (table, policy name).
pub fn recorded(
    conn: &mut impl super::Connection,
    schema: &str,
) -> Result<BTreeMap<(TableName, String), Recorded>, DbError> {
    let client = super::client(conn);
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
                (table.clone(), name.clone()),
                Recorded {
                    source_hash: r.get(3),
                    live: live::policy(table, name, Command::from_name(&command), &r, 5),
                },
            )
        })
        .collect())
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

/// Forgets every recorded policy (the policies were dropped).
pub fn forget_all(conn: &mut impl super::Connection, schema: &str) -> Result<(), DbError> {
    super::client(conn)
        .execute(&format!("DELETE FROM {schema}.policy_state"), &[])
        .map_err(|e| DbError::query("forgetting the recorded policies", &e))?;
    Ok(())
}

/// Runs one DDL statement keel wrote (names quoted by the caller).
pub fn run_ddl(conn: &mut impl super::Connection, sql: &str) -> Result<(), DbError> {
    super::client(conn)
        .batch_execute(sql)
        .map_err(|e| DbError::query(&format!("running `{sql}`"), &e))
}

/// Runs one statement whose text comes from a policy file, on its own (see
/// [`super::statement`]); the error is the server's message.
pub fn run_declared(conn: &mut impl super::Connection, sql: &str) -> Result<(), String> {
    super::statement::run_one(super::client(conn), sql).map_err(|e| super::connect::error_text(&e))
}

/// Records `table` as managed by keel.
pub fn manage_table(
    conn: &mut impl super::Connection,
    schema: &str,
    table: &TableName,
) -> Result<(), DbError> {
    super::client(conn)
        .execute(
            &format!(
                "INSERT INTO {schema}.policy_tables (table_schema, table_name) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING"
            ),
            &[&table.schema, &table.name],
        )
        .map_err(|e| DbError::query("recording a managed table", &e))?;
    Ok(())
}

/// Forgets `table` and the policies recorded on it.
pub fn forget_table(
    conn: &mut impl super::Connection,
    schema: &str,
    table: &TableName,
) -> Result<(), DbError> {
    let client = super::client(conn);
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
            &format!(
                "DELETE FROM {schema}.policy_tables WHERE table_schema = $1 AND table_name = $2"
            ),
            &[&table.schema, &table.name],
        )
        .map_err(|e| DbError::query("forgetting a managed table", &e))?;
    Ok(())
}

/// Forgets one recorded policy.
pub fn forget_policy(
    conn: &mut impl super::Connection,
    schema: &str,
    table: &TableName,
    policy: &str,
) -> Result<(), DbError> {
    let client = super::client(conn);
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

/// Records a just-created policy, declared with `source_hash`, with the
/// catalog's text for it.
pub fn record_policy(
    conn: &mut impl super::Connection,
    schema: &str,
    p: &Policy,
    source_hash: &str,
) -> Result<(), DbError> {
    let client = super::client(conn);
    let live = live::read(client, &[&p.table])?;
    let Some((lp, text)) = live
        .get(&p.table)
        .and_then(|t| t.policies.iter().find(|lp| lp.name == p.name))
        .and_then(|lp| lp.catalog_text().map(|text| (lp, text)))
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
                &source_hash,
                &lp.command.name(),
                &lp.permissive,
                &lp.roles,
                &text.using,
                &text.with_check,
                &lp.comment,
            ],
        )
        .map_err(|e| DbError::query("recording a policy", &e))?;
    Ok(())
}
