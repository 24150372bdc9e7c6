//! The migrations folder as keel knows it: the listing ([`layout`]), each
//! file as a plain value and its checked read ([`file`]), reading them all
//! once ([`load`]), and versions and file names ([`version`]).

pub mod digest;
pub mod file;
pub mod layout;
pub mod listing_cache;
pub mod load;
pub mod version;

#[cfg(test)]
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

pub use file::{Facts, FileKind, Seal, SqlFile, SqlText, MAX_FILE_SIZE};
pub use layout::{scan, scan_policies, Layout, Pair};
pub use load::{load, load_layout, read_policies, Loaded};
pub use version::{parse_file_name, slug, NameError, Version};

/// One version: its up file and its down file, as plain values (no text,
/// no path: both follow from the version and the name).
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: Version,
    pub name: Box<str>,
    /// The migrations folder (one allocation for every migration, behind a
    /// thin pointer).
    dir: Arc<PathBuf>,
    /// How many digits the down file's name gives the version.
    down_width: u8,
    pub up: Facts,
    pub down: Facts,
}

impl Migration {
    /// `0001_create_households`.
    pub fn id(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }

    pub fn irreversible(&self) -> bool {
        self.down.irreversible
    }

    /// A migration in folder `dir` whose files hold `up` and `down` (for
    /// tests: a project is otherwise read from disk).
    #[cfg(test)]
    pub fn from_texts(dir: &Path, version: Version, name: &str, up: &str, down: &str) -> Migration {
        let facts = |text: &str| SqlText::new(PathBuf::new(), FileKind::Up, text.into()).facts;
        Migration {
            version,
            name: name.into(),
            dir: Arc::new(dir.to_path_buf()),
            down_width: version.width() as u8,
            up: facts(up),
            down: facts(down),
        }
    }

    /// The up file.
    pub fn up_file(&self) -> SqlFile {
        self.file(FileKind::Up)
    }

    /// The down file.
    pub fn down_file(&self) -> SqlFile {
        self.file(FileKind::Down)
    }

    /// The texts of both files, each read and checked
    /// ([`SqlFile::read`]): what the history records of an applied version.
    pub fn read_texts(&self) -> Result<(SqlText, SqlText), Box<crate::diagnostic::Diagnostic>> {
        Ok((self.up_file().read()?, self.down_file().read()?))
    }

    /// One side as a file: its path and facts.
    pub fn file(&self, kind: FileKind) -> SqlFile {
        SqlFile {
            path: self.path(kind),
            kind,
            facts: if kind == FileKind::Down {
                self.down
            } else {
                self.up
            },
        }
    }
}

/// Everything keel found under the migrations folder.
#[derive(Debug, Clone, Default)]
pub struct Project {
    pub dir: PathBuf,
    /// Complete pairs, ordered by version.
    pub migrations: Vec<Migration>,
    pub policies: Vec<SqlFile>,
    pub policy_tests: Vec<SqlFile>,
}

impl Project {
    /// How every command names an applied version whose files are gone (`check` reports it,
    /// `upgrade` and `downgrade` refuse it): the up file is what makes a version part of the
    /// project, so the message points at the folder it is missing from.
    pub fn missing_applied(&self, version: &Version, name: &str) -> String {
        format!(
            "applied version {version}_{name} has no file in {}",
            self.dir.join("up").display()
        )
    }

    pub fn find(&self, version: &Version) -> Option<&Migration> {
        self.migrations
            .binary_search_by(|m| m.version.cmp(version))
            .ok()
            .map(|i| &self.migrations[i])
    }

    /// Where version `version` stands in [`Project::migrations`].
    pub fn position(&self, version: &Version) -> Option<usize> {
        self.migrations
            .binary_search_by(|m| m.version.cmp(version))
            .ok()
    }

    pub fn head(&self) -> Option<&Migration> {
        self.migrations.last()
    }

    /// Every SQL file, for checks that apply to all of them: each
    /// migration's up and down, then the policies and policy tests.
    pub fn files(&self) -> impl Iterator<Item = SqlFile> + '_ {
        self.migrations
            .iter()
            .flat_map(|m| [m.up_file(), m.down_file()])
            .chain(self.policies.iter().cloned())
            .chain(self.policy_tests.iter().cloned())
    }

    /// The digit width new versions should use: that of the newest file, or 4.
    pub fn version_width(&self) -> usize {
        self.head().map_or(4, |m| m.version.width())
    }
}

/// The migrations folder itself cannot be used: a configuration problem.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("migrations folder `{}` does not exist", .0.display())]
    NotFound(PathBuf),
    #[error("migrations folder `{}` is not a folder", .0.display())]
    NotAFolder(PathBuf),
    #[error("cannot read migrations folder `{}`: {source}", .path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ProjectError {
    pub fn hint(&self) -> &'static str {
        match self {
            ProjectError::NotFound(_) => {
                "run keel from the project root, pass `--dir <path>`, or create it with `keel revision -m \"...\"`"
            }
            ProjectError::NotAFolder(_) => {
                "pass `--dir` the folder that holds up/ and down/ (or set `dir` in keel.toml)"
            }
            ProjectError::Unreadable { .. } => "check the folder's permissions",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run holds one of these per migration: what 10,000 migrations cost.
    #[test]
    fn a_migration_record_stays_small() {
        assert!(std::mem::size_of::<Migration>() <= 120);
        assert_eq!(std::mem::size_of::<Version>(), 24);
    }
}
