//! Connection strings read exactly as libpq reads them: `key=value` strings (fe-connect.c,
//! `conninfo_parse`) and `postgresql://` URIs (`conninfo_uri_parse_options`), into keyword and
//! value pairs, with libpq's error messages.
//!
//! One parser for every spelling matters for trust: when part of a string went through one
//! reader and part through another, `sslmode = require` (blanks around `=`), a percent-encoded
//! key or a `sslmode=` inside a quoted value could slip past the reader that enforces TLS, and
//! an `@` in a query parameter could be taken for the end of the user name and send keel, and
//! part of the password, to another host. Here every keyword is named once, checked against
//! libpq's list, and handed on; [`super::connect`] decides what each means.

use std::collections::BTreeMap;

/// libpq's connection keywords (`PQconninfoOptions`, PostgreSQL 18), and the variable that
/// fills each one left unset.
pub const KEYWORDS: &[(&str, Option<&str>)] = &[
    ("service", Some("PGSERVICE")),
    ("user", Some("PGUSER")),
    ("password", Some("PGPASSWORD")),
    ("passfile", Some("PGPASSFILE")),
    ("channel_binding", Some("PGCHANNELBINDING")),
    ("connect_timeout", Some("PGCONNECT_TIMEOUT")),
    ("dbname", Some("PGDATABASE")),
    ("host", Some("PGHOST")),
    ("hostaddr", Some("PGHOSTADDR")),
    ("port", Some("PGPORT")),
    ("client_encoding", Some("PGCLIENTENCODING")),
    ("options", Some("PGOPTIONS")),
    ("application_name", Some("PGAPPNAME")),
    ("fallback_application_name", None),
    ("keepalives", None),
    ("keepalives_idle", None),
    ("keepalives_interval", None),
    ("keepalives_count", None),
    ("tcp_user_timeout", None),
    ("sslmode", Some("PGSSLMODE")),
    ("sslnegotiation", Some("PGSSLNEGOTIATION")),
    ("sslcompression", Some("PGSSLCOMPRESSION")),
    ("sslcert", Some("PGSSLCERT")),
    ("sslkey", Some("PGSSLKEY")),
    ("sslcertmode", Some("PGSSLCERTMODE")),
    ("sslpassword", None),
    ("sslkeylogfile", Some("PGSSLKEYLOGFILE")),
    ("sslrootcert", Some("PGSSLROOTCERT")),
    ("sslcrl", Some("PGSSLCRL")),
    ("sslcrldir", Some("PGSSLCRLDIR")),
    ("sslsni", Some("PGSSLSNI")),
    ("requirepeer", Some("PGREQUIREPEER")),
    ("require_auth", Some("PGREQUIREAUTH")),
    ("ssl_min_protocol_version", Some("PGSSLMINPROTOCOLVERSION")),
    ("ssl_max_protocol_version", Some("PGSSLMAXPROTOCOLVERSION")),
    ("min_protocol_version", Some("PGMINPROTOCOLVERSION")),
    ("max_protocol_version", Some("PGMAXPROTOCOLVERSION")),
    ("gssencmode", Some("PGGSSENCMODE")),
    ("krbsrvname", Some("PGKRBSRVNAME")),
    ("gsslib", Some("PGGSSLIB")),
    ("gssdelegation", Some("PGGSSDELEGATION")),
    ("replication", None),
    ("target_session_attrs", Some("PGTARGETSESSIONATTRS")),
    ("load_balance_hosts", Some("PGLOADBALANCEHOSTS")),
    ("scram_client_key", None),
    ("scram_server_key", None),
    ("oauth_issuer", None),
    ("oauth_client_id", None),
    ("oauth_client_secret", None),
    ("oauth_scope", None),
];

/// Keyword → value, a later value for a keyword replacing an earlier one (as in libpq).
pub type Pairs = BTreeMap<&'static str, String>;

/// Whether `text` is a URI (`postgresql://` or `postgres://`, exactly at its start).
pub fn is_uri(text: &str) -> bool {
    uri_prefix_len(text).is_some()
}

