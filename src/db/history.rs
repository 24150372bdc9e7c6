//! keel's own bookkeeping in the history schema (`keel` by default): which
//! versions are applied, with the exact text that ran, and an append-only
//! event log of every run. The schema's own evolution is managed with
//! refinery, so a newer keel can add columns without breaking an older one's
//! data, and an older keel refuses a schema from a newer one.

use super::DbError;
use crate::project::Version;
use postgres::GenericClient;

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
];

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
    let migrations = HISTORY_MIGRATIONS
        .iter()
        .map(|(name, sql)| refinery::Migration::unapplied(name, &sql.replace("{schema}", schema)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| DbError::Other(format!("history schema migrations: {e}")))?;
    let known = migrations.iter().map(|m| m.version()).max().unwrap_or(0);
    let table = format!("{schema}.{REFINERY_TABLE}");
    let mut runner = refinery::Runner::new(&migrations)
        .set_abort_divergent(true)
        .set_abort_missing(true);
    runner.set_migration_table_name(&table);
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

/// Records applied versions, in one statement for the whole batch: a run of
/// a thousand migrations costs one round trip for its history, not a
/// thousand.
pub fn insert(
    client: &mut impl GenericClient,
    schema: &str,
    rows: &[NewVersion<'_>],
) -> Result<(), DbError> {
    if rows.is_empty() {
        return Ok(());
    }
    let versions: Vec<String> = rows.iter().map(|r| r.version.number.to_string()).collect();
    let names: Vec<&str> = rows.iter().map(|r| r.name).collect();
    let up_sums: Vec<&str> = rows.iter().map(|r| r.up_checksum.as_str()).collect();
    let down_sums: Vec<&str> = rows.iter().map(|r| r.down_checksum.as_str()).collect();
    let ups: Vec<&str> = rows.iter().map(|r| r.up_sql).collect();
    let downs: Vec<&str> = rows.iter().map(|r| r.down_sql).collect();
    let irrev: Vec<bool> = rows.iter().map(|r| r.irreversible).collect();
    let durations: Vec<Option<f64>> = rows.iter().map(|r| r.duration_ms).collect();
    let dirty: Vec<bool> = rows.iter().map(|r| r.dirty).collect();
    client
        .execute(
            &format!(
                "INSERT INTO {schema}.versions
                   (version, name, up_checksum, down_checksum, up_sql, down_sql, irreversible,
                    duration_ms, dirty, dirty_direction, client_host, keel_version)
                 SELECT v::numeric, n, us, ds, u, d, i, t, dy, CASE WHEN dy THEN 'up' END, $10, $11
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                             $7::bool[], $8::float8[], $9::bool[])
                      AS x(v, n, us, ds, u, d, i, t, dy)"
            ),
            &[
                &versions,
                &names,
                &up_sums,
                &down_sums,
                &ups,
                &downs,
                &irrev,
                &durations,
                &dirty,
                &client_host(),
                &env!("CARGO_PKG_VERSION"),
            ],
        )
        .map_err(|e| DbError::query("recording applied versions", &e))?;
    Ok(())
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
