//! A catalog snapshot: every user-visible schema object as
//! (kind, qualified name) → definition, read from PostgreSQL's catalogs with
//! the server's own deparsers (`format_type`, `pg_get_expr`,
//! `pg_get_indexdef`, ...), so two snapshots compare by text.
//!
//! Left out: the system schemas (`pg_catalog`, `information_schema`,
//! `pg_toast*`, `pg_temp*`), keel's history schema, and objects that belong
//! to an extension (the extension itself is listed with its version).
//!
//! The queries (in [`crate::db::snapshot`]) run in one read-only transaction with `search_path` set to
//! `pg_catalog` only, so every name the deparsers print is schema-qualified
//! and a migration that changes the session's `search_path` cannot change
//! how the next snapshot reads.

use crate::db::{Connection, DbError};
use postgres::Client;
use std::collections::BTreeMap;
use std::fmt;

/// What an entry is. The order is the order of a diff listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Schema,
    Extension,
    Type,
    Sequence,
    Table,
    View,
    MaterializedView,
    ForeignTable,
    Column,
    Constraint,
    Index,
    Function,
    Procedure,
    Aggregate,
    Trigger,
    RowLevelSecurity,
    Policy,
    Privileges,
    Comment,
}

impl Kind {
    /// The words used in listings: `materialized view`.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Schema => "schema",
            Kind::Extension => "extension",
            Kind::Type => "type",
            Kind::Sequence => "sequence",
            Kind::Table => "table",
            Kind::View => "view",
            Kind::MaterializedView => "materialized view",
            Kind::ForeignTable => "foreign table",
            Kind::Column => "column",
            Kind::Constraint => "constraint",
            Kind::Index => "index",
            Kind::Function => "function",
            Kind::Procedure => "procedure",
            Kind::Aggregate => "aggregate",
            Kind::Trigger => "trigger",
            Kind::RowLevelSecurity => "row level security",
            Kind::Policy => "policy",
            Kind::Privileges => "privileges",
            Kind::Comment => "comment on",
        }
    }

    fn from_label(s: &str) -> Option<Kind> {
        const ALL: [Kind; 19] = [
            Kind::Schema,
            Kind::Extension,
            Kind::Type,
            Kind::Sequence,
            Kind::Table,
            Kind::View,
            Kind::MaterializedView,
            Kind::ForeignTable,
            Kind::Column,
            Kind::Constraint,
            Kind::Index,
            Kind::Function,
            Kind::Procedure,
            Kind::Aggregate,
            Kind::Trigger,
            Kind::RowLevelSecurity,
            Kind::Policy,
            Kind::Privileges,
            Kind::Comment,
        ];
        ALL.into_iter().find(|k| k.label() == s)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Identifies an entry: its kind and qualified name (`public.items`,
/// `public.items.name` for a column, `public.f(integer)` for a function).
/// Comments and privileges are named after their object:
/// `column public.items.name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub kind: Kind,
    pub name: String,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

/// What an object is, as text. `note` holds what only counts as a note
/// when it changes (a column's position).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CatalogEntry {
    pub definition: String,
    pub note: Option<String>,
}

/// A whole snapshot: sorted by kind, then name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub entries: BTreeMap<Key, CatalogEntry>,
}

impl Snapshot {
    pub fn new() -> Snapshot {
        Snapshot::default()
    }

    /// Adds (or replaces) an entry.
    pub fn insert(&mut self, kind: Kind, name: impl Into<String>, definition: impl Into<String>) {
        self.insert_with_note(kind, name, definition, None);
    }

    pub fn insert_with_note(
        &mut self,
        kind: Kind,
        name: impl Into<String>,
        definition: impl Into<String>,
        note: Option<String>,
    ) {
        self.entries.insert(
            Key {
                kind,
                name: name.into(),
            },
            CatalogEntry {
                definition: definition.into(),
                note,
            },
        );
    }

    pub fn get(&self, kind: Kind, name: &str) -> Option<&CatalogEntry> {
        self.entries.get(&Key {
            kind,
            name: name.to_string(),
        })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// What a freshly created database holds anyway (the `public` schema,
    /// PL/pgSQL and their comments and privileges) is left out: the rest is
    /// what makes a database not empty.
    pub fn user_objects(&self) -> Vec<&Key> {
        let baseline = |k: &Key| match k.kind {
            Kind::Schema => k.name == "public",
            Kind::Extension => k.name == "plpgsql",
            Kind::Comment | Kind::Privileges => {
                k.name == "schema public" || k.name == "extension plpgsql"
            }
            _ => false,
        };
        self.entries.keys().filter(|k| !baseline(k)).collect()
    }
}

/// Reads the snapshot. `history_schema` is left out.
pub fn take(
    conn: &mut impl Connection<Client = Client>,
    history_schema: &str,
) -> Result<Snapshot, DbError> {
    let mut snapshot = Snapshot::new();
    crate::db::snapshot::read(conn, history_schema, |what, row| {
        let Some(kind) = Kind::from_label(&row.label) else {
            return Err(DbError::Other(format!(
                "reading the catalog ({what}): unknown kind `{}`",
                row.label
            )));
        };
        let object = format!("{} {}", kind.label(), row.name);
        if let Some(c) = row.comment {
            snapshot.insert(Kind::Comment, object.clone(), quote(&c));
        }
        if let Some(p) = row.privileges {
            snapshot.insert(Kind::Privileges, object, p);
        }
        snapshot.insert_with_note(kind, row.name, row.definition.unwrap_or_default(), row.note);
        Ok(())
    })?;
    Ok(snapshot)
}

/// A comment as an SQL literal, so blanks and line breaks stay visible.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_labels_round_trip() {
        for k in [
            Kind::Schema,
            Kind::MaterializedView,
            Kind::RowLevelSecurity,
            Kind::Comment,
            Kind::Privileges,
        ] {
            assert_eq!(Kind::from_label(k.label()), Some(k));
        }
        assert_eq!(Kind::from_label("nope"), None);
    }

    #[test]
    fn a_new_database_has_no_user_objects() {
        let mut s = Snapshot::new();
        s.insert(Kind::Schema, "public", "");
        s.insert(
            Kind::Extension,
            "plpgsql",
            "version 1.0 in schema pg_catalog",
        );
        s.insert(Kind::Comment, "schema public", "'standard public schema'");
        s.insert(Kind::Privileges, "schema public", "=U/pg_database_owner");
        assert!(s.user_objects().is_empty());
        s.insert(Kind::Table, "public.t", "");
        assert_eq!(s.user_objects().len(), 1);
    }
}
