//! CLI tests of `keel adopt`, run against the built `keel` binary and a real PostgreSQL.
//!
//! For every tool: its fixture (`tests/fixtures/import/<tool>/`) is imported into a temporary
//! project; a fresh database gets the tool's history table, created with the tool's own DDL,
//! and the rows the tool writes for all migrations but the last, whose SQL is run there too
//! (so the schema is the one the tool left). Then `keel adopt TOOL` records them, `keel check`
//! passes, `keel upgrade` applies only the last migration, and the tool's table holds exactly
//! the rows it held before. Every refusal (an unfinished migration, a database ahead of the
//! files, a version without a file, a checksum that differs, a history that disagrees with
//! keel's) leaves keel's history without a version or an event. The exact wording of the
//! refusals and of a dry run is snapshot (`tests/snapshots/adopt__*.snap`).
#![allow(clippy::disallowed_methods)] // the tests create the tools' tables and query them

mod common;

use common::{copy_dir, fresh_db, Keel, Run, TestDb};
use std::path::{Path, PathBuf};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/import");

/// A temporary project and a fresh database.
struct Case {
    dir: tempfile::TempDir,
    db: TestDb,
}

impl Case {
    /// An empty project.
    fn empty() -> Case {
        Case {
            dir: tempfile::tempdir().expect("create a temporary directory"),
            db: fresh_db(),
        }
    }

    /// `tests/fixtures/import/<tool>` copied and imported with `keel import <tool>`.
    fn imported(tool: &str) -> Case {
        let c = Case::empty();
        copy_dir(&Path::new(FIXTURES).join(tool), c.root());
        c.keel(&["import", tool]).assert_code(0);
        c
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// keel in the project, on the test database.
    fn keel(&self, args: &[&str]) -> Run {
        Keel::new(self.root())
            .url(Some(self.db.url()))
            .args(args)
            .run()
    }

    /// Runs `sql` as one simple query, as a tool sends a migration file.
    fn sql(&self, sql: &str) {
        self.db
            .connect()
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("{e}\n{sql}"));
    }

    /// The project file `rel` run as the tool would run it.
    fn run_file(&self, rel: &str) {
        self.sql(&self.read(rel));
    }

    fn execute(&self, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) {
        self.db
            .connect()
            .execute(sql, params)
            .unwrap_or_else(|e| panic!("{e}\n{sql}"));
    }

