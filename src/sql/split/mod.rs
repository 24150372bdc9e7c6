//! Exact PostgreSQL statement splitter.
//!
//! keel runs a migration file one statement at a time, and every rule keel
//! checks (transaction control, statements that need `transaction off`, the
//! policy-file allow-list) looks at those statements. The cut must therefore
//! be exactly where the server's own scanner (`src/backend/parser/scan.l`)
//! ends tokens: if keel saw one statement where the server sees two, the
//! second would run unchecked. This module reproduces the scan.l rules that
//! decide where tokens end, in one pass over the bytes, without copying or
//! allocating, assuming `standard_conforming_strings = on`:
//!
//! * `{xqstart}`, `{xestart}`, `{xbstart}`, `{xhstart}`, `{xnstart}`,
//!   `{xusstart}`: `'...'`, `E'...'` (where `{xeescape}` and friends make a
//!   backslash take the next byte), `B'...'`, `X'...'`, `N'...'` and
//!   `U&'...'`; `''` is a quote inside them (in `B'...'` and `X'...'` the
//!   server ends the literal there and starts a plain one, which ends at
//!   the same byte).
//! * `{quotecontinue}`: a literal followed by whitespace containing a newline
//!   and another quote goes on, in the same mode, so an `E'...'` literal keeps
//!   its escapes in the continued part. psql applies this rule one line at a
//!   time and so never joins across a `\n`; the server does, and the
//!   server's reading is what runs, so it wins here.
//! * `UESCAPE 'c'` after a `U&'...'` literal is an identifier and an ordinary
//!   literal (`src/backend/parser/parser.c` joins them after scanning): the
//!   escape character changes the value, never where the literal ends.
//! * `{space}`, `{non_newline_space}`: whitespace includes `\v` (PostgreSQL
//!   16 and later; on 15 a bare `\v` is a syntax error, so no statement a
//!   15 server runs is cut differently).
//! * `{dolqdelim}`, `{dolqfailed}`: `$tag$...$tag$` bodies end at the first
//!   exact occurrence of their delimiter; `$1` is a parameter and `a$b$` an
//!   identifier.
//! * `{xcstart}`/`{xcstop}`: `/* */` comments nest; `{comment}`: `--` to the
//!   end of the line; `{operator}` is cut where `--` or `/*` begins.
//! * `{identifier}`, `{integer_junk}` and the other `_junk` rules: where a
//!   word or number ends, which decides whether an `E` or `U&` is a prefix.
//!
//! psql-only syntax has no meaning for the server, so `:name` or `:'name'`
//! lex as the server lexes them (a `:` followed by an identifier or a
//! literal). Two things still come from psql (`src/fe_utils/psqlscan.l`):
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

use std::fmt;
use std::iter::FusedIterator;
use std::ops::Range;

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

// ---------------------------------------------------------------------------------------------
// The lexer
// ---------------------------------------------------------------------------------------------

/// What kind of significant token the lexer produced. Whitespace and comments never become
/// tokens: nothing downstream needs them, and skipping them inside the lexer keeps it tight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokKind {
    /// scan.l's `{identifier}`: a keyword or an unquoted identifier.
    Ident,
    Semicolon,
    OpenParen,
    CloseParen,
    /// A backslash outside quotes and comments, where psql would start a meta-command.
    Backslash,
    /// Anything else: literals, quoted identifiers, dollar bodies, numbers, parameters,
    /// operators, punctuation.
    Other,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: TokKind,
    start: usize,
    end: usize,
}

/// A cursor over the input that returns one significant token at a time.
///
/// Every construct is scanned to its end in one go, so the caller only ever sees top-level
/// tokens and never has to carry "inside a string" state between bytes.
#[derive(Debug, Clone)]
struct Lexer<'a> {
    b: &'a [u8],
    pos: usize,
    /// 3 when the input starts with a byte order mark, which psql drops; 0 otherwise.
    floor: usize,
}

const BOM: &[u8] = "\u{feff}".as_bytes();

// Character classes of scan.l, one bit each, looked up in a 256-byte table: bytes >= 0x80
// count as letters there, so every byte of a multi-byte UTF-8 character is an identifier byte.
// {space}: [ \t\n\r\f\v] since PostgreSQL 16. PostgreSQL 15 leaves out \v, but there a bare \v
// is a syntax error anyway, so following 16 agrees with every server on what it can run.
const WS: u8 = 1;
const IDENT_START: u8 = 2; // [A-Za-z\200-\377_]
const DIGIT: u8 = 4; // [0-9]
const DOLLAR: u8 = 8;
const IDENT_CONT: u8 = IDENT_START | DIGIT | DOLLAR; // [A-Za-z\200-\377_0-9\$]
/// `{dolq_cont}`: like an identifier, but without `$`.
const TAG_CONT: u8 = IDENT_START | DIGIT;

static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let mut class = 0;
        if matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c') {
            class |= WS;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            class |= IDENT_START;
        }
        if c.is_ascii_digit() {
            class |= DIGIT;
        }
        if c == b'$' {
            class |= DOLLAR;
        }
        table[i] = class;
        i += 1;
    }
    table
};

#[inline(always)]
fn is_class(c: u8, class: u8) -> bool {
    CLASS[c as usize] & class != 0
}

/// Index of the first byte at or after `i` that is not in `class`.
#[inline(always)]
fn skip_class(b: &[u8], mut i: usize, class: u8) -> usize {
    while let Some(&c) = b.get(i) {
        if !is_class(c, class) {
            break;
        }
        i += 1;
    }
    i
}

impl<'a> Lexer<'a> {
    fn new(b: &'a [u8]) -> Self {
        let floor = if b.starts_with(BOM) { BOM.len() } else { 0 };
        Lexer {
            b,
            pos: floor,
            floor,
        }
    }

