//! Diagnostics: what keel found wrong (or worth a warning) in a file, with
//! the one place that turns a byte offset into `path:line:column`.

pub mod codes;

pub use codes::Code;
use serde::Serialize;
use std::cell::OnceCell;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing, not a problem: counted neither as an error nor as a
    /// warning (e.g. a lock on a table too small to matter).
    Note,
    Warning,
    Error,
}

/// A line of source with the part to underline, for the caret display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    /// The source line without its line ending, or for a long line the
    /// window of it around the span, with `…` where it was cut.
    pub line_text: String,
    /// Byte range within `line_text` to underline (may be empty: a caret).
    pub span: Range<usize>,
    /// `line_text` is a window that does not start at the line's start: a
    /// column counted in it is not the line's.
    pub cut: bool,
}

/// How many characters of a long line a snippet keeps on each side of its
/// span: a 10 MB one-line file must not cost 10 MB per diagnostic.
pub const SNIPPET_CONTEXT: usize = 120;

impl Snippet {
    /// The snippet of `span` (file byte offsets, within `line`, the byte
    /// range of its line in `text`): the line, or a window of at most
    /// [`SNIPPET_CONTEXT`] characters each side of the span's start (the
    /// underline is cut at the window's end).
    fn new(text: &str, line: Range<usize>, span: Range<usize>) -> Snippet {
        let before = back_chars(text, line.start, span.start, SNIPPET_CONTEXT);
        let after = forward_chars(text, span.start, line.end, SNIPPET_CONTEXT);
        let (mut line_text, mut shift, cut) = (String::new(), before, before > line.start);
        if cut {
            line_text.push('…');
            shift -= '…'.len_utf8();
        }
        line_text.push_str(&text[before..after]);
        if after < line.end {
            line_text.push('…');
        }
        let end = span.end.clamp(span.start, after);
        Snippet {
            line_text,
            span: (span.start - shift)..(end - shift),
            cut,
        }
    }
}

/// The byte offset `n` characters before `from`, not before `floor`.
fn back_chars(text: &str, floor: usize, from: usize, n: usize) -> usize {
    text[floor..from]
        .char_indices()
        .rev()
        .nth(n.saturating_sub(1))
        .map_or(floor, |(i, _)| floor + i)
}

/// The byte offset `n` characters after `from`, not after `ceiling`.
fn forward_chars(text: &str, from: usize, ceiling: usize, n: usize) -> usize {
    text[from..ceiling]
        .char_indices()
        .nth(n)
        .map_or(ceiling, |(i, _)| from + i)
}