    /// Every row of `table` as JSON text, sorted: to compare before and after.
    fn rows(&self, table: &str) -> Vec<String> {
        self.db
            .connect()
            .query(
                &format!("SELECT row_to_json(t)::text FROM {table} t ORDER BY 1"),
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// The versions keel records as applied, and its events, by command.
    fn keel_history(&self) -> (Vec<String>, Vec<String>) {
        let mut c = self.db.connect();
        let exists: bool = c
            .query_one("SELECT to_regclass('keel.versions') IS NOT NULL", &[])
            .unwrap()
            .get(0);
        if !exists {
            return (Vec::new(), Vec::new());
        }
        let versions = c
            .query(
                "SELECT version::text FROM keel.versions ORDER BY version",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let events = c
            .query("SELECT command FROM keel.events ORDER BY id", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        (versions, events)
    }

    /// The adoption was refused with exit status 1 and `code`, and keel recorded nothing.
    #[track_caller]
    fn assert_refused(&self, args: &[&str], code: &str) -> Run {
        let out = self.keel(args);
        out.assert_code(1)
            .assert_stderr_has(&format!("error[{code}]"))
            .assert_stderr_has("nothing was adopted");
        let (versions, events) = self.keel_history();
        assert!(
            versions.is_empty() && events.is_empty(),
            "a refused adoption wrote {versions:?} {events:?}\n{out}"
        );
        out
    }

    /// Adopts `tool` (with `extra` arguments), then: `keel check` passes, `keel upgrade`
    /// applies exactly `last`, and `table` still holds the rows it held before.
    #[track_caller]
    fn adopt_check_upgrade(&self, tool: &str, table: &str, adopted: &[&str], last: &str) -> Run {
        let before = self.rows(table);
        let out = self.keel(&["adopt", tool]);
        out.assert_code(0);
        for id in adopted {
            out.assert_stdout_has(&format!("adopted {id} ("));
        }
        out.assert_stdout_has(&format!(
            "adopted {} version{} from {tool} (",
            adopted.len(),
            if adopted.len() == 1 { "" } else { "s" }
        ));
        let (versions, events) = self.keel_history();
        assert_eq!(versions.len(), adopted.len(), "{versions:?}\n{out}");
        assert_eq!(events, ["adopt"], "{out}");
        self.keel(&["check"]).assert_code(0);
        let up = self.keel(&["upgrade"]);
        up.assert_code(0);
        assert_eq!(applied_steps(&up), [last], "{up}");
        self.keel(&["check", "--require-up-to-date"]).assert_code(0);
        assert_eq!(self.rows(table), before, "the tool's table changed");
        out
    }
}

/// The migrations an `upgrade` applied, from its lines on stderr.
fn applied_steps(run: &Run) -> Vec<String> {
    run.stderr
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("applied "))
        .map(|l| l.split_whitespace().next().unwrap_or_default().to_string())
        .collect()
}

// The tools' history tables, created as the tools create them.

/// sqlx-core `migrate/postgres.rs` (`ensure_migrations_table`).
const SQLX_DDL: &str = "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
    success BOOLEAN NOT NULL,
    checksum BYTEA NOT NULL,
    execution_time BIGINT NOT NULL
);";

/// dbmate `pkg/driver/postgres` (`CreateMigrationsTable`), in the session's current schema.
const DBMATE_DDL: &str =
    "create table if not exists public.schema_migrations (version varchar(255) primary key)";

/// golang-migrate `database/postgres` (`ensureVersionTable`).
const GOLANG_MIGRATE_DDL: &str = r#"CREATE TABLE IF NOT EXISTS "public"."schema_migrations" (version bigint not null primary key, dirty boolean not null)"#;

/// Flyway `database/postgresql/createMetaDataTable.sql`.
const FLYWAY_DDL: &str = r#"CREATE TABLE "public"."flyway_schema_history" (
    "installed_rank" INT NOT NULL,
    "version" VARCHAR(50),
    "description" VARCHAR(200) NOT NULL,
    "type" VARCHAR(20) NOT NULL,
    "script" VARCHAR(1000) NOT NULL,
    "checksum" INTEGER,
    "installed_by" VARCHAR(100) NOT NULL,
    "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
    "execution_time" INTEGER NOT NULL,
    "success" BOOLEAN NOT NULL
);
ALTER TABLE "public"."flyway_schema_history" ADD CONSTRAINT "flyway_schema_history_pk" PRIMARY KEY ("installed_rank");
CREATE INDEX "flyway_schema_history_s_idx" ON "public"."flyway_schema_history" ("success");"#;

/// diesel `migration/setup_migration_table.sql`.
const DIESEL_DDL: &str = "CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (
       version VARCHAR(50) PRIMARY KEY NOT NULL,
       run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);";

/// The Supabase CLI (`pkg/migration/history.go`).
const SUPABASE_DDL: &str = "CREATE SCHEMA IF NOT EXISTS supabase_migrations;
CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (version text NOT NULL PRIMARY KEY);
ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS statements text[];
ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS name text;";

/// Alembic (`MigrationContext._version`).
const ALEMBIC_DDL: &str = "CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);";

const SQLX_DIR: &str = "migrations";

