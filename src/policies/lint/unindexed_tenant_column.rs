//! `unindexed_tenant_column` (warning): a tenant column that no index starts
//! with. Every policy compares it, so without such an index every query of
//! the table scans all tenants' rows.

use super::model::{point, Model};
use super::{finding, LintRule};
use crate::config::Config;
use crate::diagnostic::{codes, Code, Diagnostic, Severity};
use crate::sql::ident::quote_ident;

pub struct UnindexedTenantColumn;

impl LintRule for UnindexedTenantColumn {
    fn id(&self) -> Code {
        codes::UNINDEXED_TENANT_COLUMN
    }

    fn level(&self) -> Severity {
        Severity::Warning
    }

    fn check(&self, model: &Model, _config: &Config) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for t in model.tables.values() {
            for (column, site) in &t.tenant_columns {
                if t.index_leads.contains(column) {
                    continue;
                }
                let d = finding(
                    self,
                    format!(
                        "tenant column {column} of {} has no index that starts with it",
                        t.name
                    ),
                )
                .with_hint(format!(
                    "add one in a migration: `CREATE INDEX ON {} ({});` (a primary key or unique constraint starting with it does too)",
                    t.name.sql(),
                    quote_ident(column)
                ));
                out.push(point(d, site.as_ref()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{run, CLEAN_POLICIES, CLEAN_UP};
    use super::*;

    #[test]
    fn fires_when_no_index_leads_with_the_column() {
        let up = "\
CREATE TABLE items (id uuid PRIMARY KEY, household_id uuid, name text);
CREATE INDEX items_name ON items (name, household_id);
CREATE TABLE events (household_id uuid, at timestamptz);
CREATE INDEX ON events (household_id, at DESC);
CREATE TABLE members (household_id uuid, user_id uuid, UNIQUE (household_id, user_id));
";
        assert_eq!(
            run(&UnindexedTenantColumn, up, ""),
            ["sql/up/0001_init.sql:1 tenant column household_id of public.items has no index that starts with it"]
        );
    }

    #[test]
    fn quiet_when_indexed() {
        assert!(run(&UnindexedTenantColumn, CLEAN_UP, CLEAN_POLICIES).is_empty());
    }
}
