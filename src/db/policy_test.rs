//! `keel policies test`: each `sql/policies/tests/*.sql` file runs in its
//! own transaction that is always rolled back. A file passes when it raises
//! nothing. A file that never switches role while connected as a superuser
//! (or a BYPASSRLS role) cannot fail, because RLS does not apply to it:
//! that is reported as a mistake.
//!
//! "Always rolled back" holds because a file runs only after it passed the
//! checks of a transactional migration (no statement that ends or restarts
//! the transaction, none that cannot run inside one), and because each
//! statement is sent on its own through the extended protocol, whose Parse
//! message the server refuses when it holds more than one statement: what
//! runs is exactly the statements that were checked.

use crate::db::DbError;
use crate::diagnostic::{codes, Diagnostic};
use crate::project::SqlText;
use crate::sql::check::CheckedFile;
use crate::sql::split::words;
use postgres::error::ErrorPosition;
use postgres::GenericClient;
use std::time::{Duration, Instant};

/// The outcome of one test file.
#[derive(Debug, Clone)]
pub struct TestResult {
    pub path: std::path::PathBuf,
    pub passed: bool,
    pub statements: usize,
    pub elapsed: Duration,
    pub failure: Option<Diagnostic>,
}

/// True when a statement switches role (`SET [LOCAL|SESSION] ROLE x`).
fn switches_role(sql: &str) -> bool {
    let ws: Vec<String> = words(sql)
        .take(4)
        .map(|w| w.text.to_ascii_uppercase())
        .collect();
    let role_at = match ws.get(1).map(String::as_str) {
        Some("LOCAL") | Some("SESSION") => 2,
        _ => 1,
    };
    ws.first().map(String::as_str) == Some("SET")
        && ws.get(role_at).map(String::as_str) == Some("ROLE")
        && ws.get(role_at + 1).map(String::as_str) != Some("NONE")
}

/// Runs one test file, whose statements `checked` lists (validated by
/// [`crate::sql::check::check_file`], with no errors).
pub fn run_file(
    conn: &mut impl super::Connection,
    file: &SqlText,
    checked: &CheckedFile,
) -> Result<TestResult, DbError> {
    let client = super::client(conn);
    let start = Instant::now();
    let stmts: Vec<_> = checked.statements.iter().map(|s| s.text.clone()).collect();
    let privileged: bool = client
        .query_one(
            "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .map_err(|e| DbError::query("reading the current role", &e))?
        .get(0);
    if privileged && !stmts.iter().any(|r| switches_role(&file.text[r.clone()])) {
        return Ok(TestResult {
            path: file.path.clone(),
            passed: false,
            statements: stmts.len(),
            elapsed: start.elapsed(),
            failure: Some(
                Diagnostic::error(
                    codes::POLICY_TEST_BYPASSES_RLS,
                    "this test never switches role and keel is connected as a superuser or BYPASSRLS role: RLS does not apply, so the test can never fail",
                )
                .with_path(&file.path)
                .with_hint("switch to the application role first, e.g. `SET LOCAL ROLE authenticated;` and `SELECT set_config('request.jwt.claim.sub', '<user id>', true);`"),
            ),
        });
    }
    client
        .batch_execute("BEGIN")
        .map_err(|e| DbError::query("starting the test transaction", &e))?;
    let mut failure = None;
    for range in &stmts {
        let sql = &file.text[range.clone()];
        if let Err(e) = crate::db::statement::run_one(client, sql) {
            let (message, offset) = match e.as_db_error() {
                Some(db) => {
                    let off = match db.position() {
                        Some(ErrorPosition::Original(p)) => sql
                            .char_indices()
                            .nth((*p as usize).saturating_sub(1))
                            .map_or(0, |(b, _)| b),
                        _ => 0,
                    };
                    let mut m = db.message().to_string();
                    if let Some(w) = db.where_().filter(|w| w.contains("line")) {
                        m.push_str(&format!(" ({})", w.lines().next().unwrap_or(w)));
                    }
                    (m, off)
                }
                None => (crate::db::connect::error_text(&e), 0),
            };
            let at = range.start + offset;
            let mut d = Diagnostic::error(codes::POLICY_TEST_FAILED, message).at(
                &file.path,
                &file.text,
                at..at,
            );
            if let Some(db) = e.as_db_error() {
                if let Some(detail) = db.detail() {
                    d = d.with_note(format!("DETAIL: {detail}"));
                }
            }
            failure = Some(d);
            break;
        }
    }
    client
        .batch_execute("ROLLBACK")
        .map_err(|e| DbError::query("rolling back the test", &e))?;
    Ok(TestResult {
        path: file.path.clone(),
        passed: failure.is_none(),
        statements: stmts.len(),
        elapsed: start.elapsed(),
        failure,
    })
}

/// The line of a failure, for the one-line summary.
pub fn failure_line(r: &TestResult) -> Option<usize> {
    r.failure.as_ref().and_then(|d| d.line)
}

#[cfg(test)]
mod unit {
    use super::switches_role;

    #[test]
    fn role_switches() {
        assert!(switches_role("SET LOCAL ROLE authenticated"));
        assert!(switches_role("set role anon"));
        assert!(!switches_role("SET ROLE NONE"));
        assert!(!switches_role("SET search_path = x"));
        assert!(!switches_role("RESET ROLE"));
    }
}
