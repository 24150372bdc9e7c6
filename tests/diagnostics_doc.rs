//! docs/diagnostics.md lists exactly the codes of the registry
//! (`keel::diagnostic::codes`): one table row per code, none missing, none
//! that keel does not raise.

use keel::diagnostic::codes;
use std::collections::BTreeSet;

/// The first cell of every table row whose first cell is a `code`.
fn documented() -> Vec<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/diagnostics.md"))
        .expect("docs/diagnostics.md");
    doc.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once("` |"))
        .map(|(code, _)| code.to_string())
        .collect()
}

#[test]
fn every_code_is_documented_once_and_the_doc_lists_no_other() {
    let listed = documented();
    let doc: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
    assert_eq!(
        doc.len(),
        listed.len(),
        "a code is listed twice: {listed:?}"
    );
    let registry: BTreeSet<&str> = codes::ALL.iter().map(|c| c.as_str()).collect();
    let missing: Vec<_> = registry.difference(&doc).collect();
    let unknown: Vec<_> = doc.difference(&registry).collect();
    assert!(
        missing.is_empty(),
        "codes missing from docs/diagnostics.md: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "docs/diagnostics.md lists codes the registry lacks: {unknown:?}"
    );
}
