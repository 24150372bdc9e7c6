//! `rls_disabled_in_public` (error): a tenant table without Row Level
//! Security. Every role with table privileges then reads and writes every
//! tenant's rows.
//!
//! A tenant table is one with a configured tenant column
//! (`Config.tenant_columns`). Tables whose tenancy is derived (a
//! `receipt_items` row belongs to a tenant through its receipt) have no such
//! column and cannot be told apart statically.

use super::model::{point, Model};
use super::{finding, LintRule};
use crate::config::Config;
use crate::diagnostic::{codes, Code, Diagnostic, Severity};

pub struct RlsDisabledInPublic;

impl LintRule for RlsDisabledInPublic {
    fn id(&self) -> Code {
        codes::RLS_DISABLED_IN_PUBLIC
    }

    fn level(&self) -> Severity {
        Severity::Error
    }

    fn check(&self, model: &Model, _config: &Config) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for t in model.tables.values().filter(|t| !t.rls) {
            let Some((column, site)) = t.tenant_columns.first() else {
                continue;
            };
            let d = finding(
                self,
                format!(
                    "table {} has tenant column {column} but Row Level Security is not enabled",
                    t.name
                ),
            )
            .with_hint(if t.managed {
                format!(
                    "add `ALTER TABLE {0} ENABLE ROW LEVEL SECURITY;` and `ALTER TABLE {0} FORCE ROW LEVEL SECURITY;` to its policy file",
                    t.name.sql()
                )
            } else {
                format!(
                    "declare it in a policy file: `ALTER TABLE {0} ENABLE ROW LEVEL SECURITY;` and `ALTER TABLE {0} FORCE ROW LEVEL SECURITY;` with its policies",
                    t.name.sql()
                )
            });
            out.push(point(d, site.as_ref()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{run, CLEAN_POLICIES, CLEAN_UP};
    use super::*;

    #[test]
    fn fires_on_a_tenant_table_no_policy_file_enables() {
        let up = "CREATE TABLE households (id uuid PRIMARY KEY);\n\
                  CREATE TABLE items (\n  id uuid PRIMARY KEY,\n  household_id uuid\n);\n\
                  CREATE TABLE receipt_items (receipt_id uuid);\n";
        assert_eq!(
            run(&RlsDisabledInPublic, up, ""),
            ["sql/up/0001_init.sql:2 table public.items has tenant column household_id but Row Level Security is not enabled"]
        );
    }

    #[test]
    fn points_at_the_statement_that_adds_the_column() {
        let up = "CREATE TABLE items (id uuid);\nALTER TABLE items ADD COLUMN household_id uuid;\n";
        assert_eq!(
            run(&RlsDisabledInPublic, up, ""),
            ["sql/up/0001_init.sql:2 table public.items has tenant column household_id but Row Level Security is not enabled"]
        );
    }

    #[test]
    fn quiet_when_enabled_in_a_policy_file_or_a_migration() {
        assert!(run(&RlsDisabledInPublic, CLEAN_UP, CLEAN_POLICIES).is_empty());
        let up = "CREATE TABLE items (household_id uuid);\nALTER TABLE items ENABLE ROW LEVEL SECURITY;\n";
        assert!(run(&RlsDisabledInPublic, up, "").is_empty());
    }
}
