//! CLI tests of `keel check`'s safety lint (docs/safety.md), run against the built `keel`
//! binary: offline on the repository's own migrations (sNAKr), and online against a throwaway
//! PostgreSQL (`tests/common/`) whose tables are filled by hand, so that the size threshold,
//! the live CHECK constraints and the applied migrations are real.
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests query and print freely

mod common;

use common::{Keel, Run};
use std::path::Path;

/// The safety rules' ids and the allow codes: the findings these tests look at.
fn is_safety(code: &str) -> bool {
    keel::diagnostic::codes::SAFETY_RULES
        .iter()
        .any(|c| c.as_str() == code)
        || code == "bad-allow"
        || code == "unused-allow"
}

/// `(severity, code, file:line, notes)` of every safety diagnostic of a JSON `check` report.
fn safety_findings(out: &Run) -> Vec<(String, String, String, Vec<String>)> {
    let report: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {out:#?}"));
    report["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter(|d| is_safety(d["code"].as_str().unwrap()))
        .map(|d| {
            let path = d["path"].as_str().unwrap_or_default();
            let file = Path::new(path).file_name().unwrap().to_string_lossy();
            (
                d["severity"].as_str().unwrap().to_string(),
                d["code"].as_str().unwrap().to_string(),
                format!("{file}:{}", d["line"]),
                d["notes"]
                    .as_array()
                    .map(|n| n.iter().map(|s| s.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

/// sNAKr's migrations create the tables they change: the defaults find no error in them.
#[test]
fn the_repositorys_own_migrations_have_no_safety_error_offline() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Keel::new(root)
        .args(["--format", "json", "check", "--offline"])
        .run();
    assert_eq!(out.code, Some(0), "{out:#?}");
    let found = safety_findings(&out);
    assert!(!found.is_empty(), "the style rules have something to say");
    let errors: Vec<_> = found.iter().filter(|f| f.0 != "warning").collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

/// A temporary project with the given up files (and trivial downs), sealed.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for sub in ["sql/up", "sql/down"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        Project { dir }
    }

    /// Adds migration `name` (`0001_x`) with up file `up`, and seals it.
    fn add(&self, name: &str, up: &str) -> &Project {
        let path = |side: &str| self.dir.path().join(format!("sql/{side}/{name}.sql"));
        std::fs::write(path("up"), up).unwrap();
        std::fs::write(path("down"), "SELECT 1;\n").unwrap();
        let out = self.keel(None, &["seal"]);
        assert_eq!(out.code, Some(0), "{out:#?}");
        self
    }

    fn keel(&self, url: Option<&str>, args: &[&str]) -> Run {
        let out = Keel::new(self.dir.path()).url(url).args(args).run();
        assert!(out.code.is_some(), "keel was killed: {out:#?}");
        out
    }
}

/// Online: lock findings are errors on a table over the threshold and notes under it; a
/// validated CHECK on the live table makes SET NOT NULL safe; applied migrations are not
/// linted again; a table created earlier in the run is exempt.
#[test]
fn online_findings_follow_the_tables_in_the_database() {
    let db = common::fresh_db();
    let url = Some(db.url());
    let p = Project::new();
    p.add(
        "0001_tables",
        "CREATE TABLE big (id bigint, a bigint);\nCREATE TABLE small (id bigint, a bigint);\nCREATE TABLE users (id bigint, email text, name text);\n",
    );
    let up = p.keel(url, &["upgrade"]);
    assert_eq!(up.code, Some(0), "{up:#?}");
    db.connect()
        .batch_execute(
            "INSERT INTO big SELECT g, g FROM generate_series(1, 20000) g;
             INSERT INTO small SELECT g, g FROM generate_series(1, 10) g;
             INSERT INTO users SELECT g, 'u' || g, 'n' || g FROM generate_series(1, 20000) g;
             ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL);
             ANALYZE big, small, users;",
        )
        .expect("fill the tables");
    // Applied while the table was already large: not linted again.
    p.add("0002_applied", "CREATE INDEX big_id ON big (id);\n");
    let up = p.keel(url, &["upgrade"]);
    assert_eq!(up.code, Some(0), "{up:#?}");
    p.add(
        "0003_pending",
        "CREATE INDEX big_a ON big (a);\nCREATE INDEX small_a ON small (a);\nALTER TABLE users ALTER COLUMN email SET NOT NULL;\nALTER TABLE users ALTER COLUMN name SET NOT NULL;\nCREATE TABLE fresh (a bigint);\n",
    );
    p.add("0004_pending", "CREATE INDEX fresh_a ON fresh (a);\n");

    let out = p.keel(url, &["--format", "json", "check"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let big = "public.big: about 20,000 rows".to_string();
    let found = safety_findings(&out);
    let short: Vec<(&str, &str, &str)> = found
        .iter()
        .map(|(s, c, at, _)| (s.as_str(), c.as_str(), at.as_str()))
        .collect();
    assert_eq!(
        short,
        [
            (
                "error",
                "require-concurrent-index-creation",
                "0003_pending.sql:2"
            ),
            (
                "note",
                "require-concurrent-index-creation",
                "0003_pending.sql:3"
            ),
            ("error", "adding-not-nullable-field", "0003_pending.sql:5"),
        ],
        "{found:#?}"
    );
    assert!(found[0].3[0].starts_with(&big), "{found:#?}");
    assert!(
        found[1].3[0].starts_with("public.small: about 10 rows")
            && found[1].3[0].contains("at most 10,000 rows"),
        "{found:#?}"
    );

    // The text report: the size is a note of the finding, and the note counts as neither an
    // error nor a warning.
    let text = p.keel(url, &["check"]);
    assert_eq!(text.code, Some(1));
    assert!(
        text.stderr
            .contains("note[require-concurrent-index-creation]"),
        "{}",
        text.stderr
    );
    assert!(text.stdout.contains("2 errors, "), "{}", text.stdout);

    // A higher threshold in keel.toml makes the big tables small ...
    let toml = p.dir.path().join("keel.toml");
    std::fs::write(&toml, "[safety]\nthreshold_rows = 50000\n").unwrap();
    let out = p.keel(url, &["--format", "json", "check"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let levels: Vec<String> = safety_findings(&out).into_iter().map(|f| f.0).collect();
    assert_eq!(levels, ["note", "note", "note"]);
    // ... and it sets each rule's level.
    std::fs::write(
        &toml,
        "[safety.rules]\nadding-not-nullable-field = \"warning\"\nrequire-concurrent-index-creation = \"off\"\n",
    )
    .unwrap();
    let out = p.keel(url, &["--format", "json", "check"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let found: Vec<(String, String)> = safety_findings(&out)
        .into_iter()
        .map(|(s, c, _, _)| (s, c))
        .collect();
    assert_eq!(
        found,
        [(
            "warning".to_string(),
            "adding-not-nullable-field".to_string()
        )]
    );

    // Offline, nothing is known to be applied: every table is created by the run.
    std::fs::remove_file(&toml).unwrap();
    let out = p.keel(None, &["--format", "json", "check", "--offline"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(safety_findings(&out).is_empty(), "{out:#?}");
    // As if 0001 were applied: 0002 is linted too, and every finding is a warning.
    let out = p.keel(
        None,
        &[
            "--format",
            "json",
            "check",
            "--offline",
            "--assume-applied",
            "1",
        ],
    );
    assert_eq!(out.code, Some(0), "{out:#?}");
    let found: Vec<(String, String, String)> = safety_findings(&out)
        .into_iter()
        .map(|(s, c, at, _)| (s, c, at))
        .collect();
    let w = |code: &str, at: &str| ("warning".to_string(), code.to_string(), at.to_string());
    assert_eq!(
        found,
        [
            w("require-concurrent-index-creation", "0002_applied.sql:2"),
            w("require-concurrent-index-creation", "0003_pending.sql:2"),
            w("require-concurrent-index-creation", "0003_pending.sql:3"),
            w("adding-not-nullable-field", "0003_pending.sql:4"),
            w("adding-not-nullable-field", "0003_pending.sql:5"),
        ]
    );
}

/// An allow silences its rule online as offline; `--assume-applied` needs `--offline`.
#[test]
fn allows_and_arguments() {
    let db = common::fresh_db();
    let url = Some(db.url());
    let p = Project::new();
    p.add("0001_tables", "CREATE TABLE big (id bigint, a bigint);\n");
    assert_eq!(p.keel(url, &["upgrade"]).code, Some(0));
    db.connect()
        .batch_execute("INSERT INTO big SELECT g, g FROM generate_series(1, 20000) g; ANALYZE big;")
        .unwrap();
    p.add(
        "0002_index",
        "-- Built in the maintenance window of 2024-05-01.\n-- keel:allow require-concurrent-index-creation maintenance window, the app is stopped\nCREATE INDEX big_a ON big (a);\n-- keel:allow ban-drop-table nothing to drop here\nCREATE INDEX CONCURRENTLY big_id ON big (id);\n",
    );
    let out = p.keel(url, &["--format", "json", "check"]);
    let found: Vec<(String, String)> = safety_findings(&out)
        .into_iter()
        .map(|(s, c, _, _)| (s, c))
        .collect();
    // The second statement needs `transaction off` (another error); the allow above it
    // silences nothing.
    assert_eq!(
        found,
        [("warning".to_string(), "unused-allow".to_string())],
        "{out:#?}"
    );

    let out = p.keel(None, &["check", "--assume-applied", "1"]);
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stderr.contains("--offline"), "{}", out.stderr);
    let out = p.keel(None, &["check", "--offline", "--assume-applied", "x1"]);
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(
        out.stderr.contains("`x1` is not a version"),
        "{}",
        out.stderr
    );
}
