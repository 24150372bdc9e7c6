//! The tables and views a statement names ([`relations`]): what it may have waited to lock.

use sqlparser::ast::{visit_relations, ObjectName, Statement};
use std::ops::ControlFlow;

/// Every relation `sql` names, as written (`public.items`, `"Items"`), each once, in order.
/// Empty when sqlparser does not read the statement: the caller then knows nothing better.
pub fn relations(sql: &str) -> Vec<String> {
    let Ok(statements) = super::parse::statements(sql) else {
        return Vec::new();
    };
    let mut names: Vec<String> = Vec::new();
    let add_text = |names: &mut Vec<String>, name: String| {
        if !names.contains(&name) {
            names.push(name);
        }
    };
    for statement in &statements {
        let mut add = |name: &ObjectName| add_text(&mut names, name.to_string());
        let _ = visit_relations(statement, |name| {
            add(name);
            ControlFlow::<()>::Continue(())
        });
        // DROP names its objects outside what the visitor calls relations.
        if let Statement::Drop { names: dropped, .. } = statement {
            dropped.iter().for_each(add);
        }
        // So does a foreign key, column or table constraint alike; sqlparser prints each as
        // `REFERENCES <table>`, which is read back here.
        let text = statement.to_string();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("REFERENCES ") {
            rest = &rest[at + "REFERENCES ".len()..];
            let name = name_prefix(rest);
            if !name.is_empty() {
                add_text(&mut names, name.to_string());
            }
        }
    }
    names
}

/// The object name `text` starts with: dotted parts, each bare or double-quoted.
fn name_prefix(text: &str) -> &str {
    let mut in_quotes = false;
    let end = text
        .char_indices()
        .find(|&(_, c)| {
            if c == '"' {
                in_quotes = !in_quotes;
            }
            !in_quotes && (c.is_whitespace() || c == '(' || c == ',' || c == ')')
        })
        .map_or(text.len(), |(i, _)| i);
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::relations;

    #[test]
    fn statements_name_the_tables_they_lock() {
        let cases: &[(&str, &[&str])] = &[
            ("ALTER TABLE items ADD COLUMN note text", &["items"]),
            ("CREATE INDEX ON public.items (name)", &["public.items"]),
            (
                "ALTER TABLE a ADD CONSTRAINT f FOREIGN KEY (b_id) REFERENCES b (id)",
                &["a", "b"],
            ),
            ("DROP TABLE x, y", &["x", "y"]),
            ("TRUNCATE t", &["t"]),
            ("UPDATE items SET n = 1", &["items"]),
            ("LOCK TABLE \"Items\"", &["\"Items\""]),
            (
                "CREATE TABLE c (id int, h int REFERENCES \"My Households\"(id))",
                &["c", "\"My Households\""],
            ),
            ("not sql at all", &[]),
        ];
        for (sql, want) in cases {
            assert_eq!(relations(sql), *want, "{sql}");
        }
    }
}
