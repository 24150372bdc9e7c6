//! The offline model of the schema the linted statements run against,
//! built from the up files in version order: which tables and indexes exist,
//! which of them the run itself creates (and so are empty and used by no one
//! else: rules about locking them do not fire), the column types the files
//! gave them, and the CHECK constraints that prove a column not null.
//!
//! Tables no file creates (a baseline restored by hand, an extension's) are
//! simply absent: they exist, are not new, and their column types are
//! unknown.

use super::Target;
use crate::policies::model::TableName;
use crate::sql::ddl::{Action, Change, ConstraintKind, Type};
use std::collections::BTreeMap;

/// One table, as the files made it. Names and types are borrowed from the
/// files' [`Change`]s, which outlive the lint: nothing is copied.
#[derive(Debug, Clone, Default)]
pub struct Table<'a> {
    /// Created by a pending migration of this run (or earlier in the same
    /// file): empty, and invisible to other sessions until the run commits.
    pub new: bool,
    /// In the order the files give them (a table has few: a list is
    /// smaller and as fast as a map).
    columns: Vec<(&'a str, &'a Type)>,
    /// Columns a validated `CHECK (col IS NOT NULL)` covers (`SET NOT NULL`
    /// then needs no scan), with the constraint's name when it has one.
    not_null_checks: Vec<(Option<&'a str>, &'a str)>,
    /// Constraints added `NOT VALID` and not validated yet, with the
    /// transaction that added them.
    not_valid: Vec<NotValid<'a>>,
}

#[derive(Debug, Clone)]
struct NotValid<'a> {
    name: &'a str,
    transaction: u64,
    not_null: &'a [String],
}

/// The tables and indexes the files create, in the order the run meets
/// them.
#[derive(Debug, Default)]
pub struct Schema<'a> {
    tables: BTreeMap<&'a TableName, Table<'a>>,
    /// Each index's table, and whether the run creates the index.
    indexes: BTreeMap<&'a TableName, (&'a TableName, bool)>,
    /// Counts transactions: statements with the same number run in one.
    transaction: u64,
}

