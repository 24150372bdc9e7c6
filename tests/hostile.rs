//! Hostile input: SQL nested deep enough to overflow a stack, and files with thousands of
//! diagnostics. keel must answer each with a clear error, in time linear in the input, and
//! never crash. Run against the built `keel` binary.
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests query and print freely

mod common;

use common::{Keel, Run as Out};
use std::fs;

/// A project folder with one migration, sealed.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn with_up(up: &str) -> Project {
        let p = Project {
            dir: tempfile::tempdir().expect("create a temporary directory"),
        };
        p.write("sql/up/0001_deep.sql", up);
        p.write("sql/down/0001_deep.sql", "SELECT 1;\n");
        let out = p.keel(&["seal"], None);
        assert_eq!(out.code, Some(0), "keel seal failed in setup: {out:#?}");
        p
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.dir.path().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
    }

    /// Runs `keel --color never ARGS` here, without ambient database settings; on CPU `cpu`
    /// alone when given (then files are checked on the main thread, not on workers).
    fn keel(&self, args: &[&str], cpu: Option<&str>) -> Out {
        let keel = match cpu {
            Some(c) => Keel::via("taskset", &["-c", c], self.dir.path()),
            None => Keel::new(self.dir.path()),
        };
        let out = keel.args(args).run();
        assert!(
            out.code.is_some() && !out.stderr.contains("has overflowed its stack"),
            "keel crashed ({:?}): {}",
            out.code,
            &out.stderr[..out.stderr.len().min(2000)]
        );
        out
    }
}

/// `keel check --offline` of `up` fails cleanly with `too-deep` at `line:column` of the up
/// file, on worker threads and on one core.
fn assert_too_deep(up: &str, line: usize, column: usize) {
    let p = Project::with_up(up);
    for cpu in [None, Some("0")] {
        let out = p.keel(&["check", "--offline"], cpu);
        assert_eq!(
            out.code,
            Some(1),
            "{}",
            &out.stderr[..out.stderr.len().min(2000)]
        );
        assert!(out.stderr.contains("error[too-deep]"), "{}", out.stderr);
        let at = format!("sql/up/0001_deep.sql:{line}:{column}");
        assert!(out.stderr.contains(&at), "no {at} in {}", out.stderr);
        assert!(out.stderr.contains("help: split the expression"));
    }
}

/// The line of the body: `keel seal` writes a one-line header.
const BODY_LINE: usize = 2;

#[test]
fn a_left_deep_chain_of_100000_terms_is_an_error_not_a_crash() {
    let up = format!("SELECT {};\n", vec!["1"; 100_000].join("+"));
    // The limit is crossed at the 10,001st `+`.
    assert_too_deep(&up, BODY_LINE, 7 + 2 * 10_001);
}

/// Online too it is an error, not a statement for the server's parser; `upgrade` applies
/// nothing.
#[test]
fn a_too_deep_statement_is_an_error_online_and_nothing_runs() {
    let db = common::fresh_db();
    let p = Project::with_up(&format!(
        "CREATE TABLE before_it (a int);\nSELECT {};\n",
        vec!["1"; 100_000].join("+")
    ));
    for args in [&["check"][..], &["upgrade"]] {
        let mut all = vec!["--database-url", db.url()];
        all.extend_from_slice(args);
        let out = p.keel(&all, None);
        assert_eq!(out.code, Some(1), "{args:?}");
        assert!(
            out.stderr.contains("error[too-deep]")
                && out
                    .stderr
                    .contains(&format!("sql/up/0001_deep.sql:{}:", BODY_LINE + 1)),
            "{args:?}: {}",
            &out.stderr[..out.stderr.len().min(2000)]
        );
    }
    let mut client = db.connect();
    let row = client
        .query_one("SELECT to_regclass('public.before_it') IS NULL", &[])
        .unwrap();
    assert!(row.get::<_, bool>(0), "nothing was applied");
}

#[test]
fn deep_parentheses_calls_case_and_or_chains_are_errors_not_crashes() {
    let n = 100_000;
    assert_too_deep(
        &format!("SELECT {}1{};\n", "(".repeat(n), ")".repeat(n)),
        BODY_LINE,
        7 + 10_001,
    );
    assert_too_deep(
        &format!("SELECT {}1{};\n", "f(".repeat(n), ")".repeat(n)),
        BODY_LINE,
        7 + 2 * 10_001,
    );
    let case = format!(
        "SELECT\n{}1{};\n",
        "CASE WHEN true THEN ".repeat(n),
        " END".repeat(n)
    );
    let p = Project::with_up(&case);
    let out = p.keel(&["check", "--offline"], None);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("error[too-deep]"), "{}", out.stderr);
    assert!(out
        .stderr
        .contains(&format!("sql/up/0001_deep.sql:{}:", BODY_LINE + 1)));
    assert_too_deep(
        &format!(
            "SELECT * FROM t WHERE {};\n",
            vec!["a = 1"; 100_000].join(" OR ")
        ),
        BODY_LINE,
        // `a = 1 OR ` is 9 characters and counts two, and `*` one: the 5,000th `OR`.
        23 + 9 * 4_999 + 6,
    );
}

/// Just under the limit, keel reads the statement (and drops its tree) without trouble.
#[test]
fn deep_but_reasonable_sql_passes() {
    let p = Project::with_up(&format!(
        "SELECT {};\nSELECT {}1{};\n",
        vec!["1"; 9_000].join("+"),
        "(".repeat(400),
        ")".repeat(400)
    ));
    for cpu in [None, Some("0")] {
        let out = p.keel(&["check", "--offline"], cpu);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
    }
}

