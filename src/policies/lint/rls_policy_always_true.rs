//! `rls_policy_always_true` (error): a permissive policy for a write
//! (`INSERT`, `UPDATE`, `DELETE` or `ALL`) whose `USING` or `WITH CHECK` is
//! literally `true`. Permissive policies are OR-ed, so this one opens the
//! write to every row of every tenant for the roles it names. A missing
//! `WITH CHECK` is `write_policy_without_check`'s business.

use super::expr::is_true;
use super::model::{point, Model};
use super::{finding, LintRule};
use crate::config::Config;
use crate::diagnostic::{codes, Code, Diagnostic, Severity};
use crate::policies::model::Command;

pub struct RlsPolicyAlwaysTrue;

impl LintRule for RlsPolicyAlwaysTrue {
    fn id(&self) -> Code {
        codes::RLS_POLICY_ALWAYS_TRUE
    }

    fn level(&self) -> Severity {
        Severity::Error
    }

    fn check(&self, model: &Model, _config: &Config) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for p in model.tables.values().flat_map(|t| &t.policies) {
            if !p.permissive || p.command == Command::Select {
                continue;
            }
            // USING governs UPDATE and DELETE; WITH CHECK, INSERT and UPDATE.
            let using = p.command != Command::Insert && p.using.as_ref().is_some_and(is_true);
            let check = p.command != Command::Delete && p.with_check.as_ref().is_some_and(is_true);
            let clause = match (using, check) {
                (true, true) => "USING and WITH CHECK are",
                (true, false) => "USING is",
                (false, true) => "WITH CHECK is",
                (false, false) => continue,
            };
            let d = finding(
                self,
                format!(
                    "permissive {} policy {} on {} lets every row through: its {clause} `true`",
                    p.command.name(),
                    p.name,
                    p.table
                ),
            )
            .with_hint(
                "compare the tenant column with the caller's tenants, e.g. `household_id IN (SELECT app.my_household_ids())`",
            );
            out.push(point(d, p.site.as_ref()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{run, CLEAN_POLICIES, CLEAN_UP};
    use super::*;

    const UP: &str = "CREATE TABLE items (household_id uuid);\n";

    #[test]
    fn fires_on_true_for_writes() {
        let policies = "\
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
CREATE POLICY items_update ON items FOR UPDATE TO authenticated USING (true);
CREATE POLICY items_insert ON items FOR INSERT TO authenticated WITH CHECK (true);
CREATE POLICY items_all ON items TO authenticated USING (household_id IS NOT NULL) WITH CHECK (true);
";
        assert_eq!(
            run(&RlsPolicyAlwaysTrue, UP, policies),
            [
                "sql/policies/p.sql:2 permissive UPDATE policy items_update on public.items lets every row through: its USING is `true`",
                "sql/policies/p.sql:3 permissive INSERT policy items_insert on public.items lets every row through: its WITH CHECK is `true`",
                "sql/policies/p.sql:4 permissive ALL policy items_all on public.items lets every row through: its WITH CHECK is `true`",
            ]
        );
    }

    #[test]
    fn quiet_on_reads_restrictive_policies_and_real_checks() {
        let policies = "\
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
CREATE POLICY items_read ON items FOR SELECT TO authenticated USING (true);
CREATE POLICY items_gate ON items AS RESTRICTIVE FOR UPDATE TO authenticated USING (true);
";
        assert!(run(&RlsPolicyAlwaysTrue, UP, policies).is_empty());
        assert!(run(&RlsPolicyAlwaysTrue, CLEAN_UP, CLEAN_POLICIES).is_empty());
    }
}
