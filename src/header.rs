//! The `-- keel:` header at the top of every SQL file: parsing, rendering and
//! the checksum of the body.
//!
//! The header is the run of lines at the very top of a file that begin with
//! `-- keel:`; the body is everything after it. The checksum is SHA-256 of the
//! *normalized* body so that a Windows editor's line endings or trailing blanks
//! never count as an edit (see [`normalize`]).

use crate::diagnostic::{codes, Code};
use sha2::{Digest, Sha256};
use std::fmt;
use std::ops::Range;

/// The prefix that marks a header line.
pub const PREFIX: &str = "-- keel:";

const BOM: &str = "\u{feff}";

/// A SHA-256 checksum of a normalized body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Checksum(pub [u8; 32]);

impl Checksum {
    /// Checksum of `body`, normalized first.
    pub fn of_body(body: &str) -> Checksum {
        let mut hasher = Sha256::new();
        // Feed the normalized lines straight into the hasher: a 100 MB body is
        // never copied.
        for (i, line) in normalized_lines(body).enumerate() {
            if i > 0 {
                hasher.update(b"\n");
            }
            hasher.update(line.as_bytes());
        }
        Checksum(hasher.finalize().into())
    }

    /// Parses `sha256:<64 lowercase hex digits>`.
    pub fn parse(value: &str) -> Option<Checksum> {
        let hex = value.strip_prefix("sha256:")?;
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Checksum(out))
    }

    /// The 64 hex digits without the `sha256:` prefix.
    pub fn hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for b in self.0 {
            out.push(char::from(DIGITS[usize::from(b >> 4)]));
            out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
        }
        out
    }

    /// Whether `text` (as recorded in a history) is this checksum, `sha256:` and 64 lowercase hex
    /// digits: the same answer as comparing with [`Checksum::to_string`], without building the
    /// string (a status of a fleet compares every applied version of every database).
    pub fn matches(&self, text: &str) -> bool {
        Checksum::parse(text) == Some(*self)
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

/// Lines of `text`, accepting LF, CRLF and lone CR as line ends.
pub fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let s = rest?;
        // memchr's vector search: a 100 MB body has a million lines.
        match memchr::memchr2(b'\n', b'\r', s.as_bytes()) {
            Some(i) => {
                let next = if s[i..].starts_with("\r\n") {
                    i + 2
                } else {
                    i + 1
                };
                rest = Some(&s[next..]);
                Some(&s[..i])
            }
            None => {
                rest = None;
                Some(s)
            }
        }
    })
}

/// The normalized lines of a body: BOM stripped, any line ending accepted,
/// trailing spaces and tabs removed, leading and trailing blank lines dropped.
/// Joined with `\n` (no final newline) they are what the checksum covers.
pub fn normalized_lines(body: &str) -> impl Iterator<Item = &str> {
    let body = body.strip_prefix(BOM).unwrap_or(body);
    // Cut after the last significant character: what follows is trailing
    // blank lines (and blanks), which the checksum ignores.
    let end = body
        .rfind(|c: char| !matches!(c, ' ' | '\t' | '\n' | '\r'))
        .map_or(0, |i| {
            i + body[i..].chars().next().map_or(1, char::len_utf8)
        });
    lines(&body[..end])
        .skip_while(|l| l.trim_end_matches([' ', '\t']).is_empty())
        .map(|l| l.trim_end_matches([' ', '\t']))
}

/// The normalized body as one string (for display and diffs; checksums do not
/// need it).
pub fn normalize(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    for (i, line) in normalized_lines(body).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(line);
    }
    out
}

/// `transaction on|off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransactionMode {
    #[default]
    On,
    Off,
}

/// One parsed header line, with where it stands in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderLine {
    /// 1-based line number in the file.
    pub line: usize,
    /// Byte range of the whole line (without its line ending).
    pub range: Range<usize>,
    pub entry: Entry,
}

