//! Another migration tool's history table, read for `keel adopt`: one reader per tool, each
//! returning the rows as the tool wrote them. What the rows mean in keel versions is decided
//! in `crate::adopt`; nothing here writes, locks or alters the peer's table.
//!
//! The table is found with `to_regclass`, so a name without a schema is looked up on the
//! session's `search_path`, as the tool itself finds it. Every value is read with `try_get`
//! and cast on the server to the type asked for: a table that only looks like the tool's
//! gives an error, never a panic.

use super::DbError;
use postgres::types::FromSql;
use postgres::GenericClient;

/// The peer's table as the catalog knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerTable {
    /// `schema.table` quoted by the server (`quote_ident`): safe to put in a query.
    pub quoted: String,
    /// `schema.table` as written in the catalog, for messages.
    pub shown: String,
    /// Its columns, in order.
    pub columns: Vec<String>,
}

impl PeerTable {
    pub fn has_column(&self, name: &str) -> bool {
        self.columns.iter().any(|c| c == name)
    }
}

/// The table (or view) `name` (`table` or `schema.table`, the tool's default or `--table`),
/// or `None` when there is none. The name must be checked by the caller to be plain
/// identifiers (see `adopt::valid_table_name`): `to_regclass` raises an error on a name it
/// cannot parse before PostgreSQL 16.
pub fn locate(conn: &mut impl super::Connection, name: &str) -> Result<Option<PeerTable>, DbError> {
    let client = super::client(conn);
    let row = client
        .query_opt(
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname),
                    n.nspname::text || '.' || c.relname::text,
                    ARRAY(SELECT a.attname::text FROM pg_attribute a
                          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                          ORDER BY a.attnum)
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.oid = to_regclass($1)",
            &[&name],
        )
        .map_err(|e| DbError::query("looking for the history table", &e))?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(PeerTable {
        quoted: get(&row, 0, "the history table")?,
        shown: get(&row, 1, "the history table")?,
        columns: get(&row, 2, "the history table")?,
    }))
}

/// One row of sqlx's `_sqlx_migrations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlxRow {
    pub version: i64,
    pub description: String,
    /// `false`: the migration failed part-way (sqlx calls the database dirty).
    pub success: bool,
    /// SHA-384 of the migration file as sqlx read it.
    pub checksum: Vec<u8>,
}

/// sqlx: `_sqlx_migrations(version bigint PRIMARY KEY, description text, installed_on
/// timestamptz, success boolean, checksum bytea, execution_time bigint)`, a row per applied
/// (or failed) migration.
pub fn sqlx(conn: &mut impl super::Connection, t: &PeerTable) -> Result<Vec<SqlxRow>, DbError> {
    let rows = query(
        conn,
        &format!(
            "SELECT version::bigint, description::text, success::boolean, checksum::bytea
             FROM {} ORDER BY version",
            t.quoted
        ),
        t,
    )?;
    rows.iter()
        .map(|r| {
            Ok(SqlxRow {
                version: get(r, 0, &t.shown)?,
                description: get::<Option<String>>(r, 1, &t.shown)?.unwrap_or_default(),
                success: get(r, 2, &t.shown)?,
                checksum: get::<Option<Vec<u8>>>(r, 3, &t.shown)?.unwrap_or_default(),
            })
        })
        .collect()
}

/// golang-migrate's `schema_migrations` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GolangMigrateRow {
    pub version: i64,
    /// The migration of `version` did not finish.
    pub dirty: bool,
}

/// golang-migrate: `schema_migrations(version bigint PRIMARY KEY, dirty boolean)`, holding
/// one row, the current version (none when nothing is applied).
pub fn golang_migrate(
    conn: &mut impl super::Connection,
    t: &PeerTable,
) -> Result<Vec<GolangMigrateRow>, DbError> {
    let rows = query(
        conn,
        &format!(
            "SELECT version::bigint, dirty::boolean FROM {} ORDER BY version",
            t.quoted
        ),
        t,
    )?;
    rows.iter()
        .map(|r| {
            Ok(GolangMigrateRow {
                version: get(r, 0, &t.shown)?,
                dirty: get(r, 1, &t.shown)?,
            })
        })
        .collect()
}

