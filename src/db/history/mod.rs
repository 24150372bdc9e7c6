//! keel's own bookkeeping in the history schema (`keel` by default): which
//! versions are applied, with the exact text that ran, and an append-only
//! event log of every run. The schema's own evolution is managed with
//! refinery, so a newer keel can add columns without breaking an older one's
//! data, and an older keel refuses a schema from a newer one.

use super::DbError;
use crate::project::Version;
use postgres::GenericClient;
use std::io::Write as _;

/// refinery migrations of the history schema, oldest first. `{schema}` is
/// replaced by the configured schema name (validated as an identifier).
const HISTORY_MIGRATIONS: &[(&str, &str)] = &[
    (
        "V1__history",
        r#"
CREATE TABLE {schema}.versions (
    version        numeric(20,0) PRIMARY KEY,
    name           text NOT NULL,
    up_checksum    text NOT NULL,
    down_checksum  text NOT NULL,
    up_sql         text NOT NULL,
    down_sql       text NOT NULL,
    irreversible   boolean NOT NULL DEFAULT false,
    applied_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    applied_by     text NOT NULL DEFAULT current_user,
    client_host    text,
    duration_ms    double precision,
    keel_version   text NOT NULL,
    -- A `transaction off` migration is recorded dirty before it starts and
    -- clean when it ends; `dirty_statement` is the statement it was on.
    dirty          boolean NOT NULL DEFAULT false,
    dirty_direction text,
    dirty_statement integer
);
CREATE TABLE {schema}.events (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    command       text NOT NULL,
    target        text,
    from_version  numeric(20,0),
    to_version    numeric(20,0),
    outcome       text NOT NULL,
    detail        text,
    waited_ms     double precision,
    db_user       text NOT NULL DEFAULT current_user,
    client_host   text,
    backend_pid   integer NOT NULL DEFAULT pg_backend_pid(),
    keel_version  text NOT NULL
);
"#,
    ),
    (
        "V2__policy_state",
        r#"
-- What the RLS stage applied: per policy, the hash of its declaration and
-- the catalog's normalized text right after creating it. A policy whose
-- declaration and catalog text both still match needs no DDL; a catalog
-- text that differs was edited by hand.
CREATE TABLE {schema}.policy_state (
    table_schema  text NOT NULL,
    table_name    text NOT NULL,
    policy_name   text NOT NULL,
    source_hash   text NOT NULL,
    command       text NOT NULL,
    permissive    boolean NOT NULL,
    roles         text[] NOT NULL,
    qual          text,
    with_check    text,
    comment       text,
    applied_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (table_schema, table_name, policy_name)
);
-- Tables whose RLS keel manages. A table stays RLS-enabled while listed
-- (fail closed).
CREATE TABLE {schema}.policy_tables (
    table_schema  text NOT NULL,
    table_name    text NOT NULL,
    since         timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (table_schema, table_name)
);
"#,
    ),
    (
        "V3__summary",
        r#"
-- A no-op run reads one row instead of the whole table: how many versions
-- are applied and the sum of a 60-bit hash of each (compared with the same
-- sum over the versions on disk). Triggers keep it whoever writes to
-- `versions`, a DBA included.
CREATE FUNCTION {schema}.version_hash(v numeric) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT {hash_of_v} $$;
CREATE TABLE {schema}.summary (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    applied   bigint NOT NULL,
    hash_sum  numeric NOT NULL
);
INSERT INTO {schema}.summary
    SELECT true, count(*), coalesce(sum({schema}.version_hash(version)), 0)
    FROM {schema}.versions;
CREATE FUNCTION {schema}.keep_summary() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n bigint := 0;
    h numeric := 0;
    dn bigint;
    dh numeric;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE {schema}.summary SET applied = 0, hash_sum = 0;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT count(*), coalesce(sum({schema}.version_hash(version)), 0) INTO dn, dh FROM new_rows;
        n := n + dn;
        h := h + dh;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        SELECT count(*), coalesce(sum({schema}.version_hash(version)), 0) INTO dn, dh FROM old_rows;
        n := n - dn;
        h := h - dh;
    END IF;
    UPDATE {schema}.summary SET applied = applied + n, hash_sum = hash_sum + h;
    RETURN NULL;
END
$$;
CREATE TRIGGER summary_insert AFTER INSERT ON {schema}.versions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.keep_summary();
CREATE TRIGGER summary_update AFTER UPDATE ON {schema}.versions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.keep_summary();
CREATE TRIGGER summary_delete AFTER DELETE ON {schema}.versions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.keep_summary();
CREATE TRIGGER summary_truncate AFTER TRUNCATE ON {schema}.versions
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.keep_summary();
-- Finding a dirty version without reading every row.
CREATE INDEX versions_dirty ON {schema}.versions (version) WHERE dirty;
"#,
    ),
];