impl<'a> Schema<'a> {
    /// What the files say about `table`, if they create it.
    pub fn table(&self, table: &TableName) -> Option<&Table<'a>> {
        self.tables.get(table)
    }

    /// The table an index belongs to, when the files create the index.
    pub fn index_table(&self, index: &TableName) -> Option<&'a TableName> {
        self.indexes.get(index).map(|(t, _)| *t)
    }

    /// Whether the run creates `target` (for an index: the index or its
    /// table), so that nobody else can be waiting on it.
    pub fn is_new(&self, target: &Target) -> bool {
        match target {
            Target::Table(t) => self.new_table(t),
            Target::Index(i) => self.new_index(i),
        }
    }

    /// Whether the run creates `table`.
    pub fn new_table(&self, table: &TableName) -> bool {
        self.tables.get(table).is_some_and(|t| t.new)
    }

    /// Whether the run creates `index`, or its table.
    pub fn new_index(&self, index: &TableName) -> bool {
        self.indexes
            .get(index)
            .is_some_and(|(table, new)| *new || self.new_table(table))
    }

    /// The type the files last gave `column` of `table`.
    pub fn column_type(&self, table: &TableName, column: &str) -> Option<&'a Type> {
        let t = self.tables.get(table)?;
        t.columns
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, ty)| *ty)
    }

    /// Whether a validated CHECK constraint proves `column` not null.
    pub fn has_not_null_check(&self, table: &TableName, column: &str) -> bool {
        self.tables
            .get(table)
            .is_some_and(|t| t.not_null_checks.iter().any(|(_, c)| *c == column))
    }

    /// Whether constraint `name` of `table` was added `NOT VALID` in the
    /// current transaction.
    pub fn not_valid_in_this_transaction(&self, table: &TableName, name: &str) -> bool {
        self.tables.get(table).is_some_and(|t| {
            t.not_valid
                .iter()
                .any(|c| c.name == name && c.transaction == self.transaction)
        })
    }

    /// The current transaction commits: what follows runs in a new one.
    pub fn commit(&mut self) {
        self.transaction += 1;
    }

    /// Records `change`. `pending`: it runs in this run (what it creates is
    /// new), rather than being applied already.
    pub fn apply(&mut self, change: &'a Change, pending: bool) {
        match change {
            Change::CreateTable {
                table,
                columns,
                constraints,
                if_not_exists,
            } => {
                if *if_not_exists && self.tables.contains_key(table) {
                    return;
                }
                let mut t = Table {
                    new: pending,
                    columns: columns.iter().map(|c| (c.name.as_str(), &c.ty)).collect(),
                    ..Table::default()
                };
                for c in constraints {
                    if let ConstraintKind::Check { not_null } = &c.kind {
                        t.not_null_checks
                            .extend(not_null.iter().map(|col| (c.name.as_deref(), col.as_str())));
                    }
                }
                self.tables.insert(table, t);
            }
            Change::CreateIndex { table, index, .. } => {
                if let Some(index) = index {
                    self.indexes.insert(index, (table, pending));
                }
            }
            Change::DropIndex { indexes } => {
                for i in indexes {
                    self.indexes.remove(i);
                }
            }
            Change::DropTable { tables } => {
                for t in tables {
                    self.tables.remove(t);
                    self.indexes.retain(|_, (table, _)| *table != t);
                }
            }
            Change::Alter { table, action } => self.alter(table, action),
        }
    }

    fn alter(&mut self, name: &'a TableName, action: &'a Action) {
        let transaction = self.transaction;
        if let Action::RenameTable(to) = action {
            if let Some(t) = self.tables.remove(name) {
                self.tables.insert(to, t);
            }
            for (table, _) in self.indexes.values_mut() {
                if *table == name {
                    *table = to;
                }
            }
            return;
        }
        // A table no file creates still gathers what later files add to it.
        let t = self.tables.entry(name).or_default();
        match action {
            Action::AddColumn(c) => {
                t.columns.retain(|(n, _)| *n != c.name);
                t.columns.push((&c.name, &c.ty));
            }
            Action::DropColumn(cols) => {
                t.columns.retain(|(n, _)| !cols.iter().any(|c| c == n));
                t.not_null_checks
                    .retain(|(_, col)| !cols.iter().any(|c| c == col));
            }
            Action::RenameColumn { from, to } => {
                for (n, _) in &mut t.columns {
                    if *n == from {
                        *n = to;
                    }
                }
                for (_, col) in &mut t.not_null_checks {
                    if *col == from {
                        *col = to;
                    }
                }
            }
            Action::SetType { column, ty, .. } => {
                t.columns.retain(|(n, _)| n != column);
                t.columns.push((column, ty));
            }
            Action::AddConstraint(c) => {
                let not_null: &[String] = match &c.kind {
                    ConstraintKind::Check { not_null } => not_null,
                    _ => &[],
                };
                match (&c.name, c.not_valid) {
                    (Some(n), true) => t.not_valid.push(NotValid {
                        name: n,
                        transaction,
                        not_null,
                    }),
                    (None, true) => {}
                    (name, false) => t
                        .not_null_checks
                        .extend(not_null.iter().map(|col| (name.as_deref(), col.as_str()))),
                }
            }
            Action::ValidateConstraint(n) => {
                if let Some(i) = t.not_valid.iter().position(|c| c.name == n) {
                    let c = t.not_valid.remove(i);
                    t.not_null_checks
                        .extend(c.not_null.iter().map(|col| (Some(c.name), col.as_str())));
                }
            }
            Action::DropConstraint(n) => {
                t.not_valid.retain(|c| c.name != n);
                t.not_null_checks
                    .retain(|(name, _)| *name != Some(n.as_str()));
            }
            Action::SetNotNull { .. } | Action::RenameTable(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::ddl;

    /// The changes of `sql`, leaked: a schema borrows what it records.
    fn run(schema: &mut Schema<'static>, sql: &str, pending: bool) {
        let changes: Vec<Change> = crate::sql::parse::statements(sql)
            .unwrap()
            .iter()
            .flat_map(ddl::changes)
            .collect();
        for c in Vec::leak(changes).iter() {
            schema.apply(c, pending);
        }
    }

    fn t(name: &str) -> TableName {
        TableName::parse(name).unwrap()
    }

    #[test]
    fn tables_created_by_the_run_are_new_and_follow_renames_and_drops() {
        let mut s = Schema::default();
        run(
            &mut s,
            "CREATE TABLE old (a int); CREATE INDEX old_a ON old (a);",
            false,
        );
        run(
            &mut s,
            "CREATE TABLE fresh (a varchar(5)); CREATE INDEX fresh_a ON fresh (a);",
            true,
        );
        assert!(!s.is_new(&Target::Table(t("old"))));
        assert!(s.is_new(&Target::Table(t("public.fresh"))));
        assert!(!s.is_new(&Target::Index(t("old_a"))));
        assert!(s.is_new(&Target::Index(t("fresh_a"))));
        // An index the run creates on an old table is new too.
        run(&mut s, "CREATE INDEX old_b ON old (a);", true);
        assert!(s.is_new(&Target::Index(t("old_b"))));
        run(&mut s, "ALTER TABLE fresh RENAME TO renamed;", true);
        assert!(s.is_new(&Target::Table(t("renamed"))));
        assert!(!s.is_new(&Target::Table(t("fresh"))));
        assert_eq!(s.index_table(&t("fresh_a")), Some(&t("renamed")));
        assert_eq!(
            s.column_type(&t("renamed"), "a"),
            Some(&Type::Varchar(Some(5)))
        );
        // Dropped and created again by the run: new.
        run(&mut s, "DROP TABLE old; CREATE TABLE old (a int);", true);
        assert!(s.is_new(&Target::Table(t("old"))));
        // A table no file creates is not new.
        assert!(!s.is_new(&Target::Table(t("elsewhere"))));
    }

    #[test]
    fn not_null_checks_count_once_validated() {
        let mut s = Schema::default();
        let users = t("users");
        run(
            &mut s,
            "ALTER TABLE users ADD CONSTRAINT e CHECK (email IS NOT NULL) NOT VALID;",
            true,
        );
        assert!(!s.has_not_null_check(&users, "email"));
        assert!(s.not_valid_in_this_transaction(&users, "e"));
        s.commit();
        assert!(!s.not_valid_in_this_transaction(&users, "e"));
        run(&mut s, "ALTER TABLE users VALIDATE CONSTRAINT e;", true);
        assert!(s.has_not_null_check(&users, "email"));
        run(
            &mut s,
            "ALTER TABLE users RENAME COLUMN email TO mail;",
            true,
        );
        assert!(s.has_not_null_check(&users, "mail"));
        run(
            &mut s,
            "ALTER TABLE users ADD CONSTRAINT n CHECK (name IS NOT NULL AND length(name) > 0);",
            true,
        );
        assert!(s.has_not_null_check(&users, "name"));
        run(&mut s, "ALTER TABLE users DROP CONSTRAINT n;", true);
        assert!(!s.has_not_null_check(&users, "name"));
    }
}
