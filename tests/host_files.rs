//! A cloned repository cannot make keel touch files outside it: planted symbolic links and
//! foreign files under `.keel/`, hostile dev database records, special files and oversize files
//! in the migrations folder, a planted temporary file during `seal`, and the environment of the
//! servers keel starts.
//!
//! Every test runs the built `keel` binary in a temporary project, with no database settings in
//! its environment, so that the dev database fallback (`.keel/dev-db.json`) is what ordinary
//! commands use.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Keel, Run as Out};
use keel::db::cluster::DevDb;

/// Long enough for a loaded machine to start a dev cluster; a FIFO that blocks keel would
/// still be caught, just later.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// `keel --color never ARGS` in `dir`, without any ambient database setting, plus `envs`.
fn keel_env(dir: &Path, args: &[&str], envs: &[(&str, &str)], timeout: Duration) -> Out {
    Keel::new(dir).envs(envs).timeout(timeout).args(args).run()
}

fn keel(dir: &Path, args: &[&str]) -> Out {
    keel_env(dir, args, &[], RUN_TIMEOUT)
}

/// A project folder every user can enter (so that, run as root, the dev cluster lives in its
/// `.keel/`), with an empty migrations folder. The path is canonical.
fn project() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let root = fs::canonicalize(dir.path()).unwrap();
    for sub in ["sql/up", "sql/down"] {
        fs::create_dir_all(root.join(sub)).unwrap();
    }
    (dir, root)
}

/// A file outside the project that a hostile project points at, with known content.
fn victim() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("victim.txt");
    fs::write(&file, "precious\n").unwrap();
    (dir, file)
}

#[track_caller]
fn assert_untouched(file: &Path) {
    let meta = fs::symlink_metadata(file).unwrap();
    assert_eq!(
        fs::read_to_string(file).unwrap(),
        "precious\n",
        "{} was written",
        file.display()
    );
    assert_eq!(
        meta.uid(),
        effective_uid(),
        "{} was chowned",
        file.display()
    );
}

