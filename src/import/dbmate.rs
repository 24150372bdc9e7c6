//! dbmate (`dbmate new`): `db/migrations/<version>_<name>.sql`, one file per migration with
//! a `-- migrate:up` section and an optional `-- migrate:down` section. `transaction:false`
//! after a marker (`-- migrate:up transaction:false`) runs that section outside a transaction.
//!
//! As dbmate reads them (`pkg/dbmate/migration.go`): a file is a migration when its name
//! starts with digits and ends in `.sql`; the markers are lines `--` `migrate:up` /
//! `migrate:down` (spaces allowed after `--`), the first of each counts, and a statement
//! outside both sections is an error. A missing or empty down section cannot be reverted.

use super::body::Body;
use super::source::{EntryKind, SourceDir};
use super::{usable_file, version, ImportedFile, ImportedMigration, Scan, Side, SourceText};
use crate::diagnostic::{codes, Diagnostic};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

/// A dbmate migration's version and name, from its file name (`^(\d+).*\.sql$`): the name is
/// what follows the digits and one `_`.
pub(super) fn parse_name(name: &str) -> Option<(&str, &str)> {
    let stem = name.strip_suffix(".sql")?;
    let digits_end = stem
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(stem.len());
    if digits_end == 0 {
        return None;
    }
    let (digits, rest) = stem.split_at(digits_end);
    Some((digits, rest.strip_prefix('_').unwrap_or(rest)))
}

/// One section of a dbmate file.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Section {
    /// Byte range of its SQL: after its marker line, up to the other marker or the end.
    pub body: Range<usize>,
    pub transaction_off: bool,
    /// Options after the marker other than `transaction:`, which dbmate ignores too.
    pub ignored: Vec<String>,
}

/// The sections of a dbmate file.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Sections {
    pub up: Section,
    pub down: Option<Section>,
}

/// Why a file is not a dbmate migration, and where.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum SectionError {
    MissingUp,
    /// A statement before the first marker, at this byte range.
    Outside(Range<usize>),
}

/// A marker line: its side and what follows `migrate:up` / `migrate:down`.
fn marker(line: &str) -> Option<(Side, &str)> {
    let rest = line.strip_prefix("--")?.trim_start();
    let rest = rest.strip_prefix("migrate:")?;
    let (side, options) = if let Some(o) = rest.strip_prefix("up") {
        (Side::Up, o)
    } else {
        (Side::Down, rest.strip_prefix("down")?)
    };
    // `-- migrate:upgrade` is a comment, not a marker.
    if !options.is_empty() && !options.starts_with(char::is_whitespace) {
        return None;
    }
    Some((side, options))
}

/// Splits a dbmate file (LF line ends) into its sections.
pub(super) fn sections(text: &str) -> Result<Sections, SectionError> {
    // (side, start of the marker line, start of the section, options)
    let mut markers: Vec<(Side, usize, usize, &str)> = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        if let Some((side, options)) = marker(line.trim_end_matches('\n')) {
            if !markers.iter().any(|m| m.0 == side) {
                markers.push((side, start, offset, options));
            }
        }
    }
    let first = markers.first().map_or(text.len(), |m| m.1);
    if let Some(found) = crate::sql::split::split(&text[..first]).next() {
        let at = found.map_or(0, |s| s.text.start);
        let end = text[at..first].find('\n').map_or(first, |i| at + i);
        return Err(SectionError::Outside(at..end));
    }
    let section = |i: usize| {
        let (_, _, start, options) = markers[i];
        let end = markers.get(i + 1).map_or(text.len(), |m| m.1);
        let mut section = Section {
            body: start..end,
            transaction_off: false,
            ignored: Vec::new(),
        };
        for option in options.split_whitespace() {
            match option {
                "transaction:false" => section.transaction_off = true,
                "transaction:true" => section.transaction_off = false,
                other => section.ignored.push(other.to_string()),
            }
        }
        section
    };
    let up = markers
        .iter()
        .position(|m| m.0 == Side::Up)
        .ok_or(SectionError::MissingUp)?;
    let down = markers.iter().position(|m| m.0 == Side::Down);
    Ok(Sections {
        up: section(up),
        down: down.map(section),
    })
}

