//! Alembic: `PATH` is the folder holding `alembic.ini`. Revisions are Python, so keel asks
//! Alembic itself, in the project's Python (`KEEL_PYTHON`, default `python3`), for the
//! revision graph and for each revision's SQL in offline mode: what `alembic upgrade PREV:REV
//! --sql` and `alembic downgrade REV:PREV --sql` print, rendered for PostgreSQL
//! (`alembic_offline.py` does the asking and answers in JSON).
//!
//! From that output Alembic's own statements are removed, found with keel's splitter: its
//! version table (`CREATE TABLE alembic_version`, the `INSERT`/`UPDATE`/`DELETE` that move its
//! row, `DROP TABLE alembic_version`) and its transaction statements (the `BEGIN`/`COMMIT`
//! around a run, and around an `autocommit_block`, whose statements the shared preparation
//! then finds and makes `-- keel:transaction off`). keel versions are numbers and revision
//! ids are not: revisions are numbered `0001`, `0002`, ... in graph order, and each pair
//! records its revision in `-- keel:source alembic <revision>`, as `keel adopt alembic` reads
//! it. A history that branches or merges is refused naming the revisions: keel's versions
//! are one line.

use super::body::Body;
use super::source::{SourceDir, SourceText};
use super::{ImportedFile, ImportedMigration, Scan};
use crate::diagnostic::{codes, Diagnostic};
use crate::project::Version;
use crate::sql::split::{self, Statement};
use serde::Deserialize;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// The Python interpreter that has Alembic (and the project's own modules) importable.
pub const PYTHON_ENV: &str = "KEEL_PYTHON";

/// Alembic's configuration file, in `PATH`.
const INI: &str = "alembic.ini";

/// The table Alembic records its revision in (`version_table` in env.py changes it; keel
/// recognizes the default name only).
const VERSION_TABLE: &str = "alembic_version";

const SCRIPT: &str = include_str!("alembic_offline.py");

const INSTALL_HINT: &str = "install Alembic where the project runs it (`python3 -m pip install alembic sqlalchemy psycopg2-binary`), or point KEEL_PYTHON at the Python that has it (e.g. `KEEL_PYTHON=.venv/bin/python`)";

/// What `alembic_offline.py` answers.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Answer {
    Missing {
        missing: String,
    },
    Error {
        error: String,
        revision: Option<String>,
    },
    Branches {
        branches: Branches,
    },
    Revisions {
        revisions: Vec<Revision>,
    },
}

#[derive(Debug, Deserialize)]
struct Branches {
    heads: Vec<String>,
    merges: Vec<(String, Vec<String>)>,
    branch_points: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Deserialize)]
struct Revision {
    revision: String,
    message: String,
    /// The revision file, relative to `PATH`.
    path: String,
    /// The revision before it, or `base`.
    prev: String,
    up: String,
    down: Option<String>,
    down_error: Option<String>,
}

pub(super) fn read(dir: &SourceDir, scan: &mut Scan) {
    if !dir.path().join(INI).is_file() {
        return scan.layout(
            dir,
            Path::new(INI),
            format!("no `{INI}` in `{}`", dir.path().display()),
            "pass the folder that holds the project's alembic.ini as PATH",
        );
    }
    let python = std::env::var_os(PYTHON_ENV).unwrap_or_else(|| "python3".into());
    let shown_python = PathBuf::from(&python).display().to_string();
    let out = Command::new(&python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(INI)
        .current_dir(dir.path())
        .output();
    let ini = dir.shown(Path::new(INI));
    let tool_problem = |message: String, hint: &str| {
        Diagnostic::error(codes::IMPORT_TOOL, message)
            .with_path(&ini)
            .with_hint(hint)
    };
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            return scan.problems.push(tool_problem(
                format!("cannot run `{shown_python}` to read the Alembic revisions: {e}"),
                INSTALL_HINT,
            ))
        }
    };
    let answer = match serde_json::from_slice::<Answer>(&out.stdout) {
        Ok(a) => a,
        Err(_) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
            return scan.problems.push(tool_problem(
                format!(
                    "`{shown_python}` did not list the Alembic revisions ({}): {}",
                    out.status,
                    last.unwrap_or("no output")
                ),
                INSTALL_HINT,
            ));
        }
    };
    match answer {
        Answer::Missing { missing } => scan.problems.push(tool_problem(
            format!("Alembic cannot be imported by `{shown_python}`: {missing}"),
            INSTALL_HINT,
        )),
        Answer::Error { error, revision } => scan.problems.push(tool_problem(
            match revision {
                Some(r) => format!("Alembic failed on revision `{r}`: {error}"),
                None => format!("Alembic failed to read the revisions: {error}"),
            },
            "make `alembic upgrade head --sql` work in this folder (offline mode: env.py must not need a database), then import again",
        )),
        Answer::Branches { branches } => scan.layout(
            dir,
            Path::new(INI),
            branch_message(&branches),
            "keel's versions are one line: merge the heads (`alembic merge heads`) or rebase one branch onto the other, then import again",
        ),
        Answer::Revisions { revisions } => {
            let width = revisions.len().to_string().len().max(4);
            for (i, r) in revisions.into_iter().enumerate() {
                let Some(version) = Version::parse(&format!("{:0width$}", i + 1)) else {
                    continue;
                };
                scan.migrations.push(migration(dir, version, r));
            }
        }
    }
}

fn branch_message(b: &Branches) -> String {
    let mut parts = Vec::new();
    if b.heads.len() > 1 {
        parts.push(format!("{} heads ({})", b.heads.len(), b.heads.join(", ")));
    }
    for (rev, children) in &b.branch_points {
        parts.push(format!(
            "`{rev}` is the parent of {}",
            children.join(" and ")
        ));
    }
    for (rev, parents) in &b.merges {
        parts.push(format!("`{rev}` merges {}", parents.join(" and ")));
    }
    format!("the Alembic revisions branch: {}", parts.join("; "))
}

