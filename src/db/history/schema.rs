//! Creating and upgrading the history schema: keel's bookkeeping tables, evolved with refinery
//! so that a newer keel can add columns without breaking an older one's data, and an older
//! keel refuses a schema from a newer one.

use super::summary::{CHECKSUMS_HASH_SQL, VERSION_HASH_SQL};
use crate::db::DbError;
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
    (
        "V4__checksum_digest",
        r#"
-- A status of many databases reads this one row instead of every applied
-- version: the sum of a 60-bit hash of each version with its two checksums
-- (compared with the same sum over the files on disk) and how many versions
-- are dirty. The same triggers keep it.
CREATE FUNCTION {schema}.checksums_hash(v numeric, up text, down text) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT {hash_of_checksums} $$;
ALTER TABLE {schema}.summary ADD COLUMN checksum_sum numeric, ADD COLUMN dirty bigint;
UPDATE {schema}.summary SET
    checksum_sum = (SELECT coalesce(sum({schema}.checksums_hash(version, up_checksum, down_checksum)), 0)
                    FROM {schema}.versions),
    dirty = (SELECT count(*) FROM {schema}.versions WHERE dirty);
ALTER TABLE {schema}.summary ALTER COLUMN checksum_sum SET NOT NULL, ALTER COLUMN dirty SET NOT NULL;
CREATE OR REPLACE FUNCTION {schema}.keep_summary() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n bigint := 0;
    h numeric := 0;
    c numeric := 0;
    d bigint := 0;
    dn bigint;
    dh numeric;
    dc numeric;
    dd bigint;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE {schema}.summary SET applied = 0, hash_sum = 0, checksum_sum = 0, dirty = 0;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT count(*), coalesce(sum({schema}.version_hash(version)), 0),
               coalesce(sum({schema}.checksums_hash(version, up_checksum, down_checksum)), 0),
               count(*) FILTER (WHERE dirty)
            INTO dn, dh, dc, dd FROM new_rows;
        n := n + dn;
        h := h + dh;
        c := c + dc;
        d := d + dd;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        SELECT count(*), coalesce(sum({schema}.version_hash(version)), 0),
               coalesce(sum({schema}.checksums_hash(version, up_checksum, down_checksum)), 0),
               count(*) FILTER (WHERE dirty)
            INTO dn, dh, dc, dd FROM old_rows;
        n := n - dn;
        h := h - dh;
        c := c - dc;
        d := d - dd;
    END IF;
    UPDATE {schema}.summary SET applied = applied + n, hash_sum = hash_sum + h,
        checksum_sum = checksum_sum + c, dirty = dirty + d;
    RETURN NULL;
END
$$;
"#,
    ),
];

/// The text of history migration `sql` for `schema`.
fn history_sql(sql: &str, schema: &str) -> String {
    sql.replace("{hash_of_v}", &VERSION_HASH_SQL.replace("{v}", "v"))
        .replace("{hash_of_checksums}", CHECKSUMS_HASH_SQL)
        .replace("{schema}", schema)
}

/// The name of refinery's own table inside the history schema.
const REFINERY_TABLE: &str = "schema_history";

/// Creates or evolves the history schema. Must run under the run lock.
///
/// Every locked run comes through here, so a current schema costs one round trip: refinery's
/// newest version read with the simple protocol, a missing table or schema being that query's
/// own error.
pub fn ensure(client: &mut postgres::Client, schema: &str) -> Result<(), DbError> {
    use postgres::error::SqlState;
    // The history schema's own version, from the migration names
    // (`V2__...`): a current schema needs one query and no refinery set-up.
    let known: i32 = HISTORY_MIGRATIONS.len() as i32;
    let table = format!("{schema}.{REFINERY_TABLE}");
    // Read the newest version ourselves: refinery would parse every row, and a history from
    // another keel must be refused, not misread.
    match client.simple_query(&format!("SELECT max(version)::bigint FROM {table}")) {
        Ok(messages) => {
            let newest = messages.iter().find_map(|m| match m {
                postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                _ => None,
            });
            if let Some(text) = newest {
                let v: i64 = text
                    .parse()
                    .map_err(|_| DbError::Other(format!("bad version `{text}` in {table}")))?;
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
        // PostgreSQL says the same (42P01) whether the table or the whole schema is missing.
        // `CREATE SCHEMA IF NOT EXISTS` needs CREATE on the database even when the schema
        // exists (a DBA may have made it for keel), so it runs only when the schema is not there.
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => {
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
        }
        Err(e) => return Err(DbError::query(&format!("reading {table}"), &e)),
    }
    let migrations = HISTORY_MIGRATIONS
        .iter()
        .map(|(name, sql)| refinery::Migration::unapplied(name, &history_sql(sql, schema)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| DbError::Other(format!("history schema migrations: {e}")))?;
    // One transaction for every step: a new database gets the whole schema or none of it, in
    // one commit rather than two per step.
    let mut runner = refinery::Runner::new(&migrations)
        .set_grouped(true)
        .set_abort_divergent(true)
        .set_abort_missing(true);
    runner.set_migration_table_name(&table);
    runner.run(client).map_err(|e| {
        // refinery's own message is only "error applying migrations"; the server's reason is
        // in the error's sources.
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(inner) = source {
            let text = match inner.downcast_ref::<postgres::Error>() {
                Some(pg) => crate::db::connect::error_text(pg),
                None => inner.to_string(),
            };
            if !reason.contains(&text) {
                reason.push_str(": ");
                reason.push_str(&text);
            }
            source = inner.source();
        }
        DbError::Other(format!("evolving the history schema `{schema}`: {reason}"))
    })?;
    Ok(())
}

/// The history schema created from nothing, as SQL a script can carry: what [`ensure`] does on
/// a database keel never ran on, refinery's own table and rows written as refinery writes them
/// (its checksums, and `applied_on` in RFC 3339), so that a later keel finds the schema current
/// and refinery finds nothing diverging. `upgrade --sql` prints it for such a database.
pub fn render_setup(schema: &str) -> Result<String, DbError> {
    let table = format!("{schema}.{REFINERY_TABLE}");
    let mut out = format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};\n\
         CREATE TABLE IF NOT EXISTS {table}(\n    version INT4 PRIMARY KEY,\n    name VARCHAR(255),\n    \
         applied_on VARCHAR(255),\n    checksum VARCHAR(255));\n"
    );
    for (name, sql) in HISTORY_MIGRATIONS {
        let text = history_sql(sql, schema);
        let m = refinery::Migration::unapplied(name, &text)
            .map_err(|e| DbError::Other(format!("history schema migrations: {e}")))?;
        out.push_str(text.trim());
        out.push_str(&format!(
            "\nINSERT INTO {table} (version, name, applied_on, checksum) VALUES ({}, '{}', \
             to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '{}');\n",
            m.version(),
            m.name(),
            m.checksum()
        ));
    }
    Ok(out)
}

/// True when the history schema exists (read-only commands must not
/// create it).
pub fn exists(conn: &mut impl crate::db::Connection, schema: &str) -> Result<bool, DbError> {
    let client = crate::db::client(conn);
    let row = client
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[&format!("{schema}.versions")],
        )
        .map_err(|e| DbError::query("reading the history schema", &e))?;
    Ok(row.get(0))
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
}
