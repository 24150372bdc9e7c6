//! The RLS state as PostgreSQL has it, read from the catalog. Expressions
//! come from `pg_get_expr`: PostgreSQL's own normalized text, so formatting
//! in a file never counts as a change and a hand edit in the database does.

use crate::db::DbError;
use crate::policies::declared::{Command, TableName};
use postgres::GenericClient;
use std::collections::BTreeMap;

/// One policy as it is in the database.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LivePolicy {
    pub name: String,
    pub command: Command,
    pub permissive: bool,
    /// Sorted role names; `["public"]` for PUBLIC.
    pub roles: Vec<String>,
    pub qual: Option<String>,
    pub with_check: Option<String>,
    pub comment: Option<String>,
}

/// One table as it is in the database.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LiveTable {
    pub table: TableName,
    pub rls: bool,
    pub force: bool,
    pub owner: String,
    pub policies: Vec<LivePolicy>,
}

impl serde::Serialize for TableName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
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
        let policy = LivePolicy {
            name: r.get(2),
            command: Command::from_polcmd(cmd.bytes().next().unwrap_or(b'*') as i8),
            permissive: r.get(4),
            roles: r.get(5),
            qual: r.get(6),
            with_check: r.get(7),
            comment: r.get(8),
        };
        if let Some(t) = out.get_mut(&table) {
            t.policies.push(policy);
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
