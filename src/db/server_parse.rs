//! Asking PostgreSQL's own parser about statements sqlparser could not
//! validate, without executing them.
//!
//! Each statement becomes the body of a temporary PL/pgSQL function inside a
//! transaction that is always rolled back. Creating the function compiles
//! the body, which runs the server's raw parser over every SQL statement in
//! it: syntax only, so no table or column needs to exist. One round trip
//! checks a whole batch; a syntax error costs one more round trip for the
//! statements after it.

use super::server_version::ServerVersion;
use super::DbError;
use crate::diagnostic::{codes, Diagnostic, Source};
use crate::project::SqlText;
use crate::sql::split::words;
use postgres::error::ErrorPosition;
use postgres::Client;
use std::ops::Range;

/// What the server said about one statement.
#[derive(Debug, Clone)]
pub enum ServerVerdict {
    /// Valid PostgreSQL syntax.
    Accepted,
    /// A real syntax error, as a diagnostic at the right file position.
    Rejected(Diagnostic),
    /// This statement cannot be checked this way (PL/pgSQL gives its first
    /// word another meaning, or it holds a `BEGIN ATOMIC` body).
    Unchecked,
}

/// First words that PL/pgSQL reads as its own statements.
const PLPGSQL_WORDS: &[&str] = &[
    "EXECUTE", "FETCH", "MOVE", "CLOSE", "OPEN", "COMMIT", "ROLLBACK", "PERFORM", "RETURN",
    "RAISE", "GET", "ASSERT", "NULL", "CALL", "BEGIN", "END", "DECLARE", "EXIT", "CONTINUE",
    "FOREACH", "FOR", "WHILE", "LOOP", "IF", "CASE",
];

fn checkable(sql: &str) -> bool {
    let mut ws = words(sql);
    let Some(first) = ws.next() else { return false };
    if PLPGSQL_WORDS
        .iter()
        .any(|w| w.eq_ignore_ascii_case(first.text))
    {
        return false;
    }
    // `BEGIN ATOMIC ... END` bodies hold semicolons PL/pgSQL would split on.
    !words(sql).any(|w| w.text.eq_ignore_ascii_case("ATOMIC"))
}

/// At most this many statements go in one round trip. The server stops at
/// the first error of a batch and the statements after it are sent again;
/// with a bound, a file of n syntax errors costs n round trips of at most
/// this many statements, where one unbounded batch cost n round trips of
/// everything left (quadratic: 2,000 errors took minutes).
pub const BATCH: usize = 64;

/// Checks `statements` (file and byte range of the statement text).
/// A rejection names `server`: a statement valid on a newer PostgreSQL is "not valid here".
pub fn check(
    client: &mut Client,
    server: ServerVersion,
    statements: &[(&SqlText, Range<usize>)],
) -> Result<Vec<ServerVerdict>, DbError> {
    Ok(check_counting(client, server, statements)?.0)
}

/// [`check`], and how many statements were sent to the server in all.
pub fn check_counting(
    client: &mut Client,
    server: ServerVersion,
    statements: &[(&SqlText, Range<usize>)],
) -> Result<(Vec<ServerVerdict>, usize), DbError> {
    let mut verdicts: Vec<ServerVerdict> = statements
        .iter()
        .map(|(f, r)| {
            if checkable(&f.text[r.clone()]) {
                ServerVerdict::Accepted
            } else {
                ServerVerdict::Unchecked
            }
        })
        .collect();
    let todo: Vec<usize> = (0..statements.len())
        .filter(|&i| matches!(verdicts[i], ServerVerdict::Accepted))
        .collect();
    // The statements come file by file: one line index per file places
    // all of its errors.
    let mut source: Option<Source<'_>> = None;
    let mut sent = 0;
    let mut next = 0;
    while next < todo.len() {
        let window = &todo[next..(next + BATCH).min(todo.len())];
        let (batch, starts) = build_batch(statements, window);
        sent += window.len();
        let result = client.batch_execute(&batch);
        rollback(client)?;
        let e = match result {
            Ok(()) => {
                next += window.len();
                continue;
            }
            Err(e) => e,
        };
        let Some(db) = e.as_db_error() else {
            return Err(DbError::query(
                "checking statements with the server's parser",
                &e,
            ));
        };
        // Which statement failed: the one whose body holds the error
        // position; without a position, the first (nothing before it
        // failed, since the batch stops at the first error).
        let pos = match db.position() {
            Some(ErrorPosition::Original(p)) => Some(*p as usize),
            _ => None,
        };
        let k = match pos {
            Some(p) => starts.iter().rposition(|(_, s)| *s < p).unwrap_or(0),
            None => 0,
        };
        let (idx, start_char) = starts[k];
        let (file, range) = &statements[idx];
        let sql = &file.text[range.clone()];
        let offset_in_stmt = pos
            .and_then(|p| p.checked_sub(start_char + 1))
            .and_then(|c| sql.char_indices().nth(c).map(|(b, _)| b))
            .unwrap_or(0);
        if db.code().code() == "42601" || pos.is_some() {
            let at = range.start + offset_in_stmt;
            let end = at
                + sql[offset_in_stmt..]
                    .find(char::is_whitespace)
                    .unwrap_or(sql.len() - offset_in_stmt);
            let same_file = source
                .as_ref()
                .is_some_and(|s| std::ptr::eq(s.text, file.text.as_str()));
            if !same_file {
                source = Some(Source::new(&file.path, &file.text));
            }
            let source = source.as_ref().expect("set above");
            verdicts[idx] = ServerVerdict::Rejected(
                Diagnostic::error(
                    codes::SYNTAX_ERROR,
                    format!("{} (PostgreSQL's parser, {server})", db.message()),
                )
                .located(source, at..end.max(at))
                .with_hint(format!(
                    "fix the statement; {server} itself rejects it (if it needs a newer \
                     PostgreSQL, this server cannot run it)"
                )),
            );
        } else {
            // Not a syntax error (e.g. an unknown PL/pgSQL construct):
            // leave it as unvalidated rather than block the run.
            verdicts[idx] = ServerVerdict::Unchecked;
        }
        // Everything before the failing one in this batch passed.
        next += k + 1;
    }
    Ok((verdicts, sent))
}

