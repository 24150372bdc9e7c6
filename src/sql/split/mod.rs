//! Exact PostgreSQL statement splitter.
//!
//! keel runs a migration file one statement at a time, and every rule keel
//! checks (transaction control, statements that need `transaction off`, the
//! policy-file allow-list) looks at those statements. The cut must therefore
//! be exactly where the server's own scanner (`src/backend/parser/scan.l`)
//! ends tokens: if keel saw one statement where the server sees two, the
//! second would run unchecked. The lexer (`lex.rs`) reproduces the scan.l
//! rules that decide where tokens end; this module cuts its tokens into
//! statements and bare words. The unit tests are in `tests.rs`.
//!
//! psql-only syntax lexes as the server lexes it (see `lex.rs`). Two things
//! still come from psql (`src/fe_utils/psqlscan.l`):
//! the word counting that keeps `CREATE FUNCTION ... BEGIN ATOMIC ... END`
//! whole (the server decides that with its grammar), and a backslash
//! command at the start of a line, which is an error instead of being run.
//! That includes the `\.` ending the inline data of a pg_dump-style
//! `COPY ... FROM stdin;`, which psql reads as data rather than SQL. A
//! backslash elsewhere outside quotes is left in the statement for the
//! server to reject.
//!
//! Where the splitter and the server could still disagree (a future server
//! with other lexer rules, or the `BEGIN ATOMIC` heuristic), the executor
//! sends each statement in its own extended-protocol Parse message, which the
//! server refuses when the text holds more than one statement
//! (`crate::db::statement`).

mod lex;
#[cfg(test)]
mod tests;

use std::fmt;
use std::iter::FusedIterator;
use std::ops::Range;

use lex::{block_comment_end, is_class, line_end, skip_class, Lexer, TokKind, WS};

/// One statement of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Bytes from the end of the previous statement (or 0) through the terminating `;`
    /// (inclusive), or to the end of input for a last statement without `;`.
    /// Consecutive spans are contiguous: spans of all statements followed by `trailing()`
    /// of the splitter cover the input exactly.
    pub span: Range<usize>,
    /// The statement itself: from its first significant byte (after leading whitespace and
    /// comments) to just before the `;`, with trailing whitespace (not comments) trimmed.
    pub text: Range<usize>,
}

/// Why the input could not be split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitErrorKind {
    /// A string literal never closed: `'...'`, `E'...'`, `U&'...'`, `B'...'`, `X'...'` or `N'...'`.
    UnterminatedString,
    /// A quoted identifier never closed: `"..."` or `U&"..."`.
    UnterminatedQuotedIdentifier,
    /// A dollar-quoted body (`$$...` or `$tag$...`) without its closing delimiter.
    UnterminatedDollarQuote,
    /// A `/* ... */` comment (comments nest) never closed.
    UnterminatedComment,
    /// A psql backslash command (`\i`, `\set`, `\connect`, ...): keel runs SQL, not psql scripts.
    MetaCommand,
}

/// A file that cannot be split into statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError {
    /// What went wrong.
    pub kind: SplitErrorKind,
    /// Byte offset where the offending construct begins (the opening quote, `$tag$`, `/*`, or the `\`).
    /// For a prefixed literal such as `E'...'` or `U&"..."` that is the prefix.
    pub offset: usize,
    /// For a dollar quote, the delimiter as written (e.g. `$body$`); empty otherwise.
    pub delimiter: String,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            SplitErrorKind::UnterminatedString => f.write_str("unterminated quoted string")?,
            SplitErrorKind::UnterminatedQuotedIdentifier => {
                f.write_str("unterminated quoted identifier")?;
            }
            SplitErrorKind::UnterminatedDollarQuote => {
                write!(f, "unterminated dollar-quoted string {}", self.delimiter)?;
            }
            SplitErrorKind::UnterminatedComment => f.write_str("unterminated /* comment")?,
            SplitErrorKind::MetaCommand => f.write_str("psql meta-command")?,
        }
        write!(f, " at byte {}", self.offset)
    }
}

impl std::error::Error for SplitError {}

/// Splits `src` into statements the way the server's scanner reads them.
///
/// A leading UTF-8 byte order mark is treated as whitespace (psql drops it too, and it is
/// never part of a statement's text).
pub fn split(src: &str) -> Splitter<'_> {
    Splitter {
        src,
        lexer: Lexer::new(src.as_bytes()),
        consumed: 0,
        done: false,
    }
}

