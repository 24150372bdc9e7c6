//! `rls_enabled_no_policy` (warning): RLS is on but the table has no policy,
//! so it denies every row to every role subject to RLS. Sometimes intended
//! (a table only SECURITY DEFINER functions touch); usually a policy file
//! that lost its policies.

use super::model::{point, Model};
use super::{finding, LintRule};
use crate::config::Config;
use crate::diagnostic::{codes, Code, Diagnostic, Severity};

pub struct RlsEnabledNoPolicy;

impl LintRule for RlsEnabledNoPolicy {
    fn id(&self) -> Code {
        codes::RLS_ENABLED_NO_POLICY
    }

    fn level(&self) -> Severity {
        Severity::Warning
    }

    fn check(&self, model: &Model, _config: &Config) -> Vec<Diagnostic> {
        model
            .tables
            .values()
            .filter(|t| t.rls && t.policies_known && t.policies.is_empty())
            .map(|t| {
                let d = finding(
                    self,
                    format!(
                        "table {} has Row Level Security enabled but no policy: it denies every row",
                        t.name
                    ),
                )
                .with_hint(
                    "declare the policies its roles need next to its ENABLE statement (if only SECURITY DEFINER functions may touch it, this warning can stay)",
                );
                point(d, t.site.as_ref())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{run, CLEAN_POLICIES, CLEAN_UP};
    use super::*;

    #[test]
    fn fires_on_an_enabled_table_without_policies() {
        let up = "CREATE TABLE items (household_id uuid);\n";
        let policies = "-- items\nALTER TABLE items ENABLE ROW LEVEL SECURITY;\nALTER TABLE items FORCE ROW LEVEL SECURITY;\n";
        assert_eq!(
            run(&RlsEnabledNoPolicy, up, policies),
            ["sql/policies/p.sql:2 table public.items has Row Level Security enabled but no policy: it denies every row"]
        );
    }

    #[test]
    fn quiet_with_policies() {
        assert!(run(&RlsEnabledNoPolicy, CLEAN_UP, CLEAN_POLICIES).is_empty());
    }

    #[test]
    fn quiet_on_tables_whose_policies_migrations_make() {
        // Policies created by migrations are the live rules' business.
        let up = "CREATE TABLE t (id int);\nALTER TABLE t ENABLE ROW LEVEL SECURITY;\nCREATE POLICY p ON t USING (true);\n";
        assert!(run(&RlsEnabledNoPolicy, up, "").is_empty());
    }
}
