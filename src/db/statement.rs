//! Sending one statement of a user's file to the server.
//!
//! A simple-protocol Query message runs however many statements the server
//! finds in its text, so if keel's splitter and the server ever disagreed, a
//! statement keel never checked would run. An extended-protocol Parse message
//! holds exactly one statement: the server refuses more with "cannot insert
//! multiple commands into a prepared statement" (`exec_parse_message` in
//! `src/backend/tcop/postgres.c`) before running any of them. So each
//! statement of a migration, policy or policy test goes through the unnamed
//! statement: Parse, Bind, Describe, Execute and Sync in one round trip, the
//! same count as a simple query.
//!
//! A lone Execute followed by Sync is no transaction block, so statements
//! that refuse to run in one (`CREATE INDEX CONCURRENTLY`, `VACUUM`) still
//! work outside keel's transaction. Text keel builds itself (`BEGIN`,
//! `COMMIT`, history writes) needs no such guard.
//!
//! A text without any `;` byte cannot hold two statements either: the
//! server's grammar separates statements only by the `;` token
//! (`stmtmulti: stmtmulti ';' toplevel_stmt` in `gram.y`), and the lexer
//! makes that token from nothing but a `;` byte. Such a text, the common
//! case (keel's split leaves the terminating `;` out), goes as a simple
//! Query: the server then handles one message instead of five, which is
//! measurably cheaper over thousands of DDL statements, and its rows come
//! back as text, so a `SELECT` of a type without a binary form (`aclitem`)
//! works. Only a text with a `;` inside a literal, a comment or a body pays
//! for the extended protocol.

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{ToSql, Type};
use postgres::GenericClient;

/// Runs `sql`, which must be exactly one statement; a text holding more is refused by the
/// server and nothing of it runs. Rows it returns are read and dropped one by one, so a
/// `SELECT` in a migration costs no memory.
pub fn run_one(client: &mut impl GenericClient, sql: &str) -> Result<(), postgres::Error> {
    if memchr::memchr(b';', sql.as_bytes()).is_none() {
        return client.batch_execute(sql);
    }
    let no_params: [(&(dyn ToSql + Sync), Type); 0] = [];
    let mut rows = client.query_typed_raw(sql, no_params)?;
    while rows.next()?.is_some() {}
    Ok(())
}
