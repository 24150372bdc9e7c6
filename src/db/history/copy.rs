//! `COPY` in text format: bulk writes of applied versions (`COPY ... FROM STDIN`: one round trip
//! for a whole batch of rows, large bodies streamed in chunks), and the fields of a row read with
//! `COPY ... TO STDOUT`.

use super::events::client_host;
use super::versions::NewVersion;
use crate::db::DbError;
use postgres::GenericClient;
use std::io::Write as _;

/// Records applied versions with one `COPY` for the whole batch: a run of a
/// thousand migrations costs one round trip for its history, and a 100 MB
/// body is streamed in small chunks instead of being copied into one
/// message.
pub fn insert(
    client: &mut impl GenericClient,
    schema: &str,
    rows: &[NewVersion<'_>],
) -> Result<(), DbError> {
    if rows.is_empty() {
        return Ok(());
    }
    let host = client_host();
    copy_versions(client, schema, |w| {
        rows.iter()
            .try_for_each(|r| encode_row(r, host.as_deref(), w))
    })
}

/// History rows waiting to be written, already encoded for `COPY`: a run
/// writes them with one round trip per batch rather than one per step,
/// and keeps no migration's text once its row is encoded.
pub struct Batch {
    buf: Vec<u8>,
    host: Option<String>,
}

impl Default for Batch {
    fn default() -> Batch {
        Batch {
            buf: Vec::new(),
            host: client_host(),
        }
    }
}

impl Batch {
    /// Size at which a batch is written out; a row carrying more SQL than
    /// this is streamed on its own instead of being copied into the batch.
    /// Small enough to keep memory flat, large enough that a thousand small
    /// migrations cost a handful of round trips.
    pub const LIMIT: usize = 64 * 1024;

    pub fn push(&mut self, row: &NewVersion<'_>) {
        // Writing into a Vec cannot fail.
        let _ = encode_row(row, self.host.as_deref(), &mut self.buf);
    }

    pub fn is_full(&self) -> bool {
        self.buf.len() >= Self::LIMIT
    }

    /// Writes the rows and empties the batch.
    pub fn write(&mut self, client: &mut impl GenericClient, schema: &str) -> Result<(), DbError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        // In pieces: the writer sends what it holds past a few kilobytes,
        // where one large write would be copied whole into its buffer.
        copy_versions(client, schema, |w| {
            self.buf.chunks(8 * 1024).try_for_each(|c| w.write_all(c))
        })?;
        self.buf.clear();
        Ok(())
    }
}

/// One `COPY` into the versions table, its rows written by `rows`.
fn copy_versions(
    client: &mut impl GenericClient,
    schema: &str,
    rows: impl FnOnce(&mut postgres::CopyInWriter<'_>) -> std::io::Result<()>,
) -> Result<(), DbError> {
    let fail = |e: &postgres::Error| DbError::query("recording applied versions", e);
    let mut w = client
        .copy_in(&format!(
            "COPY {schema}.versions (version, name, up_checksum, down_checksum, up_sql, down_sql,
                irreversible, duration_ms, dirty, dirty_direction, client_host, keel_version)
             FROM STDIN"
        ))
        .map_err(|e| fail(&e))?;
    rows(&mut w).map_err(|e| DbError::Other(format!("recording applied versions: {e}")))?;
    w.finish().map_err(|e| fail(&e))?;
    Ok(())
}

/// One history row in `COPY` text format; large bodies are escaped and
/// written in chunks.
fn encode_row(
    r: &NewVersion<'_>,
    host: Option<&str>,
    w: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let mut buf = CopyRow::default();
    buf.field(&r.version.number().to_string());
    buf.field(r.name);
    buf.field(&r.up_checksum);
    buf.field(&r.down_checksum);
    buf.flush_to(w)?;
    buf.streamed_field(r.up_sql, w)?;
    buf.streamed_field(r.down_sql, w)?;
    buf.field(if r.irreversible { "t" } else { "f" });
    match r.duration_ms {
        Some(d) => buf.field(&d.to_string()),
        None => buf.null(),
    }
    buf.field(if r.dirty { "t" } else { "f" });
    if r.dirty {
        buf.field("up");
    } else {
        buf.null();
    }
    match host {
        Some(h) => buf.field(h),
        None => buf.null(),
    }
    buf.field(env!("CARGO_PKG_VERSION"));
    buf.end_row();
    buf.flush_to(w)
}

/// One row of `COPY ... FROM STDIN` in text format, built field by field.
#[derive(Default)]
struct CopyRow {
    buf: Vec<u8>,
    fields: usize,
}

impl CopyRow {
    fn separator(&mut self) {
        if self.fields > 0 {
            self.buf.push(b'\t');
        }
        self.fields += 1;
    }

