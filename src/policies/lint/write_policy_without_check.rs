//! `write_policy_without_check` (error): an `INSERT` policy without `WITH
//! CHECK`, or an `UPDATE`/`ALL` policy with neither `USING` nor `WITH CHECK`.
//! PostgreSQL has nothing to check new rows against: a permissive one allows
//! no row at all (inserts fail with "new row violates row-level security
//! policy"), a restrictive one restricts nothing. Either way it does not do
//! what its name says. (An `UPDATE`/`ALL` policy with `USING` but no `WITH
//! CHECK` is fine: PostgreSQL checks new rows with `USING`.)

use super::model::{point, Model};
use super::{finding, LintRule};
use crate::config::Config;
use crate::diagnostic::{codes, Code, Diagnostic, Severity};
use crate::policies::model::Command;

pub struct WritePolicyWithoutCheck;

impl LintRule for WritePolicyWithoutCheck {
    fn id(&self) -> Code {
        codes::WRITE_POLICY_WITHOUT_CHECK
    }

    fn level(&self) -> Severity {
        Severity::Error
    }

    fn check(&self, model: &Model, _config: &Config) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for p in model.tables.values().flat_map(|t| &t.policies) {
            if !p.parsed || p.with_check.is_some() {
                continue;
            }
            let missing = match p.command {
                Command::Insert => "no WITH CHECK",
                Command::Update | Command::All if p.using.is_none() => {
                    "neither USING nor WITH CHECK"
                }
                _ => continue,
            };
            let effect = if p.permissive {
                "it allows no row"
            } else {
                "it restricts nothing"
            };
            let d = finding(
                self,
                format!(
                    "{} policy {} on {} has {missing}: {effect}",
                    p.command.name(),
                    p.name,
                    p.table
                ),
            )
            .with_hint(
                "say which new rows are allowed: `WITH CHECK (household_id IN (SELECT app.my_household_ids()))`",
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

    #[test]
    fn fires_on_writes_with_nothing_to_check() {
        let up = "CREATE TABLE items (household_id uuid);\n";
        let policies = "\
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
CREATE POLICY items_add ON items FOR INSERT TO authenticated;
CREATE POLICY items_all ON items AS RESTRICTIVE TO authenticated;
CREATE POLICY items_change ON items FOR UPDATE TO authenticated USING (household_id IS NOT NULL);
";
        assert_eq!(
            run(&WritePolicyWithoutCheck, up, policies),
            [
                "sql/policies/p.sql:2 INSERT policy items_add on public.items has no WITH CHECK: it allows no row",
                "sql/policies/p.sql:3 ALL policy items_all on public.items has neither USING nor WITH CHECK: it restricts nothing",
            ]
        );
    }

    #[test]
    fn quiet_with_checks() {
        assert!(run(&WritePolicyWithoutCheck, CLEAN_UP, CLEAN_POLICIES).is_empty());
    }
}