/// The 60-bit hash of one version in SQL (`{v}` is the numeric version):
/// the first 15 hex digits of the SHA-256 of its decimal text, as
/// [`version_hash`] computes it.
const VERSION_HASH_SQL: &str =
    "('x' || left(encode(sha256(convert_to({v}::text, 'UTF8')), 'hex'), 15))::bit(60)::bigint";

/// The text of history migration `sql` for `schema`.
fn history_sql(sql: &str, schema: &str) -> String {
    sql.replace("{hash_of_v}", &VERSION_HASH_SQL.replace("{v}", "v"))
        .replace("{schema}", schema)
}

/// The name of refinery's own table inside the history schema.
const REFINERY_TABLE: &str = "schema_history";

/// Creates or evolves the history schema. Must run under the run lock.
pub fn ensure(client: &mut postgres::Client, schema: &str) -> Result<(), DbError> {
    let exists: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&schema],
        )
        .map_err(|e| DbError::query("reading the history schema", &e))?
        .get(0);
    if !exists {
        client
            .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .map_err(|e| DbError::query("creating the history schema", &e))?;
    }
    // The history schema's own version, from the migration names
    // (`V2__...`): a current schema needs one query and no refinery set-up.
    let known: i32 = HISTORY_MIGRATIONS.len() as i32;
    let table = format!("{schema}.{REFINERY_TABLE}");
    if exists {
        // Read the newest version ourselves: refinery would parse every
        // row, and a history from another keel must be refused, not
        // misread.
        let has_table: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
            .map_err(|e| DbError::query(&format!("reading {table}"), &e))?
            .get(0);
        let newest: Option<i64> = if has_table {
            client
                .query_one(&format!("SELECT max(version)::bigint FROM {table}"), &[])
                .map_err(|e| DbError::query(&format!("reading {table}"), &e))?
                .get(0)
        } else {
            None
        };
        if let Some(v) = newest {
            if v > i64::from(known) {
                return Err(DbError::NewerHistory {
                    schema: schema.to_string(),
                    found: v,
                    known: known.into(),
                });
            }
            if v == i64::from(known) {
                return Ok(());
            }
        }
    }
    let migrations = HISTORY_MIGRATIONS
        .iter()
        .map(|(name, sql)| refinery::Migration::unapplied(name, &history_sql(sql, schema)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| DbError::Other(format!("history schema migrations: {e}")))?;
    let mut runner = refinery::Runner::new(&migrations)
        .set_abort_divergent(true)
        .set_abort_missing(true);
    runner.set_migration_table_name(&table);
    runner
        .run(client)
        .map_err(|e| DbError::Other(format!("evolving the history schema `{schema}`: {e}")))?;
    Ok(())
}

/// True when the history schema exists (read-only commands must not
/// create it).
pub fn exists(client: &mut impl GenericClient, schema: &str) -> Result<bool, DbError> {
    let row = client
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[&format!("{schema}.versions")],
        )
        .map_err(|e| DbError::query("reading the history schema", &e))?;
    Ok(row.get(0))
}

/// What a no-op run needs to know, in one row: how many versions are
/// applied, the newest, whether any is dirty, and a digest of the whole set
/// (compared with the versions on disk, so that a database at head costs
/// one query whatever the number of migrations).
#[derive(Debug, Clone)]
pub struct Summary {
    pub count: i64,
    pub newest: Option<(Version, String)>,
    /// The version (and name) left dirty, if any.
    pub dirty: Option<(Version, String)>,
    pub digest: String,
}

