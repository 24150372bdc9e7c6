//! diesel (`diesel migration generate`): one folder per migration, `migrations/<version>_<name>/`
//! with `up.sql`, `down.sql` (optional since diesel 2.1's `--no-down`: without it the
//! migration cannot be reverted) and an optional `metadata.toml`, whose
//! `run_in_transaction = false` runs both files outside a transaction.
//!
//! The version is the folder name before the first `_` without its dashes, as diesel reads it:
//! `2023-01-01-000000_create_users` is `20230101000000`, and diesel's own
//! `00000000000000_diesel_initial_setup` is version 0 written with 14 digits.

use super::source::{EntryKind, SourceDir, MAX_SETTINGS_SIZE};
use super::{usable_file, version, ImportedFile, ImportedMigration, Scan};
use crate::diagnostic::{codes, Diagnostic};
use std::path::Path;

/// A diesel migration folder's version digits (dashes removed) and name.
pub(super) fn parse_folder_name(name: &str) -> Option<(String, &str)> {
    let (version, rest) = name.split_once('_').unwrap_or((name, ""));
    let digits: String = version.chars().filter(|&c| c != '-').collect();
    let is_version = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && version.starts_with(|c: char| c.is_ascii_digit());
    is_version.then_some((digits, rest))
}

/// What `metadata.toml` says: whether to run in a transaction, and the keys not carried over.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Metadata {
    pub run_in_transaction: bool,
    pub ignored: Vec<String>,
}

/// Reads `metadata.toml`; the error is the message to show.
pub(super) fn parse_metadata(text: &str) -> Result<Metadata, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| e.message().to_string())?;
    let mut m = Metadata {
        run_in_transaction: true,
        ignored: Vec::new(),
    };
    for (key, value) in table {
        match (key.as_str(), value) {
            ("run_in_transaction", toml::Value::Boolean(b)) => m.run_in_transaction = b,
            ("run_in_transaction", other) => {
                return Err(format!(
                    "`run_in_transaction` must be true or false, not `{other}`"
                ))
            }
            (other, _) => m.ignored.push(other.to_string()),
        }
    }
    Ok(m)
}

pub(super) fn read(dir: &SourceDir, scan: &mut Scan) {
    let entries = match dir.list(Path::new("")) {
        Ok(e) => e,
        Err(d) => return scan.problems.push(*d),
    };
    for entry in entries {
        match &entry.kind {
            EntryKind::Dir => {}
            EntryKind::File => {
                scan.skip(
                    dir,
                    &entry,
                    "a file: diesel's migrations are folders (`<version>_<name>/up.sql`)",
                );
                continue;
            }
            EntryKind::Unusable(_) => {
                usable_file(dir, &entry, scan);
                continue;
            }
        }
        let Some((digits, name)) = parse_folder_name(&entry.name) else {
            scan.problems.push(
                Diagnostic::error(
                    codes::IMPORT_VERSION,
                    "this folder's name does not start with a version (digits, dashes allowed, then `_`), which diesel would still read as a migration",
                )
                .with_path(&dir.shown(&entry.rel))
                .with_hint("name it `<version>_<name>` (e.g. `2023-01-01-000000_create_users`), or move it out of the migrations folder"),
            );
            continue;
        };
        let version = match version(dir, &entry.rel, &digits) {
            Ok(v) => v,
            Err(d) => {
                scan.problems.push(*d);
                continue;
            }
        };
        if let Some(m) = migration(dir, &entry.rel, version, name, scan) {
            scan.migrations.push(m);
        }
    }
}

