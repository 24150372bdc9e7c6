//! `keel import`: another migration runner's files as sealed keel pairs.
//!
//! ```text
//! source folder ─► source (listing, safe reads) ─► one reader per tool ─► ImportedMigration
//!   ─► prepare (transaction mode, BEGIN/COMMIT wrapping, empty downs)
//!   ─► plan (keel files in memory, checked as `keel check --offline` checks, collisions)
//!   ─► write (create-new, all or nothing)
//! ```
//!
//! A reader (`sqlx.rs`, `dbmate.rs`, ...) knows one tool's file names and directives and
//! nothing else: it turns the folder into [`ImportedMigration`]s whose bodies are ranges of
//! the source files ([`Body`]), so that every problem found later is reported at the line and
//! column of the original file. Everything after the readers is shared.

mod alembic;
mod body;
mod dbmate;
mod diesel;
mod flyway;
mod golang_migrate;
mod plan;
mod prepare;
mod source;
mod sqlx;
mod supabase;
mod write;

pub use alembic::PYTHON_ENV;
pub use body::Body;
pub use plan::{plan, Plan, PlannedFile, PlannedMigration};
pub use source::{SourceDir, SourceError, SourceText};
pub use write::{write, WriteError};

use crate::diagnostic::{codes, Diagnostic};
use crate::project::Version;
use source::{Entry, EntryKind};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A migration tool keel imports from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Tool {
    /// sqlx-cli: `<version>_<description>[.up|.down].sql`
    Sqlx,
    /// dbmate: `<version>_<name>.sql` with `-- migrate:up` / `-- migrate:down`
    Dbmate,
    /// golang-migrate: `<version>_<title>.up.sql` / `.down.sql`
    #[value(name = "golang-migrate")]
    GolangMigrate,
    /// Flyway: `V<version>__<description>.sql`, undo `U<version>__...`
    Flyway,
    /// diesel: `<timestamp>_<name>/up.sql`, `down.sql`, `metadata.toml`
    Diesel,
    /// Supabase CLI: `supabase/migrations/<timestamp>_<name>.sql`
    Supabase,
    /// Alembic: the folder with `alembic.ini`; each revision's SQL from Alembic's offline mode
    Alembic,
}

impl Tool {
    /// The name on the command line and in `-- keel:source`.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Sqlx => "sqlx",
            Tool::Dbmate => "dbmate",
            Tool::GolangMigrate => "golang-migrate",
            Tool::Flyway => "flyway",
            Tool::Diesel => "diesel",
            Tool::Supabase => "supabase",
            Tool::Alembic => "alembic",
        }
    }

    /// Where the tool keeps its migrations by default, relative to the project root.
    /// Flyway's own default location is `sql`, which is keel's folder: `db/migration` (the
    /// layout of its Maven and Gradle plugins without the resources prefix) comes first, then
    /// `src/main/resources/db/migration`, the classpath default of a Java project.
    pub fn default_paths(self) -> &'static [&'static str] {
        match self {
            Tool::Sqlx | Tool::GolangMigrate | Tool::Diesel => &["migrations"],
            Tool::Dbmate => &["db/migrations"],
            Tool::Flyway => &["db/migration", "src/main/resources/db/migration"],
            Tool::Supabase => &["supabase/migrations"],
            // The project root, where `alembic init` puts alembic.ini.
            Tool::Alembic => &["."],
        }
    }

    /// The first of [`Tool::default_paths`] that exists under `root`, or the first one.
    pub fn default_path(self, root: &Path) -> PathBuf {
        let paths = self.default_paths();
        paths
            .iter()
            .map(|p| root.join(p))
            .find(|p| p.is_dir())
            .unwrap_or_else(|| root.join(paths[0]))
    }

    /// Reads `dir` as this tool's migrations folder.
    fn read(self, dir: &SourceDir) -> Scan {
        let mut scan = Scan::default();
        match self {
            Tool::Sqlx => sqlx::read(dir, &mut scan),
            Tool::Dbmate => dbmate::read(dir, &mut scan),
            Tool::GolangMigrate => golang_migrate::read(dir, &mut scan),
            Tool::Flyway => flyway::read(dir, &mut scan),
            Tool::Diesel => diesel::read(dir, &mut scan),
            Tool::Supabase => supabase::read(dir, &mut scan),
            Tool::Alembic => alembic::read(dir, &mut scan),
        }
        scan
    }
}

/// One migration as a reader found it, before keel's rules are applied.
#[derive(Debug, Clone)]
pub struct ImportedMigration {
    pub version: Version,
    /// The description as the source names it (`add_users`, `Add Users`); the keel name and
    /// the `-- keel:message` come from it.
    pub description: String,
    pub up: ImportedFile,
    /// `None`: the source has no down, so the keel down file is `-- keel:irreversible`.
    pub down: Option<ImportedFile>,
    /// What the reader carried over or dropped, for the command to show.
    pub notes: Vec<String>,
}

/// One side of an imported migration.
#[derive(Debug, Clone)]
pub struct ImportedFile {
    pub body: Body,
    /// The source runs it outside a transaction (`-- no-transaction`,
    /// `transaction:false`, `run_in_transaction = false`, ...).
    pub transaction_off: bool,
}

impl ImportedFile {
    /// The whole of `file`, run in a transaction.
    fn whole(file: Arc<SourceText>) -> ImportedFile {
        let len = file.text.len();
        ImportedFile {
            body: Body::new(file, 0..len),
            transaction_off: false,
        }
    }
}

