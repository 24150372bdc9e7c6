//! RLS coverage at a glance: per table, which policy lets each role run
//! each command. A cell names the permissive policies that allow it,
//! `denied` where RLS is on and none does, and `OPEN` where RLS is off.

use super::declared::{Command, Declared, TableName};
use super::live::LiveTable;
use serde::Serialize;

const COMMANDS: [Command; 4] = [
    Command::Select,
    Command::Insert,
    Command::Update,
    Command::Delete,
];

/// A policy as the matrix needs it.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub command: Command,
    pub permissive: bool,
    /// Empty or containing `public`: every role.
    pub roles: Vec<String>,
}

/// One table's RLS as the matrix needs it.
#[derive(Debug, Clone)]
pub struct Coverage {
    pub table: TableName,
    pub rls: bool,
    pub rules: Vec<Rule>,
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

impl Coverage {
    pub fn from_live(t: &LiveTable) -> Coverage {
        Coverage {
            table: t.table.clone(),
            rls: t.rls,
            rules: t
                .policies
                .iter()
                .map(|p| Rule {
                    name: p.name.clone(),
                    command: p.command,
                    permissive: p.permissive,
                    roles: p.roles.clone(),
                })
                .collect(),
        }
    }

    /// From the files: the declarations that apply at the newest version.
    pub fn from_declared(declared: &Declared) -> Vec<Coverage> {
        declared
            .tables
            .values()
            .map(|t| Coverage {
                table: t.table.clone(),
                rls: t.enable,
                rules: t
                    .policies
                    .iter()
                    .map(|p| Rule {
                        name: p.name.clone(),
                        command: p.command,
                        permissive: p.permissive,
                        roles: p.roles.clone(),
                    })
                    .collect(),
            })
            .collect()
    }
}

/// The grids for `tables`, with a column for each of `roles` (the roles
/// named by any policy are added).
pub fn grids(tables: &[Coverage], roles: &[String]) -> Vec<Grid> {
    let mut all_roles: Vec<String> = roles.to_vec();
    for t in tables {
        for r in &t.rules {
            for role in &r.roles {
                if role != "public" && !all_roles.contains(role) {
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
        .rules
        .iter()
        .filter(|r| r.permissive && r.command.covers(cmd))
        .filter(|r| r.roles.is_empty() || r.roles.iter().any(|x| x == "public" || x == role))
        .map(|r| r.name.clone())
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

    fn rule(name: &str, command: Command, roles: &[&str]) -> Rule {
        Rule {
            name: name.into(),
            command,
            permissive: true,
            roles: roles.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn one_table_per_state() {
        let tables = vec![
            Coverage {
                table: TableName::from_words("items"),
                rls: true,
                rules: vec![
                    rule("items_read", Command::Select, &["authenticated"]),
                    rule("items_write", Command::All, &["authenticated"]),
                    Rule {
                        permissive: false,
                        ..rule("items_only_mine", Command::All, &["authenticated"])
                    },
                ],
            },
            Coverage {
                table: TableName::from_words("audit"),
                rls: true,
                rules: vec![],
            },
            Coverage {
                table: TableName::from_words("notes"),
                rls: false,
                rules: vec![rule("notes_read", Command::Select, &[])],
            },
        ];
        let g = grids(&tables, &["authenticated".into(), "anon".into()]);
        insta::assert_snapshot!(render(&g, &|s| s.to_string()));
    }
}
