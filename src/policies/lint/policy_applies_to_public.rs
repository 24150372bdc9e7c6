//! `policy_applies_to_public` (warning): a policy without a `TO` clause (or
//! `TO public`) applies to every role, `anon` included, so a condition meant
//! for signed-in users is also evaluated for anonymous requests, and any
//! role granted the table later inherits it.

use super::model::{point, Model};
use super::{finding, LintRule};
use crate::config::Config;
use crate::diagnostic::{codes, Code, Diagnostic, Severity};

pub struct PolicyAppliesToPublic;

impl LintRule for PolicyAppliesToPublic {
    fn id(&self) -> Code {
        codes::POLICY_APPLIES_TO_PUBLIC
    }

    fn level(&self) -> Severity {
        Severity::Warning
    }

    fn check(&self, model: &Model, config: &Config) -> Vec<Diagnostic> {
        let role = config
            .test_roles
            .first()
            .map_or("authenticated", String::as_str);
        model
            .tables
            .values()
            .flat_map(|t| &t.policies)
            .filter(|p| p.applies_to_public())
            .map(|p| {
                let d = finding(
                    self,
                    format!(
                        "policy {} on {} applies to PUBLIC, every role including anon",
                        p.name, p.table
                    ),
                )
                .with_hint(format!(
                    "name the roles it is for: `CREATE POLICY {} ON {} ... TO {role} ...`",
                    p.name,
                    p.table.sql()
                ));
                point(d, p.site.as_ref())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{run, CLEAN_POLICIES, CLEAN_UP};
    use super::*;

    #[test]
    fn fires_without_a_to_clause_or_with_to_public() {
        let up = "CREATE TABLE items (household_id uuid);\n";
        let policies = "\
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
CREATE POLICY items_read ON items FOR SELECT USING (false);
CREATE POLICY items_del ON items FOR DELETE TO public USING (false);
CREATE POLICY items_add ON items FOR INSERT TO authenticated WITH CHECK (false);
";
        assert_eq!(
            run(&PolicyAppliesToPublic, up, policies),
            [
                "sql/policies/p.sql:2 policy items_read on public.items applies to PUBLIC, every role including anon",
                "sql/policies/p.sql:3 policy items_del on public.items applies to PUBLIC, every role including anon",
            ]
        );
    }

    #[test]
    fn quiet_with_named_roles() {
        assert!(run(&PolicyAppliesToPublic, CLEAN_UP, CLEAN_POLICIES).is_empty());
    }
}
