//! What the rules need to know about SQL expressions and queries: the tables
//! they read, whether they hold a subquery, per-row calls of the auth
//! functions, a literal `true`. Everything here is a pure walk over
//! sqlparser's tree.

use crate::policies::model::TableName;
use sqlparser::ast::{DataType, Expr, ObjectName, Query, TableFactor, Value, Visit, Visitor};
use std::collections::BTreeSet;
use std::ops::ControlFlow;

/// Parses one expression, as `pg_get_expr` prints it, bounded in depth as
/// every statement keel reads.
pub fn parse(text: &str) -> Result<Expr, crate::sql::parse::ParseError> {
    crate::sql::parse::expression(text)
}

pub use crate::policies::model::fold;

/// The parts of a possibly qualified name, folded.
pub fn name_parts(n: &ObjectName) -> Vec<String> {
    n.0.iter().filter_map(|p| p.as_ident().map(fold)).collect()
}

/// The named tables `node` reads (in `FROM` and `JOIN`, at any depth), as
/// PostgreSQL would resolve them with the default `search_path`. Table
/// functions and the names of common table expressions are not tables.
pub fn reads<V: Visit>(node: &V) -> BTreeSet<TableName> {
    let mut v = Reads::default();
    let _ = node.visit(&mut v);
    v.tables
}

#[derive(Default)]
struct Reads {
    ctes: BTreeSet<String>,
    tables: BTreeSet<TableName>,
}

impl Visitor for Reads {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            self.ctes
                .extend(with.cte_tables.iter().map(|c| fold(&c.alias.name)));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table {
            name, args: None, ..
        } = factor
        {
            let parts = name_parts(name);
            let is_cte = matches!(parts.as_slice(), [one] if self.ctes.contains(one));
            if !is_cte {
                if let Some(t) = TableName::from_object_name(name) {
                    self.tables.insert(t);
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// Whether `expr` holds a subquery anywhere (a "sublink" to PostgreSQL,
/// `(select auth.uid())` included).
pub fn has_subquery(expr: &Expr) -> bool {
    struct Finder;
    impl Visitor for Finder {
        type Break = ();
        fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            ControlFlow::Break(())
        }
    }
    expr.visit(&mut Finder).is_break()
}

/// Functions whose result is the same for every row of a statement, which
/// PostgreSQL nevertheless calls once per row unless they are wrapped in a
/// scalar subquery (then the planner makes an init plan of it).
const PER_STATEMENT: &[(&str, &str)] = &[
    ("auth", "uid"),
    ("auth", "jwt"),
    ("auth", "role"),
    ("auth", "email"),
    ("pg_catalog", "current_setting"),
];

/// The per-statement functions `expr` calls outside any scalar subquery,
/// written `auth.uid()` / `current_setting()`, sorted and without repeats.
pub fn per_row_calls(expr: &Expr) -> Vec<String> {
    #[derive(Default)]
    struct Calls {
        depth: usize,
        found: BTreeSet<String>,
    }
    impl Visitor for Calls {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            match expr {
                Expr::Subquery(_) => self.depth += 1,
                Expr::Function(f) if self.depth == 0 => {
                    let parts = name_parts(&f.name);
                    let hit = PER_STATEMENT.iter().find(|(schema, name)| {
                        match parts.as_slice() {
                            [s, n] => s == schema && n == name,
                            // current_setting is found on any search_path.
                            [n] => *schema == "pg_catalog" && n == name,
                            _ => false,
                        }
                    });
                    if let Some((schema, name)) = hit {
                        self.found.insert(if *schema == "pg_catalog" {
                            format!("{name}()")
                        } else {
                            format!("{schema}.{name}()")
                        });
                    }
                }
                _ => {}
            }
            ControlFlow::Continue(())
        }
        fn post_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            if let Expr::Subquery(_) = expr {
                self.depth -= 1;
            }
            ControlFlow::Continue(())
        }
    }
    let mut calls = Calls::default();
    let _ = expr.visit(&mut calls);
    calls.found.into_iter().collect()
}

/// Whether `expr` is the literal `true` (parenthesized or cast to boolean).
pub fn is_true(expr: &Expr) -> bool {
    match expr {
        Expr::Value(v) => v.value == Value::Boolean(true),
        Expr::Nested(e) => is_true(e),
        Expr::Cast {
            expr, data_type, ..
        } => matches!(data_type, DataType::Boolean | DataType::Bool) && is_true(expr),
        _ => false,
    }
}

/// A reloption value PostgreSQL reads as true (`true`, `on`, `yes`, `1`, or
/// a prefix of them, as `parse_bool` does).
pub fn truthy(text: &str) -> bool {
    let t = text.trim().to_ascii_lowercase();
    !t.is_empty() && (("true".starts_with(&t)) || ("yes".starts_with(&t)) || t == "on" || t == "1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(text: &str) -> Expr {
        parse(text).unwrap_or_else(|e| panic!("cannot parse {text}: {e}"))
    }

    fn names(set: BTreeSet<TableName>) -> Vec<String> {
        set.into_iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn reads_tables_in_subqueries_but_not_functions_or_ctes() {
        let x = e("household_id IN (SELECT m.household_id FROM household_members m JOIN app.roles r ON true) \
                   AND EXISTS (WITH c AS (SELECT 1) SELECT 1 FROM c, app.my_households() h)");
        assert_eq!(names(reads(&x)), ["app.roles", "public.household_members"]);
        assert!(reads(&e("household_id = ANY (app.my_households())")).is_empty());
    }

    #[test]
    fn per_row_calls_skip_scalar_subqueries() {
        assert_eq!(
            per_row_calls(&e(
                "user_id = auth.uid() AND (select auth.jwt()) ->> 'r' = 'a'"
            )),
            ["auth.uid()"]
        );
        assert_eq!(
            per_row_calls(&e(
                "household_id IN (SELECT household_id FROM m WHERE user_id = auth.uid())"
            )),
            ["auth.uid()"]
        );
        assert_eq!(
            per_row_calls(&e(
                "(current_setting('request.jwt.claim.sub'::text, true))::uuid = user_id"
            )),
            ["current_setting()"]
        );
        assert!(per_row_calls(&e("user_id = ( SELECT auth.uid() AS uid)")).is_empty());
    }

    #[test]
    fn literal_true_and_truthy_options() {
        assert!(is_true(&e("true")) && is_true(&e("(true)")) && is_true(&e("true::boolean")));
        assert!(!is_true(&e("1 = 1")) && !is_true(&e("false")));
        assert!(truthy("true") && truthy("on") && truthy("1") && truthy("t"));
        assert!(!truthy("off") && !truthy("false") && !truthy(""));
    }

    #[test]
    fn has_subquery_sees_scalar_subqueries() {
        assert!(has_subquery(&e("user_id = (select auth.uid())")));
        assert!(!has_subquery(&e("user_id = auth.uid()")));
    }

    #[test]
    fn parse_refuses_trailing_text() {
        assert!(parse("a = 1 b").is_err());
    }

    #[test]
    fn a_catalog_expression_too_deep_is_refused_not_a_crash() {
        let huge = vec!["tenant_id = 1"; 100_000].join(" OR ");
        assert!(matches!(
            parse(&huge),
            Err(crate::sql::parse::ParseError::TooDeep { .. })
        ));
    }
}
