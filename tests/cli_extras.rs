//! CLI tests of `keel init`, `keel completions`, `keel man`, and of the recipes in `docs/ci.md`.
//!
//! Every test runs the built `keel` in a temporary directory with `--color never` and no
//! database or keel settings in the environment. The recipe tests read `docs/ci.md`, pick the
//! commands it marks with `# test: offline|online` (the convention is described at the end of
//! that file), and run them on a copy of `tests/fixtures/extras/project`; the online ones get a
//! fresh database of this binary's throwaway cluster (`tests/common`).
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests query and print freely

mod common;

use common::{copy_dir, keel_bin, without_ambient_env, Keel, Run};
use keel::config::{Config, Overrides};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const PROJECT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/extras/project");
const CI_DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/ci.md");

/// Settings that would change what make does; no recipe inherits them (nor
/// `common::AMBIENT_ENV`).
const MAKE_ENV: &[&str] = &["MAKEFLAGS", "MFLAGS", "MAKELEVEL"];

/// Runs a command other than keel, and asserts it did not panic.
fn run(cmd: &mut Command) -> Run {
    let started = Instant::now();
    let out = cmd.output().expect("run the command");
    let out = Run::of(format!("{cmd:?}"), out, started.elapsed());
    assert!(
        !out.stderr.contains("panicked"),
        "the command panicked: {out:#?}"
    );
    out
}

/// `keel --color never ARGS` in `dir`, with a clean environment.
fn keel(dir: &Path, args: &[&str]) -> Run {
    Keel::new(dir).args(args).run()
}

