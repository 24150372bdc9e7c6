//! CLI tests of the offline commands (`check --offline`, `revision`, `seal`, `heads`, `show`),
//! run against the built `keel` binary with a catalogue of bad inputs.
//!
//! Every test copies a fixture from `tests/fixtures/offline/` to a temporary directory and runs
//! keel there with `--color never` and no database settings in the environment
//! (`tests/common`).
//! Each bad input asserts the exit status, that keel did not panic, and snapshots the exact
//! stderr so that the wording is reviewed (`tests/snapshots/cli_offline__*.snap`).

mod common;

use common::{copy_dir, Keel, Run as Out};
use std::fs;
use std::path::{Path, PathBuf};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/offline");
const CHECKSUM_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/checksum.sh");

/// A temporary copy of a fixture, where keel runs.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// An empty project folder (no `sql/`).
    fn empty() -> Project {
        Project {
            dir: tempfile::tempdir().expect("create a temporary directory"),
        }
    }

    /// A copy of `tests/fixtures/offline/<name>`, as it is.
    fn fixture(name: &str) -> Project {
        let p = Project::empty();
        let src = Path::new(FIXTURES).join(name);
        assert!(src.is_dir(), "no fixture {}", src.display());
        copy_dir(&src, p.root());
        p
    }

    /// A copy of the fixture after `keel seal`, so that every placeholder checksum is valid.
    fn sealed(name: &str) -> Project {
        let p = Project::fixture(name);
        let dir = if p.root().join("sql").is_dir() {
            "sql"
        } else {
            "db"
        };
        let out = p.keel(&["--dir", dir, "seal"]);
        assert_eq!(out.code, Some(0), "keel seal failed in setup: {out:#?}");
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

    fn read_bytes(&self, rel: &str) -> Vec<u8> {
        fs::read(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    fn write(&self, rel: &str, contents: impl AsRef<[u8]>) {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, contents).unwrap_or_else(|e| panic!("write {rel}: {e}"));
    }

    /// Runs `keel --color never ARGS` here.
    fn keel(&self, args: &[&str]) -> Out {
        self.keel_env(args, &[])
    }

    /// Runs `keel --color never ARGS` here with extra environment variables.
    fn keel_env(&self, args: &[&str], envs: &[(&str, &str)]) -> Out {
        let out = Keel::new(self.root()).envs(envs).args(args).run();
        assert!(out.code.is_some(), "keel was killed by a signal: {out:#?}");
        assert!(
            !out.stdout.contains('\x1b') && !out.stderr.contains('\x1b'),
            "colour escapes despite --color never: {out:#?}"
        );
        out
    }
}

/// A file that exists but cannot be read must not make its partner look
/// orphaned.
#[track_caller]
fn assert_no_spurious_missing_up(out: &Out) {
    assert!(
        !out.stderr.contains("down file has no up file"),
        "a spurious missing-up error for a file that exists: {}",
        out.stderr
    );
}

fn running_as_root() -> bool {
    let out = std::process::Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Runs `check --offline` on a fixture (sealed first when `seal`), asserts the exit status
/// and that keel did not panic, and returns the output for the snapshot.
fn check_case(name: &str, seal: bool, extra: &[&str], code: i32) -> Out {
    let mut args = vec!["check", "--offline"];
    args.extend_from_slice(extra);
    let p = if seal {
        Project::sealed(name)
    } else {
        Project::fixture(name)
    };
    let out = p.keel(&args);
    assert_eq!(out.code, Some(code), "exit status of {name}: {out:#?}");
    out
}

/// The checksum written in the file's `-- keel:checksum` header line.
fn header_checksum(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines()
        .take_while(|l| l.starts_with("-- keel:"))
        .find_map(|l| l.strip_prefix("-- keel:checksum "))
        .map(|c| c.trim_end().to_string())
        .unwrap_or_else(|| panic!("no checksum line in {text:?}"))
}

/// `scripts/checksum.sh FILE`.
fn checksum_sh(file: &Path) -> String {
    let out = std::process::Command::new("sh")
        .arg(CHECKSUM_SH)
        .arg(file)
        .output()
        .expect("run scripts/checksum.sh");
    assert!(out.status.success(), "checksum.sh failed: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn is_sealed_checksum_line(line: &str) -> bool {
    line.strip_prefix("-- keel:checksum sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

fn parse_json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{stdout}"))
}

// ---------------------------------------------------------------------------------------------
// 1. The catalogue of bad inputs.
// ---------------------------------------------------------------------------------------------

#[test]
fn up_without_down() {
    let out = check_case("up_without_down", true, &[], 1);
    assert!(out.stderr.contains("sql/up/0002_add_price.sql"));
    assert!(out.stderr.contains("sql/down/0002_add_price.sql"));
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn down_without_up() {
    let out = check_case("down_without_up", true, &[], 1);
    assert!(out.stderr.contains("sql/down/0002_add_price.sql"));
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn duplicate_version() {
    let out = check_case("duplicate_version", true, &[], 1);
    for path in [
        "sql/up/0003_a.sql",
        "sql/up/3_b.sql",
        "sql/down/0003_a.sql",
        "sql/down/3_b.sql",
    ] {
        assert!(out.stderr.contains(path), "{path} not named: {out:#?}");
    }
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn bad_file_name() {
    let out = check_case("bad_file_name", true, &[], 1);
    assert!(out.stderr.contains("sql/up/0004_Bad-Name.sql"));
    assert!(out.stderr.contains("sql/down/0004_Bad-Name.sql"));
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn stray_file() {
    let out = check_case("stray_file", true, &[], 1);
    assert!(out.stderr.contains("sql/up/notes.txt"));
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn unknown_header_key() {
    let out = check_case("unknown_header_key", true, &[], 1);
    assert!(out.stderr.contains("sql/up/0001_create_items.sql:2:1"));
    assert!(out.stderr.contains("transacton"));
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn bad_checksum() {
    let out = check_case("bad_checksum", false, &[], 1);
    assert!(out.stderr.contains("sql/up/0001_create_items.sql:1"));
    assert!(out.stderr.contains("keel seal"));
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn missing_checksum() {
    let out = check_case("missing_checksum", false, &[], 1);
    assert!(out.stderr.contains("sql/up/0001_create_items.sql"));
    assert!(out.stderr.contains("keel seal"));
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn non_utf8_bytes() {
    let p = Project::sealed("non_utf8");
    // 0xE9 is `é` in Latin-1: what a non-UTF-8 editor writes.
    let mut bytes = b"-- keel:checksum sha256:0000000000000000000000000000000000000000000000000000000000000000\n\nALTER TABLE items ADD COLUMN label text DEFAULT 'caf".to_vec();
    bytes.extend_from_slice(b"\xe9';\n");
    p.write("sql/up/0002_add_label.sql", bytes);
    let out = p.keel(&["check", "--offline"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(out.stderr.contains("sql/up/0002_add_label.sql:3:53"));
    insta::assert_snapshot!(out.stderr);
    // The up file exists; it only cannot be decoded. Telling the user to create it is wrong.
    assert_no_spurious_missing_up(&out);
}

/// An unreadable up file: chmod 000, or (as root, who reads anything) a dangling symbolic link.
#[test]
fn unreadable_file() {
    let p = Project::sealed("unreadable");
    let rel = "sql/up/0002_add_label.sql";
    if running_as_root() {
        std::os::unix::fs::symlink("gone.sql", p.path(rel)).unwrap();
    } else {
        use std::os::unix::fs::PermissionsExt;
        p.write(
            rel,
            "-- keel:checksum sha256:0000000000000000000000000000000000000000000000000000000000000000\n\nALTER TABLE items ADD COLUMN label text;\n",
        );
        fs::set_permissions(p.path(rel), fs::Permissions::from_mode(0o000)).unwrap();
    }
    let out = p.keel(&["check", "--offline"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(out.stderr.contains("error[unreadable]"), "{}", out.stderr);
    assert!(
        out.stderr.contains(rel),
        "the path is not named: {}",
        out.stderr
    );
    assert_no_spurious_missing_up(&out);
}

#[test]
fn symlink_loop() {
    let out = check_with_up_file_linked_to("0002_add_label.sql");
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn dangling_symlink() {
    let out = check_with_up_file_linked_to("gone.sql");
    insta::assert_snapshot!(out.stderr);
}

/// `check --offline` where an up file is a symbolic link to `target`: an
/// error naming the file, and no made-up "missing up file" for its partner.
fn check_with_up_file_linked_to(target: &str) -> Out {
    let p = Project::sealed("unreadable");
    std::os::unix::fs::symlink(target, p.path("sql/up/0002_add_label.sql")).unwrap();
    let out = p.keel(&["check", "--offline"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(out.stderr.contains("sql/up/0002_add_label.sql"));
    assert_no_spurious_missing_up(&out);
    out
}

#[test]
fn empty_up_body() {
    let out = check_case("empty_up_body", true, &[], 1);
    assert!(out.stderr.contains("sql/up/0002_nothing_yet.sql"));
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn unterminated_string() {
    let out = check_case("unterminated_string", true, &[], 1);
    assert!(out.stderr.contains("sql/up/0001_create_items.sql:4:30"));
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn unterminated_dollar_quote() {
    let out = check_case("unterminated_dollar_quote", true, &[], 1);
    assert!(out.stderr.contains("sql/up/0001_touch.sql:3:61"));
    assert!(out.stderr.contains("$body$"));
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn unterminated_block_comment() {
    let out = check_case("unterminated_block_comment", true, &[], 1);
    assert!(out.stderr.contains("sql/up/0001_create_items.sql:3:1"));
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn psql_meta_command() {
    let out = check_case("psql_meta_command", true, &[], 1);
    assert!(out.stderr.contains("sql/up/0001_create_items.sql:4:1"));
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn create_index_concurrently_in_transaction() {
    let out = check_case("concurrently_in_transaction", true, &[], 1);
    assert!(out.stderr.contains("sql/up/0002_index_label.sql:3:1"));
    assert!(out.stderr.contains("-- keel:transaction off"));
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn create_index_concurrently_with_transaction_off_passes() {
    let out = check_case("concurrently_transaction_off", true, &[], 0);
    assert_eq!(out.stderr, "", "{out:#?}");
    assert!(out.stdout.contains("no problems found"), "{out:#?}");
}

#[test]
fn explicit_commit() {
    let out = check_case("explicit_commit", true, &[], 1);
    assert!(out.stderr.contains("sql/up/0001_create_items.sql:5:1"));
    insta::assert_snapshot!(out.stderr);
}

/// Line 5 counts the two header lines, the blank line and the comment before the statement.
#[test]
fn syntax_error() {
    let out = check_case("syntax_error", true, &[], 1);
    assert!(out.stderr.contains("sql/up/0002_create_tags.sql:5:1"));
    assert!(out.stderr.contains("CREAT"));
    insta::assert_snapshot!(out.stderr);
}

/// The second statement of a line: the column counts characters (`é` is one), not bytes.
#[test]
fn syntax_error_mid_line() {
    let out = check_case("syntax_error_mid_line", true, &[], 1);
    assert!(
        out.stderr.contains("sql/up/0001_create_tags.sql:4:78"),
        "{}",
        out.stderr
    );
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn unsupported_statement_is_a_warning() {
    let out = check_case("unsupported_statement", true, &[], 0);
    assert!(out.stderr.contains("warning[unvalidated]"));
    assert!(out.stderr.contains("sql/up/0002_seed.sql:4:1"));
    assert!(!out.stderr.contains("error"), "{}", out.stderr);
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn unsupported_statement_is_an_error_with_strict() {
    let out = check_case("unsupported_statement", true, &["--strict"], 1);
    assert!(out.stderr.contains("error[unvalidated]"));
    assert!(out.stderr.contains("sql/up/0002_seed.sql:4:1"));
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn missing_migrations_folder() {
    let out = check_case("missing_folder", false, &[], 2);
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    assert!(out.stderr.contains("`sql`"));
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn missing_migrations_folder_given_with_dir() {
    let p = Project::sealed("clean");
    let out = p.keel(&["--dir", "migrations", "check", "--offline"]);
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stderr.contains("`migrations`"), "{}", out.stderr);
}

#[test]
fn missing_migrations_folder_json() {
    let p = Project::fixture("missing_folder");
    let out = p.keel(&["--format", "json", "check", "--offline"]);
    assert_eq!(out.code, Some(2), "{out:#?}");
    let doc = parse_json(&out.stdout);
    assert!(
        doc["error"].as_str().unwrap().contains("does not exist"),
        "{doc}"
    );
}

/// A command line clap refuses still answers `--format json` with the error document (exit
/// status 2, like every usage error), and clap's own text stays on stderr.
#[test]
fn a_refused_command_line_prints_the_json_error_document() {
    let p = Project::sealed("clean");
    let out = p.keel(&["upgrade", "--bogus", "--format", "json"]);
    assert_eq!(out.code, Some(2), "{out:#?}");
    let doc = parse_json(&out.stdout);
    assert_eq!(
        doc["error"].as_str(),
        Some("unexpected argument '--bogus' found"),
        "{doc}"
    );
    assert!(doc["hint"].as_str().is_some_and(|h| !h.is_empty()), "{doc}");
    assert!(out.stderr.contains("Usage: keel upgrade"), "{}", out.stderr);

    let out = p.keel(&["--format=json", "repair"]);
    assert_eq!(out.code, Some(2), "{out:#?}");
    let doc = parse_json(&out.stdout);
    assert!(
        doc["hint"]
            .as_str()
            .unwrap()
            .starts_with("usage: keel repair"),
        "{doc}"
    );
    // Help is an answer, not an error: no document.
    let out = p.keel(&["--format", "json", "upgrade", "--help"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(!out.stdout.starts_with('{'), "{}", out.stdout);
}

/// A Windows editor's BOM is not a character of line 1: columns there start at 1 as elsewhere.
#[test]
fn bom_does_not_shift_columns_on_the_first_line() {
    let p = Project::sealed("unknown_header_key");
    let rel = "sql/up/0001_create_items.sql";
    let text = p.read(rel);
    let mut bytes = "\u{feff}".as_bytes().to_vec();
    bytes.extend_from_slice(text.as_bytes());
    p.write(rel, bytes);
    // Make line 1 the problem: a malformed checksum value.
    let broken = p
        .read(rel)
        .replacen(&header_checksum(&text), "sha256:00", 1);
    p.write(rel, broken);
    let out = p.keel(&["--format", "json", "check", "--offline"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let doc = parse_json(&out.stdout);
    let first_line: Vec<_> = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["line"] == 1)
        .collect();
    assert!(!first_line.is_empty(), "{doc}");
    for d in first_line {
        assert_eq!(d["column"], 1, "column on line 1 of a file with a BOM: {d}");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Good paths.
// ---------------------------------------------------------------------------------------------

#[test]
fn revision_creates_a_sealed_pair() {
    let p = Project::empty();
    let out = p.keel(&["revision", "-m", "Create households"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    for rel in [
        "sql/up/0001_create_households.sql",
        "sql/down/0001_create_households.sql",
    ] {
        let text = p.read(rel);
        let lines: Vec<&str> = text.lines().collect();
        assert!(is_sealed_checksum_line(lines[0]), "{rel}: {text:?}");
        assert!(
            lines.contains(&"-- keel:message Create households"),
            "{rel}: {text:?}"
        );
        assert!(!text.contains("transaction off"), "{rel}: {text:?}");
        assert_eq!(header_checksum(&text), checksum_sh(&p.path(rel)), "{rel}");
    }
    assert!(
        out.stdout.contains("sql/up/0001_create_households.sql"),
        "{out:#?}"
    );

    let out = p.keel(&["revision", "-m", "add members"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(p.path("sql/up/0002_add_members.sql").is_file());
    assert!(p.path("sql/down/0002_add_members.sql").is_file());
    // Sealed and consistent: nothing to seal.
    let out = p.keel(&["seal"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.contains("nothing to seal"), "{out:#?}");
}

#[test]
fn revision_keeps_the_fourteen_digit_width() {
    let p = Project::sealed("fourteen_digit");
    let out = p.keel(&["--dir", "db", "revision", "-m", "add comments"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let names: Vec<String> = fs::read_dir(p.path("db/up"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("_add_comments.sql"))
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let version = names[0].strip_suffix("_add_comments.sql").unwrap();
    assert_eq!(version.len(), 14, "{names:?}");
    assert!(
        version.parse::<u64>().unwrap() > 20240101120000,
        "{names:?}"
    );
    assert!(p.path(&format!("db/down/{}", names[0])).is_file());
    let out = p.keel(&["heads", "--dir", "db"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(
        out.stdout.contains(&format!("{version}_add_comments")),
        "{out:#?}"
    );
}

#[test]
fn revision_no_transaction() {
    let p = Project::empty();
    let out = p.keel(&["revision", "-m", "index names", "--no-transaction"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    for rel in [
        "sql/up/0001_index_names.sql",
        "sql/down/0001_index_names.sql",
    ] {
        let text = p.read(rel);
        assert!(
            text.lines().any(|l| l == "-- keel:transaction off"),
            "{rel}: {text:?}"
        );
        assert!(is_sealed_checksum_line(text.lines().next().unwrap()));
    }
}

/// After version 99999999999999999999 (20 digits, the most keel accepts) there is no next
/// version: keel must refuse rather than write a pair it then rejects itself.
#[test]
fn revision_refuses_to_go_past_twenty_digits() {
    let p = Project::empty();
    let v = "99999999999999999999";
    p.write(&format!("sql/up/{v}_last.sql"), "SELECT 1;\n");
    p.write(&format!("sql/down/{v}_last.sql"), "SELECT 1;\n");
    assert_eq!(p.keel(&["seal"]).code, Some(0));
    let out = p.keel(&["revision", "-m", "one more"]);
    let created: Vec<_> = fs::read_dir(p.path("sql/up"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(created.len(), 1, "keel wrote a file: {created:?} {out:#?}");
    assert_ne!(out.code, Some(0), "{out:#?}");
    assert!(out.stderr.starts_with("error: "), "{out:#?}");
}

#[test]
fn seal_rewrites_only_the_checksum_line() {
    let p = Project::sealed("clean");
    let rel = "sql/up/0002_touch_updated_at.sql";
    let mut edited = p.read(rel);
    edited.push_str("\nCOMMENT ON TABLE households IS 'one row per household';\n");
    p.write(rel, &edited);
    let untouched = p.read_bytes("sql/down/0002_touch_updated_at.sql");

    let out = p.keel(&["seal"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout.trim(), format!("sealed {rel}"), "{out:#?}");
    let sealed = p.read(rel);
    let (old_first, old_rest) = edited.split_once('\n').unwrap();
    let (new_first, new_rest) = sealed.split_once('\n').unwrap();
    assert_ne!(old_first, new_first);
    assert!(is_sealed_checksum_line(new_first), "{new_first}");
    assert_eq!(
        old_rest, new_rest,
        "seal changed more than the checksum line"
    );
    assert_eq!(header_checksum(&sealed), checksum_sh(&p.path(rel)));
    assert_eq!(
        p.read_bytes("sql/down/0002_touch_updated_at.sql"),
        untouched
    );

    let out = p.keel(&["seal"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(
        out.stdout.trim(),
        "nothing to seal: every checksum matches its body"
    );
    assert_eq!(p.read(rel), sealed);
    assert_eq!(p.keel(&["check", "--offline"]).code, Some(0));
}

/// Sealing a CRLF file with a BOM keeps the BOM, the line endings and the other header lines.
#[test]
fn seal_keeps_bom_crlf_and_other_header_lines() {
    let p = Project::sealed("clean");
    let rel = "sql/up/0005_backfill_labels.sql";
    let text = p.read(rel).replace('\n', "\r\n") + "SELECT 1;\r\n";
    let mut bytes = "\u{feff}".as_bytes().to_vec();
    bytes.extend_from_slice(text.as_bytes());
    p.write(rel, &bytes);
    let out = p.keel(&["seal", "5"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let after = p.read_bytes(rel);
    let old_end = bytes.iter().position(|&b| b == b'\r').unwrap();
    let new_end = after.iter().position(|&b| b == b'\r').unwrap();
    assert_eq!(&after[..3], "\u{feff}".as_bytes(), "BOM lost");
    assert_eq!(old_end, new_end, "checksum line changed length");
    assert_eq!(
        &bytes[new_end..],
        &after[new_end..],
        "bytes after line 1 changed"
    );
    assert_ne!(bytes[..old_end], after[..new_end]);
    assert_eq!(
        header_checksum(&String::from_utf8(after).unwrap()),
        checksum_sh(&p.path(rel))
    );
    assert_eq!(p.keel(&["check", "--offline"]).code, Some(0));
}

#[test]
fn seal_unknown_version() {
    let p = Project::sealed("clean");
    let out = p.keel(&["seal", "9"]);
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out
        .stderr
        .contains("Can't locate revision identified by '9'"));
}

/// CRLF line endings, a UTF-8 BOM, trailing blanks and extra blank lines do not change the
/// checksum: a file sealed clean still passes after a Windows editor saved it.
#[test]
fn checksum_ignores_crlf_bom_and_trailing_blanks() {
    let p = Project::sealed("clean");
    let rel = "sql/up/0001_create_households.sql";
    let clean = p.read(rel);
    let mut windows = "\u{feff}".to_string();
    for line in clean.lines() {
        windows.push_str(line);
        windows.push_str(" \t \r\n");
    }
    windows.push_str("\r\n  \r\n");
    p.write(rel, &windows);
    let out = p.keel(&["check", "--offline"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(!out.stderr.contains("checksum"), "{}", out.stderr);
    let out = p.keel(&["seal"]);
    assert!(out.stdout.contains("nothing to seal"), "{out:#?}");
    assert_eq!(checksum_sh(&p.path(rel)), header_checksum(&clean));
}

#[test]
fn heads_prints_the_newest_version() {
    let p = Project::sealed("clean");
    let out = p.keel(&["heads"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.contains("0005_backfill_labels"), "{out:#?}");
    assert!(!out.stdout.contains("0004"), "{out:#?}");
}

#[test]
fn show_prints_the_sql() {
    let p = Project::sealed("clean");
    let out = p.keel(&["show", "1"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.contains("0001_create_households"), "{out:#?}");
    assert!(out.stdout.contains("CREATE TABLE households ("), "{out:#?}");
    assert!(out.stdout.contains("DROP TABLE members;"), "{out:#?}");
    // `0001` and `1` are the same version.
    assert_eq!(p.keel(&["show", "0001"]).stdout, out.stdout);
}

#[test]
fn show_unknown_version() {
    let p = Project::sealed("clean");
    let out = p.keel(&["show", "9"]);
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out
        .stderr
        .contains("Can't locate revision identified by '9'"));
    assert_eq!(out.stdout, "");
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn clean_fixture_passes() {
    let p = Project::sealed("clean");
    let out = p.keel(&["check", "--offline"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(!out.stderr.contains("error"), "{}", out.stderr);
    let out = p.keel(&["--format", "json", "check", "--offline"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let doc = parse_json(&out.stdout);
    assert_eq!(doc["ok"], true, "{doc}");
    assert_eq!(doc["errors"], 0, "{doc}");
    // The splitter is exact: 18 statements across the ten files (the irreversible down is
    // empty), whatever the `$$` bodies, `E''` strings, nested comments and `BEGIN ATOMIC`
    // contain.
    assert_eq!(doc["statements"]["statements"], 18, "{doc}");
}

// ---------------------------------------------------------------------------------------------
// 3. scripts/checksum.sh agrees with keel.
// ---------------------------------------------------------------------------------------------

#[test]
fn checksum_script_agrees_with_keel() {
    let cases: &[(&str, &[u8])] = &[
        ("plain", b"CREATE TABLE a (id int);\nDROP TABLE a;\n"),
        ("crlf", b"CREATE TABLE a (id int);\r\nDROP TABLE a;\r\n"),
        ("lone_cr", b"CREATE TABLE a (id int);\rDROP TABLE a;\r"),
        ("bom", b"\xef\xbb\xbfCREATE TABLE a (id int);\n"),
        (
            "trailing_blanks",
            b"CREATE TABLE a (id int); \t \nSELECT 1;\t\n",
        ),
        ("blank_lines_around", b"\n\n  \n\t\nSELECT 1;\n\n \n\n"),
        ("blank_lines_inside", b"SELECT 1;\n\n   \nSELECT 2;\n"),
        ("empty_body", b""),
        ("only_blanks", b"\n \t\n\r\n"),
        ("no_final_newline", b"SELECT 1;"),
        ("leading_spaces_kept", b"    SELECT 1;\n\tSELECT 2;\n"),
        ("unicode", "SELECT 'héllo wörld ✓';\n".as_bytes()),
        (
            "keel_lines_in_body",
            b"\n-- keel:message not a header any more\nSELECT 1;\n",
        ),
        (
            "everything",
            b"\xef\xbb\xbf\r\n  \r\nSELECT 1; \r\n\r\nSELECT 2;\t\r\n\r\n",
        ),
    ];
    let p = Project::empty();
    for (i, (name, body)) in cases.iter().enumerate() {
        let file = format!("{:04}_{name}.sql", i + 1);
        for folder in ["up", "down"] {
            let rel = format!("sql/{folder}/{file}");
            // The BOM stays first in the file: keel's seal inserts the checksum after it.
            let (bom, rest) = match body.strip_prefix(b"\xef\xbb\xbf") {
                Some(rest) => (&b"\xef\xbb\xbf"[..], rest),
                None => (&b""[..], *body),
            };
            let mut bytes = bom.to_vec();
            bytes.extend_from_slice(b"-- keel:message checksum case\n");
            bytes.extend_from_slice(rest);
            p.write(&rel, bytes);
        }
    }
    let out = p.keel(&["seal"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    for (i, (name, _)) in cases.iter().enumerate() {
        for folder in ["up", "down"] {
            let rel = format!("sql/{folder}/{:04}_{name}.sql", i + 1);
            let text = p.read(&rel);
            assert_eq!(
                checksum_sh(&p.path(&rel)),
                header_checksum(&text),
                "{rel}: {text:?}"
            );
        }
    }
    // And keel agrees with itself: every file is sealed.
    let out = p.keel(&["--format", "json", "check", "--offline"]);
    let doc = parse_json(&out.stdout);
    for d in doc["diagnostics"].as_array().unwrap() {
        assert_ne!(d["code"], "checksum-mismatch", "{d}");
    }
    // Known values: the empty body is SHA-256 of nothing.
    let empty = p.read("sql/up/0008_empty_body.sql");
    assert_eq!(
        header_checksum(&empty),
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. --format json.
// ---------------------------------------------------------------------------------------------

#[test]
fn json_reports_errors_with_positions() {
    let p = Project::sealed("syntax_error");
    let out = p.keel(&["--format", "json", "check", "--offline"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let doc = parse_json(&out.stdout);
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["errors"], 1, "{doc}");
    assert_eq!(doc["warnings"], 0, "{doc}");
    assert!(doc["statements"].is_object(), "{doc}");
    assert_eq!(doc["statements"]["statements"], 4, "{doc}");
    let diags = doc["diagnostics"].as_array().unwrap();
    assert_eq!(diags.len(), 1, "{doc}");
    let d = &diags[0];
    for key in [
        "severity", "code", "path", "line", "column", "message", "hint",
    ] {
        assert!(d.get(key).is_some(), "diagnostic without `{key}`: {d}");
    }
    assert_eq!(d["severity"], "error");
    assert_eq!(d["code"], "syntax-error");
    assert_eq!(d["path"], "sql/up/0002_create_tags.sql");
    assert_eq!(d["line"], 5);
    assert_eq!(d["column"], 1);
    assert!(d["message"].as_str().unwrap().contains("CREAT"), "{d}");
    assert!(d["hint"].is_string(), "{d}");
    // JSON goes to stdout; stderr has no rendered diagnostics.
    assert!(!out.stderr.contains("syntax-error"), "{}", out.stderr);
}

#[test]
fn json_warnings_and_strict() {
    let p = Project::sealed("unsupported_statement");
    let out = p.keel(&["--format", "json", "check", "--offline"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let doc = parse_json(&out.stdout);
    assert_eq!(doc["ok"], true, "{doc}");
    assert_eq!(doc["errors"], 0, "{doc}");
    assert_eq!(doc["warnings"], 1, "{doc}");
    let d = &doc["diagnostics"][0];
    assert_eq!(d["severity"], "warning");
    assert_eq!(d["code"], "unvalidated");
    assert_eq!(d["path"], "sql/up/0002_seed.sql");
    assert_eq!(d["line"], 4);
    assert_eq!(d["column"], 1);

    let out = p.keel(&["--format", "json", "check", "--offline", "--strict"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let doc = parse_json(&out.stdout);
    assert_eq!(doc["ok"], false, "{doc}");
    assert_eq!(doc["errors"], 1, "{doc}");
    assert_eq!(doc["diagnostics"][0]["severity"], "error");
}

#[test]
fn json_file_level_problems_have_a_path_and_null_position() {
    let p = Project::sealed("up_without_down");
    let out = p.keel(&["--format", "json", "check", "--offline"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let doc = parse_json(&out.stdout);
    let d = &doc["diagnostics"][0];
    assert_eq!(d["path"], "sql/up/0002_add_price.sql", "{d}");
    assert!(d["line"].is_null() && d["column"].is_null(), "{d}");
    assert!(d["hint"]
        .as_str()
        .unwrap()
        .contains("sql/down/0002_add_price.sql"));
}

/// In CI, `--format json` and GitHub annotations meet: stdout must still be one JSON document
/// that `jq` can read.
#[test]
fn json_stays_one_document_under_github_actions() {
    let p = Project::sealed("syntax_error");
    let out = p.keel_env(
        &["--format", "json", "check", "--offline"],
        &[("GITHUB_ACTIONS", "true")],
    );
    assert_eq!(out.code, Some(1), "{out:#?}");
    let doc = parse_json(&out.stdout);
    assert_eq!(doc["errors"], 1, "{doc}");
}

// ---------------------------------------------------------------------------------------------
// 5. GitHub annotations.
// ---------------------------------------------------------------------------------------------

#[test]
fn github_annotations() {
    let p = Project::sealed("syntax_error");
    let out = p.keel_env(&["check", "--offline"], &[("GITHUB_ACTIONS", "true")]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let annotations: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(annotations.len(), 1, "{out:#?}");
    assert!(
        annotations[0].starts_with("::error file=sql/up/0002_create_tags.sql,line=5,col=1"),
        "{}",
        annotations[0]
    );
    assert!(
        annotations[0].contains("::syntax error"),
        "{}",
        annotations[0]
    );
    // Still rendered for humans on stderr.
    assert!(out.stderr.contains("error[syntax-error]"));

    // Warnings become `::warning`, and a file-level problem has no line.
    let p = Project::sealed("unsupported_statement");
    let out = p.keel_env(&["check", "--offline"], &[("GITHUB_ACTIONS", "true")]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("::warning file=sql/up/0002_seed.sql,line=4,col=1")),
        "{out:#?}"
    );
    let p = Project::sealed("stray_file");
    let out = p.keel_env(&["check", "--offline"], &[("GITHUB_ACTIONS", "true")]);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("::error file=sql/up/notes.txt,")),
        "{out:#?}"
    );
}

#[test]
fn no_annotations_outside_github_actions() {
    let p = Project::sealed("syntax_error");
    let out = p.keel(&["check", "--offline"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(!out.stdout.contains("::error"), "{out:#?}");
    let out = p.keel_env(&["check", "--offline"], &[("GITHUB_ACTIONS", "false")]);
    assert!(!out.stdout.contains("::error"), "{out:#?}");
}

/// `history -r FROM:TO` names versions as targets do: one not on disk is `Can't locate`, and a
/// range that runs backwards is a usage error, not an empty list.
#[test]
fn history_ranges_name_versions_on_disk_in_order() {
    let p = Project::sealed("clean");
    let ok = p.keel(&["history", "-r", "1:2"]);
    assert_eq!(ok.code, Some(0), "{ok}");
    for (range, message) in [
        ("2:1", "runs backwards"),
        ("99:100", "Can't locate revision identified by '99'"),
        ("1:abc", "Can't locate revision identified by 'abc'"),
    ] {
        let out = p.keel(&["history", "-r", range]);
        assert_eq!(out.code, Some(2), "{range}: {out}");
        assert!(out.stderr.contains(message), "{range}: {out}");
    }
}

/// Settings that cannot work are refused by name: a migrations folder that is a file, and a
/// history schema of PostgreSQL's own.
#[test]
fn a_folder_that_is_a_file_and_a_system_history_schema_are_refused() {
    let p = Project::sealed("clean");
    p.write("notes.txt", "x");
    let out = p.keel(&["--dir", "notes.txt", "check", "--offline"]);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("`notes.txt` is not a folder"), "{out}");
    for schema in ["pg_catalog", "pg_temp", "information_schema"] {
        p.write("keel.toml", format!("history_schema = \"{schema}\"\n"));
        let out = p.keel(&["check", "--offline"]);
        assert_eq!(out.code, Some(2), "{schema}: {out}");
        assert!(out.stderr.contains("a schema of PostgreSQL's own"), "{out}");
    }
}
