//! The difference between two catalog snapshots, in readable form.
//!
//! Signs read from the second snapshot's point of view: `+` is there and was
//! not before, `-` was there and is gone, `~` changed. What only counts as a
//! note (a column that moved, a difference the caller excuses) is kept apart
//! from the differences.

use super::snapshot::{CatalogEntry, Key, Snapshot};
use std::collections::btree_map;

/// One difference between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogChange {
    Added {
        key: Key,
        after: CatalogEntry,
    },
    Removed {
        key: Key,
        before: CatalogEntry,
    },
    Changed {
        key: Key,
        before: CatalogEntry,
        after: CatalogEntry,
    },
}

impl CatalogChange {
    pub fn key(&self) -> &Key {
        match self {
            CatalogChange::Added { key, .. }
            | CatalogChange::Removed { key, .. }
            | CatalogChange::Changed { key, .. } => key,
        }
    }

    /// The definition before, if the object existed.
    pub fn before(&self) -> Option<&str> {
        match self {
            CatalogChange::Removed { before, .. } | CatalogChange::Changed { before, .. } => {
                Some(&before.definition)
            }
            CatalogChange::Added { .. } => None,
        }
    }

    /// The definition after, if the object exists.
    pub fn after(&self) -> Option<&str> {
        match self {
            CatalogChange::Added { after, .. } | CatalogChange::Changed { after, .. } => {
                Some(&after.definition)
            }
            CatalogChange::Removed { .. } => None,
        }
    }

    /// `added`, `removed`, `changed`.
    pub fn verb(&self) -> &'static str {
        match self {
            CatalogChange::Added { .. } => "added",
            CatalogChange::Removed { .. } => "removed",
            CatalogChange::Changed { .. } => "changed",
        }
    }

    /// The readable lines: `+ index public.i ON public.t USING btree (a)`;
    /// a changed multi-line definition (a function, a view) is shown as a
    /// line diff below its name.
    pub fn lines(&self) -> Vec<String> {
        let key = self.key();
        match self {
            CatalogChange::Added { after, .. } => vec![one_line('+', key, &after.definition)],
            CatalogChange::Removed { before, .. } => vec![one_line('-', key, &before.definition)],
            CatalogChange::Changed { before, after, .. } => {
                let (b, a) = (&before.definition, &after.definition);
                if !b.contains('\n') && !a.contains('\n') {
                    vec![
                        format!("~ {key}"),
                        format!("    before: {}", shown(b)),
                        format!("    after:  {}", shown(a)),
                    ]
                } else {
                    let mut out = vec![format!("~ {key}")];
                    out.extend(line_diff(b, a));
                    out
                }
            }
        }
    }
}

/// Something that changed but is not a difference: a column's position, or
/// a change the caller explained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub key: Key,
    pub message: String,
}

impl Note {
    pub fn line(&self) -> String {
        format!("note: {} {}", self.key, self.message)
    }
}

/// The differences (sorted by kind, then name) and the notes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    pub changes: Vec<CatalogChange>,
    pub notes: Vec<Note>,
}

impl Diff {
    /// No differences (notes do not count).
    pub fn is_clean(&self) -> bool {
        self.changes.is_empty()
    }

    /// Every change, line by line.
    pub fn lines(&self) -> Vec<String> {
        self.changes.iter().flat_map(CatalogChange::lines).collect()
    }

    /// Turns the changes `explain` has an explanation for into notes.
    pub fn excuse(&mut self, explain: impl Fn(&CatalogChange) -> Option<String>) {
        let mut kept = Vec::with_capacity(self.changes.len());
        for c in self.changes.drain(..) {
            match explain(&c) {
                Some(message) => self.notes.push(Note {
                    key: c.key().clone(),
                    message,
                }),
                None => kept.push(c),
            }
        }
        self.changes = kept;
    }
}

/// Compares `before` with `after`.
pub fn diff(before: &Snapshot, after: &Snapshot) -> Diff {
    let mut out = Diff::default();
    let mut b = before.entries.iter().peekable();
    let mut a = after.entries.iter().peekable();
    loop {
        let order = match (b.peek(), a.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some((kb, _)), Some((ka, _))) => kb.cmp(ka),
        };
        match order {
            std::cmp::Ordering::Less => {
                let (k, e) = next(&mut b);
                out.changes.push(CatalogChange::Removed {
                    key: k.clone(),
                    before: e.clone(),
                });
            }
            std::cmp::Ordering::Greater => {
                let (k, e) = next(&mut a);
                out.changes.push(CatalogChange::Added {
                    key: k.clone(),
                    after: e.clone(),
                });
            }
            std::cmp::Ordering::Equal => {
                let (k, eb) = next(&mut b);
                let (_, ea) = next(&mut a);
                if eb.definition != ea.definition {
                    out.changes.push(CatalogChange::Changed {
                        key: k.clone(),
                        before: eb.clone(),
                        after: ea.clone(),
                    });
                } else if eb.note != ea.note {
                    out.notes.push(Note {
                        key: k.clone(),
                        message: format!(
                            "moved: {} → {}",
                            eb.note.as_deref().unwrap_or("-"),
                            ea.note.as_deref().unwrap_or("-")
                        ),
                    });
                }
            }
        }
    }
    out
}

fn next<'a>(
    it: &mut std::iter::Peekable<btree_map::Iter<'a, Key, CatalogEntry>>,
) -> (&'a Key, &'a CatalogEntry) {
    it.next().expect("peeked")
}

/// `+ kind name definition`; a multi-line definition is left out (the name
/// says which object it is).
fn one_line(sign: char, key: &Key, definition: &str) -> String {
    if definition.is_empty() || definition.contains('\n') {
        format!("{sign} {key}")
    } else {
        format!("{sign} {key} {definition}")
    }
}