fn migration(dir: &SourceDir, version: Version, r: Revision) -> ImportedMigration {
    let mut notes = Vec::new();
    let up = file(
        &r.revision,
        format!("alembic upgrade {}:{} --sql", r.prev, r.revision),
        r.up,
    );
    let down = match (r.down, r.down_error) {
        (Some(text), _) => Some(file(
            &r.revision,
            format!("alembic downgrade {}:{} --sql", r.revision, r.prev),
            text,
        )),
        (None, error) => {
            notes.push(format!(
                "down: `alembic downgrade {}:{} --sql` raised {}: imported as `-- keel:irreversible`",
                r.revision,
                r.prev,
                error.unwrap_or_else(|| "an error".into())
            ));
            None
        }
    };
    notes.push(format!(
        "revision {} ({})",
        r.revision,
        dir.shown(Path::new(&r.path)).display()
    ));
    ImportedMigration {
        version,
        description: r.message,
        up,
        down,
        notes,
    }
}

/// The offline SQL `text` without Alembic's own statements; `rel` is what `-- keel:source`
/// records (the revision id), `shown` the command that printed it.
fn file(revision: &str, shown: String, text: String) -> ImportedFile {
    let text = text.replace("\r\n", "\n");
    let removed = alembic_statements(&text);
    let len = text.len();
    let mut body = Body::new(
        Arc::new(SourceText {
            rel: PathBuf::from(revision),
            shown: PathBuf::from(shown),
            text,
        }),
        0..len,
    );
    // The later ranges first: removing them leaves the earlier offsets as they are.
    for range in removed.into_iter().rev() {
        body.remove(range);
    }
    // The blank lines Alembic puts between statements, left at both ends by the removals.
    let kept = body.text();
    let trailing = kept.len() - kept.trim_end().len();
    body.remove(kept.len() - trailing..kept.len());
    let blank = kept.len() - kept.trim_start().len();
    let leading = kept[..blank].rfind('\n').map_or(0, |i| i + 1);
    body.remove(0..leading);
    ImportedFile {
        body,
        transaction_off: false,
    }
}

/// The ranges of the statements Alembic adds to a revision's SQL: its version table and its
/// transaction statements. A text that cannot be split is left whole for validation to report.
fn alembic_statements(text: &str) -> Vec<Range<usize>> {
    let Ok(statements) = split::split(text).collect::<Result<Vec<Statement>, _>>() else {
        return Vec::new();
    };
    statements
        .iter()
        .filter(|s| is_alembic_statement(&text[s.text.clone()]))
        .map(|s| super::prepare::whole_lines(text, s))
        .collect()
}

/// `BEGIN`, `COMMIT`, or a statement on Alembic's version table.
fn is_alembic_statement(statement: &str) -> bool {
    let words: Vec<String> = statement
        .split_whitespace()
        .take(3)
        .map(str::to_ascii_uppercase)
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let table = match words[..] {
        ["BEGIN"] | ["COMMIT"] => return true,
        ["CREATE", "TABLE", t] | ["INSERT", "INTO", t] | ["DELETE", "FROM", t] => t,
        ["DROP", "TABLE", t] => t.trim_end_matches(';'),
        ["UPDATE", t, ..] => t,
        _ => return false,
    };
    let table = table.split('(').next().unwrap_or(table);
    let name = table.rsplit('.').next().unwrap_or(table).trim_matches('"');
    name.eq_ignore_ascii_case(VERSION_TABLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UP: &str = "BEGIN;\n\nCREATE TABLE alembic_version (\n    version_num VARCHAR(32) NOT NULL, \n    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)\n);\n\n-- Running upgrade  -> a1\n\nCREATE TABLE t (id int);\n\nINSERT INTO alembic_version (version_num) VALUES ('a1') RETURNING alembic_version.version_num;\n\nCOMMIT;\n\n";

    #[test]
    fn alembic_statements_are_removed_and_the_rest_kept() {
        let f = file("a1", "alembic upgrade base:a1 --sql".into(), UP.into());
        assert_eq!(
            f.body.text(),
            "-- Running upgrade  -> a1\n\nCREATE TABLE t (id int);"
        );
        assert_eq!(f.body.file.rel, Path::new("a1"));
        // Positions still lead to the offline output.
        let at = f.body.text().find("CREATE").unwrap();
        assert_eq!(f.body.source_line(at), 10);
    }

    #[test]
    fn which_statements_are_alembic_s() {
        for s in [
            "BEGIN",
            "commit",
            "UPDATE alembic_version SET version_num='b' WHERE alembic_version.version_num = 'a'",
            "DELETE FROM alembic_version WHERE alembic_version.version_num = 'a'",
            "DROP TABLE alembic_version",
            "CREATE TABLE public.alembic_version(version_num varchar(32))",
        ] {
            assert!(is_alembic_statement(s), "{s}");
        }
        for s in [
            "BEGIN ISOLATION LEVEL SERIALIZABLE",
            "CREATE TABLE alembic_versions (a int)",
            "UPDATE accounts SET a = 1",
            "INSERT INTO t SELECT * FROM alembic_version",
        ] {
            assert!(!is_alembic_statement(s), "{s}");
        }
    }

    #[test]
    fn branches_name_the_revisions() {
        let b = Branches {
            heads: vec!["b2".into(), "c3".into()],
            merges: vec![],
            branch_points: vec![("a1".into(), vec!["b2".into(), "c3".into()])],
        };
        assert_eq!(
            branch_message(&b),
            "the Alembic revisions branch: 2 heads (b2, c3); `a1` is the parent of b2 and c3"
        );
    }
}
