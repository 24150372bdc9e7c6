//! What the lint rules look at: tables with their RLS flags, policies and
//! indexes, functions, views and roles. The same [`Model`] is built from the
//! files ([`Model::from_files`]: the migrations' SQL and the declared
//! policies) and from the catalog (`catalog::read`), so each rule is written
//! once and runs on both.

use super::expr::{self, fold, name_parts};
use crate::config::Config;
use crate::diagnostic::Diagnostic;
use crate::policies::declared::{Declared, TableDecl};
use crate::policies::model::{Command, Policy, Source, TableName};
use crate::project::SqlText;
use crate::sql::split::{self, words};
use sqlparser::ast::{
    AlterFunctionAction, AlterFunctionOperation, AlterTableOperation, AlterViewOperation,
    ColumnOption, CreateTableOptions, Expr, FunctionSecurity, FunctionSetValue, ObjectName,
    ObjectType, RenameTableNameKind, ResetConfig, SqlOption, Statement, TableConstraint, Value,
};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

/// A statement in a file: where a finding points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub path: PathBuf,
    pub text: Arc<str>,
    /// The statement's byte range in `text`.
    pub span: Range<usize>,
}

/// Points `d` at `site` when there is one (catalog objects that no file
/// declares have none).
pub fn point(d: Diagnostic, site: Option<&Site>) -> Diagnostic {
    match site {
        Some(s) => d.at(&s.path, &s.text, s.span.clone()),
        None => d,
    }
}

/// The RLS-relevant state of a database, as the files make it or as the
/// catalog has it.
#[derive(Debug, Clone)]
pub struct Model {
    pub tables: BTreeMap<TableName, Table>,
    /// By schema-qualified name (overloads are one entry).
    pub functions: BTreeMap<TableName, Function>,
    pub views: BTreeMap<TableName, View>,
    /// The configured application roles that exist (catalog only).
    pub roles: Vec<Role>,
}

/// One table.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: TableName,
    /// The configured tenant columns it has, each with the statement that
    /// added it.
    pub tenant_columns: Vec<(String, Option<Site>)>,
    pub rls: bool,
    pub force: bool,
    /// A policy file declares it.
    pub managed: bool,
    /// Whether `policies` is all of the table's policies. From the files,
    /// only a declared table's are known: policies a migration creates on
    /// other tables are left to the live rules.
    pub policies_known: bool,
    pub policies: Vec<Analyzed>,
    /// Columns that are the first column of an index (a primary key or
    /// unique constraint included).
    pub index_leads: BTreeSet<String>,
    /// The owner (catalog only).
    pub owner: Option<String>,
    /// Where its RLS is declared (the policy file, else the migration that
    /// enables it, else the one that creates it).
    pub site: Option<Site>,
}

impl Table {
    /// The policies PostgreSQL applies when this table is read (`SELECT`
    /// and `ALL`).
    pub fn read_policies(&self) -> impl Iterator<Item = &Analyzed> {
        self.policies
            .iter()
            .filter(|p| p.command.covers(Command::Select))
    }
}

/// One policy, with what the rules work out about it. It reads as the
/// [`Policy`] it holds (`p.name`, `p.applies_to(role)`).
#[derive(Debug, Clone)]
pub struct Analyzed {
    pub policy: Policy,
    /// An expression nests deeper than keel reads (see
    /// [`crate::sql::parse::MAX_DEPTH`]): reported as an error of its own.
    pub too_deep: bool,
    /// The tables its expressions read through subqueries.
    pub reads: BTreeSet<TableName>,
    /// Its expressions hold a subquery (PostgreSQL then expands the
    /// policies of what it reads, checking for recursion).
    pub has_subquery: bool,
    pub site: Option<Site>,
}

impl std::ops::Deref for Analyzed {
    type Target = Policy;

    fn deref(&self) -> &Policy {
        &self.policy
    }
}

