//! `function_search_path_mutable` (error): a SECURITY DEFINER function
//! without a fixed `search_path`. It runs with its owner's rights but
//! resolves names through the caller's `search_path`, so a caller who can
//! create objects in a schema on that path can make it run their own
//! function or read their own table instead, with the owner's rights.
//! Functions used by policies (the fix for `policy_recursion`) are exactly
//! these.

use super::model::{point, Model};
use super::{finding, LintRule};
use crate::config::Config;
use crate::diagnostic::{codes, Code, Diagnostic, Severity};

pub struct FunctionSearchPathMutable;

impl LintRule for FunctionSearchPathMutable {
    fn id(&self) -> Code {
        codes::FUNCTION_SEARCH_PATH_MUTABLE
    }

    fn level(&self) -> Severity {
        Severity::Error
    }

    fn check(&self, model: &Model, _config: &Config) -> Vec<Diagnostic> {
        model
            .functions
            .values()
            .filter(|f| f.security_definer && !f.fixed_search_path)
            .map(|f| {
                let d = finding(
                    self,
                    format!(
                        "SECURITY DEFINER function {} has no fixed search_path",
                        f.name
                    ),
                )
                .with_hint(
                    "add `SET search_path = ''` to its definition and schema-qualify every name in its body (or `SET search_path = pg_catalog, public`)",
                );
                point(d, f.site.as_ref())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{run, CLEAN_POLICIES, CLEAN_UP};
    use super::*;

    #[test]
    fn fires_on_security_definer_without_search_path() {
        let up = "\
CREATE FUNCTION app.my_household_ids() RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    AS $$ SELECT household_id FROM household_members WHERE user_id = auth.uid() $$;
CREATE FUNCTION app.invoker() RETURNS int LANGUAGE sql AS 'select 1';
";
        assert_eq!(
            run(&FunctionSearchPathMutable, up, ""),
            ["sql/up/0001_init.sql:1 SECURITY DEFINER function app.my_household_ids has no fixed search_path"]
        );
    }

    #[test]
    fn quiet_with_a_fixed_search_path_set_at_creation_or_later() {
        assert!(run(&FunctionSearchPathMutable, CLEAN_UP, CLEAN_POLICIES).is_empty());
        let up = "\
CREATE FUNCTION app.f() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'select 1';
ALTER FUNCTION app.f() SET search_path = pg_catalog, public;
";
        assert!(run(&FunctionSearchPathMutable, up, "").is_empty());
    }
}