    fn next_token(&mut self) -> Result<Option<Token>, SplitError> {
        let b = self.b;
        loop {
            let start = self.pos;
            let Some(&c) = b.get(start) else {
                return Ok(None);
            };
            let next = b.get(start + 1).copied();
            let (kind, end) = match c {
                b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c' => {
                    self.pos = skip_class(b, start + 1, WS);
                    continue;
                }
                b'-' if next == Some(b'-') => {
                    self.pos = line_end(b, start + 2);
                    continue;
                }
                b'/' if next == Some(b'*') => {
                    self.pos = block_comment_end(b, start)?;
                    continue;
                }
                b';' => (TokKind::Semicolon, start + 1),
                b'(' => (TokKind::OpenParen, start + 1),
                b')' => (TokKind::CloseParen, start + 1),
                b'\\' => (TokKind::Backslash, start + 1),
                b'\'' => (TokKind::Other, string_end(b, start, start + 1, false)?),
                b'"' => (TokKind::Other, quoted_identifier_end(b, start, start + 1)?),
                b'$' => (TokKind::Other, dollar_end(b, start)?),
                b'0'..=b'9' => (TokKind::Other, number_end(b, start)),
                b'.' if next.is_some_and(|n| n.is_ascii_digit()) => {
                    (TokKind::Other, number_end(b, start))
                }
                _ if is_class(c, IDENT_START) => word_end(b, start, c, next)?,
                // Operators and other punctuation: their extent never matters, because an
                // operator can neither contain `--`/`/*` (psql cuts it there) nor any
                // character that starts a quote, a word or a number.
                _ => (TokKind::Other, start + 1),
            };
            self.pos = end;
            return Ok(Some(Token { kind, start, end }));
        }
    }
}

/// A token that starts with a letter: a prefixed literal or an identifier.
///
/// Prefixes only count at the start of a token, which is guaranteed here because the caller
/// only calls this where a new token starts (`somE'x'` reaches here at `s`).
fn word_end(
    b: &[u8],
    start: usize,
    c: u8,
    next: Option<u8>,
) -> Result<(TokKind, usize), SplitError> {
    let other = |end| Ok((TokKind::Other, end));
    match (c, next) {
        (b'e' | b'E', Some(b'\'')) => other(string_end(b, start, start + 2, true)?),
        // B'...', X'...' and N'...' end where a plain string ends (they have no escapes).
        (b'b' | b'B' | b'x' | b'X' | b'n' | b'N', Some(b'\'')) => {
            other(string_end(b, start, start + 2, false)?)
        }
        (b'u' | b'U', Some(b'&')) => match b.get(start + 2) {
            Some(b'\'') => other(string_end(b, start, start + 3, false)?),
            Some(b'"') => other(quoted_identifier_end(b, start, start + 3)?),
            // psql's {xufailed}: the `u` is consumed alone and is not an identifier.
            _ => other(start + 1),
        },
        _ => Ok((TokKind::Ident, skip_class(b, start + 1, IDENT_CONT))),
    }
}

fn error(kind: SplitErrorKind, offset: usize) -> SplitError {
    SplitError {
        kind,
        offset,
        delimiter: String::new(),
    }
}

/// End of a `--` comment: before the next `\n` or `\r`, or the end of input.
#[inline]
fn line_end(b: &[u8], from: usize) -> usize {
    find_either(b, from, b'\n', b'\r').unwrap_or(b.len())
}

/// End (exclusive) of the nested `/* ... */` comment opening at `open`.
fn block_comment_end(b: &[u8], open: usize) -> Result<usize, SplitError> {
    // Nesting levels beyond the outermost; each level takes 2 bytes, so it cannot overflow.
    let mut depth = 0usize;
    let mut i = open + 2;
    loop {
        let Some(p) = find_either(b, i, b'*', b'/') else {
            return Err(error(SplitErrorKind::UnterminatedComment, open));
        };
        let next = b.get(p + 1).copied();
        if b.get(p) == Some(&b'*') {
            if next == Some(b'/') {
                if depth == 0 {
                    return Ok(p + 2);
                }
                depth -= 1;
                i = p + 2;
            } else {
                i = p + 1;
            }
        } else if next == Some(b'*') {
            depth += 1;
            i = p + 2;
        } else {
            i = p + 1;
        }
    }
}

/// End (exclusive) of a single-quoted literal whose construct starts at `open` (the prefix or
/// the quote) and whose body starts at `body`. With `escapes` (an `E'...'` string) a backslash
/// takes the next byte literally; `''` is a quote in every kind.
fn string_end(b: &[u8], open: usize, body: usize, escapes: bool) -> Result<usize, SplitError> {
    let mut i = body;
    loop {
        let found = if escapes {
            find_either(b, i, b'\'', b'\\')
        } else {
            find_byte(b, i, b'\'')
        };
        let Some(q) = found else {
            return Err(error(SplitErrorKind::UnterminatedString, open));
        };
        if b.get(q) == Some(&b'\\') {
            // Skipping one byte is enough even before a multi-byte character: its other
            // bytes are never `'` or `\`. A `\` at the very end leaves `i` past the end.
            i = q + 2;
        } else if b.get(q + 1) == Some(&b'\'') {
            i = q + 2;
        } else if let Some(quote) = continued_literal(b, q + 1) {
            // The literal goes on after whitespace containing a newline, in the same mode.
            i = quote + 1;
        } else {
            return Ok(q + 1);
        }
    }
}

/// Where a string literal that just closed before `after` continues, if it does.
///
/// scan.l's `{quotecontinue}`, i.e. `{whitespace_with_newline}{quote}`: after the closing quote,
/// `({horiz_space}|{comment})*`, one `{newline}`, then `({space}+|{comment}{newline})*`, then a
/// quote. The server's scanner enters its `xqs` state at every closing quote of `'...'`,
/// `E'...'`, `B'...'`, `X'...'`, `N'...'` and `U&'...'` and, when this matches, goes back to the
/// state the literal was in, so an `E'...'` literal keeps its backslash escapes in the continued
/// part. A comment only counts before the quote when a newline ends it: `'a'` newline
/// `-- c'` is no continuation, because the comment takes the quote.
fn continued_literal(b: &[u8], after: usize) -> Option<usize> {
    let mut i = after;
    // {horiz_whitespace}*{newline}
    loop {
        match *b.get(i)? {
            b' ' | b'\t' | b'\x0b' | b'\x0c' => i += 1,
            b'-' if b.get(i + 1) == Some(&b'-') => i = line_end(b, i + 2),
            b'\n' | b'\r' => {
                i += 1;
                break;
            }
            _ => return None,
        }
    }
    // {special_whitespace}*{quote}
    loop {
        match *b.get(i)? {
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c' => i += 1,
            b'\'' => return Some(i),
            b'-' if b.get(i + 1) == Some(&b'-') => {
                let end = line_end(b, i + 2);
                if !matches!(b.get(end), Some(b'\n' | b'\r')) {
                    return None;
                }
                i = end + 1;
            }
            _ => return None,
        }
    }
}