/// The 60-bit hash of one version (see [`VERSION_HASH_SQL`]).
pub fn version_hash(v: &Version) -> u64 {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(v.number.to_string().as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u64::from_be_bytes(first) >> 4
}

/// The digest of a set of versions: their count and the sum of their
/// hashes, `count:sum` (the same as [`summary`] reads from the database).
pub fn versions_digest<'a>(versions: impl Iterator<Item = &'a Version>) -> String {
    let (mut count, mut sum) = (0u64, 0u128);
    for v in versions {
        count += 1;
        sum += u128::from(version_hash(v));
    }
    format!("{count}:{sum}")
}

/// The summary of the applied versions; `None` when keel never ran here.
/// A history schema older than the summary table (written by an older keel,
/// read without the lock) is summarized from the versions themselves.
pub fn summary(client: &mut impl GenericClient, schema: &str) -> Result<Option<Summary>, DbError> {
    let fail = |e: &postgres::Error| DbError::query("reading applied versions", e);
    let row = client
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL",
            &[&format!("{schema}.versions"), &format!("{schema}.summary")],
        )
        .map_err(|e| fail(&e))?;
    let (has_versions, has_summary): (bool, bool) = (row.get(0), row.get(1));
    if !has_versions {
        return Ok(None);
    }
    let counts = if has_summary {
        format!("(SELECT applied FROM {schema}.summary), (SELECT applied::text || ':' || hash_sum::text FROM {schema}.summary)")
    } else {
        let hash = VERSION_HASH_SQL.replace("{v}", "version");
        format!(
            "(SELECT count(*) FROM {schema}.versions),
             (SELECT count(*)::text || ':' || coalesce(sum({hash}::numeric), 0)::text FROM {schema}.versions)"
        )
    };
    let row = client
        .query_one(
            &format!(
                "SELECT {counts},
                        (SELECT version::text || '_' || name FROM {schema}.versions WHERE dirty LIMIT 1),
                        newest.version::text, newest.name
                 FROM (SELECT 1) one
                 LEFT JOIN (SELECT version, name FROM {schema}.versions ORDER BY version DESC LIMIT 1) newest ON true"
            ),
            &[],
        )
        .map_err(|e| fail(&e))?;
    let newest: Option<String> = row.get(3);
    Ok(Some(Summary {
        count: row.get(0),
        digest: row.get(1),
        dirty: row.get::<_, Option<String>>(2).and_then(|s| {
            let (v, n) = s.split_once('_')?;
            Some((Version::parse(v)?, n.to_string()))
        }),
        newest: newest
            .and_then(|v| Version::parse(&v))
            .map(|v| (v, row.get::<_, String>(4))),
    }))
}

/// One applied version as recorded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AppliedVersion {
    #[serde(serialize_with = "version_digits")]
    pub version: Version,
    pub name: String,
    pub up_checksum: String,
    pub down_checksum: String,
    #[serde(skip)]
    pub up_sql: String,
    #[serde(skip)]
    pub down_sql: String,
    pub irreversible: bool,
    pub applied_at: String,
    pub applied_by: String,
    pub client_host: Option<String>,
    pub duration_ms: Option<f64>,
    pub keel_version: String,
    pub dirty: bool,
    pub dirty_direction: Option<String>,
    pub dirty_statement: Option<i32>,
}

fn version_digits<S: serde::Serializer>(v: &Version, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.digits)
}

