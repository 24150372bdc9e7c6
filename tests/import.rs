//! CLI tests of `keel import`, run against the built `keel` binary: each tool's fixture
//! (`tests/fixtures/import/<tool>/`, see its README) is copied to a temporary project and
//! imported with the tool's default folder, and `keel check --offline` must pass on the result.
//! Every refusal (an existing version, a statement that fails, a Flyway version with parts, a
//! hostile source file) must leave the project without a single new file. The exact wording of
//! the refusals and of a dry run is snapshot (`tests/snapshots/import__*.snap`).

mod common;

use common::{copy_dir, Keel, Run};
use std::fs;
use std::path::{Path, PathBuf};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/import");

/// A temporary project where keel runs.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn empty() -> Project {
        Project {
            dir: tempfile::tempdir().expect("create a temporary directory"),
        }
    }

    /// A copy of `tests/fixtures/import/<name>`.
    fn fixture(name: &str) -> Project {
        let p = Project::empty();
        let src = Path::new(FIXTURES).join(name);
        assert!(src.is_dir(), "no fixture {}", src.display());
        copy_dir(&src, p.root());
        p
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    fn write(&self, rel: &str, contents: impl AsRef<[u8]>) {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, contents).unwrap_or_else(|e| panic!("write {rel}: {e}"));
    }

    /// The file names in `sql/<sub>`, sorted (none when the folder does not exist).
    fn files(&self, sub: &str) -> Vec<String> {
        let Ok(entries) = fs::read_dir(self.path("sql").join(sub)) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn keel(&self, args: &[&str]) -> Run {
        Keel::new(self.root()).args(args).run()
    }

    /// `keel check --offline` passes on the project.
    #[track_caller]
    fn assert_checks(&self) -> Run {
        let out = self.keel(&["check", "--offline"]);
        out.assert_code(0);
        out
    }

    /// Nothing was imported: no `sql/` folder at all.
    #[track_caller]
    fn assert_nothing_written(&self) {
        assert!(
            !self.path("sql").exists(),
            "the import wrote files: {:?} {:?}",
            self.files("up"),
            self.files("down")
        );
    }
}

/// Imports `tool`'s fixture with the tool's default folder; the import and `keel check
/// --offline` on its result both succeed.
fn imported(tool: &str) -> (Project, Run) {
    let p = Project::fixture(tool);
    let out = p.keel(&["import", tool]);
    out.assert_code(0);
    p.assert_checks();
    (p, out)
}

/// The header lines of a file (those starting with `-- keel:`), without the checksum.
fn header(text: &str) -> Vec<&str> {
    text.lines()
        .take_while(|l| l.starts_with("-- keel:"))
        .filter(|l| !l.starts_with("-- keel:checksum"))
        .collect()
}

#[test]
fn sqlx_migrations_import_and_check() {
    let (p, out) = imported("sqlx");
    let names = [
        "20230101120000_create_users.sql",
        "20230102090000_users_created_at_index.sql",
        "20230103100000_seed_admin.sql",
        "20230104110000_add_orders_table.sql",
    ];
    assert_eq!(p.files("up"), names);
    assert_eq!(p.files("down"), names);
    let up = p.read("sql/up/20230101120000_create_users.sql");
    assert_eq!(
        header(&up),
        [
            "-- keel:message create_users",
            "-- keel:source sqlx 20230101120000_create_users.up.sql"
        ]
    );
    assert!(up.contains("-- Add up migration script here\nCREATE TABLE users ("));
    // `-- no-transaction` is a directive: it becomes the header, on both sides.
    for side in ["up", "down"] {
        let text = p.read(&format!(
            "sql/{side}/20230102090000_users_created_at_index.sql"
        ));
        assert!(header(&text).contains(&"-- keel:transaction off"), "{text}");
        assert!(!text.contains("-- no-transaction"), "{text}");
    }
    // A simple migration has no down.
    assert_eq!(
        header(&p.read("sql/down/20230103100000_seed_admin.sql")),
        [
            "-- keel:message seed_admin",
            "-- keel:source sqlx 20230103100000_seed_admin.sql",
            "-- keel:irreversible"
        ]
    );
    // The description is kept as written; the name is keel's.
    let orders = p.read("sql/up/20230104110000_add_orders_table.sql");
    assert_eq!(
        header(&orders),
        [
            "-- keel:message Add Orders Table!",
            "-- keel:source sqlx 20230104110000_Add Orders Table!.up.sql",
            "-- keel:transaction off"
        ]
    );
    out.assert_stdout_has(
        "imported 20230104110000_add_orders_table from migrations/20230104110000_Add Orders Table!.up.sql, migrations/20230104110000_Add Orders Table!.down.sql (transaction off, down transaction on, reversible)\n  note: up: CREATE INDEX CONCURRENTLY (line 7) cannot run inside a transaction: imported as `-- keel:transaction off`",
    );
    out.assert_stdout_has("skipped migrations/README.md: not a sqlx migration");
    out.assert_stdout_has(
        "imported 4 migrations from migrations (sqlx) into sql: 8 files written; 1 file skipped",
    );
}

