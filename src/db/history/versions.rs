//! The applied versions' rows: reading them, and changing or removing single rows (marking a
//! version dirty or clean, accepting its files again, forgetting reverted ones). New rows are
//! written with `COPY` (`copy.rs`).

use crate::db::DbError;
pub use crate::history_model::AppliedVersion;
use crate::plan::Direction;
use crate::project::Version;
use postgres::GenericClient;

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
                dirty_direction: match r.get::<_, Option<&str>>(13) {
                    None => None,
                    Some(d) => Some(Direction::parse(d).ok_or_else(|| {
                        DbError::Other(format!(
                            "bad dirty_direction `{d}` for version {digits} in {schema}.versions"
                        ))
                    })?),
                },
                dirty_statement: r.get(14),
            })
        })
        .collect()
}

/// What `keel fleet status` compares with the files: one applied version's checksums and
/// whether it is dirty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub version: Version,
    pub up_checksum: String,
    pub down_checksum: String,
    pub dirty: bool,
}

/// Every applied version's [`Recorded`] row, `None` when keel never ran here.
///
/// A status of many databases pays a new backend per database, so what comes after the
/// connection is kept to the least the server can do: a `COPY ... TO STDOUT`, which the server
/// runs without planning a query (a `SELECT` here opens both indexes of the table and looks up
/// its operators and casts in a backend whose caches are cold: about twice the server time).
/// No `to_regclass` first: a missing history table is the statement's own error.
pub fn recorded(
    client: &mut impl GenericClient,
    schema: &str,
) -> Result<Option<Vec<Recorded>>, DbError> {
    let rows = match super::copy::copy_out_rows(
        client,
        &format!("COPY {schema}.versions (version, up_checksum, down_checksum, dirty) TO STDOUT"),
    )? {
        Ok(rows) => rows,
        Err(e) if super::history_missing(&e) => return Ok(None),
        Err(e) => return Err(DbError::query("reading applied versions", &e)),
    };
    let bad = |what: &str| DbError::Other(format!("bad {what} in {schema}.versions"));
    rows.iter()
        .map(|fields| {
            let text = |i: usize| {
                fields
                    .get(i)
                    .and_then(Option::as_deref)
                    .ok_or_else(|| bad("NULL"))
            };
            let digits = text(0)?;
            Ok(Recorded {
                version: Version::parse(digits)
                    .ok_or_else(|| bad(&format!("version `{digits}`")))?,
                up_checksum: text(1)?.to_string(),
                down_checksum: text(2)?.to_string(),
                dirty: text(3)? == "t",
            })
        })
        .collect::<Result<_, _>>()
        .map(Some)
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
    /// The row for `m` with its files `up` and `down` as read for the
    /// step.
    pub fn of(
        m: &'a crate::project::Migration,
        up: &'a crate::project::SqlText,
        down: &'a crate::project::SqlText,
        duration_ms: Option<f64>,
        dirty: bool,
    ) -> NewVersion<'a> {
        NewVersion {
            version: &m.version,
            name: &m.name,
            up_checksum: up.facts.checksum.to_string(),
            down_checksum: down.facts.checksum.to_string(),
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

// The history writes of a `transaction off` step, each one SQL text with its values as SQL
// expressions: `$n` parameters when keel runs it, literals when `upgrade --sql` prints it. The
// printed script therefore writes exactly what a run writes.

fn delete_text(schema: &str, versions: &str) -> String {
    format!("DELETE FROM {schema}.versions WHERE version = ANY({versions})")
}

fn set_dirty_text(schema: &str, version: &str, direction: &str, statement: &str) -> String {
    format!(
        "UPDATE {schema}.versions SET dirty = true, dirty_direction = {direction}, \
         dirty_statement = {statement} WHERE version = {version}"
    )
}

fn set_clean_text(schema: &str, version: &str, duration_ms: &str) -> String {
    format!(
        "UPDATE {schema}.versions SET dirty = false, dirty_direction = NULL, \
         dirty_statement = NULL, duration_ms = {duration_ms} WHERE version = {version}"
    )
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
    let v: Vec<String> = versions.iter().map(|v| v.number().to_string()).collect();
    client
        .execute(&delete_text(schema, "$1::text[]::numeric[]"), &[&v])
        .map_err(|e| DbError::query("removing reverted versions", &e))?;
    Ok(())
}

/// Marks `version` dirty (a non-transactional step is under way) and
/// remembers which statement it is on.
pub fn set_dirty(
    client: &mut impl GenericClient,
    schema: &str,
    version: &Version,
    direction: Direction,
    statement: i32,
) -> Result<(), DbError> {
    client
        .execute(
            &set_dirty_text(schema, "$1::text::numeric", "$2", "$3"),
            &[
                &version.number().to_string(),
                &direction.as_str(),
                &statement,
            ],
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
            &set_clean_text(schema, "$1::text::numeric", "$2"),
            &[&version.number().to_string(), &duration_ms],
        )
        .map_err(|e| DbError::query("marking the version clean", &e))?;
    Ok(())
}

/// [`delete`] of one version, as printed by `--sql`.
pub fn delete_sql(schema: &str, version: &Version) -> String {
    delete_text(schema, &format!("ARRAY[{}]", version.number()))
}

/// [`set_dirty`] as printed by `--sql`.
pub fn set_dirty_sql(
    schema: &str,
    version: &Version,
    direction: Direction,
    statement: i32,
) -> String {
    set_dirty_text(
        schema,
        &version.number().to_string(),
        &quote(direction.as_str()),
        &statement.to_string(),
    )
}

/// [`set_clean`] as printed by `--sql`: a script does not time its steps.
pub fn set_clean_sql(schema: &str, version: &Version) -> String {
    set_clean_text(schema, &version.number().to_string(), "NULL")
}

/// The row [`super::insert`] writes for one version, as an `INSERT` printed by `--sql`.
pub fn insert_sql(schema: &str, row: &NewVersion<'_>) -> String {
    format!(
        "INSERT INTO {schema}.versions (version, name, up_checksum, down_checksum, up_sql, down_sql, irreversible, dirty, keel_version) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {})",
        row.version.number(),
        quote(row.name),
        quote(&row.up_checksum),
        quote(&row.down_checksum),
        quote(row.up_sql),
        quote(row.down_sql),
        row.irreversible,
        row.dirty,
        quote(env!("CARGO_PKG_VERSION"))
    )
}

/// A SQL string literal (standard_conforming_strings on).
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
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
                &row.version.number().to_string(),
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