/// End (exclusive) of a `"..."` identifier whose construct starts at `open` (`"` or `U&"`).
fn quoted_identifier_end(b: &[u8], open: usize, body: usize) -> Result<usize, SplitError> {
    let mut i = body;
    loop {
        let Some(q) = find_byte(b, i, b'"') else {
            return Err(error(SplitErrorKind::UnterminatedQuotedIdentifier, open));
        };
        if b.get(q + 1) == Some(&b'"') {
            i = q + 2;
        } else {
            return Ok(q + 1);
        }
    }
}

/// End of the token starting with the `$` at `start`: a parameter, a whole dollar-quoted
/// string, or the lone `$`.
fn dollar_end(b: &[u8], start: usize) -> Result<usize, SplitError> {
    let delimiter_end = match b.get(start + 1) {
        // {param} `$1`, or {param_junk} `$1abc` which swallows the identifier after it.
        Some(c) if c.is_ascii_digit() => {
            let digits = skip_class(b, start + 2, DIGIT);
            return Ok(identifier_junk(b, digits));
        }
        Some(b'$') => start + 2,
        Some(&c) if is_class(c, IDENT_START) => {
            let tag_end = skip_class(b, start + 2, TAG_CONT);
            if b.get(tag_end) != Some(&b'$') {
                // {dolqfailed}: only the `$` is consumed; the tag lexes as an identifier.
                return Ok(start + 1);
            }
            tag_end + 1
        }
        _ => return Ok(start + 1),
    };
    let delimiter = &b[start..delimiter_end];
    // The body ends at the first exact occurrence of the delimiter. (psql rescans the last `$`
    // of a non-matching `$other$`, which finds the same first occurrence.)
    let mut i = delimiter_end;
    loop {
        let Some(d) = find_byte(b, i, b'$') else {
            return Err(SplitError {
                kind: SplitErrorKind::UnterminatedDollarQuote,
                offset: start,
                delimiter: String::from_utf8_lossy(delimiter).into_owned(),
            });
        };
        if b.get(d..).is_some_and(|rest| rest.starts_with(delimiter)) {
            return Ok(d + delimiter.len());
        }
        i = d + 1;
    }
}

/// The `{...}_junk` rules (PostgreSQL 15.9 and later): a number or parameter directly followed
/// by an identifier is one token, identifier included.
#[inline]
fn identifier_junk(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(&c) if is_class(c, IDENT_START) => skip_class(b, i + 1, IDENT_CONT),
        _ => i,
    }
}

/// End of the numeric token at `start` (a digit, or `.` before a digit), following flex's
/// longest match over {integer}, {decimal}, {decimalfail}, {real}, {realfail} and the junk rules.
fn number_end(b: &[u8], start: usize) -> usize {
    let mut i = skip_class(b, start, DIGIT);
    if b.get(i) == Some(&b'.') {
        if i > start && b.get(i + 1) == Some(&b'.') {
            // {decimalfail}: `1..` is the integer 1 followed by `..`.
            return i;
        }
        i = skip_class(b, i + 1, DIGIT);
    }
    match b.get(i) {
        Some(b'e' | b'E') => {
            if matches!(b.get(i + 1), Some(b'+' | b'-')) {
                let exponent_end = skip_class(b, i + 2, DIGIT);
                if exponent_end > i + 2 {
                    // {real}, or {real_junk} when an identifier follows.
                    identifier_junk(b, exponent_end)
                } else {
                    // {realfail}: `1e+` without digits is consumed as it stands.
                    i + 2
                }
            } else {
                // `1e5`, `1e5x` and `1ex`: {integer_junk} (the `e...` identifier) is at least
                // as long as {real} or {real_junk}, so it decides the extent.
                skip_class(b, i + 1, IDENT_CONT)
            }
        }
        _ => identifier_junk(b, i),
    }
}

// ---------------------------------------------------------------------------------------------
// Byte search
// ---------------------------------------------------------------------------------------------
//
// Strings, comments and dollar bodies are where large files spend their bytes, so the scans for
// their closing characters go 8 bytes at a time (SWAR) instead of byte by byte.

const LO: u64 = u64::from_ne_bytes([0x01; 8]);
const HI: u64 = u64::from_ne_bytes([0x80; 8]);

/// A mask with the high bit set in every zero byte of `x`, and possibly in bytes above the
/// first zero byte (borrows only propagate upwards), so the lowest set bit is exact.
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(LO) & !x & HI
}