fn uri_prefix_len(text: &str) -> Option<usize> {
    ["postgresql://", "postgres://"]
        .iter()
        .find(|p| text.starts_with(**p))
        .map(|p| p.len())
}

/// Reads a URI or a `key=value` string. An error never quotes a value (which may be the
/// password); it may quote a keyword, or the query parameter a URI could not read.
pub fn parse(text: &str) -> Result<Pairs, String> {
    match uri_prefix_len(text) {
        Some(n) => parse_uri(&text[n..]),
        None => parse_conninfo(text),
    }
}

/// The canonical keyword for `key`, if libpq knows it (`requiressl` is libpq's old spelling
/// of `sslmode`, which [`store`] maps).
fn keyword(key: &str) -> Option<&'static str> {
    KEYWORDS.iter().map(|(k, _)| *k).find(|k| *k == key)
}

/// The `sslmode` that libpq's old `requiressl` setting (or `PGREQUIRESSL`) stands for: `1...`
/// is `require`, anything else `prefer`.
pub fn sslmode_of_requiressl(value: &str) -> &'static str {
    if value.starts_with('1') {
        "require"
    } else {
        "prefer"
    }
}

/// Stores `key=value` as libpq's `conninfo_storeval` does.
fn store(
    pairs: &mut Pairs,
    key: &str,
    value: String,
    unknown: impl Fn(&str) -> String,
) -> Result<(), String> {
    if key == "requiressl" {
        pairs.insert("sslmode", sslmode_of_requiressl(&value).to_string());
        return Ok(());
    }
    let k = keyword(key).ok_or_else(|| unknown(key))?;
    pairs.insert(k, value);
    Ok(())
}

