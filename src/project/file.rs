//! One SQL file: what keel knows of it without holding its text
//! ([`SqlFile`]), and its text once read and checked ([`SqlText`]).
//!
//! A run over 10,000 migrations holds 20,000 [`Facts`] and never more than
//! a few texts: every text is read through [`SqlFile::read`], which refuses
//! a file whose body is no longer the one that was checked.

use crate::diagnostic::{codes, Diagnostic};
use crate::header::{Checksum, Header, HeaderError, TransactionMode};
use std::path::{Path, PathBuf};

/// The largest SQL file keel reads (1 GiB): far above any real migration
/// (the benchmarks apply a 100 MB one), low enough that a planted sparse or
/// endless file is refused instead of filling memory.
pub const MAX_FILE_SIZE: u64 = 1 << 30;

/// What role a SQL file plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Up,
    Down,
    Policy,
    PolicyTest,
}

/// Whether a file's `-- keel:checksum` line matches its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seal {
    Sealed,
    /// No checksum line (or one that cannot be read).
    Missing,
    /// The body was edited after sealing.
    Stale,
}

/// What a run needs to know of a file, read once with its header: a plain
/// value with no text and no path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// The checksum of the body as read.
    pub checksum: Checksum,
    pub seal: Seal,
    pub transaction: TransactionMode,
    pub irreversible: bool,
}

impl Facts {
    /// A placeholder until the file is read.
    pub(super) const UNREAD: Facts = Facts {
        checksum: Checksum([0; 32]),
        seal: Seal::Missing,
        transaction: TransactionMode::On,
        irreversible: false,
    };

    fn of(header: &Header, checksum: Checksum) -> Facts {
        Facts {
            checksum,
            seal: match header.checksum() {
                Some(c) if c == checksum => Seal::Sealed,
                Some(_) => Seal::Stale,
                None => Seal::Missing,
            },
            transaction: header.transaction(),
            irreversible: header.irreversible(),
        }
    }
}

/// A SQL file as keel knows it between reads: where it is, its role and the
/// [`Facts`] found when it was first read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlFile {
    pub path: PathBuf,
    pub kind: FileKind,
    pub facts: Facts,
}

impl SqlFile {
    /// The file's text, read again and refused if its body is no longer the
    /// one that was checked (someone edited it while keel was running).
    pub fn read(&self) -> Result<SqlText, Box<Diagnostic>> {
        let mut diags = Vec::new();
        let Some(now) = read_file(self.path.clone(), self.kind, &mut diags) else {
            return Err(Box::new(diags.pop().unwrap_or_else(|| {
                Diagnostic::error(codes::UNREADABLE, "cannot read file").with_path(&self.path)
            })));
        };
        if now.facts.checksum != self.facts.checksum {
            return Err(Box::new(
                Diagnostic::error(
                    codes::CHANGED_DURING_RUN,
                    "the file changed while keel was running, after it was checked",
                )
                .with_path(&self.path)
                .with_hint("finish the edit (and `keel seal`), then run the command again"),
            ));
        }
        Ok(now)
    }
}

/// A SQL file with its text and parsed header, as read.
#[derive(Debug, Clone)]
pub struct SqlText {
    pub file: SqlFile,
    pub text: String,
    pub header: Header,
    /// Header lines that could not be read.
    pub header_errors: Vec<HeaderError>,
}

impl std::ops::Deref for SqlText {
    type Target = SqlFile;

    fn deref(&self) -> &SqlFile {
        &self.file
    }
}

impl SqlText {
    pub fn new(path: PathBuf, kind: FileKind, text: String) -> SqlText {
        let (header, header_errors) = Header::parse(&text);
        let checksum = Checksum::of_body(text.get(header.body_start..).unwrap_or_default());
        SqlText {
            file: SqlFile {
                path,
                kind,
                facts: Facts::of(&header, checksum),
            },
            text,
            header,
            header_errors,
        }
    }

    /// Everything after the header.
    pub fn body(&self) -> &str {
        self.text.get(self.header.body_start..).unwrap_or_default()
    }

    /// True when the body has no statement text at all (only blanks).
    pub fn body_is_blank(&self) -> bool {
        crate::header::normalized_lines(self.body())
            .next()
            .is_none()
    }
}

/// Why a listed file could not be read.
enum ReadError {
    Io(std::io::Error),
    /// It changed into a FIFO, socket or device since it was listed.
    NotRegular(std::fs::FileType),
    TooLarge(u64),
}

/// What a special file is, for an error message.
fn special_kind(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "not a file"
    }
}

