//! The lexer: where the server's scanner (`src/backend/parser/scan.l`) ends
//! tokens, reproduced rule for rule in one pass over the bytes, without
//! copying or allocating, assuming `standard_conforming_strings = on`. Only
//! significant tokens come out; whitespace and comments are skipped here.
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
//! literal).

use super::{SplitError, SplitErrorKind};

/// What kind of significant token the lexer produced. Whitespace and comments never become
/// tokens: nothing downstream needs them, and skipping them inside the lexer keeps it tight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokKind {
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
pub(super) struct Token {
    pub(super) kind: TokKind,
    pub(super) start: usize,
    pub(super) end: usize,
}

/// A cursor over the input that returns one significant token at a time.
///
/// Every construct is scanned to its end in one go, so the caller only ever sees top-level
/// tokens and never has to carry "inside a string" state between bytes.
#[derive(Debug, Clone)]
pub(super) struct Lexer<'a> {
    b: &'a [u8],
    pos: usize,
    /// 3 when the input starts with a byte order mark, which psql drops; 0 otherwise.
    pub(super) floor: usize,
}

const BOM: &[u8] = "\u{feff}".as_bytes();

// Character classes of scan.l, one bit each, looked up in a 256-byte table: bytes >= 0x80
// count as letters there, so every byte of a multi-byte UTF-8 character is an identifier byte.
// {space}: [ \t\n\r\f\v] since PostgreSQL 16. PostgreSQL 15 leaves out \v, but there a bare \v
// is a syntax error anyway, so following 16 agrees with every server on what it can run.
pub(super) const WS: u8 = 1;
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
pub(super) fn is_class(c: u8, class: u8) -> bool {
    CLASS[c as usize] & class != 0
}

/// Index of the first byte at or after `i` that is not in `class`.
#[inline(always)]
pub(super) fn skip_class(b: &[u8], mut i: usize, class: u8) -> usize {
    while let Some(&c) = b.get(i) {
        if !is_class(c, class) {
            break;
        }
        i += 1;
    }
    i
}

impl<'a> Lexer<'a> {
    pub(super) fn new(b: &'a [u8]) -> Self {
        let floor = if b.starts_with(BOM) { BOM.len() } else { 0 };
        Lexer {
            b,
            pos: floor,
            floor,
        }
    }

    pub(super) fn next_token(&mut self) -> Result<Option<Token>, SplitError> {
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
pub(super) fn line_end(b: &[u8], from: usize) -> usize {
    find_either(b, from, b'\n', b'\r').unwrap_or(b.len())
}

/// End (exclusive) of the nested `/* ... */` comment opening at `open`.
pub(super) fn block_comment_end(b: &[u8], open: usize) -> Result<usize, SplitError> {
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
    match b
        .get(delimiter_end..)
        .and_then(|body| memchr::memmem::find(body, delimiter))
    {
        Some(d) => Ok(delimiter_end + d + delimiter.len()),
        None => Err(SplitError {
            kind: SplitErrorKind::UnterminatedDollarQuote,
            offset: start,
            delimiter: String::from_utf8_lossy(delimiter).into_owned(),
        }),
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

// Strings, comments and dollar bodies are where large files spend their bytes, so the scans for
// their closing characters use memchr's vectorized search instead of going byte by byte.

/// The first index at or after `from` that holds `needle`.
#[inline]
fn find_byte(b: &[u8], from: usize, needle: u8) -> Option<usize> {
    memchr::memchr(needle, b.get(from..)?).map(|p| from + p)
}

/// The first index at or after `from` that holds `n1` or `n2`.
#[inline]
fn find_either(b: &[u8], from: usize, n1: u8, n2: u8) -> Option<usize> {
    memchr::memchr2(n1, n2, b.get(from..)?).map(|p| from + p)
}
