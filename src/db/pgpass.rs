//! The password file (`~/.pgpass`, `PGPASSFILE`, `passfile`), read as
//! libpq's `passwordFromFile` (fe-connect.c) reads it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Mutex;

/// The password of the first line matching host, port, database and
/// user; `None` when there is none, or the file is missing, not a plain
/// file, or readable by others (with libpq's warnings).
pub fn lookup(path: &Path, host: &str, port: &str, db: &str, user: &str) -> Option<String> {
    // stat(), as libpq: a symlink to a private file is fine.
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        warn_once(format!(
            "warning: password file \"{}\" is not a plain file",
            path.display()
        ));
        return None;
    }
    // libpq: S_IRWXG | S_IRWXO.
    if meta.permissions().mode() & 0o077 != 0 {
        warn_once(format!(
            "warning: password file \"{}\" has group or world access; permissions should be u=rw (0600) or less",
            path.display()
        ));
        return None;
    }
    let text = std::fs::read(path).ok()?;
    find(&text, host, port, db, user)
}

/// A run may connect more than once (and to several hosts): one warning
/// is enough.
fn warn_once(message: String) {
    static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if !seen.contains(&message) {
        crate::report::warning::line(&message);
        seen.push(message);
    }
}

pub fn find(text: &[u8], host: &str, port: &str, db: &str, user: &str) -> Option<String> {
    'lines: for line in text.split(|b| *b == b'\n') {
        let mut line = line;
        while let [rest @ .., b'\r'] = line {
            line = rest;
        }
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        let mut rest = line;
        for token in [host, port, db, user] {
            match field_matches(rest, token.as_bytes()) {
                Some(r) => rest = r,
                None => continue 'lines,
            }
        }
        return Some(password(rest));
    }
    None
}

/// libpq's `pwdfMatchesString`: `*` alone matches anything; `\` escapes
/// the next character. Returns the rest of the line after the field.
fn field_matches<'a>(buf: &'a [u8], token: &[u8]) -> Option<&'a [u8]> {
    if buf.starts_with(b"*:") {
        return Some(&buf[2..]);
    }
    let (mut i, mut t) = (0, 0);
    while i < buf.len() {
        let mut escaped = false;
        if buf[i] == b'\\' {
            i += 1;
            escaped = true;
            if i == buf.len() {
                return None;
            }
        }
        if buf[i] == b':' && !escaped && t == token.len() {
            return Some(&buf[i + 1..]);
        }
        if t == token.len() || buf[i] != token[t] {
            return None;
        }
        i += 1;
        t += 1;
    }
    None
}

/// The password field, unescaped, up to an unescaped `:` or the end.
fn password(field: &[u8]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < field.len() && field[i] != b':' {
        if field[i] == b'\\' && i + 1 < field.len() {
            i += 1;
        }
        out.push(field[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgpass_lines_match_as_libpq() {
        let text = b"# a comment\n\
            db.example:5432:app:alice:first\\:one\r\n\
            db.example:5432:app:alice:second\n\
            *:*:*:bob:b\\\\s\\:x:ignored\n\
            h\\:x:*:*:*:colon-host\n\
            \\*:*:*:*:star-host\n";
        let f = |h, p, d, u| find(text, h, p, d, u);
        assert_eq!(
            f("db.example", "5432", "app", "alice"),
            Some("first:one".into())
        );
        assert_eq!(f("db.example", "5433", "app", "alice"), None);
        assert_eq!(f("other", "1", "x", "bob"), Some("b\\s:x".into()));
        assert_eq!(f("h:x", "1", "x", "y"), Some("colon-host".into()));
        assert_eq!(f("*", "1", "x", "y"), Some("star-host".into()));
        assert_eq!(f("anything", "1", "x", "y"), None);
    }
}
