//! `keel policies lint`: Row Level Security mistakes, found in the files
//! (statically) and in the catalog (live).
//!
//! Every rule is one file here, with its stable id (Supabase's splinter name
//! where splinter has the rule), its level and its tests; `docs/lint.md` has
//! one section per rule with the fix. A rule is a pure function over a
//! [`Model`], and the same model is built from the files
//! ([`Model::from_files`]) and from the catalog (`catalog::read`), so each
//! rule runs on both. Only `catalog` talks to PostgreSQL; nothing here prints.

mod catalog;
mod expr;
pub mod model;

mod auth_rls_initplan;
mod bypassrls_app_role;
mod function_search_path_mutable;
mod multiple_permissive_policies;
mod policy_applies_to_public;
mod policy_exists_rls_disabled;
mod policy_recursion;
mod rls_disabled_in_public;
mod rls_enabled_no_policy;
mod rls_not_forced;
mod rls_policy_always_true;
mod security_definer_view;
mod unindexed_tenant_column;
mod write_policy_without_check;

pub use model::Model;

use crate::config::Config;
use crate::db::{Connection, DbError};
use crate::diagnostic::{codes, Code, Diagnostic, Severity};
use crate::policies::declared::Declared;
use crate::project::{FileKind, SqlText};

/// One lint rule.
pub trait LintRule: Sync {
    /// The stable id: the diagnostic's code and the heading in `docs/lint.md`.
    fn id(&self) -> Code;
    fn level(&self) -> Severity;
    /// The findings in `model`: one diagnostic each, naming the table,
    /// policy, function or view, and pointing at its statement when the
    /// files have one.
    fn check(&self, model: &Model, config: &Config) -> Vec<Diagnostic>;
}

/// Every rule, in the order of `docs/lint.md`.
pub const RULES: &[&dyn LintRule] = &[
    &rls_disabled_in_public::RlsDisabledInPublic,
    &rls_enabled_no_policy::RlsEnabledNoPolicy,
    &policy_exists_rls_disabled::PolicyExistsRlsDisabled,
    &rls_not_forced::RlsNotForced,
    &policy_recursion::PolicyRecursion,
    &rls_policy_always_true::RlsPolicyAlwaysTrue,
    &policy_applies_to_public::PolicyAppliesToPublic,
    &auth_rls_initplan::AuthRlsInitplan,
    &unindexed_tenant_column::UnindexedTenantColumn,
    &function_search_path_mutable::FunctionSearchPathMutable,
    &multiple_permissive_policies::MultiplePermissivePolicies,
    &write_policy_without_check::WritePolicyWithoutCheck,
    &security_definer_view::SecurityDefinerView,
    &bypassrls_app_role::BypassrlsAppRole,
];

/// A finding of `rule`, at its level.
fn finding(rule: &dyn LintRule, message: impl Into<String>) -> Diagnostic {
    let mut d = Diagnostic::error(rule.id(), message);
    d.severity = rule.level();
    d
}

/// Runs every rule on `model`.
pub fn check(model: &Model, config: &Config) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = RULES.iter().flat_map(|r| r.check(model, config)).collect();
    sort(&mut out);
    out
}

/// The files' model: every up migration in order, then the declarations.
pub fn files_model(migrations: &[SqlText], declared: &Declared, config: &Config) -> Model {
    let ups: Vec<&SqlText> = migrations
        .iter()
        .filter(|f| f.kind == FileKind::Up)
        .collect();
    Model::from_files(&ups, declared, config)
}

/// The static lint: the files only, no database.
pub fn lint_static(
    migrations: &[SqlText],
    declared: &Declared,
    config: &Config,
) -> Vec<Diagnostic> {
    let model = files_model(migrations, declared, config);
    let mut out = check(&model, config);
    out.extend(too_deep(&model));
    out
}

/// The live lint: the rules over the database's catalog. Findings point at
/// the files where the object is declared or created there, and carry a note
/// saying they come from the database.
pub fn lint_live(
    client: &mut impl Connection,
    migrations: &[SqlText],
    declared: &Declared,
    config: &Config,
) -> Result<Vec<Diagnostic>, DbError> {
    let files = files_model(migrations, declared, config);
    let live = catalog::read(client, &files, declared, config)?;
    Ok(check(&live, config)
        .into_iter()
        .chain(too_deep(&live))
        .map(|d| d.with_note("found in the database's catalog"))
        .collect())
}

/// Policies whose expressions nest deeper than keel reads (see
/// [`crate::sql::parse`]): no rule can look at them, which is an error
/// rather than a silent pass.
fn too_deep(model: &Model) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for t in model.tables.values() {
        for p in t.policies.iter().filter(|p| p.too_deep) {
            let d = Diagnostic::error(
                codes::POLICY_TOO_DEEP,
                format!(
                    "policy {} on {}: its expression nests deeper than keel reads ({} levels)",
                    p.name,
                    p.table,
                    crate::sql::parse::MAX_DEPTH
                ),
            )
            .with_hint("no lint rule could check it: rewrite the policy with a shallower expression (IN (...), ANY(ARRAY[...]) or a function)");
            out.push(match &p.site {
                Some(s) => d.at(&s.path, &s.text, s.span.clone()),
                None => d,
            });
        }
    }
    out
}

/// Static and live findings together: a live finding the files already
/// explain (same rule, message and place) is reported once.
pub fn merge(found: Vec<Diagnostic>, live: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let same = |a: &Diagnostic, b: &Diagnostic| {
        a.code == b.code && a.message == b.message && a.path == b.path && a.line == b.line
    };
    let extra: Vec<Diagnostic> = live
        .into_iter()
        .filter(|l| !found.iter().any(|s| same(s, l)))
        .collect();
    let mut out = found;
    out.extend(extra);
    sort(&mut out);
    out
}

