//! `multiple_permissive_policies` (warning): more than one permissive policy
//! of a table applies to the same role and command (`ALL` counts for every
//! command). PostgreSQL evaluates each of them for every row and ORs the
//! results: slower, and harder to read than one policy with the whole
//! condition.

use super::model::{point, Analyzed, Model};
use super::{finding, LintRule};
use crate::config::Config;
use crate::diagnostic::{codes, Code, Diagnostic, Severity};
use crate::policies::model::Command;
use std::collections::{BTreeMap, BTreeSet};

pub struct MultiplePermissivePolicies;

const COMMANDS: [Command; 4] = [
    Command::Select,
    Command::Insert,
    Command::Update,
    Command::Delete,
];

impl LintRule for MultiplePermissivePolicies {
    fn id(&self) -> Code {
        codes::MULTIPLE_PERMISSIVE_POLICIES
    }

    fn level(&self) -> Severity {
        Severity::Warning
    }

    fn check(&self, model: &Model, _config: &Config) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for t in model.tables.values() {
            let permissive: Vec<&Analyzed> = t.policies.iter().filter(|p| p.permissive).collect();
            // Every named role, and PUBLIC, which every role is a member of.
            let mut roles: BTreeSet<&str> = permissive
                .iter()
                .flat_map(|p| p.roles.iter().map(String::as_str))
                .collect();
            roles.insert("public");
            // One finding per set of overlapping policies, listing the
            // roles and commands they overlap for.
            let mut overlaps: BTreeMap<Vec<usize>, BTreeMap<Command, BTreeSet<&str>>> =
                BTreeMap::new();
            for role in &roles {
                for cmd in COMMANDS {
                    let set: Vec<usize> = permissive
                        .iter()
                        .enumerate()
                        .filter(|(_, p)| p.allows(role, cmd))
                        .map(|(i, _)| i)
                        .collect();
                    if set.len() < 2 {
                        continue;
                    }
                    // A role that only meets PUBLIC policies is PUBLIC's finding.
                    let only_public = set.iter().all(|&i| permissive[i].applies_to_public());
                    if *role != "public" && only_public {
                        continue;
                    }
                    overlaps
                        .entry(set)
                        .or_default()
                        .entry(cmd)
                        .or_default()
                        .insert(role);
                }
            }
            for (set, by_command) in overlaps {
                let names: Vec<&str> = set.iter().map(|&i| permissive[i].name.as_str()).collect();
                let mut groups: BTreeMap<Vec<&str>, Vec<&str>> = BTreeMap::new();
                for (cmd, roles) in &by_command {
                    groups
                        .entry(roles.iter().copied().collect())
                        .or_default()
                        .push(cmd.name());
                }
                let when: Vec<String> = groups
                    .iter()
                    .map(|(roles, cmds)| format!("{} for {}", roles.join(", "), cmds.join(", ")))
                    .collect();
                let d = finding(
                    self,
                    format!(
                        "table {} has permissive policies {} that all apply to {}",
                        t.name,
                        names.join(", "),
                        when.join("; ")
                    ),
                )
                .with_hint(
                    "merge them into one policy per role and command (OR the conditions), or make the extra ones AS RESTRICTIVE if they are meant to narrow",
                );
                let last = permissive[*set.last().expect("two or more")];
                out.push(point(d, last.site.as_ref()));
            }
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
    fn fires_on_overlapping_permissive_policies() {
        let policies = "\
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
CREATE POLICY items_all ON items TO authenticated USING (household_id IS NOT NULL);
CREATE POLICY items_read ON items FOR SELECT TO authenticated, anon USING (true);
";
        assert_eq!(
            run(&MultiplePermissivePolicies, UP, policies),
            ["sql/policies/p.sql:3 table public.items has permissive policies items_all, items_read that all apply to authenticated for SELECT"]
        );
    }

    #[test]
    fn public_policies_overlap_for_every_role() {
        let policies = "\
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
CREATE POLICY a ON items FOR UPDATE USING (true);
CREATE POLICY b ON items USING (true);
";
        assert_eq!(
            run(&MultiplePermissivePolicies, UP, policies),
            ["sql/policies/p.sql:3 table public.items has permissive policies a, b that all apply to public for UPDATE"]
        );
    }

    #[test]
    fn quiet_on_distinct_commands_roles_or_restrictive_policies() {
        assert!(run(&MultiplePermissivePolicies, CLEAN_UP, CLEAN_POLICIES).is_empty());
        let policies = "\
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
CREATE POLICY a ON items FOR SELECT TO authenticated USING (true);
CREATE POLICY b ON items FOR SELECT TO anon USING (false);
CREATE POLICY c ON items AS RESTRICTIVE FOR SELECT TO authenticated USING (true);
";
        assert!(run(&MultiplePermissivePolicies, UP, policies).is_empty());
    }
}