#[test]
fn dbmate_migrations_import_and_check() {
    let (p, out) = imported("dbmate");
    assert_eq!(
        p.files("up"),
        [
            "20230101120000_create_accounts.sql",
            "20230102120000_accounts_name_index.sql",
            "20230103120000_backfill_names.sql",
            "20230104120000_add_status.sql",
        ]
    );
    let up = p.read("sql/up/20230101120000_create_accounts.sql");
    assert!(!up.contains("migrate:"), "{up}");
    assert!(p
        .read("sql/down/20230101120000_create_accounts.sql")
        .ends_with(
            "-- keel:source dbmate 20230101120000_create_accounts.sql\nDROP TABLE accounts;\n"
        ));
    for side in ["up", "down"] {
        let text = p.read(&format!(
            "sql/{side}/20230102120000_accounts_name_index.sql"
        ));
        assert!(header(&text).contains(&"-- keel:transaction off"), "{text}");
    }
    // An empty down section, and none at all: both irreversible.
    for name in ["20230103120000_backfill_names", "20230104120000_add_status"] {
        let down = p.read(&format!("sql/down/{name}.sql"));
        assert!(header(&down).contains(&"-- keel:irreversible"), "{down}");
    }
    out.assert_stdout_has("  note: down: the down section of `20230103120000_backfill_names.sql` has no statement: imported as `-- keel:irreversible`");
    // dbmate's schema dump lives beside the folder, not in it.
    assert!(!out.stdout.contains("schema.sql"), "{out}");
}

#[test]
fn golang_migrate_migrations_import_and_check() {
    let (p, out) = imported("golang-migrate");
    assert_eq!(
        p.files("up"),
        [
            "000001_create_products.sql",
            "000002_products_sku_index.sql",
            "000003_price_function.sql",
        ]
    );
    for side in ["up", "down"] {
        let text = p.read(&format!("sql/{side}/000001_create_products.sql"));
        assert!(
            !text.contains("BEGIN") && !text.contains("COMMIT"),
            "{text}"
        );
        assert!(!header(&text).contains(&"-- keel:transaction off"));
    }
    out.assert_stdout_has("  note: up: removed the BEGIN (line 1) and COMMIT (line 15) around the whole file: keel runs the migration in its own transaction\n  note: down: removed the BEGIN (line 1) and COMMIT (line 4)");
    for side in ["up", "down"] {
        let text = p.read(&format!("sql/{side}/000002_products_sku_index.sql"));
        assert!(header(&text).contains(&"-- keel:transaction off"), "{text}");
    }
    out.assert_stdout_has("  note: up: CREATE INDEX CONCURRENTLY (line 1) cannot run inside a transaction: imported as `-- keel:transaction off`\n  note: down: DROP INDEX CONCURRENTLY (line 1) cannot run inside a transaction");
    assert!(header(&p.read("sql/down/000003_price_function.sql")).contains(&"-- keel:irreversible"));
}

#[test]
fn flyway_migrations_import_from_the_maven_layout_and_check() {
    let (p, out) = imported("flyway");
    assert_eq!(
        p.files("up"),
        [
            "1_create_person_table.sql",
            "2_add_people.sql",
            "3_person_name_index.sql",
            "4_wrapped.sql",
        ]
    );
    assert!(p
        .read("sql/down/2_add_people.sql")
        .contains("-- keel:source flyway U2__Add_people.sql\ndelete from PERSON"));
    assert!(header(&p.read("sql/down/1_create_person_table.sql")).contains(&"-- keel:irreversible"));
    let index = p.read("sql/up/3_person_name_index.sql");
    assert_eq!(
        header(&index),
        [
            "-- keel:message person_name_index",
            "-- keel:source flyway 2023/V3__person_name_index.sql",
            "-- keel:transaction off"
        ]
    );
    let wrapped = p.read("sql/up/4_wrapped.sql");
    assert!(wrapped.ends_with("-- Written for a tool that runs each file as it is.\nALTER TABLE PERSON ADD COLUMN EMAIL varchar(200);\n"), "{wrapped}");
    out.assert_stdout_has("imported 1_create_person_table from src/main/resources/db/migration/V1__Create_person_table.sql (transaction on, irreversible)");
    out.assert_stdout_has("skipped src/main/resources/db/migration/R__person_view.sql: a Flyway repeatable migration: keel has no repeatable migrations");
    out.assert_stdout_has("skipped src/main/resources/db/migration/afterMigrate.sql: not a Flyway versioned or undo migration");
}