/// sqlx's table, and the first three migrations of the fixture run and recorded as sqlx
/// records them: the checksum is SHA-384 of the file (computed by the server here).
fn sqlx_applied(c: &Case) {
    c.sql(SQLX_DDL);
    for (version, file) in [
        (20230101120000_i64, "20230101120000_create_users.up.sql"),
        (
            20230102090000,
            "20230102090000_users_created_at_index.up.sql",
        ),
        (20230103100000, "20230103100000_seed_admin.sql"),
    ] {
        let rel = format!("{SQLX_DIR}/{file}");
        c.run_file(&rel);
        sqlx_row(c, version, &rel, true);
    }
}

fn sqlx_row(c: &Case, version: i64, rel: &str, success: bool) {
    let bytes = std::fs::read(c.path(rel)).unwrap();
    c.execute(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES ($1, 'migration', $2, sha384($3), 1234567)",
        &[&version, &success, &bytes],
    );
}

#[test]
fn sqlx_history_is_adopted() {
    let c = Case::imported("sqlx");
    sqlx_applied(&c);
    // A dry run says what it would record and writes nothing, not even keel's schema.
    let dry = c.keel(&["adopt", "sqlx", "--dry-run"]);
    dry.assert_code(0)
        .assert_stdout_has("would adopt 20230101120000_create_users (sqlx 20230101120000, checksum matches)")
        .assert_stdout_has("dry run: would adopt 3 versions from sqlx (public._sqlx_migrations) as applied, base → 20230103100000; nothing written");
    let keel_schema: bool =
        c.db.connect()
            .query_one("SELECT to_regnamespace('keel') IS NOT NULL", &[])
            .unwrap()
            .get(0);
    assert!(!keel_schema, "a dry run created keel's schema");
    insta::assert_snapshot!(dry.stdout);
    let out = c.adopt_check_upgrade(
        "sqlx",
        "_sqlx_migrations",
        &[
            "20230101120000_create_users",
            "20230102090000_users_created_at_index",
            "20230103100000_seed_admin",
        ],
        "20230104110000_add_orders_table",
    );
    out.assert_stdout_has(
        "adopted 20230102090000_users_created_at_index (sqlx 20230102090000, checksum matches)",
    );
    out.assert_stdout_has("without running any SQL: base → 20230103100000");
    let event: (String, String, String) = {
        let row =
            c.db.connect()
                .query_one(
                    "SELECT target, outcome, detail FROM keel.events WHERE command = 'adopt'",
                    &[],
                )
                .unwrap();
        (row.get(0), row.get(1), row.get(2))
    };
    assert_eq!(
        event,
        (
            "sqlx".to_string(),
            "ok".to_string(),
            "from sqlx (public._sqlx_migrations): 3 versions".to_string()
        )
    );
    // Adopting again changes nothing, and says so.
    let again = c.keel(&["adopt", "sqlx"]);
    again
        .assert_code(0)
        .assert_stdout_has("already recorded 20230101120000_create_users")
        .assert_stdout_has("nothing to adopt: keel already records every version sqlx applied");
    let (versions, events) = c.keel_history();
    assert_eq!(versions.len(), 4);
    assert_eq!(events, ["adopt", "upgrade"]);
}

#[test]
fn dbmate_history_is_adopted() {
    let c = Case::imported("dbmate");
    c.sql(DBMATE_DDL);
    for file in [
        "20230101120000_create_accounts.sql",
        "20230102120000_accounts_name_index.sql",
        "20230103120000_backfill_names.sql",
    ] {
        let text = c.read(&format!("db/migrations/{file}"));
        // dbmate runs the up section: what comes before `-- migrate:down`.
        let up = text.split("-- migrate:down").next().unwrap();
        c.sql(up);
        let version = &file[..14];
        c.execute(
            "insert into public.schema_migrations (version) values ($1)",
            &[&version],
        );
    }
    let out = c.adopt_check_upgrade(
        "dbmate",
        "schema_migrations",
        &[
            "20230101120000_create_accounts",
            "20230102120000_accounts_name_index",
            "20230103120000_backfill_names",
        ],
        "20230104120000_add_status",
    );
    out.assert_stdout_has("adopted 20230101120000_create_accounts (dbmate 20230101120000)\n");
}