pub(super) fn not_regular(path: &Path, t: std::fs::FileType) -> Diagnostic {
    Diagnostic::error(
        codes::UNREADABLE,
        format!(
            "cannot read this entry: it is not a regular file ({})",
            special_kind(t)
        ),
    )
    .with_path(path)
    .with_hint("migration folders hold only regular `.sql` files; remove this entry")
}

/// The bytes of a regular file of at most [`MAX_FILE_SIZE`]. The file is
/// opened without blocking and checked on the opened descriptor, so what is
/// checked is what is read, and a FIFO swapped in after listing cannot hang
/// keel.
fn read_regular(path: &Path) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    let file = crate::safe_fs::open_nonblocking(path).map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(meta.file_type()));
    }
    if meta.len() > MAX_FILE_SIZE {
        return Err(ReadError::TooLarge(meta.len()));
    }
    // Bounded even if the file grows while it is read.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(ReadError::TooLarge(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Reads the file at `path` for the first time; its problems go to `diags`.
pub fn read_file(path: PathBuf, kind: FileKind, diags: &mut Vec<Diagnostic>) -> Option<SqlText> {
    let bytes = match read_regular(&path) {
        Ok(b) => b,
        Err(ReadError::Io(e)) => {
            diags.push(
                Diagnostic::error(codes::UNREADABLE, format!("cannot read file: {e}"))
                    .with_path(&path)
                    .with_hint("check the file's permissions"),
            );
            return None;
        }
        Err(ReadError::NotRegular(t)) => {
            diags.push(not_regular(&path, t));
            return None;
        }
        Err(ReadError::TooLarge(len)) => {
            diags.push(
                Diagnostic::error(
                    codes::UNREADABLE,
                    format!("the file is larger than keel's limit of 1 GiB ({len} bytes)"),
                )
                .with_path(&path)
                .with_hint("split it into several migrations"),
            );
            return None;
        }
    };
    match utf8_text(&path, bytes) {
        Ok(text) => Some(SqlText::new(path, kind, text)),
        Err(d) => {
            diags.push(*d);
            None
        }
    }
}

/// The text of a file's `bytes`, or the `not-utf8` error naming `path` at the line and column
/// of the first bad byte.
pub fn utf8_text(path: &Path, bytes: Vec<u8>) -> Result<String, Box<Diagnostic>> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let bad = bytes.get(valid).copied().unwrap_or_default();
        let prefix = std::str::from_utf8(&bytes[..valid]).unwrap_or_default();
        let pos = crate::diagnostic::Position::of(prefix, prefix.len());
        let mut d = Diagnostic::error(
            codes::NOT_UTF8,
            format!("the file is not valid UTF-8 (byte 0x{bad:02X})"),
        )
        .with_path(path)
        .with_hint("save the file as UTF-8 (it may have been saved as Latin-1 or Windows-1252, e.g. `iconv -f WINDOWS-1252 -t UTF-8`)");
        d.line = Some(pos.line);
        d.column = Some(pos.column);
        Box::new(d)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_again_only_while_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0001_a.sql");
        std::fs::write(&path, "-- keel:checksum sha256:00\nSELECT 1;\n").unwrap();
        let mut diags = Vec::new();
        let f = read_file(path.clone(), FileKind::Up, &mut diags)
            .unwrap()
            .file;
        assert_eq!(f.facts.seal, Seal::Missing);
        // A cosmetic edit of the header keeps the body: still the same file.
        std::fs::write(&path, "-- keel:checksum sha256:11\nSELECT 1;\n").unwrap();
        assert_eq!(f.read().unwrap().body(), "SELECT 1;\n");
        std::fs::write(&path, "-- keel:checksum sha256:00\nSELECT 2;\n").unwrap();
        assert_eq!(f.read().unwrap_err().code, codes::CHANGED_DURING_RUN);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(f.read().unwrap_err().code, codes::UNREADABLE);
    }

    #[test]
    fn facts_say_whether_the_file_is_sealed() {
        let body = "SELECT 1;\n";
        let sealed = crate::header::seal(body);
        let t = SqlText::new(PathBuf::from("a.sql"), FileKind::Down, sealed);
        assert_eq!(t.facts.seal, Seal::Sealed);
        assert_eq!(t.facts.checksum, Checksum::of_body(body));
        let t = SqlText::new(PathBuf::from("a.sql"), FileKind::Down, body.into());
        assert_eq!(t.facts.seal, Seal::Missing);
        let t = SqlText::new(
            PathBuf::from("a.sql"),
            FileKind::Down,
            "-- keel:irreversible\n-- keel:transaction off\n".into(),
        );
        assert!(t.facts.irreversible && t.facts.transaction == TransactionMode::Off);
    }
}