impl Analyzed {
    /// Works out `too_deep`, `reads` and `has_subquery` from the policy.
    pub fn new(policy: Policy, site: Option<Site>) -> Analyzed {
        let exprs = || policy.using.iter().chain(policy.with_check.iter());
        Analyzed {
            too_deep: too_deep(&policy),
            reads: exprs().flat_map(expr::reads).collect(),
            has_subquery: exprs().any(expr::has_subquery),
            site,
            policy,
        }
    }

    fn from_decl(p: &Policy, t: &TableDecl) -> Analyzed {
        let site = p.file().map(|f| Site {
            path: f.path.clone(),
            text: t.text.clone(),
            span: f.span.clone(),
        });
        Analyzed::new(p.clone(), site)
    }
}

/// Whether sqlparser could not read the policy because it nests too deep.
fn too_deep(p: &Policy) -> bool {
    use crate::sql::parse::ParseError::TooDeep;
    !p.parsed
        && match &p.source {
            Source::File(f) => {
                matches!(crate::sql::parse::statements(&f.sql), Err(TooDeep { .. }))
            }
            Source::Catalog(text) => [&text.using, &text.with_check]
                .into_iter()
                .flatten()
                .any(|t| matches!(expr::parse(t), Err(TooDeep { .. }))),
        }
}

/// One function (or procedure).
#[derive(Debug, Clone)]
pub struct Function {
    pub name: TableName,
    pub security_definer: bool,
    /// It sets `search_path` itself (`SET search_path = ...`).
    pub fixed_search_path: bool,
    pub site: Option<Site>,
}

/// One (non-materialized) view.
#[derive(Debug, Clone)]
pub struct View {
    pub name: TableName,
    /// `WITH (security_invoker = true)`: readers' rights and policies apply.
    pub security_invoker: bool,
    pub reads: BTreeSet<TableName>,
    pub site: Option<Site>,
}

/// One application role (from `Config.test_roles`) as the catalog has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub name: String,
    pub bypassrls: bool,
    pub superuser: bool,
}

impl Model {
    /// The state the files produce: every up migration applied in order
    /// (`migrations`), then the declared policies.
    pub fn from_files(migrations: &[&SqlText], declared: &Declared, config: &Config) -> Model {
        let mut draft = Draft::default();
        for file in migrations {
            draft.read_file(file);
        }
        draft.finish(declared, config)
    }
}

/// The schema as the migrations build it, statement by statement.
#[derive(Default)]
struct Draft {
    tables: BTreeMap<TableName, DraftTable>,
    functions: BTreeMap<TableName, Function>,
    views: BTreeMap<TableName, View>,
}

#[derive(Default)]
struct DraftTable {
    columns: Vec<(String, Site)>,
    /// (index or constraint name, first column).
    leads: Vec<(Option<String>, String)>,
    rls: Option<Site>,
    force: bool,
    created: Option<Site>,
}

impl Draft {
    fn read_file(&mut self, file: &SqlText) {
        let text: Arc<str> = file.text.as_str().into();
        for item in split::split(&file.text) {
            // A file that cannot be split is reported by `keel check`.
            let Ok(stmt) = item else { return };
            let sql = &file.text[stmt.text.clone()];
            let site = Site {
                path: file.path.clone(),
                text: text.clone(),
                span: stmt.text.clone(),
            };
            match crate::sql::parse::statements(sql).as_deref() {
                Ok([s]) => self.apply(s, site),
                // sqlparser does not read everything PostgreSQL does; a
                // SECURITY DEFINER function must not slip through because
                // of that.
                _ => {
                    if let Some(f) = lexical_function(sql, site) {
                        self.functions.insert(f.name.clone(), f);
                    }
                }
            }
        }
    }

    fn table(&mut self, name: &TableName) -> &mut DraftTable {
        self.tables.entry(name.clone()).or_default()
    }