/// The migration in the folder `rel`.
fn migration(
    dir: &SourceDir,
    rel: &Path,
    version: crate::project::Version,
    name: &str,
    scan: &mut Scan,
) -> Option<ImportedMigration> {
    let files = match dir.list(rel) {
        Ok(f) => f,
        Err(d) => {
            scan.problems.push(*d);
            return None;
        }
    };
    let (mut up, mut down, mut metadata) = (None, None, None);
    for f in files {
        let slot = match f.name.as_str() {
            "up.sql" => &mut up,
            "down.sql" => &mut down,
            "metadata.toml" => &mut metadata,
            _ => {
                scan.skip(
                    dir,
                    &f,
                    "not read by diesel (`up.sql`, `down.sql`, `metadata.toml`)",
                );
                continue;
            }
        };
        if usable_file(dir, &f, scan) {
            *slot = Some(f);
        } else {
            return None;
        }
    }
    let Some(up) = up else {
        scan.layout(
            dir,
            rel,
            "a diesel migration folder without `up.sql`".to_string(),
            "add its `up.sql`, or move the folder out of the migrations folder",
        );
        return None;
    };
    let mut notes = Vec::new();
    let mut transaction_off = false;
    if let Some(m) = metadata {
        let text = match dir.read_at_most(&m, MAX_SETTINGS_SIZE) {
            Ok(t) => t,
            Err(d) => {
                scan.problems.push(*d);
                return None;
            }
        };
        match parse_metadata(&text.text) {
            Ok(meta) => {
                transaction_off = !meta.run_in_transaction;
                notes.extend(
                    meta.ignored
                        .iter()
                        .map(|k| format!("`{k}` in `{}` is not carried over", text.rel.display())),
                );
            }
            Err(message) => {
                scan.layout(
                    dir,
                    &m.rel,
                    format!("cannot read diesel's metadata: {message}"),
                    "write `run_in_transaction = false` (or true), as diesel reads it",
                );
                return None;
            }
        }
    }
    let up = scan.read(dir, &up)?;
    let down = match down {
        Some(d) => Some(scan.read(dir, &d)?),
        None => None,
    };
    let file = |text| ImportedFile {
        transaction_off,
        ..ImportedFile::whole(text)
    };
    Some(ImportedMigration {
        version,
        description: name.to_string(),
        up: file(up),
        down: down.map(file),
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::Tool;

    #[test]
    fn folder_names() {
        assert_eq!(
            parse_folder_name("2023-01-01-000000_create_users"),
            Some(("20230101000000".to_string(), "create_users"))
        );
        assert_eq!(
            parse_folder_name("00000000000000_diesel_initial_setup"),
            Some(("00000000000000".to_string(), "diesel_initial_setup"))
        );
        assert_eq!(
            parse_folder_name("20230101000000"),
            Some(("20230101000000".to_string(), ""))
        );
        assert_eq!(parse_folder_name("-1_x"), None);
        assert_eq!(parse_folder_name("v1_x"), None);
    }

    #[test]
    fn metadata() {
        assert_eq!(
            parse_metadata("run_in_transaction = false\n"),
            Ok(Metadata {
                run_in_transaction: false,
                ignored: vec![]
            })
        );
        assert!(parse_metadata("").unwrap().run_in_transaction);
        assert!(parse_metadata("run_in_transaction = \"no\"").is_err());
        assert!(parse_metadata("run_in_transaction = ").is_err());
    }

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn reads_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(
            root,
            "00000000000000_diesel_initial_setup/up.sql",
            "SELECT 1;",
        );
        write(
            root,
            "00000000000000_diesel_initial_setup/down.sql",
            "SELECT 2;",
        );
        write(
            root,
            "2023-01-01-000000_idx/up.sql",
            "CREATE INDEX CONCURRENTLY i ON t (a);",
        );
        write(
            root,
            "2023-01-01-000000_idx/down.sql",
            "DROP INDEX CONCURRENTLY i;",
        );
        write(
            root,
            "2023-01-01-000000_idx/metadata.toml",
            "run_in_transaction = false",
        );
        write(root, "2023-01-02-000000_no_down/up.sql", "SELECT 3;");
        write(root, "2023-01-03-000000_no_up/down.sql", "SELECT 4;");
        write(root, ".keep", "");
        let s = Tool::Diesel.read(&SourceDir::open(root).unwrap());
        let versions: Vec<String> = s.migrations.iter().map(|m| m.version.digits()).collect();
        assert_eq!(
            versions,
            ["00000000000000", "20230101000000", "20230102000000"]
        );
        assert_eq!(s.migrations[0].version.number(), 0);
        let idx = &s.migrations[1];
        assert!(idx.up.transaction_off && idx.down.as_ref().unwrap().transaction_off);
        assert_eq!(
            idx.up.body.file.rel,
            Path::new("2023-01-01-000000_idx/up.sql")
        );
        assert!(s.migrations[2].down.is_none());
        let codes: Vec<_> = s.problems.iter().map(|d| d.code).collect();
        assert_eq!(codes, [codes::IMPORT_LAYOUT]);
        assert!(s.skipped.is_empty());
    }
}
