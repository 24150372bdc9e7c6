//! Text from files, the server and other sessions, made safe to print.
//!
//! File names, `-- keel:message` text, SQL, policy names and server error messages can come
//! from someone hostile. Printed as they are, their control characters reach the DBA's terminal
//! and the CI log: an escape sequence can erase a line of `keel show`, set the terminal's title
//! or clipboard, a carriage return can overwrite what keel printed, and a line that begins with
//! `::` is a GitHub Actions workflow command (a forged `::error` annotation, or worse). So every
//! text keel prints goes through [`printable`], and under GitHub Actions through [`guard`].

use std::borrow::Cow;

/// `text` with every control character written as an escape (`\x1b`, `\r`, `\u{202e}`),
/// except newline and tab: C0 controls, DEL, C1 controls and the Unicode bidirectional
/// controls (which reorder what a reader sees). With `keep_colour`, keel's own colour
/// sequences (SGR: `ESC [ digits ; ... m`) stay, and only they.
pub fn printable(text: &str, keep_colour: bool) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '\x1b' && keep_colour {
            if let Some(n) = sgr_len(rest) {
                out.push_str(&rest[..n]);
                rest = &rest[n..];
                continue;
            }
        }
        if needs_escape(c) {
            match c {
                '\r' => out.push_str("\\r"),
                c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            }
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    match c {
        '\n' | '\t' => false,
        c if c.is_control() => true, // C0, DEL, C1
        '\u{061c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

/// The length of the SGR sequence `text` starts with, if it starts with one.
fn sgr_len(text: &str) -> Option<usize> {
    let body = text.strip_prefix("\x1b[")?;
    let params = body
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b';')
        .count();
    (body.as_bytes().get(params) == Some(&b'm')).then_some(2 + params + 1)
}

/// Under GitHub Actions, `text` such that no line of it is read as a workflow command: when a
/// line would begin with `::`, the whole text goes between `::stop-commands::TOKEN` and
/// `::TOKEN::`, GitHub's own way to print untrusted text, with a token nobody can know in
/// advance.
pub fn guard(text: &str) -> Cow<'_, str> {
    if !text.lines().any(|l| l.trim_start().starts_with("::")) {
        return Cow::Borrowed(text);
    }
    let token = unguessable_token();
    Cow::Owned(format!("::stop-commands::{token}\n{text}\n::{token}::"))
}

/// 32 hex digits from the process's random hash keys, the time and the pid.
fn unguessable_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let half = |salt: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(salt);
        h.write_u32(std::process::id());
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.finish()
    };
    format!("keel{:016x}{:016x}", half(1), half(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_colour_kept_only_when_asked() {
        let hostile = "boom\x1b[31mRED\x1b]0;owned\x07\r\n::x\tok\u{202e}txt\u{9b}";
        assert_eq!(
            printable(hostile, false),
            "boom\\x1b[31mRED\\x1b]0;owned\\x07\\r\n::x\tok\\u{202e}txt\\u{9b}"
        );
        assert_eq!(
            printable(hostile, true),
            "boom\x1b[31mRED\\x1b]0;owned\\x07\\r\n::x\tok\\u{202e}txt\\u{9b}"
        );
        // Only SGR: erasing a line (CSI K) is not colour.
        assert_eq!(printable("a\x1b[2Kb", true), "a\\x1b[2Kb");
        assert!(matches!(
            printable("plain ünïcode\n", false),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn a_line_that_would_be_a_workflow_command_is_fenced() {
        assert!(matches!(guard("error: a: b::c"), Cow::Borrowed(_)));
        let fenced = guard("error: boom\n  ::error file=x::forged");
        let lines: Vec<&str> = fenced.lines().collect();
        let token = lines[0].strip_prefix("::stop-commands::").expect("fenced");
        assert!(token.len() > 8);
        assert_eq!(lines.last(), Some(&format!("::{token}::").as_str()));
    }
}