/// dbmate: `schema_migrations(version varchar(255) PRIMARY KEY)`, a row per applied version,
/// the digits of its file name as written.
pub fn dbmate(conn: &mut impl super::Connection, t: &PeerTable) -> Result<Vec<String>, DbError> {
    text_column(conn, t, "version")
}

/// One row of Flyway's `flyway_schema_history`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlywayRow {
    pub installed_rank: i32,
    /// `None` for a repeatable migration.
    pub version: Option<String>,
    pub description: String,
    /// `SQL`, `JDBC`, `BASELINE`, `SQL_BASELINE`, `UNDO_SQL`, `DELETE`, `SCHEMA`, ...
    pub kind: String,
    pub script: String,
    /// CRC32 of the script's lines (Java's signed int); `None` for a baseline.
    pub checksum: Option<i32>,
    pub success: bool,
}

/// Flyway: `flyway_schema_history(installed_rank int PRIMARY KEY, version varchar(50),
/// description varchar(200), type varchar(20), script varchar(1000), checksum int,
/// installed_by varchar(100), installed_on timestamp, execution_time int, success boolean)`,
/// a row per event in `installed_rank` order.
pub fn flyway(conn: &mut impl super::Connection, t: &PeerTable) -> Result<Vec<FlywayRow>, DbError> {
    let rows = query(
        conn,
        &format!(
            r#"SELECT "installed_rank"::integer, "version"::text, "description"::text,
                      "type"::text, "script"::text, "checksum"::integer, "success"::boolean
               FROM {} ORDER BY "installed_rank""#,
            t.quoted
        ),
        t,
    )?;
    rows.iter()
        .map(|r| {
            Ok(FlywayRow {
                installed_rank: get(r, 0, &t.shown)?,
                version: get(r, 1, &t.shown)?,
                description: get::<Option<String>>(r, 2, &t.shown)?.unwrap_or_default(),
                kind: get::<Option<String>>(r, 3, &t.shown)?.unwrap_or_default(),
                script: get::<Option<String>>(r, 4, &t.shown)?.unwrap_or_default(),
                checksum: get(r, 5, &t.shown)?,
                success: get(r, 6, &t.shown)?,
            })
        })
        .collect()
}

/// diesel: `__diesel_schema_migrations(version varchar(50) PRIMARY KEY, run_on timestamp)`, a
/// row per applied migration, its folder's version with the dashes removed.
pub fn diesel(conn: &mut impl super::Connection, t: &PeerTable) -> Result<Vec<String>, DbError> {
    text_column(conn, t, "version")
}

/// The Supabase CLI: `supabase_migrations.schema_migrations(version text PRIMARY KEY,
/// statements text[], name text)`, a row per applied migration, its file's timestamp.
pub fn supabase(conn: &mut impl super::Connection, t: &PeerTable) -> Result<Vec<String>, DbError> {
    text_column(conn, t, "version")
}

/// Alembic: `alembic_version(version_num varchar(32) PRIMARY KEY)`, the revision id of each
/// head the database is at (one row unless the revisions branch).
pub fn alembic(conn: &mut impl super::Connection, t: &PeerTable) -> Result<Vec<String>, DbError> {
    text_column(conn, t, "version_num")
}

/// Every non-null value of the column `column` (a name `locate` found on the table), as text.
fn text_column(
    conn: &mut impl super::Connection,
    t: &PeerTable,
    column: &str,
) -> Result<Vec<String>, DbError> {
    let column = quote_ident(column);
    let rows = query(
        conn,
        &format!(
            "SELECT {column}::text FROM {} WHERE {column} IS NOT NULL ORDER BY 1",
            t.quoted
        ),
        t,
    )?;
    rows.iter().map(|r| get(r, 0, &t.shown)).collect()
}

fn query(
    conn: &mut impl super::Connection,
    sql: &str,
    t: &PeerTable,
) -> Result<Vec<postgres::Row>, DbError> {
    super::client(conn)
        .query(sql, &[])
        .map_err(|e| DbError::query(&format!("reading {}", t.shown), &e))
}

/// Column `i` of `row`, or an error naming `what` (never a panic on an unexpected type).
fn get<'a, T: FromSql<'a>>(row: &'a postgres::Row, i: usize, what: &str) -> Result<T, DbError> {
    row.try_get(i)
        .map_err(|e| DbError::Other(format!("reading {what}: {e}")))
}

/// An identifier quoted as `quote_ident` quotes it when needed.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("version"), "\"version\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
