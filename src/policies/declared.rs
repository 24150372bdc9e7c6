//! The declared RLS state, read from `sql/policies/*.sql`: per table, its
//! flags and its [`Policy`]s, each with its file as [`Source::File`].
//!
//! A policy file may hold only `ALTER TABLE ... ENABLE|FORCE ROW LEVEL
//! SECURITY`, `CREATE POLICY` and `COMMENT ON POLICY`: it declares a state,
//! it does not migrate one. Helper functions belong in migrations.

use super::model::{fold, one_name, Command, FileSource, Policy, Source, TableName, PUBLIC};
use crate::diagnostic::{codes, Diagnostic};
use crate::header::Entry;
use crate::project::{SqlText, Version};
use crate::sql::split::{self, words};
use sqlparser::ast::{
    AlterTableOperation, CreatePolicyCommand, CreatePolicyType, Owner, Statement,
};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;

/// The declared state of one table.
#[derive(Debug, Clone)]
pub struct TableDecl {
    pub table: TableName,
    pub enable: bool,
    pub force: bool,
    /// Its policies, in the file's order; each one's source is the file.
    pub policies: Vec<Policy>,
    /// The file declaring it, and where.
    pub path: PathBuf,
    pub text: std::sync::Arc<str>,
    pub span: Range<usize>,
    /// From which version the file applies (`-- keel:requires`).
    pub requires: Option<Version>,
}

impl TableDecl {
    /// Its policies, each with its statements in the file.
    pub fn policy_files(&self) -> impl Iterator<Item = (&Policy, &FileSource)> {
        // Every declared policy's source is its file.
        self.policies.iter().filter_map(|p| Some((p, p.file()?)))
    }
}

