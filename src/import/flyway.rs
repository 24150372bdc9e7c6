//! Flyway: SQL migrations found anywhere below the location (Flyway searches it recursively).
//!
//! - `V<version>__<description>.sql`: a versioned migration, the up.
//! - `U<version>__<description>.sql`: its undo migration (Flyway Teams), the down; without
//!   one the migration cannot be reverted.
//! - `R__<description>.sql`: a repeatable migration, re-run whenever it changes. keel has no
//!   such thing: it is listed as not imported.
//! - `B<version>__<description>.sql`: a baseline migration, which stands for the versions
//!   before it on a new database: not imported (the versioned history is).
//! - `<script>.sql.conf` next to a script: `executeInTransaction=false` runs it outside a
//!   transaction; other settings are not carried over.
//!
//! A Flyway version may have parts (`1.1`, `1_1`, `2023.01.15`), which no whole-number keel
//! version can hold in the same order: such a file is an `import-version` error naming it.

use super::source::{Entry, EntryKind, SourceDir, MAX_SETTINGS_SIZE};
use super::{pair, usable_file, version, ImportedFile, ImportedMigration, Named, Scan, Side};
use crate::diagnostic::{codes, Diagnostic};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How deep below the location Flyway's files are looked for.
const MAX_DEPTH: usize = 16;

/// What a file name is to Flyway.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Name<'a> {
    Script {
        side: Side,
        version: &'a str,
        description: &'a str,
    },
    Repeatable,
    Baseline,
    /// `<script>.sql.conf`.
    Settings,
    Other,
}

pub(super) fn parse_name(name: &str) -> Name<'_> {
    if name.ends_with(".sql.conf") {
        return Name::Settings;
    }
    let Some(stem) = name.strip_suffix(".sql") else {
        return Name::Other;
    };
    if stem.starts_with("R__") {
        return Name::Repeatable;
    }
    let side = match stem.as_bytes().first() {
        Some(b'V') => Side::Up,
        Some(b'U') => Side::Down,
        Some(b'B') => {
            let is_version = stem[1..]
                .split_once("__")
                .is_some_and(|(v, _)| is_dotted(v));
            return if is_version {
                Name::Baseline
            } else {
                Name::Other
            };
        }
        _ => return Name::Other,
    };
    match stem[1..].split_once("__") {
        Some((version, description)) => Name::Script {
            side,
            version,
            description,
        },
        None => Name::Other,
    }
}

/// `1.1`, `1_1`, `2023.01.15`: digits in parts, as Flyway writes a version with parts.
fn is_dotted(v: &str) -> bool {
    !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'_')
        && v.bytes().next().is_some_and(|b| b.is_ascii_digit())
}

/// What a `.sql.conf` file says: `executeInTransaction`, and the settings not carried over.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Settings {
    pub execute_in_transaction: Option<bool>,
    pub ignored: Vec<String>,
}

/// Reads a script configuration file (`key=value` lines, `#` comments).
pub(super) fn parse_settings(text: &str) -> Settings {
    let mut s = Settings::default();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
            Some(("executeInTransaction", v)) if v.eq_ignore_ascii_case("false") => {
                s.execute_in_transaction = Some(false)
            }
            Some(("executeInTransaction", v)) if v.eq_ignore_ascii_case("true") => {
                s.execute_in_transaction = Some(true)
            }
            _ => s.ignored.push(line.to_string()),
        }
    }
    s
}