fn shown(s: &str) -> &str {
    if s.is_empty() {
        "(nothing)"
    } else {
        s
    }
}

/// A compact line diff: changed lines with one line of context, indented.
fn line_diff(before: &str, after: &str) -> Vec<String> {
    let d = similar::TextDiff::from_lines(before, after);
    let mut out = Vec::new();
    for (i, group) in d.grouped_ops(1).iter().enumerate() {
        if i > 0 {
            out.push("      ...".to_string());
        }
        for op in group {
            for change in d.iter_changes(op) {
                let sign = match change.tag() {
                    similar::ChangeTag::Delete => '-',
                    similar::ChangeTag::Insert => '+',
                    similar::ChangeTag::Equal => ' ',
                };
                out.push(format!(
                    "    {sign} {}",
                    change.value().trim_end_matches(['\n', '\r'])
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::snapshot::Kind;

    fn base() -> Snapshot {
        let mut s = Snapshot::new();
        s.insert(Kind::Table, "public.items", "");
        s.insert_with_note(
            Kind::Column,
            "public.items.id",
            "integer NOT NULL",
            Some("position 1".into()),
        );
        s.insert_with_note(
            Kind::Column,
            "public.items.name",
            "text",
            Some("position 2".into()),
        );
        s
    }

    #[test]
    fn equal_snapshots_have_no_diff() {
        let d = diff(&base(), &base());
        assert!(d.is_clean());
        assert!(d.notes.is_empty());
        assert!(d.lines().is_empty());
    }

    #[test]
    fn a_leftover_index_is_an_addition() {
        let mut after = base();
        after.insert(
            Kind::Index,
            "public.items_name_idx",
            "ON public.items USING btree (name)",
        );
        let d = diff(&base(), &after);
        assert!(!d.is_clean());
        assert_eq!(
            d.lines(),
            ["+ index public.items_name_idx ON public.items USING btree (name)"]
        );
        assert_eq!(d.changes[0].verb(), "added");
    }

    #[test]
    fn a_dropped_column_is_a_removal() {
        let mut after = base();
        after.entries.retain(|k, _| k.name != "public.items.name");
        let d = diff(&base(), &after);
        assert_eq!(d.lines(), ["- column public.items.name text"]);
    }

    #[test]
    fn a_changed_definition_shows_before_and_after() {
        let mut after = base();
        after.insert_with_note(
            Kind::Column,
            "public.items.name",
            "text NOT NULL",
            Some("position 2".into()),
        );
        let d = diff(&base(), &after);
        assert_eq!(
            d.lines(),
            [
                "~ column public.items.name",
                "    before: text",
                "    after:  text NOT NULL"
            ]
        );
    }

    #[test]
    fn a_pure_reorder_is_only_a_note() {
        let mut after = base();
        after.insert_with_note(
            Kind::Column,
            "public.items.id",
            "integer NOT NULL",
            Some("position 2".into()),
        );
        after.insert_with_note(
            Kind::Column,
            "public.items.name",
            "text",
            Some("position 1".into()),
        );
        let d = diff(&base(), &after);
        assert!(d.is_clean());
        assert_eq!(d.notes.len(), 2);
        assert_eq!(
            d.notes[0].line(),
            "note: column public.items.id moved: position 1 → position 2"
        );
    }

    #[test]
    fn a_changed_function_body_is_a_line_diff() {
        let mut before = Snapshot::new();
        let mut after = Snapshot::new();
        let def = |body: &str| {
            format!("CREATE OR REPLACE FUNCTION public.f()\n RETURNS integer\n LANGUAGE sql\nAS $function${body}$function$\n")
        };
        before.insert(Kind::Function, "public.f()", def("select 1"));
        after.insert(Kind::Function, "public.f()", def("select 2"));
        let lines = diff(&before, &after).lines();
        assert_eq!(lines[0], "~ function public.f()");
        assert!(lines.contains(&"    - AS $function$select 1$function$".to_string()));
        assert!(lines.contains(&"    + AS $function$select 2$function$".to_string()));
        assert!(lines.contains(&"       LANGUAGE sql".to_string()));
        // Unchanged lines far from the change are left out.
        assert!(!lines.iter().any(|l| l.contains("CREATE OR REPLACE")));
    }

    #[test]
    fn added_multi_line_objects_show_their_name_only() {
        let mut after = Snapshot::new();
        after.insert(Kind::View, "public.v", " SELECT 1 AS a;\n");
        assert_eq!(diff(&Snapshot::new(), &after).lines(), ["+ view public.v"]);
    }

    #[test]
    fn changes_are_sorted_by_kind_then_name() {
        let mut after = base();
        after.insert(
            Kind::Trigger,
            "public.items.a",
            "BEFORE UPDATE ON public.items",
        );
        after.insert(Kind::Index, "public.z", "ON public.items USING btree (id)");
        after.insert(
            Kind::Index,
            "public.b",
            "ON public.items USING btree (name)",
        );
        let d = diff(&base(), &after);
        let names: Vec<&str> = d.changes.iter().map(|c| c.key().name.as_str()).collect();
        assert_eq!(names, ["public.b", "public.z", "public.items.a"]);
    }

    #[test]
    fn excused_changes_become_notes() {
        let mut after = base();
        after.insert(Kind::RowLevelSecurity, "public.items", "enabled, forced");
        after.insert(Kind::Index, "public.i", "ON public.items USING btree (id)");
        let mut d = diff(&base(), &after);
        d.excuse(|c| {
            (c.key().kind == Kind::RowLevelSecurity).then(|| "stays on (fail closed)".to_string())
        });
        assert_eq!(d.changes.len(), 1);
        assert_eq!(
            d.notes[0].line(),
            "note: row level security public.items stays on (fail closed)"
        );
    }
}