#[test]
fn diesel_migrations_import_and_check() {
    let (p, _) = imported("diesel");
    let names = [
        "00000000000000_diesel_initial_setup.sql",
        "20230115093000_create_posts.sql",
        "20230201120000_posts_title_index.sql",
        "20230301080000_backfill_slugs.sql",
    ];
    assert_eq!(p.files("up"), names);
    assert_eq!(p.files("down"), names);
    assert!(p
        .read("sql/up/00000000000000_diesel_initial_setup.sql")
        .contains("-- keel:source diesel 00000000000000_diesel_initial_setup/up.sql\n"));
    for side in ["up", "down"] {
        let text = p.read(&format!("sql/{side}/20230201120000_posts_title_index.sql"));
        assert!(header(&text).contains(&"-- keel:transaction off"), "{text}");
    }
    assert!(
        header(&p.read("sql/down/20230301080000_backfill_slugs.sql"))
            .contains(&"-- keel:irreversible")
    );
    // Version 0 and timestamps order as numbers.
    p.keel(&["heads"])
        .assert_code(0)
        .assert_stdout_has("20230301080000");
    p.keel(&["show", "0"])
        .assert_code(0)
        .assert_stdout_has("diesel_manage_updated_at");
}

#[test]
fn supabase_migrations_import_and_check() {
    let (p, out) = imported("supabase");
    assert_eq!(
        p.files("down"),
        [
            "20240101000000_create_profiles.sql",
            "20240102000000_profiles_username_index.sql",
        ]
    );
    for name in p.files("down") {
        assert!(header(&p.read(&format!("sql/down/{name}"))).contains(&"-- keel:irreversible"));
    }
    assert!(
        header(&p.read("sql/up/20240102000000_profiles_username_index.sql"))
            .contains(&"-- keel:transaction off")
    );
    out.assert_stdout_has(
        "imported 2 migrations from supabase/migrations (supabase) into sql: 4 files written",
    );
}

#[test]
fn a_statement_that_fails_refuses_the_import_at_its_source_line() {
    let p = Project::fixture("bad_sql");
    let out = p.keel(&["import", "golang-migrate"]);
    out.assert_code(1)
        .assert_stderr_has("--> migrations/000002_broken.up.sql:4:1")
        .assert_stderr_has("CRATE INDEX b_id ON b (id);")
        .assert_stderr_has("nothing was imported");
    p.assert_nothing_written();
    insta::assert_snapshot!(out.stderr);
    // The same refusal as JSON: the document, with the problem placed in the source.
    let out = p.keel(&["--format", "json", "import", "golang-migrate"]);
    out.assert_code(1);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["written"], 0);
    let d = &doc["diagnostics"][0];
    assert_eq!(
        (d["code"].as_str(), d["path"].as_str(), d["line"].as_u64()),
        (
            Some("syntax-error"),
            Some("migrations/000002_broken.up.sql"),
            Some(4)
        )
    );
    p.assert_nothing_written();
}