/// One finding, tied to a file and position where it has one.
///
/// The JSON form (`--format json`) is part of keel's stable interface:
/// `severity`, `code`, `path`, `line`, `column`, `message`, `hint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable identifier from [`codes`], e.g. `checksum-mismatch`.
    pub code: Code,
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
    pub fn error(code: Code, message: impl Into<String>) -> Diagnostic {
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

    pub fn warning(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn note(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Note,
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
    /// file) in file `path`. This scans `text` up to the span: for many
    /// diagnostics in one file, use [`Diagnostic::located`].
    pub fn at(self, path: &Path, text: &str, span: Range<usize>) -> Diagnostic {
        let pos = Position::of(text, span.start);
        self.placed(path, text, pos, span)
    }

    /// [`Diagnostic::at`] through the file's line index: no scan of the
    /// file, so that a file's diagnostics cost time linear in their number.
    pub fn located(self, source: &Source<'_>, span: Range<usize>) -> Diagnostic {
        let pos = source.position(span.start);
        self.placed(source.path, source.text, pos, span)
    }

    fn placed(mut self, path: &Path, text: &str, pos: Position, span: Range<usize>) -> Diagnostic {
        // Clamped as `Position::of` clamps: the span starts at the position.
        let start = pos.offset.clamp(pos.line_range.start, pos.line_range.end);
        let end = span.end.clamp(start, pos.line_range.end);
        self.path = Some(path.to_path_buf());
        self.line = Some(pos.line);
        self.column = Some(pos.column);
        self.snippet = Some(Snippet::new(text, pos.line_range, start..end));
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
    /// The byte offset asked for, clamped to `text` and to a character.
    pub offset: usize,
}

impl Position {
    /// The position of byte `offset` in `text`. LF, CRLF and lone CR all end
    /// a line, as they do for the checksum. Offsets past the end (or inside a
    /// character) are clamped to a valid boundary rather than panicking.
    pub fn of(text: &str, offset: usize) -> Position {
        #[cfg(test)]
        SCANS.with(|s| s.set(s.get() + 1));
        let offset = floor_char(text, offset);
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
            offset,
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
        // sqlparser counts lines by `\n` alone: in a file with lone `\r` line ends, a `\r`
        // is one more column of the line, not its end.
        let skip = column.saturating_sub(1) as usize;
        text[offset..]
            .char_indices()
            .take_while(|(_, c)| *c != '\n')
            .nth(skip)
            .map_or_else(
                || text[offset..].find('\n').map_or(text.len(), |e| offset + e),
                |(i, _)| offset + i,
            )
    }
}

/// `offset` clamped to `text` and moved back to a character boundary.
fn floor_char(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
thread_local! {
    /// Scans of a file from its start ([`Position::of`]) and line indexes
    /// built, on this thread: what makes positions cost linear time.
    pub static SCANS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    pub static INDEXES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Where each line of a text starts, found in one pass, so that the
/// position of any offset is a binary search rather than a scan from the
/// start of the file. Line endings as [`Position::of`]: LF, CRLF, lone CR.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
    /// For a text that is not all ASCII: the number of characters before
    /// each multiple of [`BLOCK`] bytes, so that a column in a long line
    /// is counted from the nearest block rather than from the line's start.
    chars: Option<Vec<usize>>,
}

const BLOCK: usize = 4096;

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        #[cfg(test)]
        INDEXES.with(|s| s.set(s.get() + 1));
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        for i in memchr::memchr2_iter(b'\n', b'\r', bytes) {
            if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                continue;
            }
            starts.push(i + 1);
        }
        let chars = (!text.is_ascii()).then(|| {
            let mut before = 0;
            let mut chars = Vec::with_capacity(bytes.len() / BLOCK + 1);
            for block in bytes.chunks(BLOCK) {
                chars.push(before);
                before += count_chars(block);
            }
            chars.push(before);
            chars
        });
        LineIndex { starts, chars }
    }

    /// The number of characters in `text[..offset]` (`offset` on a
    /// character boundary).
    fn chars_before(&self, text: &str, offset: usize) -> usize {
        match &self.chars {
            None => offset,
            Some(chars) => {
                let block = offset / BLOCK;
                chars[block] + count_chars(&text.as_bytes()[block * BLOCK..offset])
            }
        }
    }

    /// The byte offset of 1-based (`line`, `column`) as [`LineIndex::position`] counts them
    /// (LF, CRLF and a lone CR end a line; a BOM is no column): the inverse of `position`, for
    /// a position keel reported. Clamped to the line and the text.
    pub fn offset(&self, text: &str, line: usize, column: usize) -> usize {
        let Some(&start) = self.starts.get(line.saturating_sub(1)) else {
            return text.len();
        };
        let start = if start == 0 && text.starts_with('\u{feff}') {
            '\u{feff}'.len_utf8()
        } else {
            start
        };
        text[start..]
            .char_indices()
            .take_while(|(_, c)| *c != '\n' && *c != '\r')
            .nth(column.saturating_sub(1))
            .map_or_else(
                || {
                    text[start..]
                        .find(['\n', '\r'])
                        .map_or(text.len(), |e| start + e)
                },
                |(i, _)| start + i,
            )
    }

    /// [`Position::of`], in time independent of where `offset` is.
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let offset = floor_char(text, offset);
        let bytes = text.as_bytes();
        let line = self.starts.partition_point(|&s| s <= offset);
        let mut line_start = self.starts[line - 1];
        let line_end = match self.starts.get(line) {
            Some(&next) if next >= 2 && bytes[next - 1] == b'\n' && bytes[next - 2] == b'\r' => {
                next - 2
            }
            Some(&next) => next - 1,
            None => text.len(),
        };
        // A BOM is invisible: it is not a column, nor part of the snippet.
        if line_start == 0 && text.starts_with('\u{feff}') {
            line_start = '\u{feff}'.len_utf8().min(line_end);
        }
        let column = self.chars_before(text, offset.max(line_start))
            - self.chars_before(text, line_start)
            + 1;
        Position {
            line,
            column,
            line_range: line_start..line_end,
            offset,
        }
    }
}

/// Characters in `bytes` (UTF-8): the bytes that do not continue one.
fn count_chars(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b as i8) >= -0x40).count()
}

/// A file's path and text, with its line index built on first use: the
/// place to put many diagnostics of one file ([`Diagnostic::located`]).
pub struct Source<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    lines: OnceCell<LineIndex>,
}

impl<'a> Source<'a> {
    pub fn new(path: &'a Path, text: &'a str) -> Source<'a> {
        Source {
            path,
            text,
            lines: OnceCell::new(),
        }
    }

    pub fn position(&self, offset: usize) -> Position {
        self.lines
            .get_or_init(|| LineIndex::new(self.text))
            .position(self.text, offset)
    }
}