/// golang-migrate's table holding `version` (all of the fixture but its last migration run).
fn golang_migrate_applied(c: &Case, version: i64, dirty: bool) {
    c.sql(GOLANG_MIGRATE_DDL);
    c.run_file("migrations/000001_create_products.up.sql");
    c.run_file("migrations/000002_products_sku_index.up.sql");
    c.execute(
        "INSERT INTO \"public\".\"schema_migrations\" (version, dirty) VALUES ($1, $2)",
        &[&version, &dirty],
    );
}

#[test]
fn golang_migrate_history_is_adopted() {
    let c = Case::imported("golang-migrate");
    golang_migrate_applied(&c, 2, false);
    let out = c.adopt_check_upgrade(
        "golang-migrate",
        "schema_migrations",
        &["000001_create_products", "000002_products_sku_index"],
        "000003_price_function",
    );
    out.assert_stdout_has("adopted 000001_create_products (implied by golang-migrate's history)")
        .assert_stdout_has("adopted 000002_products_sku_index (golang-migrate 2)");
}

const FLYWAY_DIR: &str = "src/main/resources/db/migration";

/// Flyway's table with the first three versioned migrations and the repeatable one applied,
/// the third one's row `success` as given. The checksums are those Flyway computes for the
/// fixture files (CRC32 of their lines, computed independently of keel).
fn flyway_applied(c: &Case, third_succeeded: bool) {
    c.sql(FLYWAY_DDL);
    let rows = [
        FlywayRow {
            version: Some("1"),
            description: "Create person table",
            script: "V1__Create_person_table.sql",
            checksum: 1715188512,
            success: true,
        },
        FlywayRow {
            version: Some("2"),
            description: "Add people",
            script: "V2__Add_people.sql",
            checksum: 476766047,
            success: true,
        },
        FlywayRow {
            version: Some("3"),
            description: "person name index",
            script: "2023/V3__person_name_index.sql",
            checksum: 1828790432,
            success: third_succeeded,
        },
        FlywayRow {
            version: None,
            description: "person view",
            script: "R__person_view.sql",
            checksum: -2103738215,
            success: true,
        },
    ];
    for (rank, r) in (1_i32..).zip(rows) {
        c.run_file(&format!("{FLYWAY_DIR}/{}", r.script));
        c.execute(
            r#"INSERT INTO "public"."flyway_schema_history"
               ("installed_rank", "version", "description", "type", "script", "checksum",
                "installed_by", "execution_time", "success")
               VALUES ($1, $2, $3, 'SQL', $4, $5, 'postgres', 12, $6)"#,
            &[
                &rank,
                &r.version,
                &r.description,
                &r.script,
                &r.checksum,
                &r.success,
            ],
        );
    }
}

/// A row Flyway writes for a migration it ran.
struct FlywayRow {
    version: Option<&'static str>,
    description: &'static str,
    script: &'static str,
    checksum: i32,
    success: bool,
}

#[test]
fn flyway_history_is_adopted() {
    let c = Case::imported("flyway");
    flyway_applied(&c, true);
    let out = c.adopt_check_upgrade(
        "flyway",
        "flyway_schema_history",
        &[
            "1_create_person_table",
            "2_add_people",
            "3_person_name_index",
        ],
        "4_wrapped",
    );
    out.assert_stdout_has("adopted 1_create_person_table (flyway 1, checksum matches)")
        .assert_stdout_has("adopted 3_person_name_index (flyway 3, checksum matches)")
        .assert_stdout_has(
            "note: repeatable migration `R__person_view.sql` is not adopted: keel has no repeatable migrations",
        );
}