/// File order: by path and line; findings without a file last.
fn sort(d: &mut [Diagnostic]) {
    d.sort_by(|a, b| {
        (
            a.path.is_none(),
            &a.path,
            a.line,
            a.column,
            a.code,
            &a.message,
        )
            .cmp(&(
                b.path.is_none(),
                &b.path,
                b.line,
                b.column,
                b.code,
                &b.message,
            ))
    });
}

/// Fixtures for the rules' unit tests: a model from one up migration and
/// one policy file.
#[cfg(test)]
pub(crate) mod fixture {
    use super::*;
    use crate::policies::declared::declare;
    use crate::project::FileKind;
    use std::path::PathBuf;

    /// The configuration of the tests: sNAKr's tenant column.
    pub fn config() -> Config {
        Config {
            tenant_columns: vec!["household_id".into()],
            ..Config::default()
        }
    }

    /// The files' model of migration `up` (`sql/up/0001_init.sql`) and
    /// policy file `policies` (`sql/policies/p.sql`).
    pub fn model(up: &str, policies: &str) -> Model {
        let up = SqlText::new(
            PathBuf::from("sql/up/0001_init.sql"),
            FileKind::Up,
            up.into(),
        );
        let declared = declare(&[SqlText::new(
            PathBuf::from("sql/policies/p.sql"),
            FileKind::Policy,
            policies.into(),
        )]);
        assert!(
            declared.diagnostics.is_empty(),
            "{:?}",
            declared.diagnostics
        );
        Model::from_files(&[&up], &declared, &config())
    }

    /// `rule`'s findings on the files' model, as `code path:line message`.
    pub fn run(rule: &dyn LintRule, up: &str, policies: &str) -> Vec<String> {
        rule.check(&model(up, policies), &config())
            .iter()
            .map(|d| {
                assert_eq!(d.code, rule.id());
                assert_eq!(d.severity, rule.level());
                format!(
                    "{}:{} {}",
                    d.path
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                    d.line.unwrap_or(0),
                    d.message
                )
            })
            .collect()
    }

    /// A clean sNAKr-style schema: tenant tables with RLS forced, policies
    /// to `authenticated` through a SECURITY DEFINER helper with a fixed
    /// search_path, indexed tenant columns. No rule fires on it.
    pub const CLEAN_UP: &str = "\
CREATE TABLE households (id uuid PRIMARY KEY, name text NOT NULL);
CREATE TABLE household_members (
    household_id uuid NOT NULL REFERENCES households (id),
    user_id uuid NOT NULL,
    role text NOT NULL,
    PRIMARY KEY (household_id, user_id)
);
CREATE TABLE items (id uuid PRIMARY KEY, household_id uuid NOT NULL, name text);
CREATE INDEX items_household_id_idx ON items (household_id, name);
CREATE FUNCTION app.my_household_ids() RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
    AS $$ SELECT household_id FROM public.household_members WHERE user_id = auth.uid() $$;
CREATE VIEW item_names WITH (security_invoker = true) AS SELECT name FROM items;
";

    pub const CLEAN_POLICIES: &str = "\
ALTER TABLE households ENABLE ROW LEVEL SECURITY;
ALTER TABLE households FORCE ROW LEVEL SECURITY;
CREATE POLICY households_read ON households FOR SELECT TO authenticated
    USING (id IN (SELECT app.my_household_ids()));
ALTER TABLE household_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE household_members FORCE ROW LEVEL SECURITY;
CREATE POLICY members_read ON household_members FOR SELECT TO authenticated
    USING (household_id IN (SELECT app.my_household_ids()));
CREATE POLICY members_leave ON household_members FOR DELETE TO authenticated
    USING (user_id = (SELECT auth.uid()));
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
ALTER TABLE items FORCE ROW LEVEL SECURITY;
CREATE POLICY items_read ON items FOR SELECT TO authenticated
    USING (household_id IN (SELECT app.my_household_ids()));
CREATE POLICY items_add ON items FOR INSERT TO authenticated
    WITH CHECK (household_id IN (SELECT app.my_household_ids()));
CREATE POLICY items_change ON items FOR UPDATE TO authenticated
    USING (household_id IN (SELECT app.my_household_ids()));
";
}

#[cfg(test)]
mod tests {
    use super::fixture::*;
    use super::*;

    #[test]
    fn the_clean_fixture_has_no_findings() {
        let d = check(&model(CLEAN_UP, CLEAN_POLICIES), &config());
        assert!(d.is_empty(), "{d:#?}");
    }

    #[test]
    fn rule_ids_are_unique_and_documented() {
        let docs = include_str!("../../../docs/lint.md");
        let mut ids: Vec<Code> = RULES.iter().map(|r| r.id()).collect();
        for id in &ids {
            assert!(
                docs.contains(&format!("## `{id}`")),
                "docs/lint.md has no section for {id}"
            );
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len());
    }

    #[test]
    fn merge_reports_a_live_finding_once() {
        let s = Diagnostic::error(codes::RLS_NOT_FORCED, "same")
            .with_path(std::path::Path::new("a.sql"));
        let l = s.clone().with_note("found in the database's catalog");
        let other = Diagnostic::warning(codes::RLS_ENABLED_NO_POLICY, "only live");
        let m = merge(vec![s.clone()], vec![l, other.clone()]);
        assert_eq!(m, vec![s, other]);
    }
}
