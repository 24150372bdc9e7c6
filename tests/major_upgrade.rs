//! A database keel brought to head on one PostgreSQL major, dumped with `pg_dump` and restored
//! on a newer major, is still a keel database there: its history, its summary triggers and
//! its policies came along, and `keel check` and `keel policies status` pass.
#![allow(clippy::disallowed_methods)] // tests query freely

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{copy_dir, Keel};
use keel::db::cluster::{Cluster, ServerBinaries, DEFAULT_DB};

/// Runs `program` with `args`, panicking with its output when it fails.
fn run(program: &Path, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    assert!(
        out.status.success(),
        "{} {args:?}: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_dump_restored_on_a_newer_major_keeps_its_keel_history_and_policies() {
    // The client programs come with the machine's server package, next to its `postgres`.
    let here = ServerBinaries::find().expect("server binaries");
    let client = |name: &str| -> PathBuf {
        let p = here.bindir().join(name);
        assert!(
            p.exists(),
            "{} is needed next to the server this suite runs (unset KEEL_PG_BINDIR to use the system's)",
            p.display()
        );
        p
    };
    let newer = if common::server_major() >= 17 { 18 } else { 17 };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bindir = run(&root.join("scripts/pg-binaries"), &[&newer.to_string()]);
    let target = Cluster::throwaway_with(
        ServerBinaries::in_dir(Path::new(bindir.trim())).expect("the fetched binaries"),
    )
    .expect("a cluster of the newer major");

    // sNAKr at head, with its policies, on this suite's major.
    let project = tempfile::tempdir().unwrap();
    copy_dir(&root.join("sql"), &project.path().join("sql"));
    let db = common::fresh_db();
    let keel = |url: &str, args: &[&str]| Keel::new(project.path()).url(Some(url)).args(args).run();
    keel(db.url(), &["upgrade", "head"]).assert_code(0);

    // Roles are the cluster's, not the database's: dumped apart, restored first.
    let dump = project.path().join("dump.sql");
    let globals = run(
        &client("pg_dumpall"),
        &[
            "--globals-only",
            "--no-role-passwords",
            "-d",
            &common::cluster().connection_string(DEFAULT_DB),
        ],
    );
    run(
        &client("pg_dump"),
        &[
            "--no-owner",
            "-f",
            dump.to_str().unwrap(),
            "-d",
            db.connection_string(),
        ],
    );
    let admin = target.connection_string(DEFAULT_DB);
    let mut c = common::pg::connect(&admin);
    // The superuser exists on both sides; the other roles, their attributes and memberships
    // are new there.
    let roles: Vec<&str> = globals
        .lines()
        .filter(|l| {
            (l.starts_with("CREATE ROLE") || l.starts_with("ALTER ROLE") || l.starts_with("GRANT"))
                && !l.contains("ROLE postgres")
        })
        .collect();
    assert!(
        roles.iter().any(|l| l.contains("authenticated")),
        "{globals}"
    );
    c.batch_execute(&roles.join("\n")).unwrap();
    c.batch_execute("CREATE DATABASE restored").unwrap();
    let restored = target.url("restored");
    run(
        &client("psql"),
        &[
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-f",
            dump.to_str().unwrap(),
            &target.connection_string("restored"),
        ],
    );

    let version: String = common::pg::connect(&restored)
        .query_one("SHOW server_version_num", &[])
        .unwrap()
        .get(0);
    assert!(version.starts_with(&newer.to_string()), "{version}");
    keel(&restored, &["current"])
        .assert_code(0)
        .assert_stdout_has("0012_create_invitations (head)");
    keel(&restored, &["check"]).assert_code(0);
    keel(&restored, &["policies", "status"]).assert_code(0);
    keel(&restored, &["history"])
        .assert_code(0)
        .assert_stdout_has("0001_auth_stand_in");
    // The summary triggers came along: a no-op upgrade reads the summary, and a downgrade
    // keeps it true.
    keel(&restored, &["upgrade", "head"]).assert_code(0);
    keel(&restored, &["downgrade", "-1"]).assert_code(0);
    keel(&restored, &["current"])
        .assert_code(0)
        .assert_stdout_has("0011_");
    keel(&restored, &["upgrade", "head"]).assert_code(0);
    keel(&restored, &["check"]).assert_code(0);
}
