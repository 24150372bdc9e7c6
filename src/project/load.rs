//! Reading every file of a listed folder once: each file's [`Facts`] stay in
//! the project, and its text goes to the caller's visitor and is dropped
//! unless the visitor keeps it.

use super::file::{read_file, Facts, SqlText};
use super::layout::{file_path, Layout};
use super::{FileKind, Migration, Project, SqlFile};
use crate::diagnostic::Diagnostic;
use std::path::PathBuf;
use std::sync::Arc;

/// The project, the problems found while reading it, and what the visitor
/// returned for each file of [`Project::files`], in that order. A file with a
/// problem that stops it from being read is left out of `project`.
#[derive(Debug)]
pub struct Loaded<T = ()> {
    pub project: Project,
    pub diagnostics: Vec<Diagnostic>,
    pub visited: Vec<T>,
}

/// Reads the migrations folder `dir`: its layout, then every file.
pub fn load(dir: &std::path::Path) -> Result<Loaded<SqlText>, super::ProjectError> {
    Ok(load_layout(super::scan(dir)?, |t, _| t))
}

/// Reads every file of `layout` on all cores. `visit` sees each file's text
/// as soon as it is read, on the reading thread, and returns what to keep of
/// it (`()` keeps nothing: a run's memory then does not grow with the size
/// of its files).
pub fn load_layout<T: Send>(
    layout: Layout,
    visit: impl Fn(SqlText, &mut Vec<Diagnostic>) -> T + Sync,
) -> Loaded<T> {
    let Layout {
        dir,
        pairs,
        policies,
        policy_tests,
        mut diagnostics,
    } = layout;
    let shared = Arc::new(dir.clone());
    // Each pair becomes its migration before any file is read (the names
    // move, nothing is copied), and is filled in place: the list is held
    // once however many migrations there are.
    let mut slots: Vec<(Migration, bool, bool)> = pairs
        .into_iter()
        .map(|p| {
            let readable = (p.up_readable, p.down_readable);
            (
                Migration {
                    version: p.version,
                    down_width: p.down_width,
                    name: p.name,
                    dir: shared.clone(),
                    up: Facts::UNREAD,
                    down: Facts::UNREAD,
                },
                readable.0,
                readable.1,
            )
        })
        .collect();
    let read = |path: PathBuf, kind, d: &mut Vec<Diagnostic>| {
        read_file(path, kind, d).map(|t| (t.facts, visit(t, d)))
    };
    let mut visited = Vec::new();
    // By chunks, so that the results waiting to be collected stay few.
    for chunk in slots.chunks_mut(1024) {
        let filled = crate::parallel::map_mut(chunk, 32, |(m, up_ok, down_ok)| {
            let mut d = Vec::new();
            // A side already reported unreadable is skipped; the other is
            // still read for its own problems.
            let up = up_ok
                .then(|| read(m.path(FileKind::Up), FileKind::Up, &mut d))
                .flatten();
            let down = down_ok
                .then(|| read(m.path(FileKind::Down), FileKind::Down, &mut d))
                .flatten();
            // From here on `up_ok` says whether the migration is kept.
            *up_ok = false;
            let kept = match (up, down) {
                (Some((uf, u)), Some((df, dv))) => {
                    m.up = uf;
                    m.down = df;
                    *up_ok = true;
                    Some((u, dv))
                }
                _ => None,
            };
            (kept, d)
        });
        for (kept, d) in filled {
            diagnostics.extend(d);
            if let Some((u, d)) = kept {
                visited.push(u);
                visited.push(d);
            }
        }
    }
    slots.retain(|(_, kept, _)| *kept);
    // Collected in place, then shrunk: a copy would hold both lists at once.
    let mut migrations: Vec<Migration> = slots.into_iter().map(|(m, _, _)| m).collect();
    migrations.shrink_to_fit();
    let mut read_all = |paths: Vec<PathBuf>, kind: FileKind| -> Vec<SqlFile> {
        let files = crate::parallel::map_owned(paths, 64, |path| {
            let mut d = Vec::new();
            let f = read_file(path, kind, &mut d).map(|t| (t.file.clone(), visit(t, &mut d)));
            (f, d)
        });
        let mut out = Vec::with_capacity(files.len());
        for (f, d) in files {
            diagnostics.extend(d);
            if let Some((file, v)) = f {
                out.push(file);
                visited.push(v);
            }
        }
        out
    };
    let policies = read_all(policies, FileKind::Policy);
    let policy_tests = read_all(policy_tests, FileKind::PolicyTest);
    Loaded {
        project: Project {
            dir,
            migrations,
            policies,
            policy_tests,
        },
        diagnostics,
        visited,
    }
}

impl Loaded<SqlText> {
    /// Every migration's up and down text, in order.
    pub fn migration_texts(&self) -> &[SqlText] {
        &self.visited[..2 * self.project.migrations.len()]
    }

    /// The policy files' texts.
    pub fn policy_texts(&self) -> &[SqlText] {
        let start = 2 * self.project.migrations.len();
        &self.visited[start..start + self.project.policies.len()]
    }

    /// The policy test files' texts.
    pub fn policy_test_texts(&self) -> &[SqlText] {
        &self.visited[2 * self.project.migrations.len() + self.project.policies.len()..]
    }
}

/// Reads the policy files `paths` (the policy stage needs them even when no
/// migration runs).
pub fn read_policies(paths: &[PathBuf], diagnostics: &mut Vec<Diagnostic>) -> Vec<SqlText> {
    paths
        .iter()
        .filter_map(|path| read_file(path.clone(), FileKind::Policy, diagnostics))
        .collect()
}

impl Migration {
    /// The path of one side.
    pub fn path(&self, kind: FileKind) -> PathBuf {
        file_path(&self.dir, &self.version, &self.name, kind, self.down_width)
    }
}