/// A policy file's expression goes through the same bound.
#[test]
fn a_policy_too_deep_is_an_error_not_a_crash() {
    let p = Project::with_up("CREATE TABLE t (a int);\n");
    p.write(
        "sql/policies/t.sql",
        &format!(
            "ALTER TABLE t ENABLE ROW LEVEL SECURITY;\nCREATE POLICY p ON t USING ({});\n",
            vec!["a = 1"; 100_000].join(" OR ")
        ),
    );
    for (args, code) in [
        (&["check", "--offline"][..], "error[too-deep]"),
        (&["policies", "lint", "--offline"], "error[policy-too-deep]"),
    ] {
        let out = p.keel(args, None);
        assert_eq!(out.code, Some(1), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(code) && out.stderr.contains("sql/policies/t.sql:2:"),
            "{args:?}: {}",
            &out.stderr[..out.stderr.len().min(3000)]
        );
    }
}

/// The live lint parses `pg_get_expr` text: a huge policy made by hand is an error there.
#[test]
fn a_catalog_policy_too_deep_is_a_lint_error() {
    let db = common::fresh_db();
    let p = Project::with_up("CREATE TABLE t (a int);\nALTER TABLE t ENABLE ROW LEVEL SECURITY;\n");
    let up = p.keel(&["--database-url", db.url(), "upgrade"], None);
    assert_eq!(up.code, Some(0), "{}", up.stderr);
    let mut client = db.connect();
    // PostgreSQL keeps an OR chain flat; `pg_get_expr` prints it whole.
    client
        .batch_execute(&format!(
            "CREATE POLICY huge ON t USING ({})",
            vec!["a = 1"; 30_000].join(" OR ")
        ))
        .expect("create the policy");
    let out = p.keel(&["--database-url", db.url(), "policies", "lint"], None);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("error[policy-too-deep]") && out.stderr.contains("policy huge on"),
        "{}",
        &out.stderr[..out.stderr.len().min(3000)]
    );
}

/// The largest peak resident memory, in MiB, of the children this test process has waited
/// for (keel runs started by the tests).
fn children_peak_rss_mib() -> i64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid rusage for getrusage to fill.
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
        0
    );
    usage.ru_maxrss / 1024
}

/// 500 statements sqlparser rejects on one line of 2 MB: each diagnostic keeps a window of
/// the line, not a copy of it (that was 1 GB), and says the line's own column.
#[test]
fn a_long_line_with_many_diagnostics_costs_bounded_memory() {
    let statement = format!(
        "CREATE TABLE t (a int,, b int); /* {} */ ",
        "x".repeat(4000)
    );
    let p = Project::with_up(&format!("{}\n", statement.repeat(500)));
    let out = p.keel(&["check", "--offline"], None);
    assert_eq!(
        out.code,
        Some(0),
        "{}",
        &out.stderr[..out.stderr.len().min(2000)]
    );
    assert_eq!(out.stderr.matches("warning[unvalidated]").count(), 500);
    // The last one: its column counts the whole line before it.
    let column = 499 * statement.len() + 23;
    let at = format!(" --> sql/up/0001_deep.sql:{BODY_LINE}:{column}\n");
    assert!(out.stderr.contains(&at), "no {at} in the output");
    assert!(out.stderr.contains("\n2 | …xxx"), "a window of the line");
    // The output is bounded too: no line of it holds the 2 MB line.
    assert!(out.stderr.lines().all(|l| l.len() < 1000));
    let peak = children_peak_rss_mib();
    assert!(peak < 300, "peak RSS {peak} MiB");
}

/// Many statements only the server's parser can judge: each error lands on its line, and
/// the statements sent to the server stay linear in their number (one batch of everything
/// left per error was quadratic: 2,000 errors took minutes).
#[test]
fn server_validation_of_many_errors_is_linear() {
    use keel::db::server_parse::{self, ServerVerdict, BATCH};
    use keel::project::{FileKind, SqlText};

    let db = common::fresh_db();
    let n = 1_000;
    let body: String = (0..n)
        .map(|i| {
            format!("CREATE TABLE t{i} (a int,, b int);\nDO $$ BEGIN END $$ LANGUAGE plpgsql;\n")
        })
        .collect();
    let file = SqlText::new("sql/up/0001_x.sql".into(), FileKind::Up, body);
    let mut ranges = Vec::new();
    let mut at = 0;
    for line in file.text.split_inclusive('\n') {
        ranges.push((&file, at..at + line.trim_end().len() - 1));
        at += line.len();
    }
    let mut client = db.connect();
    let server = keel::db::server_version::read(&mut client).expect("version");
    let (verdicts, sent) =
        server_parse::check_counting(&mut client, server, &ranges).expect("check");
    assert!(sent <= n * BATCH, "{sent} statements sent for {n} errors");
    for (i, v) in verdicts.iter().enumerate() {
        match (i % 2, v) {
            (0, ServerVerdict::Rejected(d)) => assert_eq!(
                (d.line, d.column),
                (Some(i + 1), Some(23 + (i / 2).to_string().len()))
            ),
            (1, ServerVerdict::Accepted) => {}
            _ => panic!("statement {i}: {v:?}"),
        }
    }

    // The same through `keel check`, online.
    let p = Project::with_up(&file.text);
    let out = p.keel(&["--database-url", db.url(), "check"], None);
    assert_eq!(out.code, Some(1));
    assert_eq!(out.stderr.matches("error[syntax-error]").count(), n);
    assert!(out
        .stderr
        .contains(&format!("sql/up/0001_deep.sql:{}:26", 2 * n)));
    assert!(
        !out.stderr.contains("unvalidated"),
        "every warning replaced"
    );
}
