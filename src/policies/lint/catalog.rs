//! The lint [`Model`] as the database has it, read from the catalog. This is
//! the only part of the linter that needs a connection.
//!
//! Policy expressions are PostgreSQL's own text (`pg_get_expr`), parsed with
//! sqlparser; the tables a policy reads also come from `pg_depend`, which
//! holds every other table its subqueries use even when sqlparser cannot read
//! the text. The queries are [`crate::db::catalog`]'s. Objects the files
//! declare or create keep the files' position, so a finding points at the
//! statement to change.

use super::expr;
use super::model::{Analyzed, Function, Model, Role, Table, View};
use crate::config::Config;
use crate::db::{catalog, Connection, DbError};
use crate::policies::declared::Declared;
use crate::policies::live;
use crate::policies::model::TableName;
use std::collections::BTreeMap;

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
    client: &mut impl Connection,
    files: &Model,
    declared: &Declared,
    config: &Config,
) -> Result<Model, DbError> {
    let skipped = skipped_schemas(config);
    let linted = |t: &TableName| declared.tables.contains_key(t) || !skipped.contains(&t.schema);
    let live_tables = live::all_tables(client, &config.history_schema)?;
    let tenant_columns = catalog::tenant_columns(client, &config.tenant_columns)?;
    let index_leads = catalog::index_leads(client, &config.tenant_columns)?;
    let depends = catalog::policy_reads(client)?;

    let mut tables = BTreeMap::new();
    for (name, lt) in live_tables.into_iter().filter(|(n, _)| linted(n)) {
        let known = files.tables.get(&name);
        let mut policies: Vec<Analyzed> = lt
            .policies
            .into_iter()
            .map(|lp| {
                let site = known
                    .and_then(|t| t.policies.iter().find(|q| q.name == lp.name))
                    .and_then(|q| q.site.clone());
                let mut p = Analyzed::new(lp, site);
                if let Some(other) = depends.get(&(name.clone(), p.name.clone())) {
                    // Only a subquery makes a policy depend on another table.
                    p.has_subquery |= !other.is_empty();
                    p.reads.extend(other.iter().cloned());
                }
                if !p.parsed {
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
    for (name, security_definer, fixed_search_path) in
        catalog::security_definer_functions(client, &skipped)?
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
    for (name, option, reads) in catalog::views(client, &skipped)? {
        let security_invoker = option
            .strip_prefix("security_invoker=")
            .is_some_and(expr::truthy);
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
        roles: catalog::roles(client, &config.test_roles)?
            .into_iter()
            .map(|(name, bypassrls, superuser)| Role {
                name,
                bypassrls,
                superuser,
            })
            .collect(),
    })
}
