//! `keel import alembic` against the real Alembic, installed from the Python package index into
//! a virtual environment under the cache folder on first use (`/var/cache/keel/alembic-venv`
//! as root, `~/.cache/keel/alembic-venv` otherwise): the test fails, never skips, when that
//! cannot be done.
//!
//! The fixture (`tests/fixtures/import/alembic/`) has five revisions: a table from
//! `op.create_table`, an index, raw SQL through `op.execute` (a table, a PL/pgSQL function and
//! a trigger), a PostgreSQL enum, and a data migration whose downgrade raises. Imported with
//! keel, it must build on one database exactly the schema `alembic upgrade head` builds on
//! another (keel verify's catalog snapshot, Alembic's version table and keel's schema left
//! out); `keel adopt alembic` then takes over the Alembic-made database, `keel check` passes,
//! and a new keel migration applies there.
#![allow(clippy::disallowed_methods)] // the tests read the catalog directly

mod common;

use common::{copy_dir, fresh_db, Keel, Run, TestDb};
use keel::verify::snapshot::{self, Snapshot};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/import/alembic");

/// The Python of a virtual environment with Alembic, SQLAlchemy and psycopg2, made once.
fn alembic_python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let cache = if std::env::var_os("HOME").is_none() || is_root() {
            PathBuf::from("/var/cache/keel")
        } else {
            PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/keel")
        };
        let venv = cache.join("alembic-venv");
        let python = venv.join("bin/python");
        let ready = || {
            Command::new(&python)
                .args(["-c", "import alembic, sqlalchemy, psycopg2"])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if ready() {
            return python;
        }
        let _ = std::fs::remove_dir_all(&venv);
        std::fs::create_dir_all(&cache)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", cache.display()));
        let step = |program: &Path, args: &[&str]| {
            let out = Command::new(program).args(args).output().unwrap_or_else(|e| {
                panic!("this test installs Alembic and cannot run `{}`: {e}\nhint: install Python 3 with venv (Debian: `apt-get install python3-venv python3-pip`)", program.display())
            });
            assert!(
                out.status.success(),
                "this test installs Alembic from the Python package index, and `{} {}` failed:\n{}{}\nhint: it needs python3-venv (Debian: `apt-get install python3-venv python3-pip`) and network access to pypi.org",
                program.display(),
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        step(
            Path::new("python3"),
            &["-m", "venv", venv.to_str().unwrap()],
        );
        step(
            &python,
            &[
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "alembic",
                "sqlalchemy",
                "psycopg2-binary",
            ],
        );
        assert!(ready(), "Alembic was installed in {} but cannot be imported", venv.display());
        python
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A copy of the fixture project in a temporary folder.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        copy_dir(Path::new(FIXTURE), dir.path());
        Project { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn keel(&self, url: Option<&str>, args: &[&str]) -> Run {
        Keel::new(self.root())
            .env("KEEL_PYTHON", alembic_python())
            .url(url)
            .args(args)
            .run()
    }

    /// `alembic -x url=<db> ARGS` with the virtual environment's Alembic.
    fn alembic(&self, db: &TestDb, args: &[&str]) {
        let out = Command::new(alembic_python())
            .args(["-m", "alembic", "-x"])
            .arg(format!("url={}", sqlalchemy_url(db)))
            .args(args)
            .current_dir(self.root())
            .output()
            .expect("run alembic");
        assert!(
            out.status.success(),
            "alembic {} failed:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// The test database as SQLAlchemy takes it (psycopg2 reads the socket folder, port and user
/// from the query string, as libpq does).
fn sqlalchemy_url(db: &TestDb) -> String {
    db.url()
        .replacen("postgresql://", "postgresql+psycopg2://", 1)
}

/// The catalog snapshot without Alembic's version table.
fn schema(db: &TestDb) -> Snapshot {
    let mut s = snapshot::take(&mut db.connect(), "keel").expect("snapshot");
    s.entries.retain(|k, _| !k.name.contains("alembic_version"));
    s
}

fn differences(a: &Snapshot, b: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in &a.entries {
        match b.entries.get(k) {
            None => out.push(format!("only from alembic: {k}: {}", v.definition)),
            Some(w) if w.definition != v.definition => out.push(format!(
                "{k}:\n  alembic: {}\n  keel:    {}",
                v.definition, w.definition
            )),
            _ => {}
        }
    }
    for (k, v) in &b.entries {
        if !a.entries.contains_key(k) {
            out.push(format!("only from keel: {k}: {}", v.definition));
        }
    }
    out
}

#[test]
fn imported_revisions_build_the_schema_alembic_builds_and_adopt_takes_over() {
    let p = Project::new();
    let run = p.keel(None, &["import", "alembic"]);
    run.assert_code(0)
        .assert_stdout_has(
            "imported 0001_create_accounts from alembic upgrade base:1a2b3c4d5e6f --sql",
        )
        .assert_stdout_has("imported 0005_backfill_closed_accounts")
        .assert_stdout_has("NotImplementedError")
        .assert_stdout_has("imported 5 migrations");
    let up = std::fs::read_to_string(p.root().join("sql/up/0004_account_status_enum.sql")).unwrap();
    assert!(
        up.contains("-- keel:message account status enum\n-- keel:source alembic 4d5e6f708192\n"),
        "{up}"
    );
    assert!(up.contains("CREATE TYPE account_status AS ENUM"), "{up}");
    for text in [
        &up,
        &std::fs::read_to_string(p.root().join("sql/up/0001_create_accounts.sql")).unwrap(),
    ] {
        assert!(
            !text.contains("alembic_version")
                && !text.contains("BEGIN;")
                && !text.contains("COMMIT;"),
            "{text}"
        );
    }
    let down = std::fs::read_to_string(p.root().join("sql/down/0005_backfill_closed_accounts.sql"))
        .unwrap();
    assert!(down.contains("-- keel:irreversible"), "{down}");
    p.keel(None, &["check", "--offline"]).assert_code(0);

    let by_alembic = fresh_db();
    p.alembic(&by_alembic, &["upgrade", "head"]);
    let by_keel = fresh_db();
    p.keel(Some(by_keel.url()), &["upgrade", "head"])
        .assert_code(0);
    let (a, k) = (schema(&by_alembic), schema(&by_keel));
    assert!(a.entries.keys().any(|k| k.name.contains("account_status")));
    let diff = differences(&a, &k);
    assert!(diff.is_empty(), "the schemas differ:\n{}", diff.join("\n"));

    // keel takes over the database Alembic made.
    p.keel(Some(by_alembic.url()), &["adopt", "alembic"])
        .assert_code(0)
        .assert_output_has("0005_backfill_closed_accounts");
    p.keel(Some(by_alembic.url()), &["check"]).assert_code(0);
    p.write(
        "sql/up/0006_account_notes.sql",
        "ALTER TABLE accounts ADD COLUMN notes text;\n",
    );
    p.write(
        "sql/down/0006_account_notes.sql",
        "ALTER TABLE accounts DROP COLUMN notes;\n",
    );
    p.keel(None, &["seal"]).assert_code(0);
    p.keel(Some(by_alembic.url()), &["upgrade"])
        .assert_code(0)
        .assert_output_has("0006_account_notes");
    let notes = by_alembic
        .connect()
        .query(
            "SELECT 1 FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'notes'",
            &[],
        )
        .unwrap();
    assert_eq!(
        notes.len(),
        1,
        "the new keel migration ran on the Alembic-made database"
    );
}

#[test]
fn a_branched_history_is_refused_naming_the_revisions() {
    let p = Project::new();
    p.write(
        "migrations/versions/6a7b8c9d0e1f_side_branch.py",
        "\"\"\"side branch\"\"\"\nfrom alembic import op\n\nrevision = '6a7b8c9d0e1f'\ndown_revision = '4d5e6f708192'\nbranch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n    op.execute('SELECT 1')\n\n\ndef downgrade():\n    pass\n",
    );
    p.keel(None, &["import", "alembic"])
        .assert_code(1)
        .assert_stderr_has("import-layout")
        .assert_stderr_has("2 heads (5e6f708192a3, 6a7b8c9d0e1f)")
        .assert_stderr_has("`4d5e6f708192` is the parent of");
    assert!(!p.root().join("sql").exists(), "nothing is written");
}

#[test]
fn without_alembic_the_error_says_how_to_install_it() {
    let p = Project::new();
    // A Python of its own, without Alembic (the machine's may have it).
    let bare = p.root().join("bare-venv");
    let out = Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&bare)
        .output()
        .expect("python3 -m venv");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Keel::new(p.root())
        .env("KEEL_PYTHON", bare.join("bin/python"))
        .args(["import", "alembic"])
        .run();
    run.assert_code(1)
        .assert_stderr_has("import-tool")
        .assert_stderr_has("No module named 'alembic'")
        .assert_stderr_has("python3 -m pip install alembic sqlalchemy psycopg2-binary")
        .assert_stderr_has("KEEL_PYTHON");
    let run = Keel::new(p.root())
        .env("KEEL_PYTHON", p.root().join("no-such-python"))
        .args(["import", "alembic"])
        .run();
    run.assert_code(1)
        .assert_stderr_has("cannot run")
        .assert_stderr_has("KEEL_PYTHON");
    assert!(!p.root().join("sql").exists(), "nothing is written");
}