/// A file of the source folder that is not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// As shown: the source folder joined with the file's relative path.
    pub path: PathBuf,
    pub reason: String,
}

/// What a reader found in the source folder.
#[derive(Debug, Default)]
struct Scan {
    migrations: Vec<ImportedMigration>,
    skipped: Vec<Skipped>,
    /// Problems with the source files themselves; any error refuses the import.
    problems: Vec<Diagnostic>,
}

impl Scan {
    fn skip(&mut self, dir: &SourceDir, entry: &Entry, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            path: dir.shown(&entry.rel),
            reason: reason.into(),
        });
    }

    /// Reads `entry`, or records why it cannot be read.
    fn read(&mut self, dir: &SourceDir, entry: &Entry) -> Option<Arc<SourceText>> {
        match dir.read(entry) {
            Ok(t) => Some(Arc::new(t)),
            Err(d) => {
                self.problems.push(*d);
                None
            }
        }
    }

    /// A problem with the layout of the source folder at `rel`.
    fn layout(&mut self, dir: &SourceDir, rel: &Path, message: String, hint: &str) {
        self.problems.push(
            Diagnostic::error(codes::IMPORT_LAYOUT, message)
                .with_path(&dir.shown(rel))
                .with_hint(hint),
        );
    }
}

/// The keel version of the source version `digits` of the file at `rel`, or the
/// `import-version` error naming it.
fn version(dir: &SourceDir, rel: &Path, digits: &str) -> Result<Version, Box<Diagnostic>> {
    Version::parse(digits).ok_or_else(|| {
        Box::new(
            Diagnostic::error(
                codes::IMPORT_VERSION,
                format!(
                    "version `{digits}` has more than 20 digits, more than a keel version holds"
                ),
            )
            .with_path(&dir.shown(rel))
            .with_hint("renumber the source migrations with at most 20 digits, in the same order, then import again"),
        )
    })
}

/// Which side of a migration a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Up,
    Down,
}

/// A source file that names a migration: its version, description and side.
#[derive(Debug)]
struct Named {
    version: Version,
    description: String,
    side: Side,
    entry: Entry,
}

/// The files of one version.
#[derive(Debug)]
struct Paired {
    version: Version,
    description: String,
    up: Entry,
    down: Option<Entry>,
}

/// Pairs up and down files by version, for the tools that keep them in separate files. Two
/// files for one side of a version are `duplicate-version` (the tools refuse them too), a down
/// file without an up file `import-layout`; neither is imported.
fn pair(dir: &SourceDir, named: Vec<Named>, scan: &mut Scan) -> Vec<Paired> {
    let mut by_version: BTreeMap<u128, (Vec<Named>, Vec<Named>)> = BTreeMap::new();
    for n in named {
        let sides = by_version.entry(n.version.number()).or_default();
        match n.side {
            Side::Up => sides.0.push(n),
            Side::Down => sides.1.push(n),
        }
    }
    let mut out = Vec::new();
    for (_, (mut ups, mut downs)) in by_version {
        let duplicate = |files: &[Named], scan: &mut Scan| {
            if files.len() > 1 {
                let names: Vec<String> = files
                    .iter()
                    .map(|f| format!("`{}`", dir.shown(&f.entry.rel).display()))
                    .collect();
                scan.problems.push(
                    Diagnostic::error(
                        codes::DUPLICATE_VERSION,
                        format!(
                            "version {} is used by more than one file: {}",
                            files[0].version.number(),
                            names.join(", ")
                        ),
                    )
                    .with_path(&dir.shown(&files[1].entry.rel))
                    .with_hint("versions compare as numbers (`0003` and `3` are the same); give one of them a free version in the source folder"),
                );
                true
            } else {
                false
            }
        };
        if duplicate(&ups, scan) | duplicate(&downs, scan) {
            continue;
        }
        let down = downs.pop();
        match ups.pop() {
            Some(up) => out.push(Paired {
                version: up.version,
                description: up.description,
                up: up.entry,
                down: down.map(|d| d.entry),
            }),
            None => {
                if let Some(d) = down {
                    scan.layout(
                        dir,
                        &d.entry.rel,
                        "a down file without an up file of the same version".to_string(),
                        "add the up file to the source folder, or remove the down file",
                    );
                }
            }
        }
    }
    out
}

/// Whether a listed entry can be read as a file: a plain file, or a symbolic link to one
/// inside the source folder. Otherwise its problem is recorded.
fn usable_file(dir: &SourceDir, entry: &Entry, scan: &mut Scan) -> bool {
    match &entry.kind {
        EntryKind::File => true,
        EntryKind::Dir => {
            scan.layout(
                dir,
                &entry.rel,
                "a folder is named like a migration file".to_string(),
                "rename or move the folder out of the source folder",
            );
            false
        }
        EntryKind::Unusable(why) => {
            scan.problems.push(
                Diagnostic::error(codes::UNREADABLE, format!("cannot read this entry: {why}"))
                    .with_path(&dir.shown(&entry.rel))
                    .with_hint("replace it with a regular file inside the source folder"),
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_paths() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Tool::Flyway.default_path(dir.path()),
            dir.path().join("db/migration")
        );
        std::fs::create_dir_all(dir.path().join("src/main/resources/db/migration")).unwrap();
        assert_eq!(
            Tool::Flyway.default_path(dir.path()),
            dir.path().join("src/main/resources/db/migration")
        );
        assert_eq!(
            Tool::Supabase.default_path(dir.path()),
            dir.path().join("supabase/migrations")
        );
    }
}
