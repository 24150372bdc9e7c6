//! Catalog reads: what the live lint, `check` and `policies status` learn
//! from `pg_catalog` beyond the policies themselves.

use super::DbError;
use crate::policies::model::TableName;
use postgres::GenericClient;
use std::collections::{BTreeMap, BTreeSet};

/// Indexes left INVALID (by a failed `CREATE INDEX CONCURRENTLY`), as
/// qualified names.
pub fn invalid_indexes(conn: &mut impl super::Connection) -> Result<Vec<String>, DbError> {
    let client = super::client(conn);
    let rows = client
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname)
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE NOT i.indisvalid ORDER BY 1",
            &[],
        )
        .map_err(|e| DbError::query("looking for invalid indexes", &e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Columns named in `$1` of ordinary tables.
const TENANT_COLUMNS: &str = "
    SELECT n.nspname::text, c.relname::text, a.attname::text
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid AND c.relkind IN ('r', 'p')
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attname::text = ANY ($1)";

/// Columns named in `$1` that are the first column of an index.
const INDEX_LEADS: &str = "
    SELECT DISTINCT n.nspname::text, c.relname::text, a.attname::text
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
    WHERE a.attname::text = ANY ($1)";

/// Per ordinary table, which of `columns` it has (in `columns`' order).
pub fn tenant_columns(
    conn: &mut impl super::Connection,
    columns: &[String],
) -> Result<BTreeMap<TableName, Vec<String>>, DbError> {
    table_columns(super::client(conn), TENANT_COLUMNS, columns)
}

/// Per table, which of `columns` lead one of its indexes.
pub fn index_leads(
    conn: &mut impl super::Connection,
    columns: &[String],
) -> Result<BTreeMap<TableName, Vec<String>>, DbError> {
    table_columns(super::client(conn), INDEX_LEADS, columns)
}

fn table_columns(
    client: &mut impl GenericClient,
    query: &str,
    columns: &[String],
) -> Result<BTreeMap<TableName, Vec<String>>, DbError> {
    let rows = client
        .query(query, &[&columns])
        .map_err(|e| DbError::query("reading tenant columns and indexes", &e))?;
    let mut out: BTreeMap<TableName, Vec<String>> = BTreeMap::new();
    for r in rows {
        let t = TableName {
            schema: r.get(0),
            name: r.get(1),
        };
        out.entry(t).or_default().push(r.get(2));
    }
    for cols in out.values_mut() {
        // Keep the configured order, for stable messages.
        cols.sort_by_key(|c| columns.iter().position(|x| x == c));
    }
    Ok(out)
}

/// For each policy (table, name), the other tables its expressions use, as
/// PostgreSQL recorded them.
pub fn policy_reads(
    conn: &mut impl super::Connection,
) -> Result<BTreeMap<(TableName, String), BTreeSet<TableName>>, DbError> {
    let client = super::client(conn);
    let rows = client
        .query(
            "SELECT DISTINCT pn.nspname::text, pc.relname::text, p.polname::text,
                    rn.nspname::text, rc.relname::text
             FROM pg_policy p
             JOIN pg_class pc ON pc.oid = p.polrelid
             JOIN pg_namespace pn ON pn.oid = pc.relnamespace
             JOIN pg_depend d ON d.classid = 'pg_policy'::regclass AND d.objid = p.oid
                             AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> p.polrelid
             JOIN pg_class rc ON rc.oid = d.refobjid
             JOIN pg_namespace rn ON rn.oid = rc.relnamespace",
            &[],
        )
        .map_err(|e| DbError::query("reading what policies depend on", &e))?;
    let mut out: BTreeMap<(TableName, String), BTreeSet<TableName>> = BTreeMap::new();
    for r in rows {
        let table = TableName {
            schema: r.get(0),
            name: r.get(1),
        };
        out.entry((table, r.get(2))).or_default().insert(TableName {
            schema: r.get(3),
            name: r.get(4),
        });
    }
    Ok(out)
}

/// SECURITY DEFINER functions and procedures outside the skipped schemas
/// and extensions: (name, security definer, fixed search_path).
pub fn security_definer_functions(
    conn: &mut impl super::Connection,
    skipped: &[String],
) -> Result<Vec<(TableName, bool, bool)>, DbError> {
    let client = super::client(conn);
    let rows = client
        .query(
            "SELECT n.nspname::text, p.proname::text,
                    EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')
             FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE p.prosecdef
               AND n.nspname::text <> ALL ($1)
               AND n.nspname NOT LIKE 'pg\\_%'
               AND NOT EXISTS (SELECT 1 FROM pg_depend d
                               WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                 AND d.deptype = 'e')
             ORDER BY 1, 2",
            &[&skipped],
        )
        .map_err(|e| DbError::query("reading functions", &e))?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                TableName {
                    schema: r.get(0),
                    name: r.get(1),
                },
                true,
                r.get(2),
            )
        })
        .collect())
}

/// Views outside the skipped schemas and extensions: (name, its
/// `security_invoker=` option as written or empty, the tables and views its
/// rule reads).
pub fn views(
    conn: &mut impl super::Connection,
    skipped: &[String],
) -> Result<Vec<(TableName, String, BTreeSet<TableName>)>, DbError> {
    let client = super::client(conn);
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text,
                    COALESCE((SELECT o FROM unnest(c.reloptions) o
                              WHERE o LIKE 'security_invoker=%' LIMIT 1), ''),
                    rn.nspname::text, rc.relname::text
             FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_rewrite r ON r.ev_class = c.oid
             LEFT JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                                  AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> c.oid
             LEFT JOIN pg_class rc ON rc.oid = d.refobjid
             LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
             WHERE c.relkind = 'v'
               AND n.nspname::text <> ALL ($1)
               AND n.nspname NOT LIKE 'pg\\_%'
               AND NOT EXISTS (SELECT 1 FROM pg_depend e
                               WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid
                                 AND e.deptype = 'e')",
            &[&skipped],
        )
        .map_err(|e| DbError::query("reading views", &e))?;
    let mut views: BTreeMap<TableName, (String, BTreeSet<TableName>)> = BTreeMap::new();
    for r in rows {
        let option: String = r.get(2);
        let view = views
            .entry(TableName {
                schema: r.get(0),
                name: r.get(1),
            })
            .or_insert_with(|| (option, BTreeSet::new()));
        if let (Some(schema), Some(name)) = (r.get::<_, Option<String>>(3), r.get(4)) {
            view.1.insert(TableName { schema, name });
        }
    }
    Ok(views
        .into_iter()
        .map(|(name, (on, reads))| (name, on, reads))
        .collect())
}

/// The configured application roles that exist: (name, BYPASSRLS,
/// superuser).
pub fn roles(
    conn: &mut impl super::Connection,
    names: &[String],
) -> Result<Vec<(String, bool, bool)>, DbError> {
    let client = super::client(conn);
    let rows = client
        .query(
            "SELECT rolname::text, rolbypassrls, rolsuper FROM pg_roles
             WHERE rolname::text = ANY ($1) ORDER BY 1",
            &[&names],
        )
        .map_err(|e| DbError::query("reading roles", &e))?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}