/// A header entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Checksum(Checksum),
    Message(String),
    Transaction(TransactionMode),
    Irreversible,
    Requires(String),
    /// Where an imported file came from: `<tool> <path>` (`keel import`). Runs
    /// ignore it; `keel adopt` reads it to find the original file (whose
    /// checksum the tool recorded) or the Alembic revision a migration stands for.
    Source(String),
    /// `allow <rule-id> <reason>`: silences one safety rule for the whole
    /// file (see `crate::safety`). The only key that may appear more than
    /// once, for different rules.
    Allow(Allow),
}

/// A `-- keel:allow <rule-id> <reason>` line, in the header or in the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow {
    /// One of [`codes::SAFETY_RULES`].
    pub rule: Code,
    pub reason: String,
}

/// Why an allow line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowError {
    #[error("`-- keel:allow` names no rule")]
    NoRule,
    #[error("unknown safety rule `{0}`")]
    UnknownRule(String),
    #[error("`-- keel:allow {0}` gives no reason")]
    NoReason(Code),
}

impl AllowError {
    /// What to write instead.
    pub fn hint(&self) -> String {
        match self {
            AllowError::NoRule | AllowError::UnknownRule(_) => {
                let ids: Vec<&str> = codes::SAFETY_RULES.iter().map(|c| c.as_str()).collect();
                format!(
                    "write `-- keel:allow <rule-id> <reason>`; the rule ids are: {}",
                    ids.join(", ")
                )
            }
            AllowError::NoReason(rule) => format!(
                "say why the statement is safe here, e.g. `-- keel:allow {rule} the table holds a few rows`"
            ),
        }
    }
}

/// Parses the value of an allow line: `<rule-id> <reason>`, the reason
/// required (a silenced safety rule must say why).
pub fn parse_allow(value: &str) -> Result<Allow, AllowError> {
    let value = value.trim_matches([' ', '\t']);
    let (id, reason) = match value.find([' ', '\t']) {
        Some(i) => (&value[..i], value[i..].trim_start_matches([' ', '\t'])),
        None => (value, ""),
    };
    if id.is_empty() {
        return Err(AllowError::NoRule);
    }
    let rule = codes::SAFETY_RULES
        .iter()
        .copied()
        .find(|c| c.as_str() == id)
        .ok_or_else(|| AllowError::UnknownRule(id.to_string()))?;
    if reason.is_empty() {
        return Err(AllowError::NoReason(rule));
    }
    Ok(Allow {
        rule,
        reason: reason.to_string(),
    })
}

impl Entry {
    fn key(&self) -> &'static str {
        match self {
            Entry::Checksum(_) => "checksum",
            Entry::Message(_) => "message",
            Entry::Transaction(_) => "transaction",
            Entry::Irreversible => "irreversible",
            Entry::Requires(_) => "requires",
            Entry::Source(_) => "source",
            Entry::Allow(_) => "allow",
        }
    }

    /// Two entries that cannot both appear: the same key, or for `allow`
    /// the same rule.
    fn clashes_with(&self, other: &Entry) -> bool {
        match (self, other) {
            (Entry::Allow(a), Entry::Allow(b)) => a.rule == b.rule,
            _ => self.key() == other.key(),
        }
    }
}

/// Why a header line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderErrorKind {
    #[error("unknown header key `{key}`")]
    UnknownKey { key: String },
    #[error("malformed value for `{key}`: `{value}`")]
    BadValue { key: &'static str, value: String },
    #[error("{0}")]
    BadAllow(AllowError),
    #[error("header key `{key}` appears twice")]
    Duplicate { key: &'static str },
    #[error("missing checksum header")]
    MissingChecksum,
}

/// A header problem at a line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderError {
    pub kind: HeaderErrorKind,
    /// 1-based line number; 1 for a missing checksum.
    pub line: usize,
    pub range: Range<usize>,
}