    fn apply(&mut self, stmt: &Statement, site: Site) {
        match stmt {
            Statement::CreateTable(ct) => {
                let Some(name) = TableName::from_object_name(&ct.name) else {
                    return;
                };
                let mut t = DraftTable {
                    created: Some(site.clone()),
                    ..DraftTable::default()
                };
                for c in &ct.columns {
                    let col = fold(&c.name);
                    if c.options.iter().any(|o| is_key(&o.option)) {
                        t.leads.push((None, col.clone()));
                    }
                    t.columns.push((col, site.clone()));
                }
                for c in &ct.constraints {
                    if let Some(lead) = constraint_lead(c) {
                        t.leads.push(lead);
                    }
                }
                self.tables.insert(name, t);
            }
            Statement::AlterTable(at) => {
                let Some(mut name) = TableName::from_object_name(&at.name) else {
                    return;
                };
                for op in &at.operations {
                    let t = self.table(&name);
                    match op {
                        AlterTableOperation::AddColumn { column_def, .. } => {
                            let col = fold(&column_def.name);
                            if column_def.options.iter().any(|o| is_key(&o.option)) {
                                t.leads.push((None, col.clone()));
                            }
                            t.columns.push((col, site.clone()));
                        }
                        AlterTableOperation::DropColumn { column_names, .. } => {
                            let gone: Vec<String> = column_names.iter().map(fold).collect();
                            t.columns.retain(|(c, _)| !gone.contains(c));
                            t.leads.retain(|(_, c)| !gone.contains(c));
                        }
                        AlterTableOperation::RenameColumn {
                            old_column_name,
                            new_column_name,
                        } => {
                            let (old, new) = (fold(old_column_name), fold(new_column_name));
                            for (c, _) in &mut t.columns {
                                if *c == old {
                                    c.clone_from(&new);
                                }
                            }
                            for (_, c) in &mut t.leads {
                                if *c == old {
                                    c.clone_from(&new);
                                }
                            }
                        }
                        AlterTableOperation::AddConstraint { constraint, .. } => {
                            if let Some(lead) = constraint_lead(constraint) {
                                t.leads.push(lead);
                            }
                        }
                        AlterTableOperation::EnableRowLevelSecurity => t.rls = Some(site.clone()),
                        AlterTableOperation::DisableRowLevelSecurity => t.rls = None,
                        AlterTableOperation::ForceRowLevelSecurity => t.force = true,
                        AlterTableOperation::NoForceRowLevelSecurity => t.force = false,
                        AlterTableOperation::RenameTable { table_name } => {
                            let (RenameTableNameKind::To(n) | RenameTableNameKind::As(n)) =
                                table_name;
                            if let Some(new) = renamed(&name, n) {
                                if let Some(t) = self.tables.remove(&name) {
                                    self.tables.insert(new.clone(), t);
                                }
                                name = new;
                            }
                        }
                        _ => {}
                    }
                }
            }
            Statement::CreateIndex(ci) => {
                let Some(table) = TableName::from_object_name(&ci.table_name) else {
                    return;
                };
                let lead = ci.columns.first().and_then(|c| match &c.column.expr {
                    Expr::Identifier(i) => Some(fold(i)),
                    _ => None,
                });
                if let Some(lead) = lead {
                    let index = ci.name.as_ref().and_then(|n| name_parts(n).pop());
                    self.table(&table).leads.push((index, lead));
                }
            }
            Statement::Drop {
                object_type, names, ..
            } => {
                for n in names {
                    match object_type {
                        ObjectType::Table => {
                            if let Some(t) = TableName::from_object_name(n) {
                                self.tables.remove(&t);
                            }
                        }
                        ObjectType::View => {
                            if let Some(t) = TableName::from_object_name(n) {
                                self.views.remove(&t);
                            }
                        }
                        ObjectType::Index => {
                            let index = name_parts(n).pop();
                            for t in self.tables.values_mut() {
                                t.leads.retain(|(i, _)| i.is_none() || *i != index);
                            }
                        }
                        _ => {}
                    }
                }
            }
            Statement::CreateFunction(cf) => {
                let Some(name) = TableName::from_object_name(&cf.name) else {
                    return;
                };
                let f = Function {
                    name: name.clone(),
                    security_definer: cf.security == Some(FunctionSecurity::Definer),
                    fixed_search_path: cf
                        .set_params
                        .iter()
                        .any(|p| is_search_path(&p.name) && p.value != FunctionSetValue::Default),
                    site: Some(site),
                };
                self.functions.insert(name, f);
            }
            Statement::AlterFunction(af) => {
                let Some(name) = TableName::from_object_name(&af.function.name) else {
                    return;
                };
                let Some(f) = self.functions.get_mut(&name) else {
                    return;
                };
                match &af.operation {
                    AlterFunctionOperation::Actions { actions, .. } => {
                        for a in actions {
                            match a {
                                AlterFunctionAction::Security { security, .. } => {
                                    f.security_definer = *security == FunctionSecurity::Definer
                                }
                                AlterFunctionAction::Set(p) if is_search_path(&p.name) => {
                                    f.fixed_search_path = p.value != FunctionSetValue::Default
                                }
                                AlterFunctionAction::Reset(ResetConfig::ALL) => {
                                    f.fixed_search_path = false
                                }
                                AlterFunctionAction::Reset(ResetConfig::ConfigName(n))
                                    if is_search_path(n) =>
                                {
                                    f.fixed_search_path = false
                                }
                                _ => {}
                            }
                        }
                    }
                    AlterFunctionOperation::RenameTo { new_name } => {
                        let new = TableName {
                            schema: name.schema.clone(),
                            name: fold(new_name),
                        };
                        if let Some(mut f) = self.functions.remove(&name) {
                            f.name = new.clone();
                            self.functions.insert(new, f);
                        }
                    }
                    _ => {}
                }
            }
            Statement::DropFunction(df) => {
                for d in &df.func_desc {
                    if let Some(n) = TableName::from_object_name(&d.name) {
                        self.functions.remove(&n);
                    }
                }
            }
            Statement::CreateView(cv) if !cv.materialized => {
                let Some(name) = TableName::from_object_name(&cv.name) else {
                    return;
                };
                let options = match &cv.options {
                    CreateTableOptions::With(o) | CreateTableOptions::Options(o) => o.as_slice(),
                    _ => &[],
                };
                let v = View {
                    name: name.clone(),
                    security_invoker: security_invoker(options).unwrap_or(false),
                    reads: expr::reads(cv.query.as_ref()),
                    site: Some(site),
                };
                self.views.insert(name, v);
            }
            Statement::AlterView(av) => {
                let Some(name) = TableName::from_object_name(&av.name) else {
                    return;
                };
                match &av.operation {
                    AlterViewOperation::SetOptions { options } => {
                        if let (Some(v), Some(on)) =
                            (self.views.get_mut(&name), security_invoker(options))
                        {
                            v.security_invoker = on;
                        }
                    }
                    AlterViewOperation::ResetOptions { options }
                        if options.iter().any(|o| fold(o) == "security_invoker") =>
                    {
                        if let Some(v) = self.views.get_mut(&name) {
                            v.security_invoker = false;
                        }
                    }
                    AlterViewOperation::As {
                        query,
                        with_options,
                        ..
                    } => {
                        if let Some(v) = self.views.get_mut(&name) {
                            v.reads = expr::reads(query.as_ref());
                            if let Some(on) = security_invoker(with_options) {
                                v.security_invoker = on;
                            }
                        }
                    }
                    AlterViewOperation::RenameTo { new_name } => {
                        if let (Some(new), Some(mut v)) =
                            (renamed(&name, new_name), self.views.remove(&name))
                        {
                            v.name = new.clone();
                            self.views.insert(new, v);
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    fn finish(mut self, declared: &Declared, config: &Config) -> Model {
        let mut tables = BTreeMap::new();
        let names: BTreeSet<TableName> = self
            .tables
            .keys()
            .chain(declared.tables.keys())
            .cloned()
            .collect();
        for name in names {
            let draft = self.tables.remove(&name).unwrap_or_default();
            let decl = declared.tables.get(&name);
            let declared_site = decl.map(|d| Site {
                path: d.path.clone(),
                text: d.text.clone(),
                span: d.span.clone(),
            });
            let tenant_columns = draft
                .columns
                .iter()
                .filter(|(c, _)| config.tenant_columns.contains(c))
                .map(|(c, s)| (c.clone(), Some(s.clone())))
                .collect();
            tables.insert(
                name.clone(),
                Table {
                    tenant_columns,
                    rls: draft.rls.is_some() || decl.is_some_and(|d| d.enable),
                    force: draft.force || decl.is_some_and(|d| d.force),
                    managed: decl.is_some(),
                    policies_known: decl.is_some(),
                    policies: decl
                        .map(|d| {
                            d.policies
                                .iter()
                                .map(|p| Analyzed::from_decl(p, d))
                                .collect()
                        })
                        .unwrap_or_default(),
                    index_leads: draft.leads.into_iter().map(|(_, c)| c).collect(),
                    owner: None,
                    site: declared_site.or(draft.rls).or(draft.created),
                    name,
                },
            );
        }
        Model {
            tables,
            functions: self.functions,
            views: self.views,
            roles: Vec::new(),
        }
    }
}

fn is_key(o: &ColumnOption) -> bool {
    matches!(o, ColumnOption::PrimaryKey(_) | ColumnOption::Unique(_))
}

/// The first column of a primary key or unique constraint, with its name.
fn constraint_lead(c: &TableConstraint) -> Option<(Option<String>, String)> {
    let (name, columns) = match c {
        TableConstraint::PrimaryKey(pk) => (&pk.name, &pk.columns),
        TableConstraint::Unique(u) => (&u.name, &u.columns),
        _ => return None,
    };
    match &columns.first()?.column.expr {
        Expr::Identifier(i) => Some((name.as_ref().map(fold), fold(i))),
        _ => None,
    }
}

/// The new name of a renamed relation: an unqualified one stays in its schema.
fn renamed(old: &TableName, new: &ObjectName) -> Option<TableName> {
    let parts = name_parts(new);
    match parts.as_slice() {
        [n] => Some(TableName {
            schema: old.schema.clone(),
            name: n.clone(),
        }),
        _ => TableName::from_object_name(new),
    }
}

fn is_search_path(n: &ObjectName) -> bool {
    name_parts(n).last().is_some_and(|p| p == "search_path")
}

/// `security_invoker` among a view's options: `Some(on)` when set.
fn security_invoker(options: &[SqlOption]) -> Option<bool> {
    options.iter().rev().find_map(|o| match o {
        SqlOption::Ident(n) if is_security_invoker(n) => Some(true),
        SqlOption::KeyValue { key, value } if is_security_invoker(key) => Some(match value {
            Expr::Value(v) => match &v.value {
                Value::Boolean(b) => *b,
                Value::Number(n, _) => expr::truthy(n),
                Value::SingleQuotedString(s) => expr::truthy(s),
                _ => false,
            },
            Expr::Identifier(i) => expr::truthy(&i.value),
            _ => false,
        }),
        _ => None,
    })
}

fn is_security_invoker(n: &ObjectName) -> bool {
    name_parts(n)
        .last()
        .is_some_and(|p| p == "security_invoker")
}

/// `CREATE [OR REPLACE] FUNCTION|PROCEDURE` read from its words, for what
/// sqlparser cannot parse: the name, `SECURITY DEFINER` and `SET
/// search_path` at the top level (bodies and strings are never looked into).
fn lexical_function(sql: &str, site: Site) -> Option<Function> {
    let ws: Vec<_> = words(sql).collect();
    let upper = |i: usize| ws.get(i).map(|w| w.text.to_ascii_uppercase());
    if upper(0).as_deref() != Some("CREATE") {
        return None;
    }
    let mut i = 1;
    if upper(1).as_deref() == Some("OR") && upper(2).as_deref() == Some("REPLACE") {
        i = 3;
    }
    if !matches!(upper(i).as_deref(), Some("FUNCTION" | "PROCEDURE")) {
        return None;
    }
    let first = ws.get(i + 1)?;
    // `schema.name` is two words with a dot between them.
    let name = match ws.get(i + 2) {
        Some(w) if sql[first.range.end..w.range.start].trim() == "." => TableName {
            schema: first.text.to_lowercase(),
            name: w.text.to_lowercase(),
        },
        _ => TableName::from_words(first.text),
    };
    let top: Vec<String> = ws
        .iter()
        .filter(|w| w.paren_depth == 0)
        .map(|w| w.text.to_ascii_uppercase())
        .collect();
    let pair = |a: &str, b: &str| top.windows(2).any(|p| p[0] == a && p[1] == b);
    Some(Function {
        name,
        security_definer: pair("SECURITY", "DEFINER"),
        fixed_search_path: pair("SET", "SEARCH_PATH"),
        site: Some(site),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::declared::declare;
    use crate::project::FileKind;

    fn model(up: &str, policies: &str) -> Model {
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
        let config = Config {
            tenant_columns: vec!["household_id".into()],
            ..Config::default()
        };
        Model::from_files(&[&up], &declared, &config)
    }

    fn t(name: &str) -> TableName {
        TableName::from_words(name)
    }

    #[test]
    fn tables_columns_indexes_and_rls() {
        let m = model(
            "CREATE TABLE items (id int PRIMARY KEY, household_id uuid, name text);\n\
             CREATE TABLE old (household_id uuid);\n\
             ALTER TABLE old RENAME TO events;\n\
             CREATE INDEX events_h ON events (household_id, id);\n\
             DROP INDEX events_h;\n\
             ALTER TABLE events ENABLE ROW LEVEL SECURITY;\n\
             CREATE TABLE gone (household_id uuid);\n\
             DROP TABLE gone;\n",
            "ALTER TABLE items ENABLE ROW LEVEL SECURITY;\nALTER TABLE items FORCE ROW LEVEL SECURITY;\n",
        );
        assert_eq!(
            m.tables.keys().map(|k| k.to_string()).collect::<Vec<_>>(),
            ["public.events", "public.items"]
        );
        let items = &m.tables[&t("items")];
        assert!(items.rls && items.force && items.managed && items.policies_known);
        assert_eq!(items.tenant_columns.len(), 1);
        assert_eq!(items.index_leads, BTreeSet::from(["id".to_string()]));
        let events = &m.tables[&t("events")];
        assert!(events.rls && !events.managed && !events.policies_known);
        assert!(events.index_leads.is_empty());
        let site = events.site.as_ref().unwrap();
        assert!(site.text[site.span.clone()].starts_with("ALTER TABLE events ENABLE"));
    }

    #[test]
    fn functions_and_views() {
        let m = model(
            "CREATE FUNCTION app.a() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'select 1';\n\
             CREATE FUNCTION app.b() RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = '' AS 'select 1';\n\
             CREATE FUNCTION app.c() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'select 1';\n\
             ALTER FUNCTION app.c() SET search_path = pg_catalog;\n\
             CREATE PROCEDURE app.p() LANGUAGE sql SECURITY DEFINER AS $$ select 1 $$;\n\
             CREATE VIEW v1 AS SELECT * FROM items;\n\
             CREATE VIEW v2 WITH (security_invoker = true) AS SELECT * FROM items;\n\
             CREATE VIEW v3 AS SELECT * FROM items;\n\
             ALTER VIEW v3 SET (security_invoker = on);\n",
            "",
        );
        let f = |n: &str| &m.functions[&t(n)];
        assert!(f("app.a").security_definer && !f("app.a").fixed_search_path);
        assert!(f("app.b").fixed_search_path && f("app.c").fixed_search_path);
        assert!(f("app.p").security_definer && !f("app.p").fixed_search_path);
        let v = |n: &str| &m.views[&t(n)];
        assert!(!v("v1").security_invoker && v("v2").security_invoker && v("v3").security_invoker);
        assert_eq!(v("v1").reads, BTreeSet::from([t("items")]));
    }
}