/// The counts of what a run found: errors and warnings (notes count as
/// neither).
pub fn count(diagnostics: &[Diagnostic]) -> (usize, usize) {
    let of = |s: Severity| diagnostics.iter().filter(|d| d.severity == s).count();
    (of(Severity::Error), of(Severity::Warning))
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

    /// sqlparser ends lines at `\n` only; keel at LF, CRLF and a lone CR. Each position goes
    /// back to the byte it came from.
    #[test]
    fn positions_map_back_to_offsets_with_lone_carriage_returns() {
        let text = "SELECT 1;\rSELECT 2,\r  FROM t WHERE;\r";
        let at = text.find("WHERE").unwrap();
        // sqlparser's view of the statement that starts after the first `\r`: one line.
        let base = text.find("SELECT 2").unwrap();
        let column = text[base..at].chars().count() as u64 + 1;
        assert_eq!(Position::offset_of(text, base, 1, column), at);
        // keel's view: line 3, column 10.
        let index = LineIndex::new(text);
        let p = index.position(text, at);
        assert_eq!((p.line, p.column), (3, 10));
        assert_eq!(index.offset(text, p.line, p.column), at);
        for t in ["a\r\nbé\rc\nd", "\u{feff}x\ry", "one line"] {
            let index = LineIndex::new(t);
            for (i, _) in t
                .char_indices()
                .filter(|(i, _)| *i > 0 || !t.starts_with('\u{feff}'))
            {
                let p = index.position(t, i);
                if t[i..].starts_with(['\r', '\n']) {
                    continue;
                }
                assert_eq!(index.offset(t, p.line, p.column), i, "{t:?} at {i}");
            }
        }
    }

    #[test]
    fn offsets_from_statement_relative_positions() {
        let text = "-- h\nSELECT 1,\n  é x";
        let base = 5;
        let off = Position::offset_of(text, base, 2, 5);
        assert_eq!(&text[off..], "x");
        assert_eq!(Position::offset_of(text, base, 9, 1), text.len());
    }

    #[test]
    fn the_line_index_agrees_with_a_scan() {
        let long = format!("{}é{}", "x".repeat(5000), "y".repeat(9000));
        for text in [
            "",
            "a",
            "ab\r\ncé f\rx\n",
            "\u{feff}SELECT 1;\r\n\r\n\rz",
            "\n\n\r\r\n",
            long.as_str(),
        ] {
            let index = LineIndex::new(text);
            for offset in 0..=text.len() + 2 {
                assert_eq!(
                    index.position(text, offset),
                    Position::of(text, offset),
                    "{text:?} at {offset}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn the_line_index_agrees_with_a_scan_on_any_text(
            text in "[a\r\né€\u{feff} ]{0,300}",
            offsets in proptest::collection::vec(0usize..320, 1..20),
        ) {
            let index = LineIndex::new(&text);
            for offset in offsets {
                proptest::prop_assert_eq!(index.position(&text, offset), Position::of(&text, offset));
            }
        }
    }

    #[test]
    fn a_long_line_gives_a_window_around_the_span() {
        let line = format!("{}é BAD {}", "a".repeat(10_000_000), "b".repeat(1000));
        let text = format!("-- header\n{line}\nnext\n");
        let at = text.find("BAD").unwrap();
        let d =
            Diagnostic::error(codes::SYNTAX_ERROR, "m").at(Path::new("f.sql"), &text, at..at + 3);
        assert_eq!((d.line, d.column), (Some(2), Some(10_000_003)));
        let s = d.snippet.unwrap();
        assert!(s.cut);
        assert!(s.line_text.chars().count() <= 2 * SNIPPET_CONTEXT + 2);
        assert!(s.line_text.starts_with('…') && s.line_text.ends_with('…'));
        assert_eq!(&s.line_text[s.span.clone()], "BAD");
        // The caret keeps its place: the characters before it in the window.
        assert_eq!(
            s.line_text[..s.span.start].chars().count(),
            SNIPPET_CONTEXT + 1
        );
        // Through the index: the same diagnostic.
        let source = Source::new(Path::new("f.sql"), &text);
        let e = Diagnostic::error(codes::SYNTAX_ERROR, "m").located(&source, at..at + 3);
        assert_eq!(
            e,
            Diagnostic::error(codes::SYNTAX_ERROR, "m").at(Path::new("f.sql"), &text, at..at + 3)
        );
        // A short line is kept whole, and a span is cut at the line's end.
        let d = Diagnostic::error(codes::SYNTAX_ERROR, "m").at(
            Path::new("f.sql"),
            "SELECT 1;\nx",
            7..100,
        );
        let s = d.snippet.unwrap();
        assert_eq!(
            (s.line_text.as_str(), s.span, s.cut),
            ("SELECT 1;", 7..9, false)
        );
    }
}
