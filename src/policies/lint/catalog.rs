//! The lint [`Model`] as the database has it, read from the catalog. This is
//! the only part of the linter that talks to PostgreSQL.
//!
//! Policy expressions are PostgreSQL's own text (`pg_get_expr`), parsed with
//! sqlparser; the tables a policy reads also come from `pg_depend`, which
//! holds every other table its subqueries use even when sqlparser cannot read
//! the text. Objects the files declare or create keep the files' position,
//! so a finding points at the statement to change.

use super::expr;
use super::model::{Function, Model, Policy, Role, Table, View};
use crate::config::Config;
use crate::db::DbError;
use crate::policies::declared::{Declared, TableName};
use crate::policies::live;
use crate::sql::parse::ParseError;
use postgres::GenericClient;
use std::collections::{BTreeMap, BTreeSet};

/// Schemas a hosting platform (Supabase) manages: their objects are not the
/// project's, unless a policy file declares them (e.g. `storage.objects`).
const PLATFORM_SCHEMAS: &[&str] = &[
    "auth",
    "storage",
    "realtime",
    "_realtime",
    "extensions",
    "graphql",
    "graphql_public",
    "net",
    "pgsodium",
    "pgsodium_masks",
    "vault",
    "pgbouncer",
    "supabase_functions",
    "supabase_migrations",
    "_analytics",
    "cron",
];

/// Schemas never linted: PostgreSQL's own, keel's history schema, and the
/// platform's.
fn skipped_schemas(config: &Config) -> Vec<String> {
    ["pg_catalog", "information_schema"]
        .iter()
        .chain(PLATFORM_SCHEMAS)
        .map(|s| s.to_string())
        .chain([config.history_schema.clone()])
        .collect()
}