pub(super) fn read(dir: &SourceDir, scan: &mut Scan) {
    let entries = match dir.list(Path::new("")) {
        Ok(e) => e,
        Err(d) => return scan.problems.push(*d),
    };
    for entry in entries {
        let Some((digits, name)) = parse_name(&entry.name) else {
            let reason = match entry.kind {
                EntryKind::Dir => "a folder: dbmate reads only the files of its migrations folder",
                _ => "not a dbmate migration (`<version>_<name>.sql`)",
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
        let Some(text) = scan.read(dir, &entry) else {
            continue;
        };
        match sections(&text.text) {
            Ok(s) => scan
                .migrations
                .push(migration(version, description, &text, s)),
            Err(e) => scan.problems.push(section_error(&text, e)),
        }
    }
}

fn migration(
    version: crate::project::Version,
    description: String,
    text: &Arc<SourceText>,
    s: Sections,
) -> ImportedMigration {
    let mut notes = Vec::new();
    let mut file = |side: &str, section: Section| {
        for option in &section.ignored {
            notes.push(format!(
                "{side}: option `{option}` after `-- migrate:{side}` is not carried over (dbmate ignores it too)"
            ));
        }
        ImportedFile {
            body: Body::new(text.clone(), section.body),
            transaction_off: section.transaction_off,
        }
    };
    let up = file("up", s.up);
    let down = s.down.map(|d| file("down", d));
    ImportedMigration {
        version,
        description,
        up,
        down,
        notes,
    }
}

fn section_error(text: &SourceText, e: SectionError) -> Diagnostic {
    match e {
        SectionError::MissingUp => Diagnostic::error(
            codes::IMPORT_LAYOUT,
            "no `-- migrate:up` line: dbmate cannot run this file either",
        )
        .with_path(&text.shown)
        .with_hint("start the migration's SQL with a line `-- migrate:up` (and its inverse with `-- migrate:down`)"),
        SectionError::Outside(at) => Diagnostic::error(
            codes::IMPORT_LAYOUT,
            "a statement before `-- migrate:up`: dbmate refuses statements outside its sections",
        )
        .at(&text.shown, &text.text, at)
        .with_hint("move it below `-- migrate:up` (or `-- migrate:down`) in the source file"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::Tool;

    #[test]
    fn names() {
        assert_eq!(
            parse_name("20230101120000_create_users.sql"),
            Some(("20230101120000", "create_users"))
        );
        assert_eq!(
            parse_name("20230101120000.sql"),
            Some(("20230101120000", ""))
        );
        assert_eq!(parse_name("create_users.sql"), None);
        assert_eq!(parse_name("20230101120000_x.txt"), None);
    }

    #[test]
    fn sections_and_options() {
        let text = "-- a comment\n-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (a);\n\n--migrate:down foo:bar\nDROP INDEX i;\n";
        let s = sections(text).unwrap();
        assert_eq!(
            &text[s.up.body.clone()],
            "CREATE INDEX CONCURRENTLY i ON t (a);\n\n"
        );
        assert!(s.up.transaction_off);
        let down = s.down.unwrap();
        assert_eq!(&text[down.body.clone()], "DROP INDEX i;\n");
        assert!(!down.transaction_off);
        assert_eq!(down.ignored, ["foo:bar"]);
    }

    #[test]
    fn down_first_missing_down_and_errors() {
        let text = "-- migrate:down\nDROP TABLE t;\n-- migrate:up\nCREATE TABLE t ();\n";
        let s = sections(text).unwrap();
        assert_eq!(&text[s.up.body.clone()], "CREATE TABLE t ();\n");
        assert_eq!(&text[s.down.unwrap().body], "DROP TABLE t;\n");
        let s = sections("-- migrate:up\nSELECT 1;").unwrap();
        assert!(s.down.is_none());
        assert_eq!(sections("SELECT 1;\n"), Err(SectionError::Outside(0..9)));
        assert_eq!(
            sections("-- migrate:upgrade\n-- migrate:down\n"),
            Err(SectionError::MissingUp)
        );
        assert_eq!(
            sections("\nSELECT 1;\n-- migrate:up\nSELECT 2;"),
            Err(SectionError::Outside(1..10))
        );
    }

    #[test]
    fn reads_a_folder() {
        let tmp = tempfile::tempdir().unwrap();
        for (name, text) in [
            (
                "20230101000000_a.sql",
                "-- migrate:up\nCREATE TABLE a ();\n-- migrate:down\n",
            ),
            ("20230102000000_b.sql", "CREATE TABLE b ();\n"),
            ("schema.sql", "CREATE TABLE a ();\n"),
        ] {
            std::fs::write(tmp.path().join(name), text).unwrap();
        }
        let s = Tool::Dbmate.read(&SourceDir::open(tmp.path()).unwrap());
        assert_eq!(s.migrations.len(), 1);
        assert_eq!(s.migrations[0].up.body.text(), "CREATE TABLE a ();\n");
        assert_eq!(s.migrations[0].down.as_ref().unwrap().body.text(), "");
        assert_eq!(s.problems.len(), 1);
        assert_eq!(
            (s.problems[0].code, s.problems[0].line),
            (codes::IMPORT_LAYOUT, Some(1))
        );
        assert_eq!(s.skipped.len(), 1);
    }
}