/// Every declaration, by table, and the problems found reading them.
#[derive(Debug, Clone, Default)]
pub struct Declared {
    pub tables: BTreeMap<TableName, TableDecl>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Declared {
    /// The tables whose file applies at version `at` (nothing applies at
    /// base; a file without `requires` applies from the first version).
    pub fn at(&self, at: Option<&Version>) -> Vec<&TableDecl> {
        let Some(at) = at else { return Vec::new() };
        self.tables
            .values()
            .filter(|t| t.requires.as_ref().is_none_or(|r| r <= at))
            .collect()
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Reads the declarations of `files` (the policy files of a project).
pub fn declare(files: &[SqlText]) -> Declared {
    let mut d = Declared::default();
    for file in files {
        read_file(file, &mut d);
    }
    d
}

fn read_file(file: &SqlText, d: &mut Declared) {
    let requires = file.header.lines.iter().find_map(|l| match &l.entry {
        Entry::Requires(v) => Version::parse(v),
        _ => None,
    });
    let text: std::sync::Arc<str> = file.text.as_str().into();
    let mut comments: Vec<(String, TableName, String, String)> = Vec::new();
    for item in split::split(&file.text) {
        let Ok(stmt) = item else {
            // The file's own validation reports split errors.
            return;
        };
        let sql = &file.text[stmt.text.clone()];
        let top: Vec<String> = words(sql)
            .filter(|w| w.paren_depth == 0)
            .take(6)
            .map(|w| w.text.to_ascii_uppercase())
            .collect();
        let first_two = (
            top.first().map(String::as_str),
            top.get(1).map(String::as_str),
        );
        let span = stmt.text.clone();
        let table_entry = |d: &mut Declared, table: TableName| -> Option<TableName> {
            if let Some(existing) = d.tables.get(&table) {
                if existing.path != file.path {
                    d.diagnostics.push(
                        Diagnostic::error(
                            codes::POLICY_TABLE_DECLARED_TWICE,
                            format!(
                                "table {table} is already declared in `{}`",
                                existing.path.display()
                            ),
                        )
                        .at(&file.path, &file.text, span.clone())
                        .with_hint("declare each table's policies in one file"),
                    );
                    return None;
                }
            } else {
                d.tables.insert(
                    table.clone(),
                    TableDecl {
                        table: table.clone(),
                        enable: false,
                        force: false,
                        policies: Vec::new(),
                        path: file.path.clone(),
                        text: text.clone(),
                        span: span.clone(),
                        requires,
                    },
                );
            }
            Some(table)
        };
        match first_two {
            (Some("ALTER"), Some("TABLE")) => {
                let parsed = crate::sql::parse::statements(sql).ok();
                let alter = parsed.as_ref().and_then(|s| match s.as_slice() {
                    [Statement::AlterTable(a)] => Some(a),
                    _ => None,
                });
                let ok_ops = alter.is_some_and(|a| {
                    !a.operations.is_empty()
                        && a.operations.iter().all(|op| {
                            matches!(
                                op,
                                AlterTableOperation::EnableRowLevelSecurity
                                    | AlterTableOperation::ForceRowLevelSecurity
                            )
                        })
                });
                match (alter, ok_ops) {
                    (Some(a), true) => {
                        let Some(name) = TableName::from_object_name(&a.name) else {
                            continue;
                        };
                        if let Some(t) = table_entry(d, name) {
                            let decl = d.tables.get_mut(&t).expect("inserted");
                            for op in &a.operations {
                                match op {
                                    AlterTableOperation::EnableRowLevelSecurity => {
                                        decl.enable = true
                                    }
                                    AlterTableOperation::ForceRowLevelSecurity => decl.force = true,
                                    _ => {}
                                }
                            }
                        }
                    }
                    _ => d.diagnostics.push(not_allowed(file, span.clone())),
                }
            }
            (Some("CREATE"), Some("POLICY")) => {
                let Some(p) = read_policy(file, sql, span.clone()) else {
                    d.diagnostics.push(
                        Diagnostic::error(
                            codes::POLICY_UNREADABLE,
                            "cannot read the policy's name and table",
                        )
                        .at(&file.path, &file.text, span.clone())
                        .with_hint("write `CREATE POLICY name ON table ...`"),
                    );
                    continue;
                };
                if let Some(t) = table_entry(d, p.table.clone()) {
                    let decl = d.tables.get_mut(&t).expect("inserted");
                    if decl.policies.iter().any(|q| q.name == p.name) {
                        d.diagnostics.push(
                            Diagnostic::error(
                                codes::POLICY_DECLARED_TWICE,
                                format!("policy {} on {t} is declared twice", p.name),
                            )
                            .at(&file.path, &file.text, span.clone())
                            .with_hint("give each policy of a table its own name"),
                        );
                    } else {
                        decl.policies.push(p);
                    }
                }
            }
            (Some("COMMENT"), Some("ON")) if top.get(2).map(String::as_str) == Some("POLICY") => {
                match read_comment(sql) {
                    Some((name, table, comment)) => {
                        comments.push((name, table, comment, sql.to_string()))
                    }
                    None => d.diagnostics.push(
                        Diagnostic::error(
                            codes::POLICY_UNREADABLE,
                            "cannot read this COMMENT ON POLICY",
                        )
                        .at(&file.path, &file.text, span.clone())
                        .with_hint("write `COMMENT ON POLICY name ON table IS '...'`"),
                    ),
                }
            }
            _ => d.diagnostics.push(not_allowed(file, span.clone())),
        }
    }
    for (name, table, comment, sql) in comments {
        let target = d
            .tables
            .get_mut(&table)
            .filter(|t| t.path == file.path)
            .and_then(|t| t.policies.iter_mut().find(|p| p.name == name));
        match target {
            Some(p) => {
                p.comment = Some(comment);
                if let Source::File(f) = &mut p.source {
                    f.comment_sql = Some(sql);
                }
            }
            None => d.diagnostics.push(
                Diagnostic::error(
                    codes::POLICY_COMMENT_ORPHAN,
                    format!("COMMENT ON POLICY {name} ON {table}: no such policy is declared in this file"),
                )
                .with_path(&file.path)
                .with_hint("comment a policy declared in the same file"),
            ),
        }
    }
}

fn not_allowed(file: &SqlText, span: Range<usize>) -> Diagnostic {
    Diagnostic::error(
        codes::POLICY_FILE_STATEMENT,
        "policy files may only hold ALTER TABLE ... ENABLE|FORCE ROW LEVEL SECURITY, CREATE POLICY and COMMENT ON POLICY",
    )
    .at(&file.path, &file.text, span)
    .with_hint("tables, helper functions and grants belong in a migration (`keel revision -m ...`)")
}

fn read_policy(file: &SqlText, sql: &str, span: Range<usize>) -> Option<Policy> {
    let source = Source::File(FileSource {
        sql: sql.to_string(),
        comment_sql: None,
        path: file.path.clone(),
        span,
    });
    let parsed = crate::sql::parse::statements(sql).ok();
    if let Some([Statement::CreatePolicy(p)]) = parsed.as_deref() {
        return Some(Policy {
            name: fold(&p.name),
            table: TableName::from_object_name(&p.table_name)?,
            command: match p.command {
                None | Some(CreatePolicyCommand::All) => Command::All,
                Some(CreatePolicyCommand::Select) => Command::Select,
                Some(CreatePolicyCommand::Insert) => Command::Insert,
                Some(CreatePolicyCommand::Update) => Command::Update,
                Some(CreatePolicyCommand::Delete) => Command::Delete,
            },
            permissive: !matches!(p.policy_type, Some(CreatePolicyType::Restrictive)),
            roles: p
                .to
                .as_ref()
                .map(|owners| {
                    owners
                        .iter()
                        .map(|o| match o {
                            Owner::Ident(i) => fold(i),
                            Owner::CurrentRole => "current_role".into(),
                            Owner::CurrentUser => "current_user".into(),
                            Owner::SessionUser => "session_user".into(),
                        })
                        .collect()
                })
                .unwrap_or_else(|| vec![PUBLIC.into()]),
            using: p.using.clone(),
            with_check: p.with_check.clone(),
            parsed: true,
            comment: None,
            source,
        });
    }
    // sqlparser could not read it: take the name and table from the words
    // (PostgreSQL will judge the rest when it runs).
    let ws: Vec<_> = words(sql).filter(|w| w.paren_depth == 0).collect();
    let [_create, policy, ..] = ws.as_slice() else {
        return None;
    };
    let on = ws[2..].iter().find(|w| w.text.eq_ignore_ascii_case("ON"))?;
    let table_end = ws
        .iter()
        .skip_while(|w| w.range.start <= on.range.start)
        .find(|w| {
            ["AS", "FOR", "TO", "USING", "WITH"]
                .iter()
                .any(|k| w.text.eq_ignore_ascii_case(k))
        })
        .map_or(sql.len(), |w| w.range.start);
    let (name, table) = name_on_table(sql, policy.range.end..table_end)?;
    Some(Policy {
        name,
        table,
        command: Command::All,
        permissive: true,
        roles: vec![PUBLIC.into()],
        using: None,
        with_check: None,
        parsed: false,
        comment: None,
        source,
    })
}

/// `COMMENT ON POLICY name ON table IS 'text'` (sqlparser lacks it).
fn read_comment(sql: &str) -> Option<(String, TableName, String)> {
    let ws: Vec<_> = words(sql).filter(|w| w.paren_depth == 0).collect();
    let [comment, on, policy, ..] = ws.as_slice() else {
        return None;
    };
    if !(comment.text.eq_ignore_ascii_case("COMMENT")
        && on.text.eq_ignore_ascii_case("ON")
        && policy.text.eq_ignore_ascii_case("POLICY"))
    {
        return None;
    }
    let is = ws[3..].iter().find(|w| w.text.eq_ignore_ascii_case("IS"))?;
    let (name, table) = name_on_table(sql, policy.range.end..is.range.start)?;
    let comment = crate::sql::rules::first_string_after(sql, is.range.end)?;
    Some((name, table, comment))
}

/// `name ON table` in `sql[range]`, either part possibly quoted (a policy
/// may be called `"select"`, a table `"order"`). The first bare `ON` is the
/// separator: a bare name cannot be `ON` (a reserved word), and a quoted
/// one is no bare word.
fn name_on_table(sql: &str, range: Range<usize>) -> Option<(String, TableName)> {
    let text = sql.get(range)?;
    let on = words(text).find(|w| w.paren_depth == 0 && w.text.eq_ignore_ascii_case("ON"))?;
    Some((
        one_name(&text[..on.range.start])?,
        TableName::parse(&text[on.range.end..])?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::FileKind;
    use crate::sql::ident::quote_ident;

    fn decl(text: &str) -> Declared {
        let f = SqlText::new(
            PathBuf::from("sql/policies/items.sql"),
            FileKind::Policy,
            text.to_string(),
        );
        declare(&[f])
    }

    #[test]
    fn reads_tables_policies_and_comments() {
        let d = decl(
            "-- keel:requires 3\nALTER TABLE items ENABLE ROW LEVEL SECURITY;\nALTER TABLE public.items FORCE ROW LEVEL SECURITY;\n\
             CREATE POLICY items_read ON items FOR SELECT TO authenticated USING (household_id IN (SELECT app.my_households()));\n\
             COMMENT ON POLICY items_read ON items IS 'members read';\n",
        );
        assert!(d.diagnostics.is_empty(), "{:?}", d.diagnostics);
        let t = &d.tables[&TableName::from_words("items")];
        assert!(t.enable && t.force);
        assert_eq!(t.requires.as_ref().map(|v| v.number()), Some(3));
        let p = &t.policies[0];
        assert_eq!(
            (p.name.as_str(), p.command, p.permissive),
            ("items_read", Command::Select, true)
        );
        assert_eq!(p.roles, ["authenticated"]);
        assert_eq!(p.comment.as_deref(), Some("members read"));
        assert!(d.at(Some(&Version::with_width(2, 1))).is_empty());
        assert_eq!(d.at(Some(&Version::with_width(3, 1))).len(), 1);
    }

    #[test]
    fn anything_else_is_refused() {
        let d = decl("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1';\nALTER TABLE t DISABLE ROW LEVEL SECURITY;\n");
        let codes: Vec<_> = d.diagnostics.iter().map(|x| (x.code, x.line)).collect();
        assert_eq!(
            codes,
            [
                (codes::POLICY_FILE_STATEMENT, Some(1)),
                (codes::POLICY_FILE_STATEMENT, Some(2))
            ]
        );
    }

    #[test]
    fn qualified_and_quoted_names() {
        let d = decl(
            "CREATE POLICY p ON public.items FOR SELECT TO authenticated USING (true);\n\
             COMMENT ON POLICY p ON public.items IS 'it''s p';\n",
        );
        assert!(d.diagnostics.is_empty(), "{:?}", d.diagnostics);
        let p = &d.tables[&TableName::from_words("items")].policies[0];
        assert_eq!(p.comment.as_deref(), Some("it's p"));
        assert_eq!(
            TableName::parse(r#"app . "My ""T""#),
            Some(TableName {
                schema: "app".into(),
                name: "My \"T".into()
            })
        );
        assert_eq!(TableName::parse("a.b.c"), None);
        assert_eq!(TableName::parse("two words"), None);
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("items"), "items");
        assert_eq!(quote_ident("Items"), "\"Items\"");
        assert_eq!(TableName::from_words("app.Items").sql(), "app.items");
        let order = TableName::parse("\"order\"").unwrap();
        assert_eq!(order.sql(), "public.\"order\"");
        assert_eq!(
            read_comment("COMMENT ON POLICY \"select\" ON public.\"order\" IS 'x'"),
            Some(("select".into(), order.clone(), "x".into()))
        );
        assert_eq!(
            read_comment("comment on policy P on \"order\" is 'it''s'"),
            Some(("p".into(), order, "it's".into()))
        );
    }
}