fn parse_conninfo(text: &str) -> Result<Pairs, String> {
    let mut pairs = Pairs::new();
    let b: Vec<char> = text.chars().collect();
    let mut i = 0;
    let space = |c: char| c.is_ascii_whitespace();
    while i < b.len() {
        if space(b[i]) {
            i += 1;
            continue;
        }
        // The keyword ends at `=` or at a blank, after which only blanks may come before `=`.
        let start = i;
        while i < b.len() && b[i] != '=' && !space(b[i]) {
            i += 1;
        }
        let key: String = b[start..i].iter().collect();
        while i < b.len() && space(b[i]) {
            i += 1;
        }
        if b.get(i) != Some(&'=') {
            return Err(format!(
                "missing \"=\" after \"{key}\" in connection info string"
            ));
        }
        i += 1;
        while i < b.len() && space(b[i]) {
            i += 1;
        }
        let mut value = String::new();
        if b.get(i) == Some(&'\'') {
            i += 1;
            loop {
                match b.get(i) {
                    None => {
                        return Err("unterminated quoted string in connection info string".into())
                    }
                    Some('\\') => {
                        if let Some(c) = b.get(i + 1) {
                            value.push(*c);
                        }
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(c) => {
                        value.push(*c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < b.len() && !space(b[i]) {
                if b[i] == '\\' {
                    if let Some(c) = b.get(i + 1) {
                        value.push(*c);
                    }
                    i += 2;
                } else {
                    value.push(b[i]);
                    i += 1;
                }
            }
        }
        store(&mut pairs, &key, value, |k| {
            format!("invalid connection option \"{k}\"")
        })?;
    }
    Ok(pairs)
}

fn parse_uri(rest: &str) -> Result<Pairs, String> {
    let mut pairs = Pairs::new();
    let b = rest.as_bytes();
    // Credentials end at the first `@` before any `/`: an `@` in the path or the query is
    // not one.
    let at = b.iter().position(|c| *c == b'@' || *c == b'/');
    let mut p = 0;
    if let Some(a) = at.filter(|a| b[*a] == b'@') {
        let cred = &rest[..a];
        let (user, password) = match cred.split_once(':') {
            Some((u, pw)) => (u, Some(pw)),
            None => (cred, None),
        };
        if !user.is_empty() {
            pairs.insert("user", decode(user)?);
        }
        if let Some(pw) = password {
            pairs.insert("password", decode(pw)?);
        }
        p = a + 1;
    }
    let mut hosts: Vec<String> = Vec::new();
    let mut ports: Vec<String> = Vec::new();
    let mut any_port = false;
    let mut prev;
    loop {
        let host;
        if b.get(p) == Some(&b'[') {
            let start = p + 1;
            let Some(end) = b[start..]
                .iter()
                .position(|c| *c == b']')
                .map(|e| start + e)
            else {
                return Err(
                    "end of string reached when looking for matching \"]\" in IPv6 host address in URI"
                        .into(),
                );
            };
            if end == start {
                return Err("IPv6 host address may not be empty in URI".into());
            }
            host = &rest[start..end];
            p = end + 1;
            if let Some(c) = b.get(p).filter(|c| !matches!(c, b':' | b'/' | b'?' | b',')) {
                return Err(format!(
                    "unexpected character \"{}\" at position {} in URI (expected \":\" or \"/\")",
                    *c as char,
                    p + 1
                ));
            }
        } else {
            let start = p;
            while p < b.len() && !matches!(b[p], b':' | b'/' | b'?' | b',') {
                p += 1;
            }
            host = &rest[start..p];
        }
        hosts.push(host.to_string());
        prev = b.get(p).copied();
        let mut port = "";
        if prev == Some(b':') {
            let start = p + 1;
            p = start;
            while p < b.len() && !matches!(b[p], b'/' | b'?' | b',') {
                p += 1;
            }
            port = &rest[start..p];
            any_port = true;
            prev = b.get(p).copied();
        }
        ports.push(port.to_string());
        if prev != Some(b',') {
            break;
        }
        p += 1;
    }
    let hosts = hosts.join(",");
    if !hosts.is_empty() {
        pairs.insert("host", decode(&hosts)?);
    }
    if any_port {
        pairs.insert("port", decode(&ports.join(","))?);
    }
    if prev.is_some() && prev != Some(b'?') {
        let start = p + 1;
        p = start;
        while p < b.len() && b[p] != b'?' {
            p += 1;
        }
        let dbname = &rest[start..p];
        if !dbname.is_empty() {
            pairs.insert("dbname", decode(dbname)?);
        }
        prev = b.get(p).copied();
    }
    if prev.is_some() {
        let query = &rest[p + 1..];
        // `?` and `a=1&` end cleanly, as in libpq; an empty parameter elsewhere does not.
        let query = query.strip_suffix('&').unwrap_or(query);
        for param in query.split('&').filter(|_| !query.is_empty()) {
            let mut parts = param.splitn(3, '=');
            let (Some(k), Some(v)) = (parts.next(), parts.next()) else {
                return Err(format!(
                    "missing key/value separator \"=\" in URI query parameter: \"{}\"",
                    shown_key(param)
                ));
            };
            if parts.next().is_some() {
                return Err(format!(
                    "extra key/value separator \"=\" in URI query parameter: \"{}\"",
                    shown_key(k)
                ));
            }
            let (k, v) = (decode(k)?, decode(v)?);
            // libpq's JDBC-compatible spelling.
            let (k, v) = if k == "ssl" && v == "true" {
                ("sslmode".to_string(), "require".to_string())
            } else {
                (k, v)
            };
            store(&mut pairs, &k, v, |k| {
                format!("invalid URI query parameter: \"{k}\"")
            })?;
        }
    }
    Ok(pairs)
}

/// A query parameter's key as an error may show it: never what follows its `=`.
fn shown_key(param: &str) -> &str {
    param.split('=').next().unwrap_or_default()
}

/// Percent-decoding as libpq's `conninfo_uri_decode`: `%` must be followed by two hex digits,
/// and `%00` is forbidden. The error does not quote the text (it may be the password).
fn decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let v = s
                .get(i + 1..i + 3)
                .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("invalid percent-encoded token in URI")?;
            if v == 0 {
                return Err("forbidden value %00 in percent-encoded value in URI".into());
            }
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "a percent-encoded value in the URI is not UTF-8".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(&'static str, String)> {
        parse(text).unwrap().into_iter().collect()
    }

    fn p(k: &'static str, v: &str) -> (&'static str, String) {
        (k, v.to_string())
    }

    #[test]
    fn conninfo_as_libpq_reads_it() {
        // Blanks around `=`, quotes, backslashes, and a keyword's text inside a quoted value.
        assert_eq!(
            pairs("host=h  sslmode = require user= 'a b\\'c' options='-c sslmode=disable' password=x\\ y"),
            [
                p("host", "h"),
                p("options", "-c sslmode=disable"),
                p("password", "x y"),
                p("sslmode", "require"),
                p("user", "a b'c"),
            ]
        );
        assert_eq!(pairs("sslmode='require'"), [p("sslmode", "require")]);
        assert_eq!(pairs("requiressl=1"), [p("sslmode", "require")]);
        // A later value wins.
        assert_eq!(pairs("port=1 port=2"), [p("port", "2")]);
        for (bad, message) in [
            (" = host=x", "invalid connection option \"\""),
            ("host=/s =junk", "invalid connection option \"\""),
            ("=", "invalid connection option \"\""),
            ("bogus=1", "invalid connection option \"bogus\""),
            (
                "host",
                "missing \"=\" after \"host\" in connection info string",
            ),
            (
                "password='secret",
                "unterminated quoted string in connection info string",
            ),
            (
                " postgresql://u@h/db?sslmode=require",
                "invalid connection option \"postgresql://u@h/db?sslmode\"",
            ),
        ] {
            assert_eq!(parse(bad).unwrap_err(), message, "{bad}");
        }
    }

    #[test]
    fn uris_as_libpq_reads_them() {
        assert_eq!(
            pairs("postgresql://app:p%40ss%3Aw@h1:5433,[::1]:5434/db%20x?ssl%6Dode=require&application_name=a%26b"),
            [
                p("application_name", "a&b"),
                p("dbname", "db x"),
                p("host", "h1,::1"),
                p("password", "p@ss:w"),
                p("port", "5433,5434"),
                p("sslmode", "require"),
                p("user", "app"),
            ]
        );
        // An `@` after the first `/` is not the end of the user name.
        assert_eq!(
            pairs("postgresql://localhost:54322/appdb?user=app@%2Ftmp%2Fsock:1"),
            [
                p("dbname", "appdb"),
                p("host", "localhost"),
                p("port", "54322"),
                p("user", "app@/tmp/sock:1"),
            ]
        );
        assert_eq!(
            pairs("postgres:///app?host=%2Ftmp%2Fsock&port=5433&ssl=true"),
            [
                p("dbname", "app"),
                p("host", "/tmp/sock"),
                p("port", "5433"),
                p("sslmode", "require"),
            ]
        );
        assert_eq!(pairs("postgresql://"), []);
        assert_eq!(pairs("postgresql://h"), [p("host", "h")]);
        for (bad, message) in [
            (
                "postgresql://h/db?bogus=1",
                "invalid URI query parameter: \"bogus\"",
            ),
            (
                "postgresql://h/db?sslmode",
                "missing key/value separator \"=\" in URI query parameter: \"sslmode\"",
            ),
            (
                "postgresql://h/db?password=a=b",
                "extra key/value separator \"=\" in URI query parameter: \"password\"",
            ),
            (
                "postgresql://u:s%zzret@h/db",
                "invalid percent-encoded token in URI",
            ),
            (
                "postgresql://[::1/db",
                "end of string reached when looking for matching \"]\" in IPv6 host address in URI",
            ),
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e, message, "{bad}");
            assert!(!e.contains("ret") || bad.contains("bogus"), "{e}");
        }
    }
}