/// Iterator over statements. After the iterator returns None, `trailing()` is the byte range
/// after the last statement (whitespace/comments only). After an Err it yields None.
#[derive(Debug, Clone)]
pub struct Splitter<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    /// End of the last yielded span: where the next span (or the trailing range) starts.
    consumed: usize,
    done: bool,
}

impl Splitter<'_> {
    /// The bytes after the last yielded statement.
    ///
    /// Once the iterator has returned `None` after success, this holds only whitespace,
    /// comments and empty statements (bare `;`). Before that, or after an error, it is
    /// the part of the input not yet returned as a statement.
    #[must_use]
    pub fn trailing(&self) -> Range<usize> {
        self.consumed..self.src.len()
    }

    fn finish(&mut self, text_start: usize, text_end: usize, span_end: usize) -> Statement {
        let b = self.src.as_bytes();
        let span = self.consumed..span_end;
        self.consumed = span_end;
        Statement {
            span,
            text: text_start..trim_end(b, text_start, text_end),
        }
    }
}

impl Iterator for Splitter<'_> {
    type Item = Result<Statement, SplitError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let b = self.src.as_bytes();
        // psql keeps this state per statement: it resets it at every terminating `;`.
        let mut state = StatementState::default();
        // Start of the first token; `None` while only whitespace and comments were seen.
        let mut text_start: Option<usize> = None;
        loop {
            let tok = match self.lexer.next_token() {
                Ok(Some(tok)) => tok,
                Ok(None) => {
                    self.done = true;
                    // A last statement without `;` still runs (psql sends it at end of file);
                    // with no token at all, the rest is trailing.
                    let start = text_start?;
                    return Some(Ok(self.finish(start, b.len(), b.len())));
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            match tok.kind {
                TokKind::Semicolon if state.paren_depth == 0 && state.begin_depth == 0 => {
                    match text_start {
                        Some(start) => return Some(Ok(self.finish(start, tok.start, tok.end))),
                        // An empty statement: psql never sends it, so its bytes simply
                        // become part of the next span.
                        None => continue,
                    }
                }
                TokKind::Backslash if at_line_start(b, tok.start, self.lexer.floor) => {
                    self.done = true;
                    return Some(Err(SplitError {
                        kind: SplitErrorKind::MetaCommand,
                        offset: tok.start,
                        delimiter: String::new(),
                    }));
                }
                TokKind::OpenParen => state.paren_depth = state.paren_depth.saturating_add(1),
                TokKind::CloseParen => state.paren_depth = state.paren_depth.saturating_sub(1),
                TokKind::Ident => state.identifier(b.get(tok.start..tok.end).unwrap_or_default()),
                _ => {}
            }
            text_start.get_or_insert(tok.start);
        }
    }
}

impl FusedIterator for Splitter<'_> {}

/// A bare word (keyword or unquoted identifier) at the top level of a statement's text, with its
/// byte range within the given text. Comments, string literals, quoted identifiers and dollar
/// bodies are skipped (never yielded, never looked inside). Used by lexical rules such as
/// "CREATE INDEX CONCURRENTLY" detection, so it must not see words inside strings or comments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word<'a> {
    /// The word as written (case preserved).
    pub text: &'a str,
    /// Where the word is, relative to the text given to [`words`].
    pub range: Range<usize>,
    /// How many parentheses enclose the word (0 at the statement's top level).
    pub paren_depth: u32,
}

/// The bare words of `text` (normally one statement's `text`), in order.
///
/// Words are lexed exactly as the splitter lexes them, so `somE'x'` yields `somE`, while
/// `E'x'` and `1e5` yield nothing. An unterminated quote or comment ends the
/// iteration quietly: the splitter reports those.
pub fn words(text: &str) -> impl Iterator<Item = Word<'_>> {
    Words {
        text,
        lexer: Lexer::new(text.as_bytes()),
        paren_depth: 0,
        done: false,
    }
}

struct Words<'a> {
    text: &'a str,
    lexer: Lexer<'a>,
    paren_depth: u32,
    done: bool,
}

impl<'a> Iterator for Words<'a> {
    type Item = Word<'a>;

