//! sqlx-cli (`sqlx migrate add`): a flat folder, `migrations/` by default.
//!
//! - `<version>_<description>.sql`: a simple migration, up only (sqlx cannot revert it).
//! - `<version>_<description>.up.sql` and `.down.sql`: a reversible one.
//! - A file starting with `-- no-transaction` runs outside a transaction; the line is the
//!   directive, not SQL, and becomes `-- keel:transaction off`.
//!
//! As sqlx reads the folder (`sqlx-core/src/migrate/source.rs`): a `.sql` file whose name has
//! no `_` is not a migration, one whose part before the first `_` is not a number is an error.

use super::source::{Entry, EntryKind, SourceDir};
use super::{pair, usable_file, version, ImportedFile, ImportedMigration, Named, Scan, Side};
use crate::diagnostic::{codes, Diagnostic};
use std::path::Path;

/// What a file name is to sqlx.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Name<'a> {
    Migration {
        version: &'a str,
        description: &'a str,
        side: Side,
    },
    /// Named like a migration, but its version is not a number.
    BadVersion(&'a str),
    NotMigration,
}

pub(super) fn parse_name(name: &str) -> Name<'_> {
    let Some((version, rest)) = name.split_once('_') else {
        return Name::NotMigration;
    };
    if !rest.ends_with(".sql") {
        return Name::NotMigration;
    }
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return Name::BadVersion(version);
    }
    let (description, side) = if let Some(d) = rest.strip_suffix(".up.sql") {
        (d, Side::Up)
    } else if let Some(d) = rest.strip_suffix(".down.sql") {
        (d, Side::Down)
    } else {
        (rest.strip_suffix(".sql").unwrap_or(rest), Side::Up)
    };
    Name::Migration {
        version,
        description,
        side,
    }
}

/// The body of a sqlx file: all of it, less a leading `-- no-transaction` line, which turns
/// the transaction off.
pub(super) fn file(text: std::sync::Arc<super::SourceText>) -> ImportedFile {
    const NO_TX: &str = "-- no-transaction";
    // sqlx tests the very start of the file (`sql.starts_with("-- no-transaction")`).
    if text.text.starts_with(NO_TX) {
        let after = text.text.find('\n').map_or(text.text.len(), |i| i + 1);
        let len = text.text.len();
        ImportedFile {
            body: super::Body::new(text, after..len),
            transaction_off: true,
        }
    } else {
        ImportedFile::whole(text)
    }
}

pub(super) fn read(dir: &SourceDir, scan: &mut Scan) {
    let entries = match dir.list(Path::new("")) {
        Ok(e) => e,
        Err(d) => return scan.problems.push(*d),
    };
    let mut named = Vec::new();
    for entry in entries {
        match parse_name(&entry.name) {
            Name::NotMigration => skip(dir, &entry, scan),
            Name::BadVersion(v) => scan.problems.push(
                Diagnostic::error(
                    codes::IMPORT_VERSION,
                    format!("`{v}` before the first `_` is not a version number, so sqlx cannot read this file either"),
                )
                .with_path(&dir.shown(&entry.rel))
                .with_hint("name it `<version>_<description>.sql` (e.g. `20230101120000_add_users.sql`), or move it out of the folder"),
            ),
            Name::Migration {
                version: digits,
                description,
                side,
            } => {
                if !usable_file(dir, &entry, scan) {
                    continue;
                }
                match version(dir, &entry.rel, digits) {
                    Ok(version) => named.push(Named {
                        version,
                        description: description.to_string(),
                        side,
                        entry,
                    }),
                    Err(d) => scan.problems.push(*d),
                }
            }
        }
    }
    for p in pair(dir, named, scan) {
        let Some(up) = scan.read(dir, &p.up) else {
            continue;
        };
        let down = match &p.down {
            Some(d) => match scan.read(dir, d) {
                Some(t) => Some(file(t)),
                None => continue,
            },
            None => None,
        };
        scan.migrations.push(ImportedMigration {
            version: p.version,
            description: p.description,
            up: file(up),
            down,
            notes: Vec::new(),
        });
    }
}

fn skip(dir: &SourceDir, entry: &Entry, scan: &mut Scan) {
    let reason = match entry.kind {
        EntryKind::Dir => "a folder: sqlx reads only the files of the migrations folder",
        _ => "not a sqlx migration (`<version>_<description>.sql`)",
    };
    scan.skip(dir, entry, reason);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::Tool;

    #[test]
    fn names() {
        assert_eq!(
            parse_name("20230101120000_add_users.up.sql"),
            Name::Migration {
                version: "20230101120000",
                description: "add_users",
                side: Side::Up
            }
        );
        assert_eq!(
            parse_name("1_add_users.down.sql"),
            Name::Migration {
                version: "1",
                description: "add_users",
                side: Side::Down
            }
        );
        assert_eq!(
            parse_name("0002_seed data.sql"),
            Name::Migration {
                version: "0002",
                description: "seed data",
                side: Side::Up
            }
        );
        assert_eq!(parse_name("init.sql"), Name::NotMigration);
        assert_eq!(parse_name("1_notes.txt"), Name::NotMigration);
        assert_eq!(parse_name("v1_init.sql"), Name::BadVersion("v1"));
    }

    fn scan(files: &[(&str, &str)]) -> (Scan, tempfile::TempDir) {
        let tmp = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(tmp.path().join(name), text).unwrap();
        }
        let dir = SourceDir::open(tmp.path()).unwrap();
        (Tool::Sqlx.read(&dir), tmp)
    }

    #[test]
    fn reads_simple_and_reversible_migrations() {
        let (s, _tmp) = scan(&[
            ("1_init.sql", "CREATE TABLE a (id int);"),
            (
                "2_items.up.sql",
                "-- no-transaction\nCREATE INDEX CONCURRENTLY i ON a (id);\n",
            ),
            ("2_items.down.sql", "DROP INDEX i;"),
            ("README.md", "# migrations"),
        ]);
        assert!(s.problems.is_empty(), "{:?}", s.problems);
        assert_eq!(s.migrations.len(), 2);
        let (a, b) = (&s.migrations[0], &s.migrations[1]);
        assert!(a.down.is_none() && !a.up.transaction_off);
        assert!(b.up.transaction_off);
        assert_eq!(b.up.body.text(), "CREATE INDEX CONCURRENTLY i ON a (id);\n");
        assert!(!b.down.as_ref().unwrap().transaction_off);
        assert_eq!(b.description, "items");
        assert_eq!(s.skipped.len(), 1);
        assert!(s.skipped[0].path.ends_with("README.md"));
    }

    #[test]
    fn a_down_without_up_and_a_bad_version_are_problems() {
        let (s, _tmp) = scan(&[
            ("3_x.down.sql", "SELECT 1;"),
            ("abc_x.sql", "SELECT 1;"),
            ("4_x.sql", "SELECT 1;"),
            ("4_x.up.sql", "SELECT 1;"),
        ]);
        let codes: Vec<_> = s.problems.iter().map(|d| d.code).collect();
        assert_eq!(
            codes,
            [
                codes::IMPORT_VERSION,
                codes::IMPORT_LAYOUT,
                codes::DUPLICATE_VERSION
            ]
        );
        assert!(s.migrations.is_empty());
    }
}
