//! What keel prints cannot be steered by the text it prints: file names, server messages and
//! SQL come from files someone else may have written, and reach a DBA's terminal and the CI log.
//! No control character gets through (an escape sequence could erase a line, retitle the
//! terminal or write its clipboard; a carriage return overwrites what keel printed), and under
//! GitHub Actions no line of it is read as a workflow command (a forged `::error`).
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests query and print freely

mod common;

#[path = "fixtures/runner/support.rs"]
mod support;

use common::fresh_db;
use support::Project;

/// The lines of `text` outside `::stop-commands::TOKEN` ... `::TOKEN::` fences: what GitHub
/// reads as workflow commands when they begin with `::`.
fn unfenced(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut fence: Option<String> = None;
    for line in text.lines() {
        match &fence {
            Some(token) if line == format!("::{token}::") => fence = None,
            Some(_) => {}
            None => match line.strip_prefix("::stop-commands::") {
                Some(token) => fence = Some(token.to_string()),
                None => out.push(line),
            },
        }
    }
    out
}

#[track_caller]
fn assert_inert(out: &support::Run, forged: &str) {
    for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !text.contains(['\x1b', '\r', '\x07', '\u{202e}']),
            "a control character reached {name}:\n{out}"
        );
        let commands = workflow_commands(text, forged);
        assert!(commands.is_empty(), "{name} forges {commands:?}:\n{out}");
    }
}

/// The lines of `text` GitHub would read as the workflow command `command`.
fn workflow_commands<'t>(text: &'t str, command: &str) -> Vec<&'t str> {
    unfenced(text)
        .into_iter()
        .filter(|l| l.trim_start().starts_with(command))
        .collect()
}

#[test]
fn a_server_message_cannot_steer_the_terminal_or_forge_annotations() {
    let db = fresh_db();
    let p = Project::new();
    p.migration(
        1,
        "raise",
        "DO $$ BEGIN RAISE EXCEPTION E'boom\\x1b[31mRED\\x1b]0;owned\\x07\\r\\n::error file=app.py,line=3::forged by server\\n  applied 0002_two  1 ms' \
         USING DETAIL = E'det\\u202e\\n::warning::forged detail', HINT = E'h\\x1b[2J'; END $$;\n",
        "SELECT 1;\n",
    )
    .seal();
    let out = p
        .keel_cmd(Some(db.url()), &["upgrade", "--color", "never"])
        .env("GITHUB_ACTIONS", "true")
        .run();
    out.assert_code(1).assert_no_panic();
    // The message is still there, escaped.
    out.assert_stderr_has("boom\\x1b[31mRED\\x1b]0;owned\\x07\\r");
    assert_inert(&out, "::error file=app.py");
    assert_inert(&out, "::warning::forged");
}

#[test]
fn a_file_name_cannot_steer_the_terminal_or_forge_annotations() {
    let p = Project::new();
    let up = p.root().join("sql/up");
    std::fs::write(
        up.join("x\n::error file=main.rs,line=1::forged annotation\nupgraded 0041"),
        "",
    )
    .unwrap();
    std::fs::write(
        up.join("evil\x1b]0;pwned\x07\x1b[31mRED\x1b[0m\rupgraded 0001 fake.sql"),
        "",
    )
    .unwrap();
    let out = p
        .keel_cmd(None, &["check", "--offline", "--color", "always"])
        .env("GITHUB_ACTIONS", "true")
        .run();
    out.assert_code(1).assert_no_panic();
    out.assert_output_has("evil\\x1b]0;pwned\\x07");
    // keel's own colours (`--color always`) stay; the file's escape sequences do not.
    assert!(!out.all().contains("\x1b]0;pwned"), "{out}");
    assert!(!out.all().contains("\x1b[31mRED"), "{out}");
    assert!(!out.all().contains('\r'), "{out}");
    let all = out.all();
    let forged = workflow_commands(&all, "::error file=main.rs");
    assert!(forged.is_empty(), "forged {forged:?}:\n{out}");
}

/// With colour on, keel's own colour sequences stay and nothing else does: a policy name from
/// a file, printed next to keel's colours by `upgrade` and `policies status`, cannot conceal
/// text (`ESC [8m`) or recolour the line.
#[test]
fn a_policy_name_cannot_hide_text_next_to_keels_colours() {
    let db = fresh_db();
    let p = Project::new();
    p.migration(
        1,
        "items",
        "CREATE TABLE items (id int, household_id int);\n",
        "DROP TABLE items;\n",
    )
    .seal();
    std::fs::create_dir_all(p.root().join("sql/policies")).unwrap();
    std::fs::write(
        p.root().join("sql/policies/items.sql"),
        "ALTER TABLE items ENABLE ROW LEVEL SECURITY;\n\
         CREATE POLICY \"p\x1b[8mhidden\x1b[0m\" ON items USING (household_id = 1);\n",
    )
    .unwrap();
    for args in [
        &["upgrade", "--color", "always"][..],
        &["policies", "status", "--color", "always"],
    ] {
        let out = p.keel_cmd(Some(db.url()), args).run();
        out.assert_no_panic();
        assert!(out.all().contains("p\\x1b[8mhidden"), "{out}");
        assert!(!out.all().contains("\x1b[8m"), "{out}");
    }
}