fn rollback(client: &mut Client) -> Result<(), DbError> {
    client
        .batch_execute("ROLLBACK")
        .map_err(|e| DbError::query("rolling back the syntax check", &e))
}

/// The batch text and, per statement, (index, character offset where the
/// statement text starts in the batch).
fn build_batch(
    statements: &[(&SqlText, Range<usize>)],
    todo: &[usize],
) -> (String, Vec<(usize, usize)>) {
    let mut batch = String::from("BEGIN;\nSET LOCAL check_function_bodies = on;\n");
    let mut chars = batch.chars().count();
    let mut starts = Vec::with_capacity(todo.len());
    for (n, &i) in todo.iter().enumerate() {
        let (file, range) = &statements[i];
        let sql = &file.text[range.clone()];
        let tag = dollar_tag(sql);
        let head = format!(
            "CREATE FUNCTION pg_temp.keel_syntax_{n}() RETURNS void LANGUAGE plpgsql AS {tag}BEGIN\n"
        );
        chars += head.chars().count();
        batch.push_str(&head);
        starts.push((i, chars));
        batch.push_str(sql);
        // The `;` goes on a line of its own: a statement's text may end in a `--` comment.
        let tail = format!("\n;\nEND{tag};\n");
        chars += sql.chars().count() + tail.chars().count();
        batch.push_str(&tail);
    }
    (batch, starts)
}

/// A dollar-quote tag that does not occur in `sql`.
///
/// The statement's text is the only user text in the batch, and the server ends a dollar-quoted
/// body at the first exact occurrence of its delimiter (scan.l's `{dolqdelim}`), so with a tag
/// that the text does not contain, the text cannot end the body early and have the rest of
/// itself run as SQL. The text is framed by newlines on both sides, so it cannot complete a tag
/// together with the wrapper either.
fn dollar_tag(sql: &str) -> String {
    let mut n = 0;
    loop {
        let tag = format!("$keel{n}$");
        if !sql.contains(&tag) {
            return tag;
        }
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::FileKind;
    use crate::sql::split::split;
    use std::path::PathBuf;

    #[test]
    fn a_statement_cannot_close_the_wrapper_body() {
        for sql in [
            "SELECT '$keel0$'",
            "SELECT $keel0$ $keel1$ x $keel1$ $keel0$",
            "SELECT 1 -- $keel0$; DROP TABLE t",
            "SELECT $a$ $keel0$ $a$, '$keel2$'",
            "SELECT 1 -- trailing comment",
        ] {
            let files: Vec<SqlText> = [sql, "SELECT 2"]
                .iter()
                .map(|t| SqlText::new(PathBuf::from("t.sql"), FileKind::Up, t.to_string()))
                .collect();
            let statements: Vec<(&SqlText, Range<usize>)> =
                files.iter().map(|f| (f, 0..f.text.len())).collect();
            let (batch, starts) = build_batch(&statements, &[0, 1]);
            let parts: Vec<_> = split(&batch).map(|s| &batch[s.unwrap().text]).collect();
            // BEGIN, SET LOCAL, then one CREATE FUNCTION per statement and nothing else.
            assert_eq!(parts.len(), 4, "{batch}");
            assert!(
                parts[2..].iter().all(|p| p.starts_with("CREATE FUNCTION")),
                "{batch}"
            );
            let tag = dollar_tag(sql);
            assert!(!sql.contains(&tag), "{sql}");
            assert!(
                parts[2].ends_with(&format!("{sql}\n;\nEND{tag}")),
                "{batch}"
            );
            assert_eq!(starts.len(), 2);
        }
    }
}