impl HeaderError {
    /// What the user should do about it.
    pub fn hint(&self) -> String {
        match &self.kind {
            HeaderErrorKind::UnknownKey { .. } => {
                "known keys: checksum, message, transaction, irreversible, requires, source, allow"
                    .into()
            }
            HeaderErrorKind::BadAllow(e) => e.hint(),
            HeaderErrorKind::BadValue { key, .. } => match *key {
                "checksum" => "run `keel seal` to write a correct checksum".into(),
                "transaction" => "write `-- keel:transaction off` (or `on`)".into(),
                "irreversible" => "`-- keel:irreversible` takes no value".into(),
                "requires" => {
                    "write `-- keel:requires <version>`, e.g. `-- keel:requires 3`".into()
                }
                "source" => {
                    "write `-- keel:source <tool> <path>`, e.g. `-- keel:source sqlx 1_init.sql`"
                        .into()
                }
                _ => "see the header format in the README".into(),
            },
            HeaderErrorKind::Duplicate { .. } => "keep one of the two lines".into(),
            HeaderErrorKind::MissingChecksum => "run `keel seal` to add it".into(),
        }
    }
}

/// The parsed header of a file and where its body starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub lines: Vec<HeaderLine>,
    /// Byte offset in the file where the body starts.
    pub body_start: usize,
}

impl Header {
    /// Splits `text` into header and body and parses every header line.
    /// Returns the header (with all valid lines) and the problems found.
    pub fn parse(text: &str) -> (Header, Vec<HeaderError>) {
        let mut header = Header::default();
        let mut errors = Vec::new();
        let mut offset = if text.starts_with(BOM) { BOM.len() } else { 0 };
        let mut line_no = 0;
        while offset < text.len() {
            let rest = &text[offset..];
            let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
            let line = &rest[..end];
            let Some(content) = line.strip_prefix(PREFIX) else {
                break;
            };
            line_no += 1;
            let range = offset..offset + end;
            match parse_entry(content) {
                Ok(entry) => {
                    if header.lines.iter().any(|l| l.entry.clashes_with(&entry)) {
                        errors.push(HeaderError {
                            kind: HeaderErrorKind::Duplicate { key: entry.key() },
                            line: line_no,
                            range,
                        });
                    } else {
                        header.lines.push(HeaderLine {
                            line: line_no,
                            range,
                            entry,
                        });
                    }
                }
                Err(kind) => errors.push(HeaderError {
                    kind,
                    line: line_no,
                    range,
                }),
            }
            let eol = if rest[end..].starts_with("\r\n") {
                2
            } else {
                usize::from(end < rest.len())
            };
            offset += end + eol;
        }
        header.body_start = offset;
        (header, errors)
    }

    pub fn checksum(&self) -> Option<Checksum> {
        self.lines.iter().find_map(|l| match &l.entry {
            Entry::Checksum(c) => Some(*c),
            _ => None,
        })
    }

    pub fn message(&self) -> Option<&str> {
        self.lines.iter().find_map(|l| match &l.entry {
            Entry::Message(m) => Some(m.as_str()),
            _ => None,
        })
    }

    pub fn transaction(&self) -> TransactionMode {
        self.lines
            .iter()
            .find_map(|l| match &l.entry {
                Entry::Transaction(t) => Some(*t),
                _ => None,
            })
            .unwrap_or_default()
    }

    pub fn irreversible(&self) -> bool {
        self.lines
            .iter()
            .any(|l| matches!(l.entry, Entry::Irreversible))
    }

    /// The `source` of an imported file: `<tool> <path>`.
    pub fn source(&self) -> Option<&str> {
        self.lines.iter().find_map(|l| match &l.entry {
            Entry::Source(s) => Some(s.as_str()),
            _ => None,
        })
    }

    pub fn requires(&self) -> Option<&HeaderLine> {
        self.lines
            .iter()
            .find(|l| matches!(l.entry, Entry::Requires(_)))
    }

    /// The line carrying `key`, if any.
    pub fn line_of(&self, key: &str) -> Option<&HeaderLine> {
        self.lines.iter().find(|l| l.entry.key() == key)
    }
}