#[test]
fn diesel_history_is_adopted() {
    let c = Case::imported("diesel");
    c.sql(DIESEL_DDL);
    for (version, folder) in [
        ("00000000000000", "00000000000000_diesel_initial_setup"),
        ("20230115093000", "2023-01-15-093000_create_posts"),
        ("20230201120000", "2023-02-01-120000_posts_title_index"),
    ] {
        c.run_file(&format!("migrations/{folder}/up.sql"));
        c.execute(
            "INSERT INTO __diesel_schema_migrations (version) VALUES ($1)",
            &[&version],
        );
    }
    c.adopt_check_upgrade(
        "diesel",
        "__diesel_schema_migrations",
        &[
            "00000000000000_diesel_initial_setup",
            "20230115093000_create_posts",
            "20230201120000_posts_title_index",
        ],
        "20230301080000_backfill_slugs",
    );
}

#[test]
fn supabase_history_is_adopted() {
    let c = Case::imported("supabase");
    c.sql(SUPABASE_DDL);
    let rel = "supabase/migrations/20240101000000_create_profiles.sql";
    c.run_file(rel);
    let statements = vec![c.read(rel)];
    c.execute(
        "INSERT INTO supabase_migrations.schema_migrations (version, statements, name)
         VALUES ('20240101000000', $1, 'create_profiles')",
        &[&statements],
    );
    c.adopt_check_upgrade(
        "supabase",
        "supabase_migrations.schema_migrations",
        &["20240101000000_create_profiles"],
        "20240102000000_profiles_username_index",
    );
}

/// A keel pair written by hand with `-- keel:source alembic <source>`, sealed later.
fn alembic_pair(c: &Case, id: &str, source: &str, up: &str, down: &str) {
    c.write(
        &format!("sql/up/{id}.sql"),
        &format!("-- keel:source alembic {source}\n{up}\n"),
    );
    c.write(
        &format!("sql/down/{id}.sql"),
        &format!("-- keel:source alembic {source}\n{down}\n"),
    );
}

#[test]
fn alembic_head_is_adopted_through_keel_sources() {
    let c = Case::empty();
    let migrations = [
        (
            "0001_create_account",
            "1975ea83b712",
            "CREATE TABLE account (id serial PRIMARY KEY, name varchar(50) NOT NULL);",
            "DROP TABLE account;",
        ),
        (
            "0002_add_a_column",
            "versions/ae1027a6acf_add_a_column.py",
            "ALTER TABLE account ADD COLUMN last_transaction_date timestamp;",
            "ALTER TABLE account DROP COLUMN last_transaction_date;",
        ),
        (
            "0003_account_notes",
            "27c6a30d7c24",
            "CREATE TABLE account_note (account_id int REFERENCES account (id), note text);",
            "DROP TABLE account_note;",
        ),
    ];
    for (id, source, up, down) in migrations {
        alembic_pair(&c, id, source, up, down);
    }
    c.keel(&["seal"]).assert_code(0);
    c.sql(ALEMBIC_DDL);
    c.sql(migrations[0].2);
    c.sql(migrations[1].2);
    c.sql("INSERT INTO alembic_version (version_num) VALUES ('ae1027a6acf')");
    let out = c.adopt_check_upgrade(
        "alembic",
        "alembic_version",
        &["0001_create_account", "0002_add_a_column"],
        "0003_account_notes",
    );
    out.assert_stdout_has("adopted 0002_add_a_column (alembic ae1027a6acf)");
}

#[test]
fn alembic_revision_without_a_keel_file_is_refused() {
    let c = Case::empty();
    alembic_pair(&c, "0001_a", "1975ea83b712", "SELECT 1;", "SELECT 1;");
    c.keel(&["seal"]).assert_code(0);
    c.sql(ALEMBIC_DDL);
    c.sql("INSERT INTO alembic_version (version_num) VALUES ('3512b954651e')");
    c.assert_refused(&["adopt", "alembic"], "adopt-missing-file")
        .assert_stderr_has("Alembic's head revision `3512b954651e` has no keel migration");
}