/// Reads the catalog. `files` is the files' model, for positions.
pub fn read(
    client: &mut impl GenericClient,
    files: &Model,
    declared: &Declared,
    config: &Config,
) -> Result<Model, DbError> {
    let skipped = skipped_schemas(config);
    let linted = |t: &TableName| declared.tables.contains_key(t) || !skipped.contains(&t.schema);
    let live_tables = live::all_tables(client, &config.history_schema)?;
    let tenant_columns = table_columns(client, TENANT_COLUMNS, &config.tenant_columns)?;
    let index_leads = table_columns(client, INDEX_LEADS, &config.tenant_columns)?;
    let depends = policy_reads(client)?;

    let mut tables = BTreeMap::new();
    for (name, lt) in live_tables.into_iter().filter(|(n, _)| linted(n)) {
        let known = files.tables.get(&name);
        let mut policies: Vec<Policy> = lt
            .policies
            .iter()
            .map(|lp| {
                let using = lp.qual.as_deref().map(expr::parse);
                let with_check = lp.with_check.as_deref().map(expr::parse);
                let parsed = !matches!(using, Some(Err(_))) && !matches!(with_check, Some(Err(_)));
                let too_deep = [&using, &with_check]
                    .iter()
                    .any(|e| matches!(e, Some(Err(ParseError::TooDeep { .. }))));
                let mut p = Policy {
                    name: lp.name.clone(),
                    table: name.clone(),
                    command: lp.command,
                    permissive: lp.permissive,
                    roles: lp.roles.clone(),
                    using: using.and_then(Result::ok),
                    with_check: with_check.and_then(Result::ok),
                    parsed,
                    too_deep,
                    reads: BTreeSet::new(),
                    has_subquery: false,
                    site: known
                        .and_then(|t| t.policies.iter().find(|q| q.name == lp.name))
                        .and_then(|q| q.site.clone()),
                }
                .analyzed();
                if let Some(other) = depends.get(&(name.clone(), lp.name.clone())) {
                    // Only a subquery makes a policy depend on another table.
                    p.has_subquery |= !other.is_empty();
                    p.reads.extend(other.iter().cloned());
                }
                if !parsed {
                    // Unreadable text: a subquery is likely, and a recursion
                    // through it is better reported than missed.
                    p.has_subquery = true;
                }
                p
            })
            .collect();
        // In the files' order where the files declare them, so that a finding
        // about several policies reads the same from both sides.
        policies.sort_by_key(|p| {
            (
                p.site.is_none(),
                p.site.as_ref().map(|s| (s.path.clone(), s.span.start)),
            )
        });
        let site_of = |column: &str| {
            known.and_then(|t| {
                t.tenant_columns
                    .iter()
                    .find(|(c, _)| c == column)
                    .and_then(|(_, s)| s.clone())
            })
        };
        tables.insert(
            name.clone(),
            Table {
                tenant_columns: tenant_columns
                    .get(&name)
                    .into_iter()
                    .flatten()
                    .map(|c| (c.clone(), site_of(c)))
                    .collect(),
                rls: lt.rls,
                force: lt.force,
                managed: declared.tables.contains_key(&name),
                policies_known: true,
                policies,
                index_leads: index_leads
                    .get(&name)
                    .map(|v| v.iter().cloned().collect())
                    .unwrap_or_default(),
                owner: Some(lt.owner),
                site: known.and_then(|t| t.site.clone()),
                name,
            },
        );
    }

    let mut functions = BTreeMap::new();
    for (name, security_definer, fixed_search_path) in security_definer_functions(client, &skipped)?
    {
        let site = files.functions.get(&name).and_then(|f| f.site.clone());
        functions.insert(
            name.clone(),
            Function {
                name,
                security_definer,
                fixed_search_path,
                site,
            },
        );
    }

    let mut views = BTreeMap::new();
    for (name, security_invoker, reads) in views_of(client, &skipped)? {
        let site = files.views.get(&name).and_then(|v| v.site.clone());
        views.insert(
            name.clone(),
            View {
                name,
                security_invoker,
                reads,
                site,
            },
        );
    }

    Ok(Model {
        tables,
        functions,
        views,
        roles: roles(client, &config.test_roles)?,
    })
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
fn policy_reads(
    client: &mut impl GenericClient,
) -> Result<BTreeMap<(TableName, String), BTreeSet<TableName>>, DbError> {
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
fn security_definer_functions(
    client: &mut impl GenericClient,
    skipped: &[String],
) -> Result<Vec<(TableName, bool, bool)>, DbError> {
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

/// Views outside the skipped schemas and extensions: (name, security
/// invoker, the tables and views its rule reads).
fn views_of(
    client: &mut impl GenericClient,
    skipped: &[String],
) -> Result<Vec<(TableName, bool, BTreeSet<TableName>)>, DbError> {
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
    let mut views: BTreeMap<TableName, (bool, BTreeSet<TableName>)> = BTreeMap::new();
    for r in rows {
        let option: String = r.get(2);
        let view = views
            .entry(TableName {
                schema: r.get(0),
                name: r.get(1),
            })
            .or_insert_with(|| {
                let on = option
                    .strip_prefix("security_invoker=")
                    .is_some_and(expr::truthy);
                (on, BTreeSet::new())
            });
        if let (Some(schema), Some(name)) = (r.get::<_, Option<String>>(3), r.get(4)) {
            view.1.insert(TableName { schema, name });
        }
    }
    Ok(views
        .into_iter()
        .map(|(name, (on, reads))| (name, on, reads))
        .collect())
}

/// The configured application roles that exist.
fn roles(client: &mut impl GenericClient, names: &[String]) -> Result<Vec<Role>, DbError> {
    let rows = client
        .query(
            "SELECT rolname::text, rolbypassrls, rolsuper FROM pg_roles
             WHERE rolname::text = ANY ($1) ORDER BY 1",
            &[&names],
        )
        .map_err(|e| DbError::query("reading roles", &e))?;
    Ok(rows
        .iter()
        .map(|r| Role {
            name: r.get(0),
            bypassrls: r.get(1),
            superuser: r.get(2),
        })
        .collect())
}