fn parse_entry(content: &str) -> Result<Entry, HeaderErrorKind> {
    let content = content.trim_end_matches([' ', '\t']);
    let (key, value) = match content.find([' ', '\t']) {
        Some(i) => (&content[..i], content[i..].trim_start_matches([' ', '\t'])),
        None => (content, ""),
    };
    let bad = |key: &'static str| HeaderErrorKind::BadValue {
        key,
        value: value.to_string(),
    };
    match key {
        "checksum" => Checksum::parse(value)
            .map(Entry::Checksum)
            .ok_or_else(|| bad("checksum")),
        "message" => Ok(Entry::Message(value.to_string())),
        "transaction" => match value {
            "on" => Ok(Entry::Transaction(TransactionMode::On)),
            "off" => Ok(Entry::Transaction(TransactionMode::Off)),
            _ => Err(bad("transaction")),
        },
        "irreversible" if value.is_empty() => Ok(Entry::Irreversible),
        "irreversible" => Err(bad("irreversible")),
        "requires"
            if !value.is_empty()
                && value.len() <= 20
                && value.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Ok(Entry::Requires(value.to_string()))
        }
        "requires" => Err(bad("requires")),
        "source" if !value.is_empty() => Ok(Entry::Source(value.to_string())),
        "source" => Err(bad("source")),
        "allow" => parse_allow(value)
            .map(Entry::Allow)
            .map_err(HeaderErrorKind::BadAllow),
        _ => Err(HeaderErrorKind::UnknownKey {
            key: key.to_string(),
        }),
    }
}

/// The line ending a file uses (that of its first line), so that rewritten
/// header lines match the rest of the file.
pub fn line_ending(text: &str) -> &'static str {
    match text.find(['\n', '\r']) {
        Some(i) if text[i..].starts_with("\r\n") => "\r\n",
        Some(i) if text[i..].starts_with('\r') => "\r",
        _ => "\n",
    }
}

/// Renders the header of a new file.
pub fn render(checksum: Checksum, message: Option<&str>, extra: &[&str]) -> String {
    let mut out = format!("{PREFIX}checksum {checksum}\n");
    if let Some(m) = message {
        // A message is one line; newlines would end the header.
        let m: String = m.split(['\n', '\r']).collect::<Vec<_>>().join(" ");
        out.push_str(&format!("{PREFIX}message {}\n", m.trim()));
    }
    for line in extra {
        out.push_str(&format!("{PREFIX}{line}\n"));
    }
    out
}

/// Returns `text` with its checksum line set to the checksum of its body,
/// changing no other byte: the body, other header lines and line endings stay
/// as they are. A file without a checksum line gets one as its first line.
pub fn seal(text: &str) -> String {
    let (header, _) = Header::parse(text);
    let checksum = Checksum::of_body(&text[header.body_start..]);
    let new_line = format!("{PREFIX}checksum {checksum}");
    // Find the checksum line even if its value is malformed: it is the one to
    // replace.
    let existing = header_line_ranges(text)
        .into_iter()
        .find(|r| text[r.clone()][PREFIX.len()..].starts_with("checksum"));
    match existing {
        Some(r) => format!("{}{}{}", &text[..r.start], new_line, &text[r.end..]),
        None => {
            let start = if text.starts_with(BOM) { BOM.len() } else { 0 };
            format!(
                "{}{}{}{}",
                &text[..start],
                new_line,
                line_ending(text),
                &text[start..]
            )
        }
    }
}