    fn next(&mut self) -> Option<Word<'a>> {
        while !self.done {
            let Ok(Some(tok)) = self.lexer.next_token() else {
                self.done = true;
                break;
            };
            match tok.kind {
                TokKind::OpenParen => self.paren_depth = self.paren_depth.saturating_add(1),
                TokKind::CloseParen => self.paren_depth = self.paren_depth.saturating_sub(1),
                TokKind::Ident => {
                    // Identifier tokens always start and end on character boundaries
                    // (they take every byte >= 0x80); `get` keeps that a non-panicking fact.
                    if let Some(word) = self.text.get(tok.start..tok.end) {
                        return Some(Word {
                            text: word,
                            range: tok.start..tok.end,
                            paren_depth: self.paren_depth,
                        });
                    }
                }
                _ => {}
            }
        }
        None
    }
}

impl FusedIterator for Words<'_> {}

/// Whether one statement's `text` ends inside a `--` comment, so that a `;` written right after
/// it would belong to the comment (a statement's text keeps its trailing comments).
pub fn ends_in_line_comment(text: &str) -> bool {
    let b = text.as_bytes();
    let mut lexer = Lexer::new(b);
    let mut i = lexer.floor;
    loop {
        match lexer.next_token() {
            Ok(Some(tok)) => i = tok.end,
            Ok(None) => break,
            Err(_) => return false,
        }
    }
    // Only whitespace and comments follow the last token.
    loop {
        i = skip_class(b, i, WS);
        match (b.get(i), b.get(i + 1)) {
            (Some(b'-'), Some(b'-')) => {
                i = line_end(b, i + 2);
                if i == b.len() {
                    return true;
                }
            }
            (Some(b'/'), Some(b'*')) => match block_comment_end(b, i) {
                Ok(end) => i = end,
                Err(_) => return false,
            },
            _ => return false,
        }
    }
}

/// psql's heuristic for `CREATE FUNCTION ... BEGIN ATOMIC ... END`: semicolons inside the body
/// must not end the statement, and psql decides that with word counting, not a parser.
#[derive(Default)]
struct StatementState {
    paren_depth: u32,
    begin_depth: u32,
    /// How many identifiers the statement has had so far (saturating).
    identifier_count: u32,
    /// First letter of each of the first four identifiers if it is one of CREATE, OR, REPLACE,
    /// FUNCTION, PROCEDURE; 0 otherwise. This is psql's `identifiers[4]`, kept byte for byte
    /// so that odd inputs (`CREATE OR OR FUNCTION`) are judged the same way.
    identifiers: [u8; 4],
}

impl StatementState {
    fn identifier(&mut self, word: &[u8]) {
        if let Some(slot) = self.identifiers.get_mut(self.identifier_count as usize) {
            if [&b"create"[..], b"function", b"procedure", b"or", b"replace"]
                .iter()
                .any(|kw| word.eq_ignore_ascii_case(kw))
            {
                *slot = word.first().map_or(0, u8::to_ascii_lowercase);
            }
        }
        self.identifier_count = self.identifier_count.saturating_add(1);

        let [first, second, third, fourth] = self.identifiers;
        let creates_routine = first == b'c'
            && (second == b'f'
                || second == b'p'
                || (second == b'o' && third == b'r' && (fourth == b'f' || fourth == b'p')));
        if creates_routine && self.paren_depth == 0 {
            if word.eq_ignore_ascii_case(b"begin") {
                self.begin_depth = self.begin_depth.saturating_add(1);
            } else if word.eq_ignore_ascii_case(b"case") {
                // CASE also ends with END, but psql only counts it inside a BEGIN.
                if self.begin_depth >= 1 {
                    self.begin_depth = self.begin_depth.saturating_add(1);
                }
            } else if word.eq_ignore_ascii_case(b"end") {
                self.begin_depth = self.begin_depth.saturating_sub(1);
            }
        }
    }
}

/// Whether the `\` at `pos` is the first non-whitespace character of its line.
fn at_line_start(b: &[u8], pos: usize, floor: usize) -> bool {
    let mut i = pos;
    while i > floor {
        match b.get(i - 1) {
            Some(b' ' | b'\t' | b'\x0b' | b'\x0c') => i -= 1,
            // A lone `\r` is an old Mac line break, and PostgreSQL treats it as a newline too.
            Some(b'\n' | b'\r') => return true,
            _ => return false,
        }
    }
    true
}

fn trim_end(b: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && b.get(end - 1).is_some_and(|&c| is_class(c, WS)) {
        end -= 1;
    }
    end
}
