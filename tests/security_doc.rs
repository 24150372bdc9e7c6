//! docs/security.md names, for each guarantee, the test that holds it: every test it names must
//! exist, so the page cannot promise more than `make test` checks.

use std::fs;
use std::path::Path;

fn sources(dir: &Path, out: &mut String) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push_str(&fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn every_test_the_security_page_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = fs::read_to_string(root.join("docs/security.md")).unwrap();
    let mut code = String::new();
    sources(&root.join("src"), &mut code);
    sources(&root.join("tests"), &mut code);
    // Test names are written `file::name` or `module::path::name` in backticks.
    let named: Vec<&str> = doc
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            s.contains("::")
                && s.chars().all(|c| {
                    c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '/' || c == '.'
                })
        })
        .collect();
    assert!(named.len() > 30, "the page names its tests: {named:?}");
    let missing: Vec<&&str> = named
        .iter()
        .filter(|t| {
            let name = t.rsplit("::").next().unwrap();
            !code.contains(&format!("fn {name}("))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "docs/security.md names tests that do not exist: {missing:?}"
    );
}
