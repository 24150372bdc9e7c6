//! The source folder, read as input someone else controls: it may come from any repository.
//!
//! - Only regular files are read, opened without following a symbolic link and checked on the
//!   opened descriptor. A link is read only when it resolves inside the source folder (the
//!   boundary keel's own loader keeps, [`crate::project::layout::Root`]), and a link to a
//!   folder is never followed.
//! - A file over keel's own limit ([`MAX_FILE_SIZE`]) is refused unread; settings files
//!   (`metadata.toml`, `.sql.conf`) have a smaller one.
//! - A file that is not UTF-8 is an error naming it, at the line and column of the first bad
//!   byte, and so is a file name that is not UTF-8 or holds a control character (it would end
//!   up in a header line).
//!
//! Texts are kept with a BOM stripped and every line ending turned into LF. Lines and columns
//! count the same before and after (CRLF, CR and LF each end one line, and a BOM is no
//! column), so positions in the kept text are positions in the original file.

use crate::diagnostic::{codes, Diagnostic};
use crate::project::layout::{broken, Root};
use crate::project::MAX_FILE_SIZE;
use std::io;
use std::path::{Path, PathBuf};

/// The largest settings file read next to a migration (`metadata.toml`, `V1__x.sql.conf`).
pub const MAX_SETTINGS_SIZE: u64 = 1 << 20;

/// A source folder that exists and can be listed.
#[derive(Debug)]
pub struct SourceDir {
    /// As given on the command line: what output shows.
    path: PathBuf,
    root: Root,
}

/// The source folder itself cannot be used: a usage error (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("source folder `{}` does not exist", .0.display())]
    NotFound(PathBuf),
    #[error("`{}` is not a folder", .0.display())]
    NotADirectory(PathBuf),
    #[error("cannot read source folder `{}`: {source}", .path.display())]
    Unreadable { path: PathBuf, source: io::Error },
}

impl SourceError {
    pub fn hint(&self) -> &'static str {
        match self {
            SourceError::NotFound(_) | SourceError::NotADirectory(_) => {
                "pass the tool's migrations folder: `keel import TOOL PATH` (see docs/import.md for each tool's default)"
            }
            SourceError::Unreadable { .. } => "check the folder's permissions",
        }
    }
}

/// One entry of a listed folder.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Relative to the source folder.
    pub rel: PathBuf,
    /// The file name (lossy when it is not UTF-8; such an entry is [`EntryKind::Unusable`]).
    pub name: String,
    pub kind: EntryKind,
    /// A symbolic link (to a file inside the source folder, when `kind` is `File`).
    link: bool,
}

/// What an entry can be used as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File,
    /// A real folder (never a link to one).
    Dir,
    /// Cannot be read, and why: a link out of the folder, a broken link, a FIFO or device, a
    /// link to a folder, a name that is not UTF-8.
    Unusable(String),
}

/// A source file's text.
#[derive(Debug)]
pub struct SourceText {
    /// Relative to the source folder: what `-- keel:source` records.
    pub rel: PathBuf,
    /// The source folder joined with `rel`: what diagnostics and output show.
    pub shown: PathBuf,
    /// BOM stripped, line endings LF (see the module documentation).
    pub text: String,
}

