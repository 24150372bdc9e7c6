//! `rls_not_forced` (warning): RLS is enabled but not forced, so the table's
//! owner (often the role migrations and the app's backend run as) bypasses
//! every policy without anyone noticing.

use super::model::{point, Model};
use super::{finding, LintRule};
use crate::config::Config;
use crate::diagnostic::{codes, Code, Diagnostic, Severity};

pub struct RlsNotForced;

impl LintRule for RlsNotForced {
    fn id(&self) -> Code {
        codes::RLS_NOT_FORCED
    }

    fn level(&self) -> Severity {
        Severity::Warning
    }

    fn check(&self, model: &Model, _config: &Config) -> Vec<Diagnostic> {
        model
            .tables
            .values()
            .filter(|t| t.rls && !t.force)
            .map(|t| {
                let d = finding(
                    self,
                    format!(
                        "table {} has Row Level Security enabled but not forced: its owner bypasses every policy",
                        t.name
                    ),
                )
                .with_hint(format!(
                    "add `ALTER TABLE {} FORCE ROW LEVEL SECURITY;` next to its ENABLE statement",
                    t.name.sql()
                ));
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
    fn fires_on_enable_without_force() {
        let up = "CREATE TABLE items (household_id uuid);\n";
        let policies = "ALTER TABLE items ENABLE ROW LEVEL SECURITY;\nCREATE POLICY r ON items FOR SELECT TO authenticated USING (false);\n";
        assert_eq!(
            run(&RlsNotForced, up, policies),
            ["sql/policies/p.sql:1 table public.items has Row Level Security enabled but not forced: its owner bypasses every policy"]
        );
    }

    #[test]
    fn quiet_when_forced() {
        assert!(run(&RlsNotForced, CLEAN_UP, CLEAN_POLICIES).is_empty());
    }
}