/// Every applied version, ascending. `with_sql` loads the recorded bodies
/// too (only drift checks need them).
pub fn applied(
    client: &mut impl GenericClient,
    schema: &str,
    with_sql: bool,
) -> Result<Vec<AppliedVersion>, DbError> {
    let sql_cols = if with_sql {
        "up_sql, down_sql"
    } else {
        "'', ''"
    };
    let rows = client
        .query(
            &format!(
                "SELECT version::text, name, up_checksum, down_checksum, {sql_cols}, irreversible,
                        to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                        applied_by, client_host, duration_ms, keel_version,
                        dirty, dirty_direction, dirty_statement
                 FROM {schema}.versions ORDER BY versions.version"
            ),
            &[],
        )
        .map_err(|e| DbError::query("reading applied versions", &e))?;
    rows.iter()
        .map(|r| {
            let digits: String = r.get(0);
            Ok(AppliedVersion {
                version: Version::parse(&digits).ok_or_else(|| {
                    DbError::Other(format!("bad version `{digits}` in {schema}.versions"))
                })?,
                name: r.get(1),
                up_checksum: r.get(2),
                down_checksum: r.get(3),
                up_sql: r.get(4),
                down_sql: r.get(5),
                irreversible: r.get(6),
                applied_at: r.get(7),
                applied_by: r.get(8),
                client_host: r.get(9),
                duration_ms: r.get(10),
                keel_version: r.get(11),
                dirty: r.get(12),
                dirty_direction: r.get(13),
                dirty_statement: r.get(14),
            })
        })
        .collect()
}

/// A row to record for an applied version.
#[derive(Debug, Clone)]
pub struct NewVersion<'a> {
    pub version: &'a Version,
    pub name: &'a str,
    pub up_checksum: String,
    pub down_checksum: String,
    pub up_sql: &'a str,
    pub down_sql: &'a str,
    pub irreversible: bool,
    pub duration_ms: Option<f64>,
    pub dirty: bool,
}

impl<'a> NewVersion<'a> {
    /// The row for `m` as its files are now (both read, not released).
    pub fn of(
        m: &'a crate::project::Migration,
        duration_ms: Option<f64>,
        dirty: bool,
    ) -> NewVersion<'a> {
        NewVersion::of_files(m, &m.up, &m.down, duration_ms, dirty)
    }

    /// The row for `m` with its files `up` and `down` as read again for
    /// the step (a run releases texts between checking and running them).
    pub fn of_files(
        m: &'a crate::project::Migration,
        up: &'a crate::project::SqlFile,
        down: &'a crate::project::SqlFile,
        duration_ms: Option<f64>,
        dirty: bool,
    ) -> NewVersion<'a> {
        NewVersion {
            version: &m.version,
            name: &m.name,
            up_checksum: up.actual_checksum().to_string(),
            down_checksum: down.actual_checksum().to_string(),
            up_sql: up.body(),
            down_sql: down.body(),
            irreversible: m.irreversible(),
            duration_ms,
            dirty,
        }
    }

    /// Bytes of SQL the row carries.
    pub fn sql_len(&self) -> usize {
        self.up_sql.len() + self.down_sql.len()
    }
}

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
    buf.field(&r.version.number.to_string());
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

/// Forgets reverted versions, in one statement.
pub fn delete(
    client: &mut impl GenericClient,
    schema: &str,
    versions: &[&Version],
) -> Result<(), DbError> {
    if versions.is_empty() {
        return Ok(());
    }
    let v: Vec<String> = versions.iter().map(|v| v.number.to_string()).collect();
    client
        .execute(
            &format!("DELETE FROM {schema}.versions WHERE version = ANY($1::text[]::numeric[])"),
            &[&v],
        )
        .map_err(|e| DbError::query("removing reverted versions", &e))?;
    Ok(())
}

/// Marks `version` dirty (a non-transactional step is under way) and
/// remembers which statement it is on.
pub fn set_dirty(
    client: &mut impl GenericClient,
    schema: &str,
    version: &Version,
    direction: &str,
    statement: i32,
) -> Result<(), DbError> {
    client
        .execute(
            &format!(
                "UPDATE {schema}.versions SET dirty = true, dirty_direction = $2, dirty_statement = $3
                 WHERE version = $1::text::numeric"
            ),
            &[&version.number.to_string(), &direction, &statement],
        )
        .map_err(|e| DbError::query("marking the version dirty", &e))?;
    Ok(())
}