impl SourceDir {
    /// The folder at `path`, which must exist and be readable.
    pub fn open(path: &Path) -> Result<SourceDir, SourceError> {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(SourceError::NotADirectory(path.to_path_buf())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(SourceError::NotFound(path.to_path_buf()))
            }
            Err(source) => {
                return Err(SourceError::Unreadable {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
        std::fs::read_dir(path).map_err(|source| SourceError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(SourceDir {
            path: path.to_path_buf(),
            root: Root::of(path),
        })
    }

    /// The folder as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `rel` as output shows it.
    pub fn shown(&self, rel: &Path) -> PathBuf {
        self.path.join(rel)
    }

    /// The entries of the sub-folder `sub` (`""` for the folder itself), ordered by name;
    /// names starting with `.` are left out (`.keep`, editors' files), as keel's own loader
    /// leaves them out.
    pub fn list(&self, sub: &Path) -> Result<Vec<Entry>, Box<Diagnostic>> {
        let dir = self.shown(sub);
        let unreadable = |e: io::Error| {
            Box::new(
                Diagnostic::error(codes::UNREADABLE, format!("cannot read this folder: {e}"))
                    .with_path(&dir)
                    .with_hint("check the folder's permissions"),
            )
        };
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(unreadable)? {
            let entry = entry.map_err(unreadable)?;
            let os_name = entry.file_name();
            if os_name.as_encoded_bytes().starts_with(b".") {
                continue;
            }
            let rel = sub.join(&os_name);
            let path = dir.join(&os_name);
            let name = os_name.to_string_lossy().into_owned();
            let file_type = entry.file_type().map_err(unreadable)?;
            let link = file_type.is_symlink();
            let kind = if os_name.to_str().is_none() {
                EntryKind::Unusable("its name is not valid UTF-8".into())
            } else if name.chars().any(char::is_control) {
                EntryKind::Unusable("its name contains a control character".into())
            } else if link {
                self.link_kind(&path)
            } else if file_type.is_file() {
                EntryKind::File
            } else if file_type.is_dir() {
                EntryKind::Dir
            } else {
                EntryKind::Unusable(not_regular(file_type))
            };
            out.push(Entry {
                rel,
                name,
                kind,
                link,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// What the symbolic link at `path` may be used as.
    fn link_kind(&self, path: &Path) -> EntryKind {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => return EntryKind::Unusable(broken(&e)),
        };
        if let Some(why) = self.root.refuses(path) {
            return EntryKind::Unusable(why);
        }
        if meta.is_file() {
            EntryKind::File
        } else if meta.is_dir() {
            EntryKind::Unusable("it is a symbolic link to a folder, which is not followed".into())
        } else {
            EntryKind::Unusable(not_regular(meta.file_type()))
        }
    }

    /// The text of a listed file, of at most [`MAX_FILE_SIZE`] bytes.
    pub fn read(&self, entry: &Entry) -> Result<SourceText, Box<Diagnostic>> {
        self.read_at_most(entry, MAX_FILE_SIZE)
    }

    /// The bytes of the file `rel`, exactly as stored (`keel adopt` recomputes another tool's
    /// checksum over them), of at most [`MAX_FILE_SIZE`] bytes. `rel` comes from a header
    /// someone else wrote: it must be a relative path without `..`, and the file must resolve
    /// inside the folder. The error is why it cannot be read.
    pub fn read_raw(&self, rel: &Path) -> Result<Vec<u8>, String> {
        use std::path::Component;
        if rel.as_os_str().is_empty()
            || !rel.components().all(|c| matches!(c, Component::Normal(_)))
        {
            return Err("it is not a path inside the folder".into());
        }
        let path = self.shown(rel);
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err("it does not exist".into()),
            Err(e) => return Err(e.to_string()),
            Ok(_) => {}
        }
        if let Some(why) = self.root.refuses(&path) {
            return Err(why);
        }
        crate::safe_fs::read_regular(&path, MAX_FILE_SIZE).map_err(|e| e.to_string())
    }

    /// The text of a listed file of at most `max` bytes.
    pub fn read_at_most(&self, entry: &Entry, max: u64) -> Result<SourceText, Box<Diagnostic>> {
        let shown = self.shown(&entry.rel);
        let error = |why: String| {
            Box::new(
                Diagnostic::error(codes::UNREADABLE, format!("cannot read this file: {why}"))
                    .with_path(&shown)
                    .with_hint("only regular files inside the source folder are imported"),
            )
        };
        if let EntryKind::Unusable(why) = &entry.kind {
            return Err(error(why.clone()));
        }
        let bytes = if entry.link {
            // Checked again: the link may have been changed since it was listed.
            if let Some(why) = self.root.refuses(&shown) {
                return Err(error(why));
            }
            crate::safe_fs::read_regular(&shown, max)
        } else {
            crate::safe_fs::read_regular_nofollow(&shown, max)
        };
        let bytes = bytes.map_err(|e| {
            if crate::safe_fs::is_symlink_error(&e) {
                error("it was replaced by a symbolic link after it was listed".into())
            } else {
                error(e.to_string())
            }
        })?;
        let text = crate::project::file::utf8_text(&shown, bytes)?;
        Ok(SourceText {
            rel: entry.rel.clone(),
            shown,
            text: normalize_line_ends(text),
        })
    }
}

/// Why a special file cannot be read.
fn not_regular(t: std::fs::FileType) -> String {
    use std::os::unix::fs::FileTypeExt;
    let what = if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "not a file"
    };
    format!("it is not a regular file ({what})")
}

/// `text` without a BOM and with CRLF and CR turned into LF.
fn normalize_line_ends(text: String) -> String {
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    };
    if !text.contains('\r') {
        return text;
    }
    text.replace("\r\n", "\n").replace('\r', "\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn lists_regular_files_and_refuses_links_out_of_the_folder() {
        let outer = tempfile::tempdir().unwrap();
        let dir = outer.path().join("migrations");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(outer.path().join("secret"), "x").unwrap();
        std::fs::write(dir.join("1_a.sql"), "\u{feff}SELECT 1;\r\nSELECT 2;\r").unwrap();
        std::fs::write(dir.join(".hidden"), "x").unwrap();
        symlink(outer.path().join("secret"), dir.join("2_out.sql")).unwrap();
        symlink(dir.join("1_a.sql"), dir.join("3_in.sql")).unwrap();
        symlink(dir.join("nowhere"), dir.join("4_broken.sql")).unwrap();
        symlink(dir.join("sub"), dir.join("5_dir")).unwrap();
        let src = SourceDir::open(&dir).unwrap();
        let entries = src.list(Path::new("")).unwrap();
        let kinds: Vec<(&str, bool)> = entries
            .iter()
            .map(|e| (e.name.as_str(), e.kind == EntryKind::File))
            .collect();
        assert_eq!(
            kinds,
            [
                ("1_a.sql", true),
                ("2_out.sql", false),
                ("3_in.sql", true),
                ("4_broken.sql", false),
                ("5_dir", false),
                ("sub", false),
            ]
        );
        assert_eq!(entries[5].kind, EntryKind::Dir);
        let text = src.read(&entries[0]).unwrap();
        assert_eq!(text.text, "SELECT 1;\nSELECT 2;\n");
        assert_eq!(text.shown, dir.join("1_a.sql"));
        assert_eq!(src.read(&entries[2]).unwrap().text, text.text);
        let refused = src.read(&entries[1]).unwrap_err();
        assert!(refused.message.contains("outside"), "{}", refused.message);
        assert_eq!(
            refused.path.as_deref(),
            Some(dir.join("2_out.sql").as_path())
        );
    }

    #[test]
    fn raw_reads_keep_the_bytes_and_stay_inside_the_folder() {
        let outer = tempfile::tempdir().unwrap();
        let dir = outer.path().join("migrations");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(outer.path().join("secret"), "x").unwrap();
        std::fs::write(dir.join("sub/1_a.sql"), "\u{feff}SELECT 1;\r\n").unwrap();
        symlink(outer.path().join("secret"), dir.join("out.sql")).unwrap();
        let src = SourceDir::open(&dir).unwrap();
        assert_eq!(
            src.read_raw(Path::new("sub/1_a.sql")).unwrap(),
            "\u{feff}SELECT 1;\r\n".as_bytes()
        );
        for bad in ["../secret", "/etc/passwd", "", "sub/../../secret"] {
            assert!(src.read_raw(Path::new(bad)).is_err(), "{bad}");
        }
        assert!(src
            .read_raw(Path::new("out.sql"))
            .unwrap_err()
            .contains("outside"));
        assert_eq!(
            src.read_raw(Path::new("nope.sql")).unwrap_err(),
            "it does not exist"
        );
    }

    #[test]
    fn non_utf8_and_oversize_files_are_errors_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("1_a.sql"), b"SELECT 1;\nSELECT '\xff';\n").unwrap();
        std::fs::write(dir.path().join("2_b.sql"), "SELECT 1;").unwrap();
        let src = SourceDir::open(dir.path()).unwrap();
        let entries = src.list(Path::new("")).unwrap();
        let d = src.read(&entries[0]).unwrap_err();
        assert_eq!(
            (d.code, d.line, d.column),
            (codes::NOT_UTF8, Some(2), Some(9))
        );
        let d = src.read_at_most(&entries[1], 4).unwrap_err();
        assert_eq!(d.code, codes::UNREADABLE);
        assert!(d.message.contains("larger than 4 bytes"), "{}", d.message);
    }

    #[test]
    fn a_missing_folder_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        assert!(matches!(
            SourceDir::open(&missing),
            Err(SourceError::NotFound(_))
        ));
        std::fs::write(&missing, "").unwrap();
        assert!(matches!(
            SourceDir::open(&missing),
            Err(SourceError::NotADirectory(_))
        ));
    }
}
