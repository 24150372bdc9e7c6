//! CLI tests of `keel policies lint`, run against the built `keel` binary.
//!
//! Every test copies a fixture from `tests/fixtures/lint/` to a temporary directory, seals it
//! (`keel seal`), and runs keel there with `--color never` and no database settings in the
//! environment (`tests/common`). The static findings of the `bad` fixture are snapshotted
//! (`tests/snapshots/lint__*.snap`) so that a change in wording is a reviewed change; the live
//! test applies the `live` fixture to a throwaway PostgreSQL (`tests/common/`) and changes the
//! database by hand.
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests query and print freely

mod common;

use common::{copy_dir, Keel, Run as Out};
use std::collections::BTreeSet;
use std::path::Path;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/lint");

/// A sealed temporary copy of a fixture, where keel runs.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn sealed(name: &str) -> Project {
        let p = Project {
            dir: tempfile::tempdir().expect("create a temporary directory"),
        };
        let src = Path::new(FIXTURES).join(name);
        assert!(src.is_dir(), "no fixture {}", src.display());
        copy_dir(&src, p.dir.path());
        let out = p.keel(&["seal"]);
        assert_eq!(out.code, Some(0), "keel seal failed in setup: {out:#?}");
        p
    }

    /// Runs `keel --color never ARGS` here, without any database settings.
    fn keel(&self, args: &[&str]) -> Out {
        let out = Keel::new(self.dir.path()).args(args).run();
        assert!(out.code.is_some(), "keel was killed by a signal: {out:#?}");
        out
    }
}

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}"))
}

/// `(code, path:line)` of every diagnostic of a JSON report.
fn findings(report: &serde_json::Value) -> Vec<(String, String)> {
    report["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| {
            let at = match (d["path"].as_str(), d["line"].as_u64()) {
                (Some(p), Some(l)) => format!("{p}:{l}"),
                _ => "database".to_string(),
            };
            (d["code"].as_str().unwrap().to_string(), at)
        })
        .collect()
}

