//! `policy_recursion` (error): a policy whose expression reads its own
//! table, directly or through other tables' policies. PostgreSQL fails the
//! first query with "infinite recursion detected in policy for relation".
//!
//! How PostgreSQL gets there (`fireRIRrules`): when it adds a table's
//! policies to a query and they hold a subquery, it marks the table as being
//! expanded and expands the tables the subqueries read with *their*
//! `SELECT`/`ALL` policies. Meeting a table that is being expanded, whose
//! read policies hold a subquery too, is the error. So a policy on `t`
//! recurses when a chain of reads leads back to `t`, each table on the way
//! having RLS on and read policies with a subquery (`(select auth.uid())`
//! counts). Function calls are opaque to this expansion: reading through a
//! SECURITY DEFINER function is the fix, so only table references count.

use super::model::{point, Analyzed, Model};
use super::{finding, LintRule};
use crate::config::Config;
use crate::diagnostic::{codes, Code, Diagnostic, Severity};
use crate::policies::model::TableName;
use std::collections::{BTreeMap, VecDeque};

pub struct PolicyRecursion;

impl LintRule for PolicyRecursion {
    fn id(&self) -> Code {
        codes::POLICY_RECURSION
    }

    fn level(&self) -> Severity {
        Severity::Error
    }

    fn check(&self, model: &Model, _config: &Config) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for t in model.tables.values().filter(|t| t.rls) {
            for p in t.policies.iter().filter(|p| p.has_subquery) {
                let Some(chain) = chain_back(model, p) else {
                    continue;
                };
                let mut how = format!("policy {} on {} reads ", p.name, p.table);
                for (table, policy) in &chain {
                    how.push_str(&format!("{table}, whose policy {policy} reads "));
                }
                how.push_str(&p.table.to_string());
                if chain.is_empty() {
                    how.push_str(" itself");
                }
                let d = finding(
                    self,
                    format!(
                        "{how}: PostgreSQL fails with \"infinite recursion detected in policy for relation {}\"",
                        p.table.name
                    ),
                )
                .with_hint(
                    "read the other rows through a SECURITY DEFINER function with a fixed search_path (e.g. `household_id IN (SELECT app.my_household_ids())`); PostgreSQL does not expand policies inside functions",
                );
                out.push(point(d, p.site.as_ref()));
            }
        }
        out
    }
}

/// Whether reading `table` makes PostgreSQL expand policies with subqueries
/// (and so check for recursion).
fn expands(model: &Model, table: &TableName) -> bool {
    model
        .tables
        .get(table)
        .is_some_and(|t| t.rls && t.read_policies().any(|p| p.has_subquery))
}

/// The chain of reads from `p` back to its own table, as the tables in
/// between with the policy of each that reads the next; empty when `p`
/// reads its table directly. `None` when there is no such chain.
fn chain_back(model: &Model, p: &Analyzed) -> Option<Vec<(TableName, String)>> {
    let start = &p.table;
    if !expands(model, start) {
        return None;
    }
    if p.reads.contains(start) {
        return Some(Vec::new());
    }
    // Breadth first, so the chain reported is a shortest one.
    let mut came_from: BTreeMap<TableName, Option<(TableName, String)>> = BTreeMap::new();
    let mut queue = VecDeque::new();
    for r in &p.reads {
        came_from.insert(r.clone(), None);
        queue.push_back(r.clone());
    }
    while let Some(table) = queue.pop_front() {
        if !expands(model, &table) {
            continue;
        }
        for q in model.tables[&table].read_policies() {
            for next in &q.reads {
                if next == start {
                    let mut chain = vec![(table.clone(), q.name.clone())];
                    let mut at = table.clone();
                    while let Some(Some((prev, policy))) = came_from.get(&at) {
                        chain.push((prev.clone(), policy.clone()));
                        at = prev.clone();
                    }
                    chain.reverse();
                    // Each entry names the table and the policy of it that
                    // reads the next one.
                    return Some(chain);
                }
                if !came_from.contains_key(next) {
                    came_from.insert(next.clone(), Some((table.clone(), q.name.clone())));
                    queue.push_back(next.clone());
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{run, CLEAN_POLICIES, CLEAN_UP};
    use super::*;

    const UP: &str = "\
CREATE TABLE households (id uuid PRIMARY KEY);
CREATE TABLE household_members (household_id uuid, user_id uuid);
CREATE TABLE items (household_id uuid);
";

    #[test]
    fn fires_on_household_members_reading_itself() {
        // sNAKr's original defect 1.
        let policies = "\
ALTER TABLE household_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY members_read ON household_members FOR SELECT TO authenticated
    USING (household_id IN (
        SELECT household_id FROM household_members WHERE user_id = auth.uid()));
";
        assert_eq!(
            run(&PolicyRecursion, UP, policies),
            ["sql/policies/p.sql:2 policy members_read on public.household_members reads public.household_members itself: PostgreSQL fails with \"infinite recursion detected in policy for relation household_members\""]
        );
    }

    #[test]
    fn fires_on_a_chain_through_another_table() {
        let policies = "\
ALTER TABLE households ENABLE ROW LEVEL SECURITY;
CREATE POLICY households_read ON households FOR SELECT TO authenticated
    USING (id IN (SELECT household_id FROM household_members));
ALTER TABLE household_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY members_read ON household_members FOR SELECT TO authenticated
    USING (EXISTS (SELECT 1 FROM households h WHERE h.id = household_id));
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
CREATE POLICY items_read ON items FOR SELECT TO authenticated
    USING (household_id IN (SELECT id FROM households));
";
        assert_eq!(
            run(&PolicyRecursion, UP, policies),
            [
                "sql/policies/p.sql:5 policy members_read on public.household_members reads public.households, whose policy households_read reads public.household_members: PostgreSQL fails with \"infinite recursion detected in policy for relation household_members\"",
                "sql/policies/p.sql:2 policy households_read on public.households reads public.household_members, whose policy members_read reads public.households: PostgreSQL fails with \"infinite recursion detected in policy for relation households\"",
            ]
        );
    }

    #[test]
    fn quiet_when_read_policies_have_no_subquery() {
        // PostgreSQL only checks for recursion when the policies it adds for
        // the inner read hold a subquery: this insert check works.
        let policies = "\
ALTER TABLE household_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY members_read ON household_members FOR SELECT TO authenticated
    USING (user_id = auth.uid());
CREATE POLICY members_add ON household_members FOR INSERT TO authenticated
    WITH CHECK (NOT EXISTS (SELECT 1 FROM household_members m WHERE m.household_id = household_id));
";
        assert!(run(&PolicyRecursion, UP, policies).is_empty());
    }

    #[test]
    fn quiet_through_a_security_definer_function_or_a_table_without_rls() {
        assert!(run(&PolicyRecursion, CLEAN_UP, CLEAN_POLICIES).is_empty());
        let policies = "\
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
CREATE POLICY items_read ON items FOR SELECT TO authenticated
    USING (household_id IN (SELECT household_id FROM household_members WHERE user_id = (SELECT auth.uid())));
";
        assert!(run(&PolicyRecursion, UP, policies).is_empty());
    }
}