    fn null(&mut self) {
        self.separator();
        self.buf.extend_from_slice(b"\\N");
    }

    fn field(&mut self, value: &str) {
        self.separator();
        escape_into(value.as_bytes(), &mut self.buf);
    }

    /// A large field, escaped and written in chunks.
    fn streamed_field(&mut self, value: &str, w: &mut impl std::io::Write) -> std::io::Result<()> {
        self.separator();
        for chunk in value.as_bytes().chunks(64 * 1024) {
            escape_into(chunk, &mut self.buf);
            self.flush_to(w)?;
        }
        Ok(())
    }

    fn end_row(&mut self) {
        self.buf.push(b'\n');
        self.fields = 0;
    }

    fn flush_to(&mut self, w: &mut impl std::io::Write) -> std::io::Result<()> {
        w.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

/// COPY text-format escaping: backslash, tab, newline and carriage return.
fn escape_into(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

/// Rows read with `COPY ... TO STDOUT`, each as its fields (`None`: NULL).
pub(super) type CopyRows = Vec<Vec<Option<String>>>;

/// The rows of a `COPY ... TO STDOUT` in text format, each as its [`text_fields`]. The inner
/// `Err` is the statement's own error as the server sent it (a missing table is one, which
/// callers tell apart); the outer one is a connection lost while reading.
pub(super) fn copy_out_rows(
    client: &mut impl GenericClient,
    sql: &str,
) -> Result<Result<CopyRows, postgres::Error>, DbError> {
    use std::io::BufRead as _;
    let mut reader = match client.copy_out(sql) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    let mut rows = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| DbError::Other(format!("reading keel's history: {e}")))?;
        if n == 0 {
            return Ok(Ok(rows));
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        rows.push(text_fields(&line));
    }
}

/// The fields of one row of `COPY ... TO STDOUT` in text format (without its newline): `None`
/// for `\N`, the text otherwise, unescaped. The server escapes backslash, tab, newline,
/// carriage return, backspace, form feed and vertical tab; octal and hex escapes and an escaped
/// ordinary character are read too, as `COPY FROM` reads them. Bytes that are not UTF-8 (a row
/// written by hand in another encoding) become U+FFFD: the text is only compared, never run.
pub(super) fn text_fields(line: &[u8]) -> Vec<Option<String>> {
    line.split(|&b| b == b'\t')
        .map(|field| {
            if field == b"\\N" {
                return None;
            }
            Some(String::from_utf8_lossy(&unescape(field)).into_owned())
        })
        .collect()
}

/// COPY text-format unescaping of one field.
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if field[i] != b'\\' || i + 1 == field.len() {
            out.push(field[i]);
            i += 1;
            continue;
        }
        let c = field[i + 1];
        i += 2;
        match c {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                for _ in 0..2 {
                    match field.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                // As the server does: the low byte of a value past 0o377.
                out.push((v & 0xff) as u8);
            }
            b'x' if field.get(i).is_some_and(u8::is_ascii_hexdigit) => {
                let mut v = 0u32;
                for _ in 0..2 {
                    match field.get(i).and_then(|d| char::from(*d).to_digit(16)) {
                        Some(d) => {
                            v = v * 16 + d;
                            i += 1;
                        }
                        None => break,
                    }
                }
                out.push(v as u8);
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_fields_read_what_the_server_writes() {
        assert_eq!(
            text_fields(b"42\tsha256:ab\t\\N\tt"),
            vec![
                Some("42".to_string()),
                Some("sha256:ab".to_string()),
                None,
                Some("t".to_string())
            ]
        );
        // Every escape the server writes, and the ones COPY FROM accepts.
        assert_eq!(
            text_fields(b"a\\tb\\\\c\\nd\\re\\bf\\fg\\vh\\101\\x42\\q\\"),
            vec![Some("a\tb\\c\nd\re\u{8}f\u{c}g\u{b}hABq\\".to_string())]
        );
        // What keel writes, it reads back.
        let mut out = Vec::new();
        escape_into("x\t\\N\n\\".as_bytes(), &mut out);
        assert_eq!(text_fields(&out), vec![Some("x\t\\N\n\\".to_string())]);
        // Not UTF-8: replaced, not an error.
        assert_eq!(text_fields(b"\xff"), vec![Some("\u{fffd}".to_string())]);
        assert_eq!(text_fields(b""), vec![Some(String::new())]);
    }

    #[test]
    fn copy_escaping() {
        let mut out = Vec::new();
        escape_into(b"a\tb\\c\nd\re", &mut out);
        assert_eq!(out, b"a\\tb\\\\c\\nd\\re");
    }
}