/// Every path under `root` with its content (`None` for a folder).
fn tree(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(|e| {
            let e = e.expect("walk the temporary directory");
            let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
            let content = e.file_type().is_file().then(|| fs::read(e.path()).unwrap());
            (rel, content)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// keel init

#[test]
fn init_creates_the_layout_and_a_config_that_check_accepts() {
    let root = tempfile::tempdir().unwrap();
    let out = keel(root.path(), &["init"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    for created in ["keel.toml", "sql/up", "sql/down", "sql/policies/tests"] {
        assert!(
            out.stdout
                .lines()
                .any(|l| l == format!("created {created}")),
            "`created {created}` missing: {out:#?}"
        );
    }
    for d in ["sql/up", "sql/down", "sql/policies/tests"] {
        assert!(root.path().join(d).is_dir(), "{d} was not created");
    }
    // The next three commands.
    let next = &out.stderr;
    assert!(
        next.contains("keel revision -m \"create households\""),
        "{next}"
    );
    assert!(
        next.contains(
            "$EDITOR sql/up/0001_create_households.sql sql/down/0001_create_households.sql && keel seal"
        ),
        "{next}"
    );
    assert!(next.contains("keel upgrade"), "{next}");

    // Every setting is commented out at its default, and the file loads.
    let text = fs::read_to_string(root.path().join("keel.toml")).unwrap();
    for key in [
        "# dir = \"sql\"",
        "# history_schema = \"keel\"",
        "# lock_timeout = 60",
        "[policies]",
        "# tenant_columns = [",
        "# test_roles = [",
    ] {
        assert!(
            text.contains(key),
            "`{key}` missing from keel.toml:\n{text}"
        );
    }
    let config = Config::load_file(root.path(), &Overrides::default()).expect("keel.toml loads");
    let default = Config::default();
    assert_eq!(config.dir, default.dir);
    assert_eq!(config.history_schema, default.history_schema);
    assert_eq!(config.lock_timeout, default.lock_timeout);
    assert_eq!(config.tenant_columns, default.tenant_columns);
    assert_eq!(config.test_roles, default.test_roles);

    let check = keel(root.path(), &["check", "--offline"]);
    assert_eq!(check.code, Some(0), "{check:#?}");
    assert!(check.stdout.contains("checked 0 migrations"), "{check:#?}");

    // The printed next step names the files `revision` really makes.
    let rev = keel(root.path(), &["revision", "-m", "create households"]);
    assert_eq!(rev.code, Some(0), "{rev:#?}");
    assert!(root
        .path()
        .join("sql/up/0001_create_households.sql")
        .is_file());
    assert!(root
        .path()
        .join("sql/down/0001_create_households.sql")
        .is_file());
}

#[test]
fn init_twice_fails_naming_what_exists_and_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(keel(root.path(), &["init"]).code, Some(0));
    let before = tree(root.path());
    let out = keel(root.path(), &["init"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(
        out.stderr.contains("`keel.toml` already exists"),
        "{out:#?}"
    );
    assert!(out.stderr.contains("`sql` is not empty"), "{out:#?}");
    assert!(out.stderr.contains("nothing was created"), "{out:#?}");
    assert_eq!(tree(root.path()), before, "the second init changed files");
}

#[test]
fn init_into_a_non_empty_folder_fails_and_creates_nothing() {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir(root.path().join("sql")).unwrap();
    fs::write(root.path().join("sql/notes.txt"), "mine\n").unwrap();
    let before = tree(root.path());
    let out = keel(root.path(), &["init"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(out.stderr.contains("error: `sql` is not empty"), "{out:#?}");
    assert!(!out.stderr.contains("keel.toml"), "{out:#?}");
    assert_eq!(
        tree(root.path()),
        before,
        "keel.toml or folders were created"
    );
}

#[test]
fn init_with_an_existing_config_fails_before_creating_any_folder() {
    let root = tempfile::tempdir().unwrap();
    fs::write(root.path().join("keel.toml"), "lock_timeout = 5\n").unwrap();
    let before = tree(root.path());
    let out = keel(root.path(), &["init"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(
        out.stderr.contains("`keel.toml` already exists"),
        "{out:#?}"
    );
    assert_eq!(tree(root.path()), before, "sql/ was created");
}

#[test]
fn init_into_an_existing_empty_folder_is_fine() {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir(root.path().join("sql")).unwrap();
    let out = keel(root.path(), &["init"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(root.path().join("sql/policies/tests").is_dir());
}

#[test]
fn init_dir_is_written_to_the_config_and_the_subcommand_flag_wins() {
    // The subcommand's own --dir.
    let root = tempfile::tempdir().unwrap();
    let out = keel(root.path(), &["init", "--dir", "db/migrations"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(root.path().join("db/migrations/up").is_dir());
    assert!(!root.path().join("sql").exists());
    let text = fs::read_to_string(root.path().join("keel.toml")).unwrap();
    assert!(
        text.lines().any(|l| l == "dir = \"db/migrations\""),
        "{text}"
    );
    assert!(
        out.stderr.contains("$EDITOR db/migrations/up/0001_"),
        "{out:#?}"
    );
    let config = Config::load_file(root.path(), &Overrides::default()).unwrap();
    assert_eq!(config.dir, root.path().join("db/migrations"));
    // Later commands need no --dir.
    let check = keel(root.path(), &["check", "--offline"]);
    assert_eq!(check.code, Some(0), "{check:#?}");
    let rev = keel(root.path(), &["revision", "-m", "first"]);
    assert_eq!(rev.code, Some(0), "{rev:#?}");
    assert!(root
        .path()
        .join("db/migrations/up/0001_first.sql")
        .is_file());

    // The global --dir.
    let root = tempfile::tempdir().unwrap();
    let out = keel(root.path(), &["--dir", "global", "init"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(root.path().join("global/down").is_dir());
    let text = fs::read_to_string(root.path().join("keel.toml")).unwrap();
    assert!(text.lines().any(|l| l == "dir = \"global\""), "{text}");

    // Both: the subcommand's wins.
    let root = tempfile::tempdir().unwrap();
    let out = keel(root.path(), &["--dir", "global", "init", "--dir", "own"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(root.path().join("own/up").is_dir());
    assert!(!root.path().join("global").exists());
    let text = fs::read_to_string(root.path().join("keel.toml")).unwrap();
    assert!(text.lines().any(|l| l == "dir = \"own\""), "{text}");
}

#[test]
fn init_json_lists_what_it_created() {
    let root = tempfile::tempdir().unwrap();
    let out = keel(root.path(), &["--format", "json", "init"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    assert_eq!(v["config"], "keel.toml");
    assert_eq!(v["dir"], "sql");
    let created: Vec<&str> = v["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(
        created,
        ["keel.toml", "sql/up", "sql/down", "sql/policies/tests"]
    );
    assert_eq!(v["next"].as_array().unwrap().len(), 3);
}

// ---------------------------------------------------------------------------------------------
// keel completions, keel man

#[test]
fn completions_print_a_script_for_each_shell() {
    let root = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = keel(root.path(), &["completions", shell]);
        assert_eq!(out.code, Some(0), "{shell}: {out:#?}");
        assert!(!out.stdout.trim().is_empty(), "{shell}: empty script");
        // Generated from the real definition: subcommands and flags are in it.
        for word in ["upgrade", "init", "require-up-to-date"] {
            assert!(out.stdout.contains(word), "{shell}: no `{word}`");
        }
    }
    let bash = keel(root.path(), &["completions", "bash"]).stdout;
    assert!(bash.contains("complete"), "{bash}");
    assert!(bash.contains("keel"), "{bash}");
    assert!(bash.contains("complete -F _keel"), "{bash}");

    // The bash script really completes: `keel com<TAB>`.
    let script = root.path().join("keel.bash");
    fs::write(&script, &bash).unwrap();
    let completed = run(Command::new("bash").arg("-c").arg(format!(
        "source '{}'; COMP_WORDS=(keel com); COMP_CWORD=1; _keel keel com keel; echo \"${{COMPREPLY[*]}}\"",
        script.display()
    )));
    assert_eq!(completed.code, Some(0), "{completed:#?}");
    assert_eq!(completed.stdout.trim(), "completions", "{completed:#?}");

    let bad = keel(root.path(), &["completions", "tcsh"]);
    assert_eq!(bad.code, Some(2), "{bad:#?}");
}

#[test]
fn man_prints_a_roff_page() {
    let root = tempfile::tempdir().unwrap();
    let out = keel(root.path(), &["man"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.starts_with(".TH keel 1"), "{}", out.stdout);
    assert!(out.stdout.contains(".SH NAME"), "{}", out.stdout);
    assert!(out.stdout.contains(".SH SUBCOMMANDS"), "{}", out.stdout);
}

// ---------------------------------------------------------------------------------------------
// docs/ci.md

/// One fenced code block of the doc, under its `## ` heading.
#[derive(Debug)]
struct Block {
    heading: String,
    lines: Vec<String>,
}

fn doc_blocks() -> Vec<Block> {
    let doc = fs::read_to_string(CI_DOC).expect("read docs/ci.md");
    let mut blocks = Vec::new();
    let mut heading = String::new();
    let mut open: Option<Vec<String>> = None;
    for line in doc.lines() {
        if line.trim_start().starts_with("```") {
            match open.take() {
                Some(lines) => blocks.push(Block {
                    heading: heading.clone(),
                    lines,
                }),
                None => open = Some(Vec::new()),
            }
        } else if let Some(lines) = &mut open {
            lines.push(line.to_string());
        } else if let Some(h) = line.strip_prefix("## ") {
            heading = h.trim().to_string();
        }
    }
    assert!(open.is_none(), "docs/ci.md has an unclosed code block");
    blocks
}

/// A `# test: ...` marker: whether the step is online, and `make` targets if it runs the
/// block as a Makefile.
#[derive(Debug)]
struct Marker {
    online: bool,
    make: Option<Vec<String>>,
}

fn marker(line: &str) -> Option<Marker> {
    let rest = line.trim().strip_prefix("# test:")?;
    let mut words = rest.split_whitespace();
    let online = match words.next() {
        Some("online") => true,
        Some("offline") => false,
        other => panic!("bad marker `{line}`: expected online or offline, got {other:?}"),
    };
    let make = match words.next() {
        None => None,
        Some("make") => {
            let targets: Vec<String> = words.map(String::from).collect();
            assert!(!targets.is_empty(), "marker `{line}` names no make target");
            Some(targets)
        }
        Some(w) => panic!("bad marker `{line}`: unexpected `{w}`"),
    };
    Some(Marker { online, make })
}

/// The shell command on a marked line: indentation, a YAML list dash and a `run:` or
/// `entry:` key stripped.
fn command_of(line: &str) -> String {
    let mut s = line.trim();
    s = s.strip_prefix("- ").unwrap_or(s).trim_start();
    for key in ["run:", "entry:"] {
        if let Some(rest) = s.strip_prefix(key) {
            s = rest.trim();
        }
    }
    s.to_string()
}

/// Whether a line (of any block) invokes keel.
fn invokes_keel(line: &str) -> bool {
    let c = command_of(line);
    let c = c.strip_prefix("$ ").unwrap_or(&c);
    c == "keel" || c.starts_with("keel ") || c.starts_with("$(KEEL)")
}

#[derive(Debug)]
enum Step {
    Sh { online: bool, command: String },
    Make { online: bool, targets: Vec<String> },
}

/// The tested steps of one block, in order.
fn steps(block: &Block) -> Vec<Step> {
    if let Some(m) = block.lines.first().and_then(|l| marker(l)) {
        if let Some(targets) = m.make {
            return vec![Step::Make {
                online: m.online,
                targets,
            }];
        }
    }
    let mut steps = Vec::new();
    for (i, line) in block.lines.iter().enumerate() {
        let Some(m) = marker(line) else { continue };
        assert!(
            m.make.is_none(),
            "a make marker must be the first line of its block: {line}"
        );
        let next = block
            .lines
            .get(i + 1)
            .unwrap_or_else(|| panic!("marker `{line}` ends its block"));
        let command = command_of(next);
        assert!(
            !command.is_empty() && !command.starts_with('|') && !command.starts_with('>'),
            "the line after `{line}` is not a one-line command: {next:?}"
        );
        steps.push(Step::Sh {
            online: m.online,
            command,
        });
    }
    steps
}

/// Whether `keel policies lint` exists yet (it is built separately). While it is a stub,
/// the docs are only checked to mention it.
fn lint_available(project: &Path) -> bool {
    let help = keel(project, &["policies", "lint", "--help"]);
    if help.code != Some(0) {
        return false;
    }
    let probe = keel(project, &["policies", "lint", "--offline"]);
    !probe.stderr.contains("lint is not available yet")
}

/// One step that ran (or was skipped: `stdout` is `None`).
#[derive(Debug)]
struct Ran {
    command: String,
    stdout: Option<String>,
}

/// Runs every marked step of the blocks under `heading` on a fresh copy of the sample
/// project, in order.
fn run_recipes(heading: &str) -> Vec<Ran> {
    let blocks: Vec<Block> = doc_blocks()
        .into_iter()
        .filter(|b| b.heading == heading)
        .collect();
    assert!(!blocks.is_empty(), "docs/ci.md has no `## {heading}` block");
    let path = format!(
        "{}:{}",
        keel_bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = Vec::new();
    for block in &blocks {
        let steps = steps(block);
        if steps.is_empty() {
            continue;
        }
        let project = tempfile::tempdir().unwrap();
        copy_dir(Path::new(PROJECT), project.path());
        let mut db = None;
        for step in steps {
            let (online, mut cmd, shown) = match &step {
                Step::Sh { online, command } => {
                    let mut c = Command::new("sh");
                    c.args(["-c", command]);
                    (*online, c, command.clone())
                }
                Step::Make { online, targets } => {
                    fs::write(
                        project.path().join("Makefile"),
                        block.lines.join("\n") + "\n",
                    )
                    .unwrap();
                    let mut c = Command::new("make");
                    c.arg(format!("KEEL={}", keel_bin().display()))
                        .args(targets);
                    (*online, c, format!("make {}", targets.join(" ")))
                }
            };
            if shown.starts_with("keel policies lint") && !lint_available(project.path()) {
                eprintln!("`keel policies lint` is not available yet: not run ({heading})");
                ran.push(Ran {
                    command: shown,
                    stdout: None,
                });
                continue;
            }
            without_ambient_env(cmd.current_dir(project.path())).env("PATH", &path);
            for v in MAKE_ENV {
                cmd.env_remove(v);
            }
            cmd.env("NO_COLOR", "1");
            if online {
                let db = db.get_or_insert_with(common::fresh_db);
                cmd.env("DATABASE_URL", db.url());
            }
            let out = run(&mut cmd);
            assert_eq!(
                out.code,
                Some(0),
                "`{shown}` from docs/ci.md ({heading}) failed: {out:#?}"
            );
            ran.push(Ran {
                command: shown,
                stdout: Some(out.stdout),
            });
        }
        if let Some(db) = &db {
            // Whatever the recipe did online, the database ends at head.
            let out = Keel::new(project.path())
                .env("DATABASE_URL", db.url())
                .args(["current"])
                .run();
            assert_eq!(out.code, Some(0), "{out:#?}");
            assert!(out.stdout.contains("0001_create_notes (head)"), "{out:#?}");
        }
    }
    ran
}

#[test]
fn docs_github_actions_workflow_runs() {
    let ran = run_recipes("GitHub Actions");
    let commands: Vec<&str> = ran.iter().map(|r| r.command.as_str()).collect();
    assert_eq!(
        commands,
        [
            "keel check --offline",
            "keel upgrade",
            "keel check --require-up-to-date",
            "keel policies lint",
        ]
    );
    let check = ran[2].stdout.as_deref().unwrap();
    assert!(
        check.contains("by PostgreSQL"),
        "not checked online: {check}"
    );
    let doc = fs::read_to_string(CI_DOC).unwrap();
    for needed in [
        "image: postgres:15",
        "KEEL_VERSION",
        "cargo install",
        "GITHUB_ACTIONS=true",
        "::error file=",
        "keel policies lint",
    ] {
        assert!(
            doc.contains(needed),
            "docs/ci.md does not mention `{needed}`"
        );
    }
}

#[test]
fn docs_pre_commit_hook_runs() {
    let ran = run_recipes("pre-commit");
    assert_eq!(ran.len(), 1, "{ran:#?}");
    assert_eq!(ran[0].command, "keel check --offline");
    let block = doc_blocks()
        .into_iter()
        .find(|b| b.heading == "pre-commit")
        .unwrap();
    let text = block.lines.join("\n");
    assert!(text.contains("repo: local"), "{text}");
    assert!(text.contains("pass_filenames: false"), "{text}");
}

#[test]
fn docs_makefile_runs() {
    let ran = run_recipes("Makefile (keel vendored in your repository)");
    assert_eq!(ran.len(), 1, "{ran:#?}");
    assert_eq!(ran[0].command, "make migrate check");
    // `check` ran online too: PostgreSQL's parser validated the DO block.
    let stdout = ran[0].stdout.as_deref().unwrap();
    assert!(stdout.contains("by PostgreSQL"), "{stdout}");
}

#[test]
fn docs_mark_every_keel_command() {
    let mut tested_headings = Vec::new();
    for block in doc_blocks() {
        let make_block = block
            .lines
            .first()
            .and_then(|l| marker(l))
            .is_some_and(|m| m.make.is_some());
        for (i, line) in block.lines.iter().enumerate() {
            if !invokes_keel(line) || make_block {
                continue;
            }
            let marked = i > 0 && marker(&block.lines[i - 1]).is_some();
            assert!(
                marked,
                "docs/ci.md ({}): `{}` runs keel but has no `# test:` marker above it",
                block.heading,
                line.trim()
            );
        }
        if !steps(&block).is_empty() && !tested_headings.contains(&block.heading) {
            tested_headings.push(block.heading.clone());
        }
    }
    assert_eq!(
        tested_headings,
        [
            "GitHub Actions",
            "pre-commit",
            "Makefile (keel vendored in your repository)"
        ]
    );
}

#[test]
fn docs_github_annotation_example_matches_keel() {
    let project = tempfile::tempdir().unwrap();
    copy_dir(Path::new(PROJECT), project.path());
    let up = project.path().join("sql/up/0001_create_notes.sql");
    let mut text = fs::read_to_string(&up).unwrap();
    text.push_str("\nSELECT 1;\n");
    fs::write(&up, text).unwrap();

    let out = Keel::new(project.path())
        .env("GITHUB_ACTIONS", "true")
        .args(["check", "--offline"])
        .run();
    assert_eq!(out.code, Some(1), "{out:#?}");
    let real = out
        .stdout
        .lines()
        .find(|l| l.starts_with("::error "))
        .unwrap_or_else(|| panic!("no ::error annotation: {out:#?}"))
        .replace("0001_create_notes", "0003_add_items");

    let example = doc_blocks()
        .into_iter()
        .flat_map(|b| b.lines)
        .find(|l| l.starts_with("::error "))
        .expect("docs/ci.md shows an ::error example");
    // The example elides the checksums; everything before them is what keel prints.
    let shape = &example[..example
        .find("sha256:")
        .expect("the example shows a checksum")];
    assert!(
        real.starts_with(shape),
        "docs/ci.md shows\n  {example}\nbut keel prints\n  {real}"
    );
}