/// Marks `version` clean after a non-transactional step finished.
pub fn set_clean(
    client: &mut impl GenericClient,
    schema: &str,
    version: &Version,
    duration_ms: f64,
) -> Result<(), DbError> {
    client
        .execute(
            &format!(
                "UPDATE {schema}.versions SET dirty = false, dirty_direction = NULL,
                        dirty_statement = NULL, duration_ms = $2
                 WHERE version = $1::text::numeric"
            ),
            &[&version.number.to_string(), &duration_ms],
        )
        .map_err(|e| DbError::query("marking the version clean", &e))?;
    Ok(())
}

/// Replaces the recorded checksums and text of an applied version with the
/// current files (`keel repair`), and clears a dirty mark.
pub fn accept_files(
    client: &mut impl GenericClient,
    schema: &str,
    row: &NewVersion<'_>,
) -> Result<u64, DbError> {
    client
        .execute(
            &format!(
                "UPDATE {schema}.versions SET name = $2, up_checksum = $3, down_checksum = $4,
                        up_sql = $5, down_sql = $6, irreversible = $7,
                        dirty = false, dirty_direction = NULL, dirty_statement = NULL
                 WHERE version = $1::text::numeric"
            ),
            &[
                &row.version.number.to_string(),
                &row.name,
                &row.up_checksum,
                &row.down_checksum,
                &row.up_sql,
                &row.down_sql,
                &row.irreversible,
            ],
        )
        .map_err(|e| DbError::query("updating the recorded version", &e))
}

/// One entry of the event log.
#[derive(Debug, Clone, Default)]
pub struct Event<'a> {
    pub command: &'a str,
    pub target: Option<&'a str>,
    pub from: Option<&'a Version>,
    pub to: Option<&'a Version>,
    pub outcome: &'a str,
    pub detail: Option<String>,
    pub waited_ms: Option<f64>,
}

/// Appends to the event log.
pub fn log_event(
    client: &mut impl GenericClient,
    schema: &str,
    e: &Event<'_>,
) -> Result<(), DbError> {
    let num = |v: Option<&Version>| v.map(|v| v.number.to_string());
    client
        .execute(
            &format!(
                "INSERT INTO {schema}.events
                   (command, target, from_version, to_version, outcome, detail, waited_ms, client_host, keel_version)
                 VALUES ($1, $2, $3::text::numeric, $4::text::numeric, $5, $6, $7, $8, $9)"
            ),
            &[
                &e.command,
                &e.target,
                &num(e.from),
                &num(e.to),
                &e.outcome,
                &e.detail,
                &e.waited_ms,
                &client_host(),
                &env!("CARGO_PKG_VERSION"),
            ],
        )
        .map_err(|e| DbError::query("writing the event log", &e))?;
    Ok(())
}

/// This machine's host name, for "from which host".
pub fn client_host() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ensure` takes the schema's version from the number of migrations.
    #[test]
    fn history_migrations_are_numbered_one_to_n() {
        for (i, (name, _)) in HISTORY_MIGRATIONS.iter().enumerate() {
            assert!(name.starts_with(&format!("V{}__", i + 1)), "{name}");
        }
    }

    #[test]
    fn copy_escaping() {
        let mut out = Vec::new();
        escape_into(b"a\tb\\c\nd\re", &mut out);
        assert_eq!(out, b"a\\tb\\\\c\\nd\\re");
    }

    #[test]
    fn digest_is_the_count_and_the_sum_of_hashes() {
        let v: Vec<Version> = ["1", "2", "0010"]
            .iter()
            .filter_map(|s| Version::parse(s))
            .collect();
        // sha256("1") starts 6b86b273ff34fce1…: its first 60 bits.
        assert_eq!(version_hash(&v[0]), 0x6b86b273ff34fce);
        let sum: u128 = v.iter().map(|v| u128::from(version_hash(v))).sum();
        assert_eq!(versions_digest(v.iter()), format!("3:{sum}"));
        // The order does not matter; the width of the digits does not either.
        assert_eq!(versions_digest(v.iter().rev()), versions_digest(v.iter()));
    }
}
