//! Diagnostics: what keel found wrong (or worth a warning) in a file, with
//! the one place that turns a byte offset into `path:line:column`.

use serde::Serialize;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// A line of source with the part to underline, for the caret display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    /// The whole source line, without its line ending.
    pub line_text: String,
    /// Byte range within `line_text` to underline (may be empty: a caret).
    pub span: Range<usize>,
}

/// One finding, tied to a file and position where it has one.
///
/// The JSON form (`--format json`) is part of keel's stable interface:
/// `severity`, `code`, `path`, `line`, `column`, `message`, `hint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable kebab-case identifier, e.g. `checksum-mismatch`.
    pub code: &'static str,
    pub path: Option<PathBuf>,
    /// 1-based line in the file (header included).
    pub line: Option<usize>,
    /// 1-based column, counted in characters.
    pub column: Option<usize>,
    pub message: String,
    pub hint: Option<String>,
    /// Further facts (e.g. PostgreSQL's DETAIL), shown as notes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(skip)]
    pub snippet: Option<Snippet>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            path: None,
            line: None,
            column: None,
            message: message.into(),
            hint: None,
            notes: Vec::new(),
            snippet: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn with_path(mut self, path: &Path) -> Diagnostic {
        self.path = Some(path.to_path_buf());
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// Points the diagnostic at `span` (byte offsets into `text`, the whole
    /// file) in file `path`.
    pub fn at(mut self, path: &Path, text: &str, span: Range<usize>) -> Diagnostic {
        let pos = Position::of(text, span.start);
        let line_end = pos.line_range.end;
        let end = span.end.clamp(span.start, line_end);
        self.path = Some(path.to_path_buf());
        self.line = Some(pos.line);
        self.column = Some(pos.column);
        self.snippet = Some(Snippet {
            line_text: text[pos.line_range.clone()].to_string(),
            span: (span.start - pos.line_range.start)..(end - pos.line_range.start),
        });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `path:line:column`, as far as known.
    pub fn location(&self) -> Option<String> {
        let path = self.path.as_ref()?.display().to_string();
        Some(match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{path}:{l}:{c}"),
            (Some(l), None) => format!("{path}:{l}"),
            _ => path,
        })
    }
}

/// A position in a file: 1-based line and character column, and the byte
/// range of that line (without its line ending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
    pub line_range: Range<usize>,
}

impl Position {
    /// The position of byte `offset` in `text`. LF, CRLF and lone CR all end
    /// a line, as they do for the checksum. Offsets past the end (or inside a
    /// character) are clamped to a valid boundary rather than panicking.
    pub fn of(text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let bytes = text.as_bytes();
        let mut line = 1;
        let mut line_start = 0;
        let mut i = 0;
        while i < offset {
            match bytes[i] {
                b'\n' => {
                    line += 1;
                    line_start = i + 1;
                }
                b'\r' => {
                    if bytes.get(i + 1) == Some(&b'\n') {
                        i += 1;
                        if i >= offset {
                            break;
                        }
                    }
                    line += 1;
                    line_start = i + 1;
                }
                _ => {}
            }
            i += 1;
        }
        let line_end = text[line_start..]
            .find(['\n', '\r'])
            .map_or(text.len(), |e| line_start + e);
        let mut line_start = line_start.min(line_end);
        // A BOM is invisible: it is not a column, nor part of the snippet.
        if line_start == 0 && text.starts_with('\u{feff}') {
            line_start = '\u{feff}'.len_utf8().min(line_end);
        }
        let column = text[line_start..offset.max(line_start)].chars().count() + 1;
        Position {
            line,
            column,
            line_range: line_start..line_end,
        }
    }

    /// The byte offset of 1-based (`line`, `column`) counted from byte `base`
    /// of `text`, as sqlparser reports positions within a statement. Clamped
    /// to `text`.
    pub fn offset_of(text: &str, base: usize, line: u64, column: u64) -> usize {
        let mut offset = base.min(text.len());
        let mut current = 1;
        while current < line {
            match text[offset..].find('\n') {
                Some(i) => offset += i + 1,
                None => return text.len(),
            }
            current += 1;
        }
        let skip = column.saturating_sub(1) as usize;
        text[offset..]
            .char_indices()
            .take_while(|(_, c)| *c != '\n' && *c != '\r')
            .nth(skip)
            .map_or_else(
                || {
                    text[offset..]
                        .find(['\n', '\r'])
                        .map_or(text.len(), |e| offset + e)
                },
                |(i, _)| offset + i,
            )
    }
}

/// The counts of what a run found.
pub fn count(diagnostics: &[Diagnostic]) -> (usize, usize) {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    (errors, diagnostics.len() - errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_character_columns() {
        let text = "ab\r\ncé f\rx\n";
        assert_eq!(Position::of(text, 0).line, 1);
        let p = Position::of(text, text.find('f').unwrap());
        assert_eq!((p.line, p.column), (2, 4));
        assert_eq!(&text[p.line_range], "cé f");
        let p = Position::of(text, text.find('x').unwrap());
        assert_eq!((p.line, p.column), (3, 1));
        let p = Position::of(text, 10_000);
        assert_eq!(p.line, 4);
    }

    #[test]
    fn offsets_from_statement_relative_positions() {
        let text = "-- h\nSELECT 1,\n  é x";
        let base = 5;
        let off = Position::offset_of(text, base, 2, 5);
        assert_eq!(&text[off..], "x");
        assert_eq!(Position::offset_of(text, base, 9, 1), text.len());
    }
}
