//! RLS coverage at a glance: per table, which policy lets each role run
//! each command. A cell names the permissive policies that allow it,
//! `denied` where RLS is on and none does, and `OPEN` where RLS is off.

use super::declared::Declared;
use super::live::LiveTable;
use super::model::{Command, Policy, TableName, PUBLIC};
use serde::Serialize;

const COMMANDS: [Command; 4] = [
    Command::Select,
    Command::Insert,
    Command::Update,
    Command::Delete,
];

/// One table's RLS as the matrix needs it.
#[derive(Debug, Clone)]
pub struct Coverage<'a> {
    pub table: &'a TableName,
    pub rls: bool,
    pub policies: &'a [Policy],
}

/// What a role may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "access", rename_all = "lowercase")]
pub enum Cell {
    /// Allowed by these permissive policies.
    Allowed {
        policies: Vec<String>,
    },
    Denied,
    /// RLS is off: the table is open to whatever the grants allow.
    Open,
}

/// One table's grid: `cells[role][command]`.
#[derive(Debug, Clone, Serialize)]
pub struct Grid {
    pub table: String,
    pub rls: bool,
    pub roles: Vec<String>,
    pub commands: Vec<&'static str>,
    pub cells: Vec<Vec<Cell>>,
}

impl Coverage<'_> {
    pub fn from_live(t: &LiveTable) -> Coverage<'_> {
        Coverage {
            table: &t.table,
            rls: t.rls,
            policies: &t.policies,
        }
    }

    /// From the files: the declarations that apply at the newest version.
    pub fn from_declared(declared: &Declared) -> Vec<Coverage<'_>> {
        declared
            .tables
            .values()
            .map(|t| Coverage {
                table: &t.table,
                rls: t.enable,
                policies: &t.policies,
            })
            .collect()
    }
}

/// The grids for `tables`, with a column for each of `roles` (the roles
/// named by any policy are added).
pub fn grids(tables: &[Coverage], roles: &[String]) -> Vec<Grid> {
    let mut all_roles: Vec<String> = roles.to_vec();
    for t in tables {
        for p in t.policies {
            for role in &p.roles {
                if role != PUBLIC && !all_roles.contains(role) {
                    all_roles.push(role.clone());
                }
            }
        }
    }
    tables
        .iter()
        .map(|t| Grid {
            table: t.table.to_string(),
            rls: t.rls,
            roles: all_roles.clone(),
            commands: COMMANDS.iter().map(|c| c.name()).collect(),
            cells: all_roles
                .iter()
                .map(|role| COMMANDS.iter().map(|&cmd| cell(t, role, cmd)).collect())
                .collect(),
        })
        .collect()
}

fn cell(t: &Coverage, role: &str, cmd: Command) -> Cell {
    if !t.rls {
        return Cell::Open;
    }
    let policies: Vec<String> = t
        .policies
        .iter()
        .filter(|p| p.allows(role, cmd))
        .map(|p| p.name.clone())
        .collect();
    if policies.is_empty() {
        Cell::Denied
    } else {
        Cell::Allowed { policies }
    }
}

/// Plain-text rendering; `highlight` wraps `OPEN` cells (colour when the
/// caller wants it).
pub fn render(grids: &[Grid], highlight: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    for g in grids {
        out.push_str(&format!(
            "{}{}\n",
            g.table,
            if g.rls { "" } else { "  (RLS off)" }
        ));
        let texts: Vec<Vec<String>> = g
            .cells
            .iter()
            .map(|row| {
                row.iter()
                    .map(|c| match c {
                        Cell::Allowed { policies } => policies.join(", "),
                        Cell::Denied => "denied".to_string(),
                        Cell::Open => "OPEN".to_string(),
                    })
                    .collect()
            })
            .collect();
        let role_w = g.roles.iter().map(String::len).max().unwrap_or(4).max(4);
        let widths: Vec<usize> = (0..g.commands.len())
            .map(|c| {
                texts
                    .iter()
                    .map(|row| row[c].len())
                    .chain([g.commands[c].len()])
                    .max()
                    .unwrap_or(6)
            })
            .collect();
        out.push_str(&format!("  {:<role_w$}", "role"));
        for (c, w) in g.commands.iter().zip(&widths) {
            out.push_str(&format!("  {c:<w$}"));
        }
        out.push('\n');
        for (role, row) in g.roles.iter().zip(&texts) {
            out.push_str(&format!("  {role:<role_w$}"));
            for (text, w) in row.iter().zip(&widths) {
                let padded = format!("{text:<w$}");
                let shown = if text == "OPEN" {
                    highlight(&padded)
                } else {
                    padded
                };
                out.push_str(&format!("  {shown}"));
            }
            out.push('\n');
        }
        out.push('\n');
    }
    // No trailing blanks: the last column is padded like the others.
    out.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::model::{CatalogText, Source};

    fn rule(name: &str, command: Command, roles: &[&str]) -> Policy {
        Policy {
            name: name.into(),
            table: TableName::from_words("t"),
            command,
            permissive: true,
            roles: roles.iter().map(|s| s.to_string()).collect(),
            using: None,
            with_check: None,
            parsed: true,
            comment: None,
            source: Source::Catalog(CatalogText {
                using: None,
                with_check: None,
            }),
        }
    }

    #[test]
    fn one_table_per_state() {
        let names = ["items", "audit", "notes"].map(TableName::from_words);
        let items = [
            rule("items_read", Command::Select, &["authenticated"]),
            rule("items_write", Command::All, &["authenticated"]),
            Policy {
                permissive: false,
                ..rule("items_only_mine", Command::All, &["authenticated"])
            },
        ];
        let notes = [rule("notes_read", Command::Select, &["public"])];
        let tables = vec![
            Coverage {
                table: &names[0],
                rls: true,
                policies: &items,
            },
            Coverage {
                table: &names[1],
                rls: true,
                policies: &[],
            },
            Coverage {
                table: &names[2],
                rls: false,
                policies: &notes,
            },
        ];
        let g = grids(&tables, &["authenticated".into(), "anon".into()]);
        insta::assert_snapshot!(render(&g, &|s| s.to_string()));
    }
}
