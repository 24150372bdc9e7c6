//! `policy_exists_rls_disabled` (error): a table has policies but RLS is not
//! enabled on it, so PostgreSQL ignores them and every row is reachable.

use super::model::{point, Model};
use super::{finding, LintRule};
use crate::config::Config;
use crate::diagnostic::{codes, Code, Diagnostic, Severity};

pub struct PolicyExistsRlsDisabled;

impl LintRule for PolicyExistsRlsDisabled {
    fn id(&self) -> Code {
        codes::POLICY_EXISTS_RLS_DISABLED
    }

    fn level(&self) -> Severity {
        Severity::Error
    }

    fn check(&self, model: &Model, _config: &Config) -> Vec<Diagnostic> {
        model
            .tables
            .values()
            .filter(|t| !t.rls && t.policies_known && !t.policies.is_empty())
            .map(|t| {
                let names: Vec<&str> = t.policies.iter().map(|p| p.name.as_str()).collect();
                let d = finding(
                    self,
                    format!(
                        "table {} has {} ({}) but Row Level Security is not enabled: {} not applied",
                        t.name,
                        if names.len() == 1 { "a policy" } else { "policies" },
                        names.join(", "),
                        if names.len() == 1 { "it is" } else { "they are" }
                    ),
                )
                .with_hint(format!(
                    "add `ALTER TABLE {} ENABLE ROW LEVEL SECURITY;` to its policy file",
                    t.name.sql()
                ));
                let site = t.policies[0].site.as_ref().or(t.site.as_ref());
                point(d, site)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{run, CLEAN_POLICIES, CLEAN_UP};
    use super::*;

    #[test]
    fn fires_on_policies_without_enable() {
        let up = "CREATE TABLE items (household_id uuid);\n";
        let policies = "CREATE POLICY items_read ON items FOR SELECT TO authenticated\n  USING (household_id IS NOT NULL);\n";
        assert_eq!(
            run(&PolicyExistsRlsDisabled, up, policies),
            ["sql/policies/p.sql:1 table public.items has a policy (items_read) but Row Level Security is not enabled: it is not applied"]
        );
    }

    #[test]
    fn quiet_when_enabled() {
        assert!(run(&PolicyExistsRlsDisabled, CLEAN_UP, CLEAN_POLICIES).is_empty());
    }
}