/// The first index at or after `from` whose byte matches `mask_of` (computed per 8-byte word)
/// or `is_match` (per byte, for the tail).
#[inline(always)]
fn find_with(
    b: &[u8],
    from: usize,
    mask_of: impl Fn(u64) -> u64,
    is_match: impl Fn(u8) -> bool,
) -> Option<usize> {
    let hay = b.get(from..)?;
    let mut chunks = hay.chunks_exact(8);
    let mut offset = from;
    for chunk in &mut chunks {
        // `chunks_exact(8)` only yields 8-byte chunks, so the conversion always succeeds.
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let mask = mask_of(u64::from_le_bytes(bytes));
        if mask != 0 {
            return Some(offset + (mask.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    let tail = chunks.remainder();
    tail.iter().position(|&c| is_match(c)).map(|p| offset + p)
}

#[inline]
fn find_byte(b: &[u8], from: usize, needle: u8) -> Option<usize> {
    let pattern = LO * u64::from(needle);
    find_with(b, from, |w| zero_bytes(w ^ pattern), |c| c == needle)
}

#[inline]
fn find_either(b: &[u8], from: usize, n1: u8, n2: u8) -> Option<usize> {
    let (p1, p2) = (LO * u64::from(n1), LO * u64::from(n2));
    find_with(
        b,
        from,
        |w| zero_bytes(w ^ p1) | zero_bytes(w ^ p2),
        |c| c == n1 || c == n2,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The texts of all statements, panicking on an error.
    fn texts(src: &str) -> Vec<&str> {
        split(src)
            .map(|r| &src[r.expect("split error").text])
            .collect()
    }

    /// The error the splitter reports, and the statements before it.
    fn split_err(src: &str) -> (Vec<&str>, SplitError) {
        let mut ok = Vec::new();
        for item in split(src) {
            match item {
                Ok(s) => ok.push(&src[s.text]),
                Err(e) => return (ok, e),
            }
        }
        panic!("expected an error for {src:?}, got {ok:?}");
    }

    fn word_texts(text: &str) -> Vec<&str> {
        words(text).map(|w| w.text).collect()
    }

    #[test]
    fn splits_on_top_level_semicolons() {
        assert_eq!(texts("SELECT 1; SELECT 2;"), ["SELECT 1", "SELECT 2"]);
        let src = "SELECT 1;\n  SELECT 2 ;\n";
        let stmts: Vec<_> = split(src).map(Result::unwrap).collect();
        assert_eq!(
            stmts,
            [
                Statement {
                    span: 0..9,
                    text: 0..8
                },
                Statement {
                    span: 9..22,
                    text: 12..20
                },
            ]
        );
    }

    #[test]
    fn semicolon_inside_plain_string() {
        assert_eq!(
            texts("SELECT 'a;b'; SELECT 2"),
            ["SELECT 'a;b'", "SELECT 2"]
        );
        assert_eq!(texts("SELECT 'it''s; ok';"), ["SELECT 'it''s; ok'"]);
        // No backslash escapes in standard strings: the string ends at the second quote.
        assert_eq!(
            texts(r"SELECT 'a\'; SELECT 2;"),
            [r"SELECT 'a\'", "SELECT 2"]
        );
    }

    #[test]
    fn semicolon_inside_quoted_identifier() {
        assert_eq!(
            texts(r#"SELECT "a;""b" FROM t; SELECT 2"#),
            [r#"SELECT "a;""b" FROM t"#, "SELECT 2"]
        );
    }

    #[test]
    fn semicolon_inside_comments() {
        assert_eq!(
            texts("SELECT 1 -- x; y\n; SELECT 2;"),
            ["SELECT 1 -- x; y", "SELECT 2"]
        );
        assert_eq!(
            texts("SELECT /* ; */ 1; SELECT 2;"),
            ["SELECT /* ; */ 1", "SELECT 2"]
        );
    }

    #[test]
    fn block_comments_nest() {
        assert_eq!(
            texts("SELECT /* a /* b; */ still; comment */ 1; SELECT 2;"),
            ["SELECT /* a /* b; */ still; comment */ 1", "SELECT 2"]
        );
        // `/*/` opens only one level, and `**/` closes.
        assert_eq!(texts("SELECT /*/ ; **/ 1;"), ["SELECT /*/ ; **/ 1"]);
        // Outside comments, `*/` is just operator characters.
        assert_eq!(
            texts("SELECT 2 */ 1; SELECT 3"),
            ["SELECT 2 */ 1", "SELECT 3"]
        );
    }

    #[test]
    fn e_string_backslash_escapes() {
        assert_eq!(
            texts(r"SELECT E'it\'s; ok'; SELECT 2;"),
            [r"SELECT E'it\'s; ok'", "SELECT 2"]
        );
        assert_eq!(
            texts(r"SELECT e'a''b;\\'; SELECT 2;"),
            [r"SELECT e'a''b;\\'", "SELECT 2"]
        );
        // A backslash before a multi-byte character.
        assert_eq!(
            texts("SELECT E'\\é;'; SELECT 2;"),
            ["SELECT E'\\é;'", "SELECT 2"]
        );
    }

    #[test]
    fn string_prefix_only_counts_as_a_whole_token() {
        // `somE` is an identifier, so `'x\'` is a standard string ending at its second quote.
        assert_eq!(
            texts(r"SELECT somE'x\'; SELECT 2;"),
            [r"SELECT somE'x\'", "SELECT 2"]
        );
        assert_eq!(texts(r"SELECT (E'x\';');"), [r"SELECT (E'x\';')"]);
        // A number swallows the identifier after it (PostgreSQL's trailing-junk rule), so the
        // `e` here is not a prefix either.
        assert_eq!(
            texts(r"SELECT 1e'\'; SELECT 2;"),
            [r"SELECT 1e'\'", "SELECT 2"]
        );
    }

    #[test]
    fn other_prefixed_strings_end_like_plain_strings() {
        for src in [
            r"SELECT B'1;0\'; SELECT 2;",
            r"SELECT x'0A;\'; SELECT 2;",
            r"SELECT N'a;\'; SELECT 2;",
            r"SELECT U&'d\0061t;\'; SELECT 2;",
        ] {
            let got = texts(src);
            assert_eq!(got.len(), 2, "{src}");
            assert_eq!(got[1], "SELECT 2", "{src}");
        }
        assert_eq!(
            texts(r#"SELECT U&"a;""b"; SELECT 2;"#),
            [r#"SELECT U&"a;""b""#, "SELECT 2"]
        );
    }

    #[test]
    fn dollar_quotes() {
        assert_eq!(
            texts("SELECT $$a; 'b$$; SELECT $body$ x; $$ $Body$ ; $body$; SELECT 3"),
            [
                "SELECT $$a; 'b$$",
                "SELECT $body$ x; $$ $Body$ ; $body$",
                "SELECT 3"
            ]
        );
        // A non-ASCII tag, and `$a$` inside `$ab$...$ab$`.
        assert_eq!(
            texts("SELECT $é$;$é$; SELECT $ab$ $a$; $ab$;"),
            ["SELECT $é$;$é$", "SELECT $ab$ $a$; $ab$"]
        );
        // The body ends at the first exact delimiter, also inside `$x$body$`.
        assert_eq!(
            texts("SELECT $body$ ;$x$body$; SELECT 2"),
            ["SELECT $body$ ;$x$body$", "SELECT 2"]
        );
    }

    #[test]
    fn positional_parameters_are_not_dollar_quotes() {
        assert_eq!(
            texts("SELECT $1; SELECT $2$a$;$a$;"),
            ["SELECT $1", "SELECT $2$a$;$a$"]
        );
        // `$1a$b$` is one token: a parameter followed by the identifier `a$b$` (parameter junk).
        assert_eq!(
            texts("SELECT $1a$b$; SELECT 2"),
            ["SELECT $1a$b$", "SELECT 2"]
        );
    }

    #[test]
    fn dollar_inside_identifier_is_not_a_quote() {
        assert_eq!(
            texts("SELECT a$b$ c; SELECT 2;"),
            ["SELECT a$b$ c", "SELECT 2"]
        );
        // `$a` not followed by `$` is a lone `$` and an identifier.
        assert_eq!(texts("SELECT $a ; SELECT 2"), ["SELECT $a", "SELECT 2"]);
    }

    #[test]
    fn begin_atomic_body_with_case() {
        let src = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END; SELECT 3;";
        assert_eq!(
            texts(src),
            [
                "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END",
                "SELECT 3"
            ]
        );
        let src = "create or replace procedure p() begin atomic insert into t values (1); end;\nSELECT 1;";
        assert_eq!(
            texts(src),
            [
                "create or replace procedure p() begin atomic insert into t values (1); end",
                "SELECT 1"
            ]
        );
    }

    #[test]
    fn begin_outside_routines_is_a_transaction() {
        assert_eq!(
            texts("BEGIN; SELECT 1; COMMIT;"),
            ["BEGIN", "SELECT 1", "COMMIT"]
        );
        // CREATE TABLE is not a routine, and words inside parentheses are not counted.
        assert_eq!(
            texts("CREATE TABLE begin (x int); SELECT 1;"),
            ["CREATE TABLE begin (x int)", "SELECT 1"]
        );
        assert_eq!(
            texts("CREATE FUNCTION f(begin int) RETURNS int AS 'select 1'; SELECT 1;"),
            [
                "CREATE FUNCTION f(begin int) RETURNS int AS 'select 1'",
                "SELECT 1"
            ]
        );
        // psql's counting stops at the fourth identifier: `CREATE OR OR FUNCTION` is no routine.
        assert_eq!(
            texts("CREATE OR OR FUNCTION BEGIN; x;"),
            ["CREATE OR OR FUNCTION BEGIN", "x"]
        );
    }

    #[test]
    fn parentheses_hold_semicolons_and_stray_closers_do_not_underflow() {
        assert_eq!(
            texts("SELECT (1; 2); SELECT 3;"),
            ["SELECT (1; 2)", "SELECT 3"]
        );
        assert_eq!(texts(")); SELECT 1; (x;"), ["))", "SELECT 1", "(x;"]);
    }

    #[test]
    fn last_statement_without_semicolon() {
        let src = "SELECT 1;\nSELECT 2  \n\n";
        let stmts: Vec<_> = split(src).map(Result::unwrap).collect();
        assert_eq!(
            stmts[1],
            Statement {
                span: 9..src.len(),
                text: 10..18
            }
        );
        // A trailing line comment stays in the text when no `;` follows it.
        assert_eq!(texts("SELECT 1 -- done  \n"), ["SELECT 1 -- done"]);
    }

    #[test]
    fn empty_statements_fold_into_the_next_span() {
        let src = ";; /* c */ ; SELECT 1;; ;\n";
        let mut it = split(src);
        let first = it.next().unwrap().unwrap();
        assert_eq!(first.span, 0..src.find("1;").unwrap() + 2);
        assert_eq!(&src[first.text], "SELECT 1");
        assert!(it.next().is_none());
        assert_eq!(&src[it.trailing()], "; ;\n");
        assert!(texts(";;").is_empty());
    }

    #[test]
    fn leading_comments_are_skipped_and_inner_comments_kept() {
        let src = "-- header\n/* doc */ SELECT 1 /* why */ ;";
        assert_eq!(texts(src), ["SELECT 1 /* why */"]);
    }

    #[test]
    fn byte_order_mark_is_whitespace() {
        let src = "\u{feff}SELECT 1;";
        let s = split(src).next().unwrap().unwrap();
        assert_eq!(s.span, 0..src.len());
        assert_eq!(&src[s.text], "SELECT 1");
        assert!(texts("\u{feff}").is_empty());
        // Only at the very start: elsewhere U+FEFF is an identifier character, as in psql.
        assert_eq!(texts("SELECT 1;\u{feff};"), ["SELECT 1", "\u{feff}"]);
    }

    #[test]
    fn crlf_line_endings() {
        let src = "SELECT 1 -- one\r\n;\r\nSELECT 'a\r\n;b';\r\n";
        assert_eq!(texts(src), ["SELECT 1 -- one", "SELECT 'a\r\n;b'"]);
        let mut it = split(src);
        it.by_ref().for_each(drop);
        assert_eq!(&src[it.trailing()], "\r\n");
    }

    #[test]
    fn meta_command_at_line_start() {
        let (before, e) = split_err("SELECT 1;\n  \\i other.sql\nSELECT 2;");
        assert_eq!(before, ["SELECT 1"]);
        assert_eq!(
            e,
            SplitError {
                kind: SplitErrorKind::MetaCommand,
                offset: 12,
                delimiter: String::new()
            }
        );
        assert_eq!(split_err("\\set x 1").1.offset, 0);
        assert_eq!(split_err("\u{feff}\\set x 1").1.offset, 3);
        assert_eq!(split_err("SELECT 1\r\n\\gset").1.offset, 10);
        // In the middle of a statement, too.
        assert_eq!(
            split_err("SELECT\n\\x\n1;").1.kind,
            SplitErrorKind::MetaCommand
        );
    }

    #[test]
    fn backslashes_that_are_not_meta_commands() {
        // Mid-line at top level: passed on (the server will reject it).
        assert_eq!(texts("SELECT 1 \\x;"), ["SELECT 1 \\x"]);
        // At the start of a line inside a string, an E'' string, a dollar body or a comment.
        assert_eq!(texts("SELECT 'a\n\\b';"), ["SELECT 'a\n\\b'"]);
        assert_eq!(texts("SELECT E'a\n\\'b';"), ["SELECT E'a\n\\'b'"]);
        assert_eq!(texts("SELECT $$\n\\d$$;"), ["SELECT $$\n\\d$$"]);
        assert_eq!(texts("SELECT /*\n\\d */ 1;"), ["SELECT /*\n\\d */ 1"]);
        assert_eq!(texts("SELECT \"a\n\\b\";"), ["SELECT \"a\n\\b\""]);
    }

    #[test]
    fn unterminated_string() {
        let (before, e) = split_err("SELECT 1; SELECT 'abc;");
        assert_eq!(before, ["SELECT 1"]);
        assert_eq!(
            e,
            SplitError {
                kind: SplitErrorKind::UnterminatedString,
                offset: 17,
                delimiter: String::new()
            }
        );
        for (src, offset) in [
            ("SELECT E'abc\\';", 7),
            ("SELECT E'abc\\", 7),
            ("SELECT 'it''", 7),
            ("SELECT U&'x", 7),
            ("SELECT b'01", 7),
            ("SELECT X'", 7),
            ("SELECT n'", 7),
        ] {
            assert_eq!(
                split_err(src).1.kind,
                SplitErrorKind::UnterminatedString,
                "{src}"
            );
            assert_eq!(split_err(src).1.offset, offset, "{src}");
        }
    }

    #[test]
    fn unterminated_quoted_identifier() {
        let e = split_err(r#"SELECT "a"";"#).1;
        assert_eq!(
            (e.kind, e.offset),
            (SplitErrorKind::UnterminatedQuotedIdentifier, 7)
        );
        let e = split_err(r#"SELECT 1; SELECT u&"a"#).1;
        assert_eq!(
            (e.kind, e.offset),
            (SplitErrorKind::UnterminatedQuotedIdentifier, 17)
        );
    }

    #[test]
    fn unterminated_dollar_quote() {
        let e = split_err("SELECT 1;\nCREATE FUNCTION f() AS $body$ SELECT 1; $Body$;").1;
        assert_eq!(
            e,
            SplitError {
                kind: SplitErrorKind::UnterminatedDollarQuote,
                offset: 33,
                delimiter: "$body$".into()
            }
        );
        let e = split_err("SELECT $$ a").1;
        assert_eq!((e.offset, e.delimiter.as_str()), (7, "$$"));
    }

    #[test]
    fn unterminated_comment() {
        let e = split_err("SELECT 1 /* a /* b */ c; d;").1;
        assert_eq!(e.kind, SplitErrorKind::UnterminatedComment);
        assert_eq!(e.offset, 9);
        let e = split_err("/*").1;
        assert_eq!((e.kind, e.offset), (SplitErrorKind::UnterminatedComment, 0));
    }

    #[test]
    fn iteration_stops_after_an_error() {
        let mut it = split("SELECT 1; 'x");
        assert!(it.next().unwrap().is_ok());
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
        assert_eq!(it.trailing(), 9..12);
    }

    #[test]
    fn psql_variables_lex_as_the_server_lexes_them() {
        // The server has no variables: `:'v'` is `:` and a literal, `:x` is `:` and a word.
        assert_eq!(
            texts("SELECT :'v', :\"w\", :x, :{?y}, 1::int; SELECT 2"),
            ["SELECT :'v', :\"w\", :x, :{?y}, 1::int", "SELECT 2"]
        );
        // So `:E'...'` is an escape string: psql would read `:E` and a standard string whose
        // doubled quote hides the `;`, the server ends the statement there.
        assert_eq!(
            texts("SELECT :E'\\'' ; COMMIT; --'"),
            ["SELECT :E'\\''", "COMMIT"]
        );
        assert_eq!(word_texts("SELECT :a, :begin"), ["SELECT", "a", "begin"]);
        assert_eq!(
            word_texts("SELECT 1e5x, 1.5e+3y, 1..2, .5z, 1e+ b"),
            ["SELECT", "b"]
        );
    }

    #[test]
    fn token_extents_decide_what_counts_as_an_identifier() {
        // Checked against psql 15.18: a token that swallows the next word (or is no identifier)
        // keeps FUNCTION the second identifier, so the BEGIN ... END body holds together.
        for src in [
            "CREATE 1x FUNCTION f() BEGIN a; END;",
            "CREATE $1x FUNCTION f() BEGIN a; END;",
            "CREATE 1e+ FUNCTION f() BEGIN a; END;",
            "CREATE 1.5e+3x FUNCTION f() BEGIN a; END;",
            "CREATE :'x' FUNCTION f() BEGIN a; END;",
            "CREATE U&FUNCTION f() BEGIN a; END;",
            "CREATE N'x' FUNCTION f() BEGIN a; END;",
        ] {
            assert_eq!(texts(src).len(), 1, "{src}");
        }
        // Here a real identifier comes between, so psql splits at the first `;`.
        for src in [
            "CREATE $x FUNCTION f() BEGIN a; END;",
            "CREATE é FUNCTION f() BEGIN a; END;",
            "CREATE 1..x FUNCTION f() BEGIN a; END;",
            "CREATE :x FUNCTION f() BEGIN a; END;",
        ] {
            assert_eq!(texts(src).len(), 2, "{src}");
        }
    }

    #[test]
    fn string_continuation_follows_the_server() {
        // scan.l's {quotecontinue}: the second part of an `E'...'` literal keeps its escapes.
        assert_eq!(
            texts("SELECT E'x'\n'\\' '; CREATE TABLE t2(); COMMIT; --'\n;\n"),
            ["SELECT E'x'\n'\\' '", "CREATE TABLE t2()", "COMMIT"]
        );
        assert_eq!(
            texts("SELECT E'a'\n'\\';'; SELECT 2;"),
            ["SELECT E'a'\n'\\';'", "SELECT 2"]
        );
        // Comments and blank lines may come between, a `\r` counts as a newline.
        for sep in [
            "\n\n",
            " -- c\n",
            "\n-- c\n  ",
            "\r",
            " \t\x0b\x0c\r\n -- x\r\x0b",
        ] {
            let src = format!("SELECT E'a'{sep}'\\';'; SELECT 2;");
            let stmt = format!("SELECT E'a'{sep}'\\';'");
            assert_eq!(texts(&src), [stmt.as_str(), "SELECT 2"], "{sep:?}");
        }
        // Without a newline, or with a comment that takes the quote, the literals stay apart.
        for sep in [" ", "\t", "/* */\n", "\n/* */"] {
            let src = format!("SELECT E'a'{sep}'\\'; SELECT 2;");
            let first = format!("SELECT E'a'{sep}'\\'");
            assert_eq!(texts(&src)[0], first, "{sep:?}");
        }
        // Every literal kind continues, and a plain one stays plain.
        assert_eq!(
            texts("SELECT 'a'\n'\\'; SELECT B'1'\n'0'; SELECT U&'x'\n'\\' UESCAPE '!';"),
            [
                "SELECT 'a'\n'\\'",
                "SELECT B'1'\n'0'",
                "SELECT U&'x'\n'\\' UESCAPE '!'"
            ]
        );
    }

    #[test]
    fn statements_ending_in_a_line_comment() {
        for text in [
            "SELECT 1 -- c",
            "SELECT 1 /* a */ -- c;",
            "SELECT 1\n-- a\n-- b",
            "SELECT 1 --",
        ] {
            assert!(ends_in_line_comment(text), "{text:?}");
        }
        for text in [
            "SELECT 1",
            "SELECT '--'",
            "SELECT 1 -- c\n",
            "SELECT 1 -- c\n/* d */",
            "SELECT $$ -- $$",
            "SELECT \"--\"",
        ] {
            assert!(!ends_in_line_comment(text), "{text:?}");
        }
    }

    #[test]
    fn words_skip_literals_comments_and_bodies() {
        let text = "CREATE /* INDEX */ INDEX -- CONCURRENTLY\n \"CONCURRENTLY\" ON t USING \
                    btree (lower(a), 'x y', E'\\'z', $$ w $$, $f$ v $f$) WHERE U&\"q\" > 1";
        assert_eq!(
            word_texts(text),
            ["CREATE", "INDEX", "ON", "t", "USING", "btree", "lower", "a", "WHERE"]
        );
        let w: Vec<_> = words("a (b (c) d) e")
            .map(|w| (w.text, w.paren_depth, w.range))
            .collect();
        assert_eq!(
            w,
            [
                ("a", 0, 0..1),
                ("b", 1, 3..4),
                ("c", 2, 6..7),
                ("d", 1, 9..10),
                ("e", 0, 12..13)
            ]
        );
        assert_eq!(word_texts(") x ("), ["x"]);
        assert_eq!(words(") x").next().unwrap().paren_depth, 0);
        // Unterminated constructs end the words quietly.
        assert_eq!(word_texts("a 'b c"), ["a"]);
        assert_eq!(word_texts("é$x _y"), ["é$x", "_y"]);
    }

    #[test]
    fn realistic_migration_file() {
        let src = r#"-- Migration 0042: accounts
/* Multi-line header
   /* with a nested comment; */
*/
BEGIN;

CREATE TABLE "Account; Data" (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL DEFAULT 'unnamed; really',
    note text DEFAULT E'it\'s; escaped\\',
    flags bit(4) DEFAULT B'0101',
    raw bytea DEFAULT '\x00'::bytea
);

COMMENT ON TABLE "Account; Data" IS 'Holds accounts; one per customer';

CREATE OR REPLACE FUNCTION touch() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    NEW.updated_at := now(); -- semicolons; everywhere
    RETURN NEW;
END;
$fn$;

CREATE FUNCTION add_one(i int) RETURNS int
LANGUAGE sql
BEGIN ATOMIC
    SELECT CASE WHEN i IS NULL THEN 0 ELSE i + 1 END;
    SELECT $1 + 1;
END;

CREATE PROCEDURE p() LANGUAGE sql AS $$ INSERT INTO t VALUES (1); $$;
;;
INSERT INTO "Account; Data" (name, note) VALUES
    ('a;b', U&'d\0061t\+000061'), ('c', N'naïve; ok');
SELECT a$b$ FROM (SELECT 1 AS a$b$) s; -- trailing comment
COMMIT;
-- end of file
"#;
        assert_eq!(
            texts(src),
            [
                "BEGIN",
                "CREATE TABLE \"Account; Data\" (\n    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    name text NOT NULL DEFAULT 'unnamed; really',\n    note text DEFAULT E'it\\'s; escaped\\\\',\n    flags bit(4) DEFAULT B'0101',\n    raw bytea DEFAULT '\\x00'::bytea\n)",
                "COMMENT ON TABLE \"Account; Data\" IS 'Holds accounts; one per customer'",
                "CREATE OR REPLACE FUNCTION touch() RETURNS trigger\nLANGUAGE plpgsql AS $fn$\nBEGIN\n    NEW.updated_at := now(); -- semicolons; everywhere\n    RETURN NEW;\nEND;\n$fn$",
                "CREATE FUNCTION add_one(i int) RETURNS int\nLANGUAGE sql\nBEGIN ATOMIC\n    SELECT CASE WHEN i IS NULL THEN 0 ELSE i + 1 END;\n    SELECT $1 + 1;\nEND",
                "CREATE PROCEDURE p() LANGUAGE sql AS $$ INSERT INTO t VALUES (1); $$",
                "INSERT INTO \"Account; Data\" (name, note) VALUES\n    ('a;b', U&'d\\0061t\\+000061'), ('c', N'naïve; ok')",
                "SELECT a$b$ FROM (SELECT 1 AS a$b$) s",
                "COMMIT",
            ]
        );
        let mut it = split(src);
        it.by_ref().for_each(drop);
        assert_eq!(&src[it.trailing()], "\n-- end of file\n");
    }

    /// Checks the structural promises of the splitter on any input.
    fn check_invariants(src: &str) {
        let mut it = split(src);
        let mut expected_start = 0;
        let mut failed = false;
        for item in it.by_ref() {
            match item {
                Ok(s) => {
                    assert_eq!(s.span.start, expected_start);
                    assert!(s.span.start <= s.text.start && s.text.start < s.text.end);
                    assert!(s.text.end <= s.span.end && s.span.end <= src.len());
                    let text = src.get(s.text.clone()).expect("text on char boundaries");
                    assert!(src.get(s.span.clone()).is_some(), "span on char boundaries");
                    assert!(!text.starts_with(|c: char| c.is_ascii_whitespace()));
                    assert!(!text.ends_with(|c: char| c.is_ascii_whitespace()));
                    for w in words(text) {
                        assert_eq!(&text[w.range.clone()], w.text);
                    }
                    expected_start = s.span.end;
                }
                Err(e) => {
                    assert!(e.offset < src.len() && src.is_char_boundary(e.offset));
                    failed = true;
                }
            }
        }
        assert!(it.next().is_none());
        assert_eq!(it.trailing(), expected_start..src.len());
        if !failed {
            let mut rebuilt = String::with_capacity(src.len());
            for s in split(src) {
                rebuilt.push_str(&src[s.unwrap().span]);
            }
            rebuilt.push_str(&src[it.trailing()]);
            assert_eq!(rebuilt, src);
        }
    }

    const FRAGMENTS: &[&str] = &[
        "'",
        "''",
        "E'",
        "e'",
        "\\",
        "\\\\",
        "\"",
        "$$",
        "$a$",
        "$1",
        "$",
        "--",
        "/*",
        "*/",
        ";",
        "(",
        ")",
        "BEGIN",
        "END",
        "CASE",
        "CREATE FUNCTION",
        "CREATE OR REPLACE PROCEDURE",
        "\n",
        "\r",
        "\r\n",
        " ",
        "é",
        "a",
        "b",
        "x",
        "1",
        "U&",
        "B'",
        ":",
        "::",
        ":'",
        "-",
        "/",
        "*",
        ".",
        "e",
        "SELECT",
        "ATOMIC",
        "\u{feff}",
    ];

    fn tricky_sql() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(FRAGMENTS), 0..48)
            .prop_map(|parts| parts.concat())
    }

    /// A statement without a top-level `;`, built from parts that each lex as one unit.
    fn simple_statement() -> impl Strategy<Value = String> {
        let part = prop_oneof![
            "[a-d][a-d0-9_]{0,6}",
            "[0-9]{1,4}",
            "'[a-z ;]{0,6}'",
            "\"[a-z ;]{0,6}\"",
            "\\$\\$[a-z ;]{0,6}\\$\\$",
            "\\([a-d ;,]{0,6}\\)",
            "/\\* [a-z;]{0,6} \\*/",
            "[=<>+*,]",
        ];
        prop::collection::vec(part, 1..6)
            .prop_map(|parts| parts.join(" "))
            .prop_filter("starts with a comment", |s| !s.starts_with("/*"))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn never_panics_on_arbitrary_strings(src in any::<String>()) {
            check_invariants(&src);
        }

        #[test]
        fn never_panics_on_tricky_fragments(src in tricky_sql()) {
            check_invariants(&src);
        }

        #[test]
        fn joined_simple_statements_split_back(
            stmts in prop::collection::vec(simple_statement(), 1..8),
            sep in "[ \n]{0,2};[ \n\t]{0,2}",
            last_semicolon in any::<bool>(),
        ) {
            let mut src = stmts.join(&sep);
            if last_semicolon {
                src.push(';');
            }
            prop_assert_eq!(texts(&src), stmts.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }

    /// `rows` rows of an INSERT whose strings contain `;`, quotes and escapes.
    fn bulk_insert(target_len: usize) -> (String, usize) {
        let mut src = String::with_capacity(target_len + 4096);
        let mut statements = 0;
        let mut row = 0u64;
        while src.len() < target_len {
            src.push_str("INSERT INTO events (id, kind, payload, note) VALUES\n");
            for i in 0..200 {
                if i > 0 {
                    src.push_str(",\n");
                }
                row += 1;
                src.push_str("    (");
                src.push_str(&row.to_string());
                src.push_str(", 'kind;");
                src.push_str(["a", "b'' c", "d -- e", "f /* g"][(row % 4) as usize]);
                src.push_str("', E'{\"k\": \"v;\\'x\\'\"}', $$note; ");
                src.push_str("with $dollar and 'quotes'$$)");
            }
            src.push_str(";\n-- batch done; really\n");
            statements += 1;
        }
        (src, statements)
    }

    #[test]
    fn splits_a_five_megabyte_file() {
        let (src, statements) = bulk_insert(5 << 20);
        let mut count = 0;
        for s in split(&src) {
            let s = s.unwrap();
            assert!(src[s.text].starts_with("INSERT INTO events"));
            count += 1;
        }
        assert_eq!(count, statements);
    }

    #[test]
    fn splits_a_hundred_megabyte_file() {
        let (src, statements) = bulk_insert(100 << 20);
        assert_eq!(split(&src).map(Result::unwrap).count(), statements);
    }

    /// Prints the splitter's throughput; run with `cargo test --release -- --ignored --nocapture`.
    #[test]
    #[ignore = "benchmark; run in release mode"]
    fn throughput() {
        let (src, statements) = bulk_insert(200 << 20);
        let start = std::time::Instant::now();
        let count = split(&src).map(Result::unwrap).count();
        let elapsed = start.elapsed();
        assert_eq!(count, statements);
        let mb = src.len() as f64 / 1e6;
        eprintln!(
            "split {mb:.0} MB in {elapsed:?}: {:.0} MB/s",
            mb / elapsed.as_secs_f64()
        );
    }
}