fn effective_uid() -> u32 {
    let out = std::process::Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Writes `.keel/dev-db.json` as keel would for the cluster laid out in `base`.
fn write_record(root: &Path, data_dir: &Path, socket_dir: &Path, log_file: &Path) {
    fs::create_dir_all(root.join(".keel")).unwrap();
    let record = serde_json::json!({
        "project_dir": root,
        "data_dir": data_dir,
        "socket_dir": socket_dir,
        "log_file": log_file,
        "port": 24999,
    });
    fs::write(
        root.join(".keel/dev-db.json"),
        serde_json::to_string_pretty(&record).unwrap(),
    )
    .unwrap();
}

/// Stops and deletes whatever dev cluster a test started, even when it fails halfway (and
/// even when the unchanged code started one from a hostile record).
struct StopDevDb(PathBuf);

impl Drop for StopDevDb {
    fn drop(&mut self) {
        if let Ok(dev) = DevDb::new(&self.0) {
            let _ = dev.destroy();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// .keel/
// ---------------------------------------------------------------------------------------------

/// A committed `.keel/server.log` symlink: neither `check` (through the dev database fallback)
/// nor `dev-db start` writes to or chowns its target, and no server is started.
#[test]
fn planted_server_log_symlink_is_refused_and_nothing_starts() {
    let (_dir, root) = project();
    let _stop = StopDevDb(root.clone());
    let (_outside, target) = victim();
    let keel_dir = root.join(".keel");
    write_record(
        &root,
        &keel_dir.join("pgdata"),
        &keel_dir.join("run"),
        &keel_dir.join("server.log"),
    );
    std::os::unix::fs::symlink(&target, keel_dir.join("server.log")).unwrap();

    for args in [&["check"][..], &["dev-db", "start"]] {
        let out = keel(&root, args);
        assert_ne!(out.code, Some(0), "{args:?} succeeded: {out:#?}");
        assert!(
            out.stderr.contains(".keel/server.log"),
            "{args:?} does not name the planted path: {out:#?}"
        );
        assert_untouched(&target);
        assert!(
            !keel_dir.join("pgdata").exists(),
            "{args:?} created a cluster: {out:#?}"
        );
    }
}

/// A committed `.keel/dev-db.json.tmp` symlink: writing the record never follows it.
#[test]
fn planted_record_temp_symlink_is_not_followed() {
    let (_dir, root) = project();
    let _stop = StopDevDb(root.clone());
    let (_outside, target) = victim();
    fs::create_dir(root.join(".keel")).unwrap();
    std::os::unix::fs::symlink(&target, root.join(".keel/dev-db.json.tmp")).unwrap();

    let out = keel(&root, &["dev-db", "start"]);
    assert_untouched(&target);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let record = fs::symlink_metadata(root.join(".keel/dev-db.json")).unwrap();
    assert!(record.file_type().is_file());
    assert_eq!(record.mode() & 0o777, 0o600, "the record is not private");
}

/// A record whose `data_dir` or `log_file` points outside `.keel/` (and outside keel's own
/// `/var/tmp/keel-dev-<hash>/`) is refused, naming the path, before anything starts.
#[test]
fn record_paths_outside_keel_dirs_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    fs::set_permissions(outside.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let outside = fs::canonicalize(outside.path()).unwrap();
    for field in ["data_dir", "log_file"] {
        let (_dir, root) = project();
        let _stop = StopDevDb(root.clone());
        let keel_dir = root.join(".keel");
        let (data_dir, log_file) = if field == "data_dir" {
            (outside.join("pgdata"), keel_dir.join("server.log"))
        } else {
            (keel_dir.join("pgdata"), outside.join("server.log"))
        };
        write_record(&root, &data_dir, &keel_dir.join("run"), &log_file);
        let bad = if field == "data_dir" {
            &data_dir
        } else {
            &log_file
        };
        for args in [&["check"][..], &["dev-db", "start"]] {
            let out = keel(&root, args);
            assert_ne!(out.code, Some(0), "{field} {args:?} succeeded: {out:#?}");
            assert!(
                out.stderr.contains(bad.to_str().unwrap()),
                "{field} {args:?} does not name {}: {out:#?}",
                bad.display()
            );
            assert!(
                !data_dir.exists() && !log_file.exists(),
                "{field} {args:?} created files: {out:#?}"
            );
        }
    }
}

/// `.keel/` owned by another user (uid 65534, "nobody") is not used.
#[test]
fn keel_dir_owned_by_another_user_is_refused() {
    if effective_uid() != 0 {
        panic!("this test chowns a folder to uid 65534 and must run as root");
    }
    let (_dir, root) = project();
    let _stop = StopDevDb(root.clone());
    let keel_dir = root.join(".keel");
    write_record(
        &root,
        &keel_dir.join("pgdata"),
        &keel_dir.join("run"),
        &keel_dir.join("server.log"),
    );
    std::os::unix::fs::lchown(&keel_dir, Some(65534), Some(65534)).unwrap();
    for args in [&["check"][..], &["dev-db", "start"]] {
        let out = keel(&root, args);
        assert_ne!(out.code, Some(0), "{args:?} succeeded: {out:#?}");
        assert!(
            out.stderr.contains(".keel") && out.stderr.contains("65534"),
            "{args:?} does not say whose .keel it is: {out:#?}"
        );
        assert!(!keel_dir.join("pgdata").exists(), "{args:?}: {out:#?}");
    }
}

/// A data directory that came with the repository (owned by whoever cloned it, not by the
/// server's OS user) is never started: its configuration would be the repository's.
#[test]
fn committed_data_dir_is_refused() {
    if effective_uid() != 0 {
        panic!("this test needs a server user other than keel's own and must run as root");
    }
    let (_dir, root) = project();
    let _stop = StopDevDb(root.clone());
    let keel_dir = root.join(".keel");
    write_record(
        &root,
        &keel_dir.join("pgdata"),
        &keel_dir.join("run"),
        &keel_dir.join("server.log"),
    );
    fs::create_dir(keel_dir.join("pgdata")).unwrap();
    fs::set_permissions(keel_dir.join("pgdata"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(keel_dir.join("pgdata/PG_VERSION"), "15\n").unwrap();
    for args in [&["check"][..], &["dev-db", "start"]] {
        let out = keel(&root, args);
        assert_ne!(out.code, Some(0), "{args:?} succeeded: {out:#?}");
        assert!(
            out.stderr.contains(".keel/pgdata") && out.stderr.contains("another user (uid 0)"),
            "{args:?}: {out:#?}"
        );
        assert!(!keel_dir.join("server.log").exists(), "{args:?}: {out:#?}");
    }
}

/// `keel ARGS` in `dir` as the unprivileged user `nobody`, for whom the dev cluster's server
/// runs as keel's own user, so file ownership cannot tell a data directory keel created from
/// one that came with the repository.
fn keel_as_nobody(dir: &Path, args: &[&str]) -> Out {
    Keel::via(
        "setpriv",
        &["--reuid=65534", "--regid=65534", "--clear-groups"],
        dir,
    )
    .env("HOME", dir)
    .env("XDG_CACHE_HOME", dir.join(".cache"))
    .timeout(RUN_TIMEOUT)
    .args(args)
    .run()
}

fn chown_tree_to_nobody(root: &Path) {
    let done = std::process::Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(root)
        .status()
        .unwrap();
    assert!(done.success());
}

/// Stops, as `nobody`, the dev cluster of a project when the test ends.
struct StopAsNobody(PathBuf);

impl Drop for StopAsNobody {
    fn drop(&mut self) {
        let _ = keel_as_nobody(&self.0, &["dev-db", "stop"]);
    }
}

/// For a user who is also the server's user, a whole initialized `.keel/pgdata` can come with a
/// repository (its `postgresql.conf` could run any command through `archive_command`). keel
/// starts only the data directory it created itself: the record keeps the directory's identity
/// (device, inode, birth time), which no copy or clone reproduces.
#[test]
fn a_cloned_data_dir_is_never_started_for_an_unprivileged_user() {
    if effective_uid() != 0 {
        panic!("this test switches to the user nobody and must run as root");
    }
    // The project keel set up itself: its dev database starts, stops and starts again.
    let (_a, own) = project();
    chown_tree_to_nobody(&own);
    let _stop_own = StopAsNobody(own.clone());
    let started = keel_as_nobody(&own, &["dev-db", "start"]);
    assert_eq!(started.code, Some(0), "{started:#?}");
    let stopped = keel_as_nobody(&own, &["dev-db", "stop"]);
    assert_eq!(stopped.code, Some(0), "{stopped:#?}");
    let again = keel_as_nobody(&own, &["check"]);
    assert_eq!(
        again.code,
        Some(0),
        "keel's own data directory starts again: {again:#?}"
    );
    keel_as_nobody(&own, &["dev-db", "stop"]);

    // The same `.keel/` committed and cloned elsewhere, with a 0700 data directory (a umask
    // of 077): new inodes, everything owned by the cloner.
    let (_b, clone) = project();
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(own.join(".keel"))
        .arg(clone.join(".keel"))
        .status()
        .unwrap();
    assert!(copied.success());
    let _ = fs::remove_file(clone.join(".keel/pgdata/postmaster.pid"));
    fs::write(
        clone.join(".keel/pgdata/postgresql.auto.conf"),
        "log_min_messages = debug1\n",
    )
    .unwrap();
    chown_tree_to_nobody(&clone);
    let _stop_clone = StopAsNobody(clone.clone());
    for args in [&["check"][..], &["dev-db", "start"]] {
        let out = keel_as_nobody(&clone, args);
        assert_ne!(
            out.code,
            Some(0),
            "{args:?} started a cloned data directory: {out:#?}"
        );
        assert!(
            out.stderr.contains(".keel/pgdata") && out.stderr.contains("not created by keel"),
            "{args:?}: {out:#?}"
        );
        assert!(
            !clone.join(".keel/pgdata/postmaster.pid").exists(),
            "{args:?}: a server runs from the cloned data directory"
        );
    }
}

/// `keel init` writes `.keel/.gitignore` (`*`), and never through a planted symlink.
#[test]
fn init_writes_keel_gitignore() {
    let root = tempfile::tempdir().unwrap();
    let out = keel(root.path(), &["init"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let ignore = root.path().join(".keel/.gitignore");
    let text = fs::read_to_string(&ignore).unwrap();
    assert!(text.lines().any(|l| l == "*"), "{text}");

    let root = tempfile::tempdir().unwrap();
    let (_outside, target) = victim();
    fs::create_dir(root.path().join(".keel")).unwrap();
    std::os::unix::fs::symlink(&target, root.path().join(".keel/.gitignore")).unwrap();
    let out = keel(root.path(), &["init"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_untouched(&target);
}

/// `keel dev-db start` writes `.keel/.gitignore` even when `.keel/` already exists; the
/// servers it starts inherit no database settings or passwords from the caller.
#[test]
fn dev_db_start_writes_gitignore_and_the_server_gets_no_pg_variables() {
    let (_dir, root) = project();
    let _stop = StopDevDb(root.clone());
    fs::create_dir(root.join(".keel")).unwrap();
    let secret = "keel-test-secret-password";
    let out = keel_env(
        &root,
        &["dev-db", "start"],
        &[
            ("PGPASSWORD", secret),
            ("DATABASE_URL", "postgresql://elsewhere/db"),
            ("PGPASSFILE", "/nonexistent/pgpass"),
            ("PGSERVICE", "elsewhere"),
            ("PGSSLMODE", "require"),
        ],
        RUN_TIMEOUT,
    );
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret));
    let text = fs::read_to_string(root.join(".keel/.gitignore")).unwrap();
    assert!(text.lines().any(|l| l == "*"), "{text}");

    let pid = DevDb::new(&root)
        .unwrap()
        .status()
        .unwrap()
        .pid
        .expect("the dev server runs");
    let environ = fs::read(format!("/proc/{pid}/environ")).unwrap();
    let names: Vec<String> = environ
        .split(|&b| b == 0)
        .filter_map(|kv| kv.split(|&b| b == b'=').next())
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect();
    for var in [
        "PGPASSWORD",
        "DATABASE_URL",
        "PGPASSFILE",
        "PGSERVICE",
        "PGSSLMODE",
    ] {
        assert!(
            !names.iter().any(|n| n == var),
            "the postmaster inherited {var}: {names:?}"
        );
    }
    // The server log is created private.
    let log = DevDb::new(&root).unwrap().log_file().to_path_buf();
    assert_eq!(fs::metadata(&log).unwrap().mode() & 0o777, 0o600);
}

// ---------------------------------------------------------------------------------------------
// Migration folders
// ---------------------------------------------------------------------------------------------

/// A project whose `0001_a` pair is sealed, plus a `0002_b` pair whose up file the test
/// replaces.
fn sealed_project() -> (tempfile::TempDir, PathBuf) {
    let (dir, root) = project();
    for side in ["up", "down"] {
        for name in ["0001_a", "0002_b"] {
            fs::write(
                root.join(format!("sql/{side}/{name}.sql")),
                "-- keel:checksum sha256:00\n\nSELECT 1;\n",
            )
            .unwrap();
        }
    }
    let out = keel(&root, &["seal"]);
    assert_eq!(out.code, Some(0), "setup seal failed: {out:#?}");
    (dir, root)
}

/// `check --offline` with `sql/up/0002_b.sql` replaced by `make(path)`: an error naming the
/// path within a few seconds, nothing from outside the project printed.
fn check_with_up_file(make: impl FnOnce(&Path)) -> Out {
    let (_dir, root) = sealed_project();
    let up = root.join("sql/up/0002_b.sql");
    fs::remove_file(&up).unwrap();
    make(&up);
    let out = keel_env(
        &root,
        &["check", "--offline"],
        &[("KEEL_TEST_SENTINEL", "sentinel-from-the-environment")],
        Duration::from_secs(20),
    );
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(
        out.took < Duration::from_secs(10),
        "keel took {:?}",
        out.took
    );
    assert!(out.stderr.contains("sql/up/0002_b.sql"), "{out:#?}");
    assert!(!out.stderr.contains("sentinel-from"), "{out:#?}");
    assert!(
        !out.stderr.contains("down file has no up file"),
        "the partner is called orphaned: {out:#?}"
    );
    out
}

#[test]
fn fifo_in_migrations_folder_is_an_error_and_does_not_block() {
    let out = check_with_up_file(|up| {
        let made = std::process::Command::new("mkfifo")
            .arg(up)
            .status()
            .unwrap();
        assert!(made.success());
    });
    assert!(out.stderr.contains("not a regular file"), "{out:#?}");
}

#[test]
fn symlink_to_proc_self_environ_is_an_error() {
    let out = check_with_up_file(|up| {
        std::os::unix::fs::symlink("/proc/self/environ", up).unwrap();
    });
    assert!(out.stderr.contains("outside"), "{out:#?}");
}

#[test]
fn symlink_to_dev_zero_is_an_error() {
    let out = check_with_up_file(|up| {
        std::os::unix::fs::symlink("/dev/zero", up).unwrap();
    });
    assert!(out.stderr.contains("outside"), "{out:#?}");
}

#[test]
fn symlink_inside_the_migrations_folder_still_works() {
    let (_dir, root) = sealed_project();
    let up = root.join("sql/up/0002_b.sql");
    fs::rename(&up, root.join("sql/shared_b.sql.txt")).unwrap();
    std::os::unix::fs::symlink("../shared_b.sql.txt", &up).unwrap();
    let out = keel(&root, &["check", "--offline"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
}

#[test]
fn oversize_file_is_an_error() {
    let out = check_with_up_file(|up| {
        let f = fs::File::create(up).unwrap();
        // Sparse: no disk space is used, and keel must not read it.
        f.set_len((1 << 30) + 1).unwrap();
    });
    assert!(out.stderr.contains("1 GiB"), "{out:#?}");
}

// ---------------------------------------------------------------------------------------------
// seal
// ---------------------------------------------------------------------------------------------

/// A planted `<file>.sql.keel-tmp` symlink (the temporary name `seal` used to write through)
/// changes nothing outside the project.
#[test]
fn seal_never_writes_through_a_planted_temp_symlink() {
    let (_dir, root) = sealed_project();
    let (_outside, target) = victim();
    let up = root.join("sql/up/0002_b.sql");
    fs::write(&up, "-- keel:checksum sha256:00\n\nSELECT 2;\n").unwrap();
    fs::set_permissions(&up, fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink(&target, root.join("sql/up/0002_b.sql.keel-tmp")).unwrap();

    let out = keel(&root, &["seal"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_untouched(&target);
    let meta = fs::symlink_metadata(&up).unwrap();
    assert!(meta.file_type().is_file(), "the migration is not a file");
    assert_eq!(meta.mode() & 0o777, 0o640, "the file's mode changed");
    let text = fs::read_to_string(&up).unwrap();
    assert!(
        text.contains("SELECT 2;") && !text.contains("sha256:00\n"),
        "{text}"
    );
    // No temporary file is left behind.
    let left: Vec<_> = fs::read_dir(root.join("sql/up"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "0002_b.sql.keel-tmp")
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

// ---------------------------------------------------------------------------------------------
// keel.toml
// ---------------------------------------------------------------------------------------------

/// `keel.toml` as a FIFO or a link to a device: an error naming it, never a hang.
#[test]
fn special_keel_toml_is_an_error_and_does_not_block() {
    for make in [
        |p: &Path| {
            let made = std::process::Command::new("mkfifo")
                .arg(p)
                .status()
                .unwrap();
            assert!(made.success());
        },
        |p: &Path| std::os::unix::fs::symlink("/dev/zero", p).unwrap(),
    ] {
        let (_dir, root) = project();
        make(&root.join("keel.toml"));
        let out = keel_env(&root, &["check", "--offline"], &[], Duration::from_secs(20));
        assert_eq!(out.code, Some(2), "{out:#?}");
        assert!(
            out.took < Duration::from_secs(10),
            "keel took {:?}",
            out.took
        );
        assert!(out.stderr.contains("keel.toml"), "{out:#?}");
        assert!(out.stderr.contains("not a regular file"), "{out:#?}");
    }
}

/// `keel revision` writes only inside the migrations folder: a linked `up/` that leaves it is
/// refused before anything is created, and a keel.toml `dir` that leads out of the project is
/// a configuration error (a `--dir` the user gives may go anywhere).
#[test]
fn revision_never_writes_out_of_the_project() {
    let (_tmp, dir) = project();
    let outside = tempfile::tempdir().unwrap();
    fs::remove_dir_all(dir.join("sql/up")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.join("sql/up")).unwrap();
    let out = keel(&dir, &["revision", "-m", "evil"]);
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("does not write through it"), "{out}");
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0, "{out}");

    fs::remove_file(dir.join("sql/up")).unwrap();
    fs::write(
        dir.join("keel.toml"),
        format!("dir = \"{}\"\n", outside.path().display()),
    )
    .unwrap();
    let out = keel(&dir, &["revision", "-m", "evil"]);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("leads out of the project"), "{out}");
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0, "{out}");
}

/// Revisions made at the same moment get different versions.
#[test]
fn concurrent_revisions_get_different_versions() {
    let (_tmp, dir) = project();
    let runs: Vec<std::process::Child> = (0..8)
        .map(|i| {
            Keel::new(&dir)
                .args(["revision", "-m", &format!("msg{i}")])
                .command()
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut r in runs {
        assert!(r.wait().unwrap().success());
    }
    let mut versions: Vec<String> = fs::read_dir(dir.join("sql/up"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy()[..4].to_string())
        .collect();
    versions.sort();
    let all = versions.len();
    versions.dedup();
    assert_eq!((all, versions.len()), (8, 8), "{versions:?}");
    // Empty files are errors of their own; two files of one version are not among them.
    let check = keel(&dir, &["check", "--offline"]);
    assert!(!check.all().contains("duplicate-version"), "{check}");
    assert!(check.all().contains("checked 8 migrations"), "{check}");
}