#[test]
fn a_flyway_version_with_parts_refuses_the_import_naming_the_file() {
    let p = Project::fixture("flyway_dotted");
    let out = p.keel(&["import", "flyway"]);
    out.assert_code(1)
        .assert_stderr_has("db/migration/V1_1__add_column.sql")
        .assert_stderr_has("Flyway version `1_1` has parts");
    p.assert_nothing_written();
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn an_existing_version_refuses_the_whole_import() {
    let p = Project::fixture("sqlx");
    // A keel pair already holds one of the versions being imported.
    p.keel(&["revision", "-m", "mine"]).assert_code(0);
    for side in ["up", "down"] {
        fs::rename(
            p.path(&format!("sql/{side}/0001_mine.sql")),
            p.path(&format!("sql/{side}/20230103100000_mine.sql")),
        )
        .unwrap();
    }
    let before = p.read("sql/up/20230103100000_mine.sql");
    let out = p.keel(&["import", "sqlx"]);
    out.assert_code(1)
        .assert_stderr_has("error[import-target-exists]: sql/up/20230103100000_mine.sql: version 20230103100000 already exists");
    assert_eq!(p.files("up"), ["20230103100000_mine.sql"]);
    assert_eq!(p.files("down"), ["20230103100000_mine.sql"]);
    assert_eq!(p.read("sql/up/20230103100000_mine.sql"), before);
}

#[test]
fn importing_twice_is_refused_and_changes_nothing() {
    let (p, _) = imported("supabase");
    let before = p.read("sql/up/20240101000000_create_profiles.sql");
    p.keel(&["import", "supabase"])
        .assert_code(1)
        .assert_stderr_has("import-target-exists");
    assert_eq!(p.files("up").len(), 2);
    assert_eq!(p.read("sql/up/20240101000000_create_profiles.sql"), before);
}

#[test]
fn an_import_joins_an_existing_keel_project() {
    let p = Project::fixture("supabase");
    p.keel(&["revision", "-m", "extensions"]).assert_code(0);
    p.write(
        "sql/up/0001_extensions.sql",
        format!(
            "{}CREATE EXTENSION IF NOT EXISTS pgcrypto;\n",
            p.read("sql/up/0001_extensions.sql")
        ),
    );
    p.write(
        "sql/down/0001_extensions.sql",
        format!(
            "{}DROP EXTENSION pgcrypto;\n",
            p.read("sql/down/0001_extensions.sql")
        ),
    );
    p.keel(&["seal"]).assert_code(0);
    p.keel(&["import", "supabase"]).assert_code(0);
    p.assert_checks().assert_stdout_has("checked 3 migrations");
}

#[test]
fn a_dry_run_lists_the_plan_and_writes_nothing() {
    let p = Project::fixture("sqlx");
    let out = p.keel(&["import", "sqlx", "--dry-run"]);
    out.assert_code(0)
        .assert_stdout_has("would import 20230103100000_seed_admin from migrations/20230103100000_seed_admin.sql (transaction on, irreversible)")
        .assert_stdout_has("nothing written");
    p.assert_nothing_written();
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn json_output_describes_every_pair() {
    let p = Project::fixture("dbmate");
    let out = p.keel(&["--format", "json", "import", "dbmate"]);
    out.assert_code(0);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["tool"], "dbmate");
    assert_eq!(doc["source"], "db/migrations");
    assert_eq!(doc["written"], 8);
    let index = &doc["migrations"][1];
    assert_eq!(index["version"], "20230102120000");
    assert_eq!(index["name"], "accounts_name_index");
    assert_eq!(index["up"]["transaction"], false);
    assert_eq!(
        index["up"]["path"],
        "sql/up/20230102120000_accounts_name_index.sql"
    );
    assert_eq!(
        index["down"]["source"],
        "db/migrations/20230102120000_accounts_name_index.sql"
    );
    assert_eq!(doc["migrations"][3]["irreversible"], true);
    p.assert_checks();
}

#[test]
fn usage_errors_exit_2() {
    let p = Project::empty();
    p.keel(&["import", "liquibase"])
        .assert_code(2)
        .assert_stderr_has("invalid value 'liquibase'");
    p.keel(&["import", "sqlx"])
        .assert_code(2)
        .assert_stderr_has("error: source folder `migrations` does not exist");
    p.keel(&["import", "dbmate", "nowhere"])
        .assert_code(2)
        .assert_stderr_has("`nowhere` does not exist");
    p.assert_nothing_written();
}

#[test]
fn a_link_out_of_the_source_folder_is_refused_unread() {
    let p = Project::fixture("sqlx");
    p.write("secret.txt", "SELECT 'not yours';\n");
    std::os::unix::fs::symlink(
        p.path("secret.txt"),
        p.path("migrations/20230105000000_secret.sql"),
    )
    .unwrap();
    let out = p.keel(&["import", "sqlx"]);
    out.assert_code(1)
        .assert_stderr_has("migrations/20230105000000_secret.sql: cannot read this entry: it is a symbolic link to")
        .assert_stderr_has("outside the migrations folder");
    assert!(!out.all().contains("not yours"), "{out}");
    p.assert_nothing_written();
}

#[test]
fn a_source_file_that_is_not_utf8_is_refused_naming_it() {
    let p = Project::fixture("golang-migrate");
    p.write(
        "migrations/000004_latin1.up.sql",
        b"INSERT INTO products (sku, price_cents) VALUES ('caf\xe9', 1);\n",
    );
    p.keel(&["import", "golang-migrate"])
        .assert_code(1)
        .assert_stderr_has("error[not-utf8]: migrations/000004_latin1.up.sql:1:53: the file is not valid UTF-8 (byte 0xE9)");
    p.assert_nothing_written();
}

#[test]
fn strict_refuses_what_sqlparser_cannot_validate() {
    let p = Project::empty();
    p.write(
        "supabase/migrations/20240101000000_odd.sql",
        "CREATE TABLE t (a int,, b int);\n",
    );
    p.keel(&["import", "supabase", "--strict", "--dry-run"])
        .assert_code(1)
        .assert_stderr_has("error[unvalidated]")
        .assert_stderr_has("supabase/migrations/20240101000000_odd.sql:1:23");
    // Without --strict it is a warning, as in `keel check --offline`.
    p.keel(&["import", "supabase"])
        .assert_code(0)
        .assert_stderr_has("warning[unvalidated]");
    p.assert_checks();
}
