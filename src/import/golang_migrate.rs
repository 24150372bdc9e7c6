//! golang-migrate (`migrate create -ext sql`): a flat folder of
//! `<version>_<title>.up.sql` and `<version>_<title>.down.sql`. A version without a down file
//! cannot be reverted.
//!
//! golang-migrate has no transaction setting: it sends a file as it is, so files that want one
//! wrap themselves in `BEGIN; ... COMMIT;`, which the shared preparation removes. Names it
//! cannot parse it ignores (`source/parse.go`), and so does the import (they are listed as
//! skipped); files of another extension (`.up.json` for MongoDB, ...) likewise.

use super::source::{Entry, EntryKind, SourceDir};
use super::{pair, usable_file, version, ImportedFile, ImportedMigration, Named, Scan, Side};
use std::path::Path;

/// A golang-migrate SQL migration's version, title and side, from its file name
/// (`^([0-9]+)_(.*)\.(down|up)\.sql$`).
pub(super) fn parse_name(name: &str) -> Option<(&str, &str, Side)> {
    let (digits, rest) = name.split_once('_')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some(title) = rest.strip_suffix(".up.sql") {
        Some((digits, title, Side::Up))
    } else {
        rest.strip_suffix(".down.sql")
            .map(|title| (digits, title, Side::Down))
    }
}

pub(super) fn read(dir: &SourceDir, scan: &mut Scan) {
    let entries = match dir.list(Path::new("")) {
        Ok(e) => e,
        Err(d) => return scan.problems.push(*d),
    };
    let mut named = Vec::new();
    for entry in entries {
        let Some((digits, title, side)) = parse_name(&entry.name) else {
            skip(dir, &entry, scan);
            continue;
        };
        if !usable_file(dir, &entry, scan) {
            continue;
        }
        match version(dir, &entry.rel, digits) {
            Ok(version) => named.push(Named {
                version,
                description: title.to_string(),
                side,
                entry,
            }),
            Err(d) => scan.problems.push(*d),
        }
    }
    for p in pair(dir, named, scan) {
        let Some(up) = scan.read(dir, &p.up) else {
            continue;
        };
        let down = match &p.down {
            Some(d) => match scan.read(dir, d) {
                Some(t) => Some(ImportedFile::whole(t)),
                None => continue,
            },
            None => None,
        };
        scan.migrations.push(ImportedMigration {
            version: p.version,
            description: p.description,
            up: ImportedFile::whole(up),
            down,
            notes: Vec::new(),
        });
    }
}

fn skip(dir: &SourceDir, entry: &Entry, scan: &mut Scan) {
    let reason = match entry.kind {
        EntryKind::Dir => "a folder: golang-migrate reads only the files of the migrations folder",
        _ => "not a golang-migrate SQL migration (`<version>_<title>.up.sql` or `.down.sql`)",
    };
    scan.skip(dir, entry, reason);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::codes;
    use crate::import::Tool;

    #[test]
    fn names() {
        assert_eq!(
            parse_name("000001_create_users.up.sql"),
            Some(("000001", "create_users", Side::Up))
        );
        assert_eq!(
            parse_name("1700000000_x.y.down.sql"),
            Some(("1700000000", "x.y", Side::Down))
        );
        assert_eq!(parse_name("000001_create_users.sql"), None);
        assert_eq!(parse_name("000001_create_users.up.json"), None);
        assert_eq!(parse_name("create_users.up.sql"), None);
    }

    #[test]
    fn reads_pairs_and_ups_without_downs() {
        let tmp = tempfile::tempdir().unwrap();
        for (name, text) in [
            (
                "000001_a.up.sql",
                "BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\n",
            ),
            ("000001_a.down.sql", "DROP TABLE a;\n"),
            ("000002_b.up.sql", "CREATE TABLE b (id int);\n"),
            ("000003_c.down.sql", "SELECT 1;\n"),
            ("999999999999999999999_d.up.sql", "SELECT 1;\n"),
        ] {
            std::fs::write(tmp.path().join(name), text).unwrap();
        }
        let dir = SourceDir::open(tmp.path()).unwrap();
        let s = Tool::GolangMigrate.read(&dir);
        let versions: Vec<String> = s.migrations.iter().map(|m| m.version.digits()).collect();
        assert_eq!(versions, ["000001", "000002"]);
        assert!(s.migrations[0].down.is_some() && s.migrations[1].down.is_none());
        let codes: Vec<_> = s.problems.iter().map(|d| d.code).collect();
        assert_eq!(codes, [codes::IMPORT_VERSION, codes::IMPORT_LAYOUT]);
    }
}