/// Every static rule fires on the `bad` fixture, at the statement that causes it.
#[test]
fn bad_fixture_triggers_every_static_rule() {
    let p = Project::sealed("bad");
    let out = p.keel(&["policies", "lint", "--offline"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert_eq!(out.stdout, "8 errors, 6 warnings\n", "{out:#?}");
    insta::assert_snapshot!("bad_offline", out.stderr);

    let out = p.keel(&["--format", "json", "policies", "lint", "--offline"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let report = json(&out.stdout);
    assert_eq!(report["ok"], false);
    assert_eq!(report["errors"], 8);
    assert_eq!(report["warnings"], 6);
    assert_eq!(report["live"], false);
    let found = findings(&report);
    let expected: Vec<(&str, &str)> = vec![
        ("rls_disabled_in_public", "sql/up/0002_create_items.sql:12"),
        ("rls_disabled_in_public", "sql/up/0002_create_items.sql:24"),
        ("rls_enabled_no_policy", "sql/policies/invitations.sql:2"),
        ("policy_exists_rls_disabled", "sql/policies/receipts.sql:2"),
        ("rls_not_forced", "sql/policies/household_members.sql:3"),
        ("policy_recursion", "sql/policies/household_members.sql:5"),
        ("rls_policy_always_true", "sql/policies/items.sql:9"),
        ("policy_applies_to_public", "sql/policies/items.sql:5"),
        ("auth_rls_initplan", "sql/policies/household_members.sql:5"),
        (
            "unindexed_tenant_column",
            "sql/up/0001_create_households.sql:10",
        ),
        ("function_search_path_mutable", "sql/up/0003_helpers.sql:7"),
        ("multiple_permissive_policies", "sql/policies/items.sql:16"),
        ("write_policy_without_check", "sql/policies/items.sql:13"),
        ("security_definer_view", "sql/up/0003_helpers.sql:15"),
    ];
    for (code, at) in &expected {
        assert!(
            found.iter().any(|(c, a)| c == code && a == at),
            "no {code} at {at} in {found:#?}"
        );
    }
    assert_eq!(found.len(), expected.len(), "only these: {found:#?}");
    let codes: BTreeSet<&str> = found.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(codes.len(), 13, "every static rule fires: {codes:?}");
}

/// The `clean` fixture has no finding, from the files.
#[test]
fn clean_fixture_has_no_findings() {
    let p = Project::sealed("clean");
    let out = p.keel(&["policies", "lint", "--offline"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout, "0 errors, 0 warnings\n");
    assert_eq!(out.stderr, "");

    let out = p.keel(&["--format", "json", "policies", "lint", "--offline"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let report = json(&out.stdout);
    assert_eq!(report["ok"], true);
    assert_eq!(report["diagnostics"], serde_json::json!([]));
}

/// Without a database and without `--offline`, lint runs the static rules and says so.
#[test]
fn without_a_database_lint_is_static_and_says_so() {
    let p = Project::sealed("clean");
    let out = p.keel(&["policies", "lint"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(
        out.stderr
            .contains("note: no database configured: only the static rules ran"),
        "{out:#?}"
    );
    assert_eq!(out.stdout, "0 errors, 0 warnings\n");
}

/// Bad arguments are usage errors.
#[test]
fn unknown_flag_is_a_usage_error() {
    let p = Project::sealed("clean");
    let out = p.keel(&["policies", "lint", "--offlne"]);
    assert_eq!(out.code, Some(2), "{out:#?}");
}

/// A configured database that cannot be reached is an error, not a silent static run.
#[test]
fn unreachable_database_is_an_error() {
    let p = Project::sealed("clean");
    let out = p.keel(&[
        "--database-url",
        "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2",
        "policies",
        "lint",
    ]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(out.stderr.contains("--offline"), "{out:#?}");
}

/// The live rules over a real catalog: hand changes made after `keel upgrade` are found, a
/// finding the files explain is reported once, and catalog-only objects have no file.
#[test]
fn live_rules_find_hand_changes() {
    let db = common::fresh_db();
    let p = Project::sealed("live");
    let up = p.keel(&["--database-url", db.url(), "upgrade"]);
    assert_eq!(up.code, Some(0), "{up:#?}");

    let mut client = db.connect();
    client
        .batch_execute(&format!(
            "CREATE POLICY hand_update ON items FOR UPDATE TO authenticated USING (true);
             ALTER TABLE items NO FORCE ROW LEVEL SECURITY;
             ALTER TABLE items OWNER TO anon;
             CREATE FUNCTION public.leaky() RETURNS bigint LANGUAGE sql SECURITY DEFINER
                 AS 'SELECT count(*) FROM public.items';
             CREATE VIEW public.all_items AS SELECT * FROM items;
             {safe_view}
             CREATE FUNCTION public.pinned() RETURNS bigint LANGUAGE sql SECURITY DEFINER
                 SET search_path = '' AS 'SELECT count(*) FROM public.items';
             CREATE TABLE notes (household_id uuid, body text);
             CREATE FUNCTION app_user() RETURNS uuid LANGUAGE sql STABLE
                 AS $$ SELECT nullif(current_setting('app.user', true), '')::uuid $$;
             CREATE TABLE members (household_id uuid, user_id uuid);
             CREATE INDEX ON members (household_id);
             ALTER TABLE members ENABLE ROW LEVEL SECURITY;
             ALTER TABLE members FORCE ROW LEVEL SECURITY;
             CREATE POLICY members_read ON members FOR SELECT TO authenticated
                 USING (household_id IN (SELECT m.household_id FROM members m
                                         WHERE m.user_id = (SELECT app_user())));",
            // Views run as their caller from PostgreSQL 15 on.
            safe_view = if common::server_major() >= 15 {
                "CREATE VIEW public.safe_items WITH (security_invoker = on) AS SELECT * FROM items;"
            } else {
                ""
            },
        ))
        .expect("hand changes");

    let out = p.keel(&[
        "--database-url",
        db.url(),
        "--format",
        "json",
        "policies",
        "lint",
    ]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let report = json(&out.stdout);
    assert_eq!(report["live"], true);
    let found = findings(&report);
    for (code, at) in [
        // From the files, and the same in the database: reported once.
        ("rls_not_forced", "sql/policies/households.sql:2"),
        // Hand changes to declared objects point at their declaration.
        ("rls_not_forced", "sql/policies/items.sql:1"),
        ("bypassrls_app_role", "sql/policies/items.sql:1"),
        // Objects only the database has.
        ("rls_policy_always_true", "database"),
        ("function_search_path_mutable", "database"),
        ("security_definer_view", "database"),
        ("rls_disabled_in_public", "database"),
        ("unindexed_tenant_column", "database"),
        ("policy_recursion", "database"),
    ] {
        let n = found.iter().filter(|(c, a)| c == code && a == at).count();
        assert_eq!(n, 1, "expected one {code} at {at} in {found:#?}");
    }
    let diags = report["diagnostics"].as_array().unwrap();
    // What is right in the database is not reported.
    for quiet in ["safe_items", "pinned", "households_read", "items_read"] {
        assert!(
            !diags
                .iter()
                .any(|d| d["message"].as_str().unwrap().contains(quiet)),
            "{quiet} was reported: {diags:#?}"
        );
    }
    let notes = |code: &str, path: Option<&str>| {
        let d = diags
            .iter()
            .find(|d| d["code"] == code && d["path"].as_str() == path)
            .unwrap_or_else(|| panic!("no {code} at {path:?}"));
        d["notes"].clone()
    };
    // The finding the files explain is reported once, without the database note; hand
    // changes carry it.
    assert_eq!(
        notes("rls_not_forced", Some("sql/policies/households.sql")),
        serde_json::Value::Null
    );
    let from_db = serde_json::json!(["found in the database's catalog"]);
    assert_eq!(
        notes("rls_not_forced", Some("sql/policies/items.sql")),
        from_db
    );
    assert_eq!(notes("policy_recursion", None), from_db);
    let recursion = diags
        .iter()
        .find(|d| d["code"] == "policy_recursion")
        .unwrap();
    assert_eq!(
        recursion["message"],
        "policy members_read on public.members reads public.members itself: PostgreSQL fails with \"infinite recursion detected in policy for relation members\""
    );

    // The text form lists the same findings and ends with the summary.
    let text = p.keel(&["--database-url", db.url(), "policies", "lint"]);
    assert_eq!(text.code, Some(1), "{text:#?}");
    assert_eq!(
        text.stdout,
        format!(
            "{} errors, {} warnings\n",
            report["errors"], report["warnings"]
        )
    );
    assert!(
        text.stderr
            .contains("= note: found in the database's catalog"),
        "{text:#?}"
    );
    assert!(!text.stderr.contains("no database configured"), "{text:#?}");
}
