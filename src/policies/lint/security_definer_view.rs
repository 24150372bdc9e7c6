//! `security_definer_view` (error): a view over an RLS table that is not
//! `security_invoker`. A view reads its tables with its owner's rights, and
//! the owner is usually exempt from the tables' policies, so the view shows
//! every tenant's rows to whoever may select from it.

use super::model::{point, Model};
use super::{finding, LintRule};
use crate::config::Config;
use crate::diagnostic::{codes, Code, Diagnostic, Severity};

pub struct SecurityDefinerView;

impl LintRule for SecurityDefinerView {
    fn id(&self) -> Code {
        codes::SECURITY_DEFINER_VIEW
    }

    fn level(&self) -> Severity {
        Severity::Error
    }

    fn check(&self, model: &Model, _config: &Config) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for v in model.views.values().filter(|v| !v.security_invoker) {
            let rls: Vec<String> = v
                .reads
                .iter()
                .filter(|r| model.tables.get(*r).is_some_and(|t| t.rls))
                .map(|r| r.to_string())
                .collect();
            if rls.is_empty() {
                continue;
            }
            let d = finding(
                self,
                format!(
                    "view {} reads RLS table {} with its owner's rights, not its reader's",
                    v.name,
                    rls.join(", ")
                ),
            )
            .with_hint(format!(
                "create it `WITH (security_invoker = true)` (PostgreSQL 15+), or `ALTER VIEW {} SET (security_invoker = true);`",
                v.name.sql()
            ));
            out.push(point(d, v.site.as_ref()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{run, CLEAN_POLICIES, CLEAN_UP};
    use super::*;

    #[test]
    fn fires_on_a_definer_view_over_an_rls_table() {
        let up = "\
CREATE TABLE items (household_id uuid, name text);
CREATE TABLE units (name text);
CREATE VIEW item_names AS SELECT i.name FROM items i JOIN units u ON u.name = i.name;
CREATE VIEW unit_names AS SELECT name FROM units;
";
        let policies = "ALTER TABLE items ENABLE ROW LEVEL SECURITY;\n";
        assert_eq!(
            run(&SecurityDefinerView, up, policies),
            ["sql/up/0001_init.sql:3 view public.item_names reads RLS table public.items with its owner's rights, not its reader's"]
        );
    }

    #[test]
    fn quiet_with_security_invoker() {
        assert!(run(&SecurityDefinerView, CLEAN_UP, CLEAN_POLICIES).is_empty());
    }
}