/// Byte ranges of the header lines (valid or not).
fn header_line_ranges(text: &str) -> Vec<Range<usize>> {
    let (header, errors) = Header::parse(text);
    let mut ranges: Vec<_> = header
        .lines
        .iter()
        .map(|l| l.range.clone())
        .chain(errors.iter().map(|e| e.range.clone()))
        .collect();
    ranges.sort_by_key(|r| r.start);
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_ignores_line_endings_bom_and_trailing_blanks() {
        let clean = "CREATE TABLE t (id int);\n\nSELECT 1;";
        let messy = "\u{feff}\r\n  \r\nCREATE TABLE t (id int);  \t\r\n\r\nSELECT 1;\t\r\n\r\n";
        let old_mac = "CREATE TABLE t (id int);\r\rSELECT 1;\r";
        assert_eq!(normalize(messy), clean);
        assert_eq!(Checksum::of_body(clean), Checksum::of_body(messy));
        assert_eq!(Checksum::of_body(clean), Checksum::of_body(old_mac));
        assert_ne!(Checksum::of_body(clean), Checksum::of_body("SELECT 2;"));
    }

    #[test]
    fn checksum_of_known_value() {
        // printf 'SELECT 1;' | sha256sum
        assert_eq!(
            Checksum::of_body("\n\nSELECT 1;   \n\n").hex(),
            "17db4fd369edb9244b9f91d9aeed145c3d04ad8ba6e95d06247f07a63527d11a"
        );
    }

    #[test]
    fn a_checksum_matches_exactly_its_own_text() {
        let c = Checksum::of_body("SELECT 1;");
        assert!(c.matches(&c.to_string()));
        assert!(!c.matches(&c.to_string().to_uppercase()));
        assert!(!c.matches(&c.hex()));
        assert!(!c.matches(&format!("{c} ")));
        assert!(!c.matches(&Checksum::of_body("SELECT 2;").to_string()));
        assert!(!c.matches(""));
    }

    #[test]
    fn parses_header_and_body_start() {
        let sum = Checksum::of_body("SELECT 1;");
        let text = format!(
            "-- keel:checksum {sum}\r\n-- keel:message add things\r\n-- keel:transaction off\r\nSELECT 1;\r\n"
        );
        let (h, errors) = Header::parse(&text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(h.checksum(), Some(sum));
        assert_eq!(h.message(), Some("add things"));
        assert_eq!(h.transaction(), TransactionMode::Off);
        assert_eq!(&text[h.body_start..], "SELECT 1;\r\n");
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        let text = "-- keel:checksum sha256:abc\n-- keel:transacton off\n-- keel:transaction maybe\n-- keel:irreversible yes\nSELECT 1;";
        let (_, errors) = Header::parse(text);
        let kinds: Vec<_> = errors
            .iter()
            .map(|e| (e.line, e.kind.to_string()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (
                    1,
                    "malformed value for `checksum`: `sha256:abc`".to_string()
                ),
                (2, "unknown header key `transacton`".to_string()),
                (3, "malformed value for `transaction`: `maybe`".to_string()),
                (4, "malformed value for `irreversible`: `yes`".to_string()),
            ]
        );
    }

    #[test]
    fn source_records_where_an_imported_file_came_from() {
        let sum = Checksum::of_body("SELECT 1;");
        let text =
            format!("-- keel:checksum {sum}\n-- keel:source sqlx 20230101_a b.up.sql\nSELECT 1;\n");
        let (h, errors) = Header::parse(&text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(h.source(), Some("sqlx 20230101_a b.up.sql"));
        let (_, errors) = Header::parse("-- keel:source\n-- keel:source  \nSELECT 1;");
        let kinds: Vec<_> = errors.iter().map(|e| e.kind.to_string()).collect();
        assert_eq!(
            kinds,
            [
                "malformed value for `source`: ``",
                "malformed value for `source`: ``"
            ]
        );
    }

    #[test]
    fn header_stops_at_first_other_line() {
        let text = "-- keel:message a\n-- a comment\n-- keel:message b\nSELECT 1;";
        let (h, errors) = Header::parse(text);
        assert!(errors.is_empty());
        assert_eq!(h.lines.len(), 1);
        assert_eq!(&text[h.body_start..h.body_start + 12], "-- a comment");
    }

    #[test]
    fn seal_changes_only_the_checksum_line() {
        let body = "CREATE TABLE t (id int);  \r\n";
        let old = format!(
            "-- keel:checksum sha256:{}\r\n-- keel:message m\r\n{body}",
            "0".repeat(64)
        );
        let sealed = seal(&old);
        assert!(sealed.ends_with(&format!("-- keel:message m\r\n{body}")));
        let (h, _) = Header::parse(&sealed);
        assert_eq!(h.checksum(), Some(Checksum::of_body(body)));
        assert_eq!(seal(&sealed), sealed, "sealing twice changes nothing");
    }

    #[test]
    fn seal_adds_a_missing_checksum_keeping_the_bom() {
        let old = "\u{feff}SELECT 1;\r\n";
        let sealed = seal(old);
        assert!(sealed.starts_with("\u{feff}-- keel:checksum sha256:"));
        assert!(sealed.ends_with("\r\nSELECT 1;\r\n"));
        let (h, errors) = Header::parse(&sealed);
        assert!(errors.is_empty());
        assert_eq!(h.checksum(), Some(Checksum::of_body("SELECT 1;")));
    }
}