pub(super) fn read(dir: &SourceDir, scan: &mut Scan) {
    let mut named = Vec::new();
    let mut settings: BTreeMap<PathBuf, Entry> = BTreeMap::new();
    walk(dir, Path::new(""), 0, scan, &mut named, &mut settings);
    for p in pair(dir, named, scan) {
        let Some(up) = script(dir, &p.up, &mut settings, scan) else {
            continue;
        };
        let down = match &p.down {
            Some(d) => match script(dir, d, &mut settings, scan) {
                Some(f) => Some(f),
                None => continue,
            },
            None => None,
        };
        let mut notes = Vec::new();
        for (side, f) in [("up", Some(&up)), ("down", down.as_ref())] {
            let Some((_, ignored)) = f else { continue };
            notes.extend(
                ignored
                    .iter()
                    .map(|line| format!("{side}: setting `{line}` is not carried over")),
            );
        }
        let (up, down) = (up.0, down.map(|d| d.0));
        for (side, f) in [("up", Some(&up)), ("down", down.as_ref())] {
            if f.is_some_and(|f| f.body.text().contains("${")) {
                notes.push(format!(
                    "{side}: `${{...}}` looks like a Flyway placeholder, which keel does not replace: check the imported SQL"
                ));
            }
        }
        scan.migrations.push(ImportedMigration {
            version: p.version,
            description: p.description,
            up,
            down,
            notes,
        });
    }
    for conf in settings.values() {
        scan.skip(dir, conf, "a script configuration file without its script");
    }
}

/// Lists `sub` and everything below it.
fn walk(
    dir: &SourceDir,
    sub: &Path,
    depth: usize,
    scan: &mut Scan,
    named: &mut Vec<Named>,
    settings: &mut BTreeMap<PathBuf, Entry>,
) {
    let entries = match dir.list(sub) {
        Ok(e) => e,
        Err(d) => return scan.problems.push(*d),
    };
    for entry in entries {
        if entry.kind == EntryKind::Dir {
            if depth < MAX_DEPTH {
                walk(dir, &entry.rel, depth + 1, scan, named, settings);
            } else {
                scan.skip(dir, &entry, format!("more than {MAX_DEPTH} folders deep"));
            }
            continue;
        }
        match parse_name(&entry.name) {
            Name::Script {
                side,
                version: digits,
                description,
            } => {
                if !usable_file(dir, &entry, scan) {
                    continue;
                }
                let version = if digits.bytes().all(|b| b.is_ascii_digit()) && !digits.is_empty()
                {
                    version(dir, &entry.rel, digits)
                } else {
                    Err(Box::new(not_whole(dir, &entry, digits)))
                };
                match version {
                    Ok(version) => named.push(Named {
                        version,
                        description: description.to_string(),
                        side,
                        entry,
                    }),
                    Err(d) => scan.problems.push(*d),
                }
            }
            Name::Repeatable => scan.skip(
                dir,
                &entry,
                "a Flyway repeatable migration: keel has no repeatable migrations, so it is not imported (run it by hand, or make it a versioned migration)",
            ),
            Name::Baseline => scan.skip(
                dir,
                &entry,
                "a Flyway baseline migration: the versioned migrations it stands for are imported instead",
            ),
            Name::Settings => {
                let script_name = entry.name.strip_suffix(".conf").unwrap_or(&entry.name);
                let script = entry.rel.with_file_name(script_name);
                settings.insert(script, entry);
            }
            Name::Other => scan.skip(
                dir,
                &entry,
                "not a Flyway versioned or undo migration (`V<version>__<description>.sql`, `U...`)",
            ),
        }
    }
}

/// The `import-version` error of a Flyway version that is not a whole number.
fn not_whole(dir: &SourceDir, entry: &Entry, digits: &str) -> Diagnostic {
    let message = if is_dotted(digits) {
        format!(
            "Flyway version `{digits}` has parts: a keel version is one whole number, so this migration cannot be imported"
        )
    } else {
        format!("`{digits}` is not a Flyway version, so Flyway cannot read this file either")
    };
    Diagnostic::error(codes::IMPORT_VERSION, message)
        .with_path(&dir.shown(&entry.rel))
        .with_hint("renumber the Flyway migrations with whole numbers in the same order (`V1_1__x.sql` → `V2__x.sql`, shifting the later ones), then import again")
}

