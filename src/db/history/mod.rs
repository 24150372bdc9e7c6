//! keel's own bookkeeping in the history schema (`keel` by default): which
//! versions are applied, with the exact text that ran, and an append-only
//! event log of every run. The schema's own evolution is managed with
//! refinery, so a newer keel can add columns without breaking an older one's
//! data, and an older keel refuses a schema from a newer one.
//!
//! One file per concern: `schema` creates and upgrades the bookkeeping tables, `summary`
//! reads the one-row summary of the applied versions, `versions` reads and changes the applied
//! rows, `copy` writes new rows in bulk (and reads rows back), and `events` appends to the event
//! log.

mod copy;
mod events;
mod schema;
mod summary;
mod versions;

/// Whether `e` says the history table read is not there: the table or its whole schema is
/// missing (keel never ran here). Read without `to_regclass` first, this is how a read-only
/// command learns it.
fn history_missing(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    [SqlState::UNDEFINED_TABLE, SqlState::INVALID_SCHEMA_NAME]
        .iter()
        .any(|c| e.code() == Some(c))
}

pub use copy::{insert, Batch};
pub use events::{client_host, log_event, Event};
pub use schema::{ensure, exists, render_setup};
pub use summary::{
    checksum_digest, checksums_hash, summary, version_hash, versions_digest, ChecksumDigest,
    Summary,
};
pub use versions::{
    accept_files, applied, delete, delete_sql, insert_sql, recorded, set_clean, set_clean_sql,
    set_dirty, set_dirty_sql, AppliedVersion, NewVersion, Recorded,
};
