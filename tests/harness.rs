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