/// A script with its settings applied, and the settings not carried over.
fn script(
    dir: &SourceDir,
    entry: &Entry,
    settings: &mut BTreeMap<PathBuf, Entry>,
    scan: &mut Scan,
) -> Option<(ImportedFile, Vec<String>)> {
    let text = scan.read(dir, entry)?;
    let mut file = ImportedFile::whole(text);
    let mut ignored = Vec::new();
    if let Some(conf) = settings.remove(&entry.rel) {
        let conf_text = match dir.read_at_most(&conf, MAX_SETTINGS_SIZE) {
            Ok(t) => t,
            Err(d) => {
                scan.problems.push(*d);
                return None;
            }
        };
        let s = parse_settings(&conf_text.text);
        file.transaction_off = s.execute_in_transaction == Some(false);
        ignored = s.ignored;
    }
    Some((file, ignored))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::Tool;

    #[test]
    fn names() {
        assert_eq!(
            parse_name("V1__init.sql"),
            Name::Script {
                side: Side::Up,
                version: "1",
                description: "init"
            }
        );
        assert_eq!(
            parse_name("U002__add_users_table.sql"),
            Name::Script {
                side: Side::Down,
                version: "002",
                description: "add_users_table"
            }
        );
        assert_eq!(
            parse_name("V1_1__x.sql"),
            Name::Script {
                side: Side::Up,
                version: "1_1",
                description: "x"
            }
        );
        assert_eq!(parse_name("R__views.sql"), Name::Repeatable);
        assert_eq!(parse_name("B5__baseline.sql"), Name::Baseline);
        assert_eq!(parse_name("Bootstrap__x.sql"), Name::Other);
        assert_eq!(parse_name("V1__x.sql.conf"), Name::Settings);
        assert_eq!(parse_name("afterMigrate.sql"), Name::Other);
        assert_eq!(parse_name("V1_init.sql"), Name::Other);
    }

    #[test]
    fn settings() {
        let s =
            parse_settings("# no transaction\nexecuteInTransaction = false\nencoding=ISO_8859_1\n");
        assert_eq!(s.execute_in_transaction, Some(false));
        assert_eq!(s.ignored, ["encoding=ISO_8859_1"]);
    }

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn reads_recursively_with_undo_and_settings() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(root, "V1__init.sql", "CREATE TABLE a (id int);");
        write(root, "U1__init.sql", "DROP TABLE a;");
        write(
            root,
            "v2/V2__index.sql",
            "CREATE INDEX CONCURRENTLY i ON a (id);",
        );
        write(
            root,
            "v2/V2__index.sql.conf",
            "executeInTransaction=false\n",
        );
        write(
            root,
            "R__views.sql",
            "CREATE OR REPLACE VIEW v AS SELECT 1;",
        );
        write(root, "V3__schema.sql", "CREATE SCHEMA ${schema};");
        let s = Tool::Flyway.read(&SourceDir::open(root).unwrap());
        assert!(s.problems.is_empty(), "{:?}", s.problems);
        assert_eq!(s.migrations.len(), 3);
        assert!(s.migrations[0].down.is_some());
        assert!(s.migrations[1].up.transaction_off && s.migrations[1].down.is_none());
        assert_eq!(
            s.migrations[1].up.body.file.rel,
            Path::new("v2/V2__index.sql")
        );
        assert!(s.migrations[2].notes[0].contains("placeholder"));
        assert_eq!(s.skipped.len(), 1);
        assert!(s.skipped[0].reason.contains("repeatable"));
    }

    #[test]
    fn a_version_with_parts_is_refused_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "V1__init.sql", "SELECT 1;");
        write(tmp.path(), "V1.1__more.sql", "SELECT 2;");
        write(tmp.path(), "V1_2__more.sql", "SELECT 3;");
        write(tmp.path(), "Vx__bad.sql", "SELECT 4;");
        let s = Tool::Flyway.read(&SourceDir::open(tmp.path()).unwrap());
        let found: Vec<_> = s
            .problems
            .iter()
            .map(|d| (d.code, d.path.clone().unwrap()))
            .collect();
        assert_eq!(
            found,
            [
                (codes::IMPORT_VERSION, tmp.path().join("V1.1__more.sql")),
                (codes::IMPORT_VERSION, tmp.path().join("V1_2__more.sql")),
                (codes::IMPORT_VERSION, tmp.path().join("Vx__bad.sql")),
            ]
        );
        assert!(s.problems[0].message.contains("`1.1` has parts"));
        assert!(s.problems[2].message.contains("not a Flyway version"));
    }
}