#[test]
fn golang_migrate_dirty_row_is_refused() {
    let c = Case::imported("golang-migrate");
    golang_migrate_applied(&c, 2, true);
    let out = c.assert_refused(&["adopt", "golang-migrate"], "adopt-unfinished");
    out.assert_stderr_has("golang-migrate's history says version 2 is dirty")
        .assert_stderr_has("migrate force VERSION");
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn sqlx_failed_row_is_refused() {
    let c = Case::imported("sqlx");
    c.sql(SQLX_DDL);
    c.run_file("migrations/20230101120000_create_users.up.sql");
    sqlx_row(
        &c,
        20230101120000,
        "migrations/20230101120000_create_users.up.sql",
        true,
    );
    sqlx_row(
        &c,
        20230102090000,
        "migrations/20230102090000_users_created_at_index.up.sql",
        false,
    );
    let out = c.assert_refused(&["adopt", "sqlx"], "adopt-unfinished");
    out.assert_stderr_has("version 20230102090000 (migration) with success = false");
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn flyway_failed_row_is_refused() {
    let c = Case::imported("flyway");
    flyway_applied(&c, false);
    let out = c.assert_refused(&["adopt", "flyway"], "adopt-unfinished");
    out.assert_stderr_has("Flyway's history records a failed migration: version 3 `2023/V3__person_name_index.sql` (installed_rank 3)")
        .assert_stderr_has("flyway repair");
    insta::assert_snapshot!(out.stderr);
}

/// dbmate's table holding `versions` (the schema is not needed to be refused).
fn dbmate_rows(c: &Case, versions: &[&str]) {
    c.sql(DBMATE_DDL);
    for v in versions {
        c.execute(
            "insert into public.schema_migrations (version) values ($1)",
            &[v],
        );
    }
}

#[test]
fn database_ahead_of_the_files_is_refused() {
    let c = Case::imported("dbmate");
    dbmate_rows(
        &c,
        &[
            "20230101120000",
            "20230104120000",
            "20230105120000",
            "20230106120000",
        ],
    );
    let out = c.assert_refused(&["adopt", "dbmate"], "adopt-ahead");
    out.assert_stderr_has(
        "the database is ahead of the files: dbmate applied versions 20230105120000, 20230106120000, newer than the newest keel migration (it is 20230104120000)",
    );
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn applied_version_missing_on_disk_is_refused() {
    let c = Case::imported("dbmate");
    dbmate_rows(&c, &["20230101120000", "20230101130000", "20230102120000"]);
    let out = c.assert_refused(&["adopt", "dbmate"], "adopt-missing-file");
    out.assert_stderr_has("dbmate applied a version with no keel migration: 20230101130000");
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn sqlx_checksum_mismatch_is_refused_unless_accepted() {
    let c = Case::imported("sqlx");
    sqlx_applied(&c);
    // The file changed after sqlx applied it (the keel file, imported before, did not).
    let rel = "migrations/20230103100000_seed_admin.sql";
    let edited = format!("{}-- reviewed\n", c.read(rel));
    c.write(rel, &edited);
    let out = c.assert_refused(&["adopt", "sqlx"], "adopt-checksum");
    out.assert_stderr_has(
        "version 20230103100000: the file changed after sqlx applied it (sqlx recorded checksum ",
    )
    .assert_stderr_has("--accept-checksum-mismatch");
    assert_eq!(
        out.stderr.matches("error[adopt-checksum]").count(),
        1,
        "one mismatch, one error\n{out}"
    );
    insta::assert_snapshot!(out.stderr);
    // Elsewhere than the default folder, with --from; and accepted.
    std::fs::rename(c.path("migrations"), c.path("old")).unwrap();
    let out = c.keel(&[
        "adopt",
        "sqlx",
        "--from",
        "old",
        "--accept-checksum-mismatch",
    ]);
    out.assert_code(0)
        .assert_stderr_has("warning[adopt-checksum]")
        .assert_stdout_has(
            "adopted 20230103100000_seed_admin (sqlx 20230103100000, checksum differs (accepted))",
        )
        .assert_stdout_has(
            "adopted 20230101120000_create_users (sqlx 20230101120000, checksum matches)",
        );
    assert_eq!(c.keel_history().0.len(), 3);
}

#[test]
fn without_the_tools_folder_checksums_are_not_compared() {
    let c = Case::imported("sqlx");
    sqlx_applied(&c);
    std::fs::rename(c.path("migrations"), c.path("elsewhere")).unwrap();
    c.keel(&["adopt", "sqlx"])
        .assert_code(0)
        .assert_stdout_has("adopted 20230101120000_create_users (sqlx 20230101120000, checksum not compared: `migrations` is not a folder (pass the tool's migrations folder with --from))");
}

#[test]
fn a_history_that_disagrees_with_keels_is_refused() {
    let c = Case::imported("dbmate");
    // keel recorded the first version by itself...
    c.keel(&["stamp", "20230101120000"]).assert_code(0);
    // ...and dbmate applied the second without the first.
    dbmate_rows(&c, &["20230102120000"]);
    let out = c.keel(&["adopt", "dbmate"]);
    out.assert_code(1)
        .assert_stderr_has("error[adopt-conflict]")
        .assert_stderr_has("keel's history records a version as applied that dbmate's history does not, although dbmate went on to 20230102120000: 20230101120000");
    assert_eq!(
        c.keel_history(),
        (
            vec!["20230101120000".to_string()],
            vec!["stamp".to_string()]
        )
    );
}

#[test]
fn a_missing_or_foreign_table_is_refused() {
    let c = Case::imported("dbmate");
    c.assert_refused(&["adopt", "dbmate"], "adopt-table")
        .assert_stderr_has("this database has no dbmate history table `schema_migrations`");
    c.sql(GOLANG_MIGRATE_DDL);
    c.assert_refused(&["adopt", "dbmate"], "adopt-table")
        .assert_stderr_has("it is golang-migrate's history table, not dbmate's");
    // --table names another table; a name keel does not read is a usage error.
    c.sql(
        "CREATE SCHEMA ops; create table ops.schema_migrations (version varchar(255) primary key)",
    );
    c.keel(&["adopt", "dbmate", "--table", "ops.schema_migrations"])
        .assert_code(0)
        .assert_stdout_has(
            "nothing to adopt: dbmate's history (ops.schema_migrations) records no applied version",
        );
    c.keel(&["adopt", "dbmate", "--table", "x; drop table y"])
        .assert_code(2)
        .assert_stderr_has("is not a table name keel reads");
}

#[test]
fn json_documents_of_an_adoption_and_a_refusal() {
    let c = Case::imported("golang-migrate");
    golang_migrate_applied(&c, 2, true);
    let out = c.keel(&["--format", "json", "adopt", "golang-migrate"]);
    out.assert_code(1);
    let doc: serde_json::Value =
        serde_json::from_str(out.stdout.trim()).expect("one JSON document");
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["tool"], "golang-migrate");
    assert_eq!(doc["diagnostics"][0]["code"], "adopt-unfinished");
    assert_eq!(doc["adopted"], serde_json::json!([]));
    c.execute("UPDATE schema_migrations SET dirty = false", &[]);
    let out = c.keel(&["--format", "json", "adopt", "golang-migrate"]);
    out.assert_code(0);
    let doc: serde_json::Value =
        serde_json::from_str(out.stdout.trim()).expect("one JSON document");
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["table"], "public.schema_migrations");
    assert_eq!(doc["from"], "base");
    assert_eq!(doc["to"], "000002");
    assert_eq!(doc["adopted"][1]["version"], "000002");
    assert_eq!(doc["adopted"][1]["peer"], "2");
    assert_eq!(doc["adopted"][0]["peer"], serde_json::Value::Null);
    assert_eq!(doc["adopted"][0]["checksum"], "not recorded");
}
