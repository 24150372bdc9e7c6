//! `auth_rls_initplan` (warning): `auth.uid()`, `auth.jwt()`, `auth.role()`,
//! `auth.email()` or `current_setting(...)` called directly in a policy
//! expression. Their value is the same for the whole statement, yet
//! PostgreSQL calls them once per row; wrapped in a scalar subquery,
//! `(select auth.uid())`, the planner evaluates them once (an init plan).
//! Only calls outside every scalar subquery count.

use super::expr::per_row_calls;
use super::model::{point, Model};
use super::{finding, LintRule};
use crate::config::Config;
use crate::diagnostic::{codes, Code, Diagnostic, Severity};

pub struct AuthRlsInitplan;

impl LintRule for AuthRlsInitplan {
    fn id(&self) -> Code {
        codes::AUTH_RLS_INITPLAN
    }

    fn level(&self) -> Severity {
        Severity::Warning
    }

    fn check(&self, model: &Model, _config: &Config) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for p in model.tables.values().flat_map(|t| &t.policies) {
            let mut calls: Vec<String> = p
                .using
                .iter()
                .chain(p.with_check.iter())
                .flat_map(per_row_calls)
                .collect();
            calls.sort();
            calls.dedup();
            let Some(first) = calls.first() else { continue };
            let d = finding(
                self,
                format!(
                    "policy {} on {} calls {} for every row",
                    p.name,
                    p.table,
                    calls.join(", ")
                ),
            )
            .with_hint(format!(
                "wrap it in a scalar subquery so it runs once per statement: `(select {})`",
                if first == "current_setting()" {
                    "current_setting('...')"
                } else {
                    first
                }
            ));
            out.push(point(d, p.site.as_ref()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{run, CLEAN_POLICIES, CLEAN_UP};
    use super::*;

    #[test]
    fn fires_on_direct_calls() {
        let up = "CREATE TABLE items (household_id uuid, user_id uuid);\n";
        let policies = "\
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
CREATE POLICY items_read ON items FOR SELECT TO authenticated
    USING (user_id = auth.uid());
CREATE POLICY items_add ON items FOR INSERT TO authenticated
    WITH CHECK (user_id = (select auth.uid()) AND current_setting('app.tenant') IS NOT NULL);
";
        assert_eq!(
            run(&AuthRlsInitplan, up, policies),
            [
                "sql/policies/p.sql:2 policy items_read on public.items calls auth.uid() for every row",
                "sql/policies/p.sql:4 policy items_add on public.items calls current_setting() for every row",
            ]
        );
    }

    #[test]
    fn quiet_when_wrapped() {
        assert!(run(&AuthRlsInitplan, CLEAN_UP, CLEAN_POLICIES).is_empty());
    }
}
