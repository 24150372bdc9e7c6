//! The RLS state as PostgreSQL has it, read from the catalog. Policies are
//! the one [`Policy`] model, with their `pg_get_expr` text as
//! [`Source::Catalog`] (see [`CatalogText`]).

use crate::db::DbError;
use crate::policies::model::{CatalogText, Command, Policy, Source, TableName};
use postgres::{GenericClient, Row};
use std::collections::BTreeMap;

/// One table as it is in the database.
#[derive(Debug, Clone)]
pub struct LiveTable {
    pub table: TableName,
    pub rls: bool,
    pub force: bool,
    pub owner: String,
    /// Ordered by name; roles sorted, `["public"]` for PUBLIC.
    pub policies: Vec<Policy>,
}

/// A policy from a catalog row (or keel's record of one) whose columns,
/// from `at`, are: permissive, roles, `USING` text, `WITH CHECK` text,
/// comment.
pub(super) fn policy(
    table: TableName,
    name: String,
    command: Command,
    row: &Row,
    at: usize,
) -> Policy {
    let text = CatalogText {
        using: row.get(at + 2),
        with_check: row.get(at + 3),
    };
    let (using, with_check, parsed) = text.parse();
    Policy {
        name,
        table,
        command,
        permissive: row.get(at),
        roles: row.get(at + 1),
        using,
        with_check,
        parsed,
        comment: row.get(at + 4),
        source: Source::Catalog(text),
    }
}

/// Reads `tables`; tables that do not exist are absent from the result.
pub fn read(
    conn: &mut impl super::Connection,
    tables: &[&TableName],
) -> Result<BTreeMap<TableName, LiveTable>, DbError> {
    let client = super::client(conn);
    let schemas: Vec<&str> = tables.iter().map(|t| t.schema.as_str()).collect();
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    let mut out = BTreeMap::new();
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text, c.relrowsecurity, c.relforcerowsecurity,
                    pg_get_userbyid(c.relowner)::text
             FROM unnest($1::text[], $2::text[]) AS t(s, r)
             JOIN pg_namespace n ON n.nspname = t.s
             JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.r AND c.relkind IN ('r', 'p')",
            &[&schemas, &names],
        )
        .map_err(|e| DbError::query("reading RLS flags", &e))?;
    for r in rows {
        let table = TableName {
            schema: r.get(0),
            name: r.get(1),
        };
        out.insert(
            table.clone(),
            LiveTable {
                table,
                rls: r.get(2),
                force: r.get(3),
                owner: r.get(4),
                policies: Vec::new(),
            },
        );
    }
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text, p.polname::text, p.polcmd::text, p.polpermissive,
                    CASE WHEN p.polroles = '{0}' THEN ARRAY['public']
                         ELSE ARRAY(SELECT rolname::text FROM pg_roles WHERE oid = ANY (p.polroles) ORDER BY 1)
                    END,
                    pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid),
                    obj_description(p.oid, 'pg_policy')
             FROM unnest($1::text[], $2::text[]) AS t(s, r)
             JOIN pg_namespace n ON n.nspname = t.s
             JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.r
             JOIN pg_policy p ON p.polrelid = c.oid
             ORDER BY 1, 2, 3",
            &[&schemas, &names],
        )
        .map_err(|e| DbError::query("reading policies", &e))?;
    for r in rows {
        let table = TableName {
            schema: r.get(0),
            name: r.get(1),
        };
        let cmd: String = r.get(3);
        let command = Command::from_polcmd(cmd.bytes().next().unwrap_or(b'*') as i8);
        if let Some(t) = out.get_mut(&table) {
            t.policies.push(policy(table, r.get(2), command, &r, 4));
        }
    }
    Ok(out)
}

/// Every ordinary table of the database outside the system schemas, with
/// its RLS flags and policies (for the live lint).
pub fn all_tables(
    conn: &mut impl super::Connection,
    history_schema: &str,
) -> Result<BTreeMap<TableName, LiveTable>, DbError> {
    let client = super::client(conn);
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p')
               AND n.nspname NOT IN ('pg_catalog', 'information_schema', $1)
               AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'",
            &[&history_schema],
        )
        .map_err(|e| DbError::query("listing tables", &e))?;
    let names: Vec<TableName> = rows
        .iter()
        .map(|r| TableName {
            schema: r.get(0),
            name: r.get(1),
        })
        .collect();
    let refs: Vec<&TableName> = names.iter().collect();
    read(client, &refs)
}
