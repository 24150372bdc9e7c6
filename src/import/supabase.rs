//! The Supabase CLI (`supabase migration new`): `supabase/migrations/<timestamp>_<name>.sql`,
//! up only. Supabase has no down migrations, so every keel down is `-- keel:irreversible`.
//! Names that do not match `^([0-9]+)_(.*)\.sql$` the CLI skips with a warning, and so does
//! the import.

use super::source::{EntryKind, SourceDir};
use super::{usable_file, version, ImportedFile, ImportedMigration, Scan};
use std::path::Path;

/// A Supabase migration's timestamp and name, from its file name.
pub(super) fn parse_name(name: &str) -> Option<(&str, &str)> {
    let (digits, rest) = name.split_once('_')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((digits, rest.strip_suffix(".sql")?))
}

pub(super) fn read(dir: &SourceDir, scan: &mut Scan) {
    let entries = match dir.list(Path::new("")) {
        Ok(e) => e,
        Err(d) => return scan.problems.push(*d),
    };
    for entry in entries {
        let Some((digits, name)) = parse_name(&entry.name) else {
            let reason = match entry.kind {
                EntryKind::Dir => "a folder: Supabase reads only the files of supabase/migrations",
                _ => "not a Supabase migration (`<timestamp>_<name>.sql`)",
            };
            scan.skip(dir, &entry, reason);
            continue;
        };
        if !usable_file(dir, &entry, scan) {
            continue;
        }
        let version = match version(dir, &entry.rel, digits) {
            Ok(v) => v,
            Err(d) => {
                scan.problems.push(*d);
                continue;
            }
        };
        let description = name.to_string();
        if let Some(text) = scan.read(dir, &entry) {
            scan.migrations.push(ImportedMigration {
                version,
                description,
                up: ImportedFile::whole(text),
                down: None,
                notes: Vec::new(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::Tool;

    #[test]
    fn names() {
        assert_eq!(
            parse_name("20240101000000_create_profiles.sql"),
            Some(("20240101000000", "create_profiles"))
        );
        assert_eq!(parse_name("20240101000000_x.sql.bak"), None);
        assert_eq!(parse_name("seed.sql"), None);
        assert_eq!(parse_name("x_seed.sql"), None);
    }

    #[test]
    fn every_migration_is_up_only() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("20240101000000_a.sql"), "SELECT 1;").unwrap();
        std::fs::write(tmp.path().join("notes.txt"), "").unwrap();
        let s = Tool::Supabase.read(&SourceDir::open(tmp.path()).unwrap());
        assert!(s.problems.is_empty());
        assert_eq!(s.migrations.len(), 1);
        assert!(s.migrations[0].down.is_none());
        assert_eq!(s.skipped.len(), 1);
    }
}
