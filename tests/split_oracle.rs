//! keel's statement boundaries equal the server's, with PostgreSQL as the oracle.
//!
//! Each case is a few `SELECT <marker>, ...` statements built from the constructs that decide
//! where a statement ends: string literals of every kind (`''`, `E''` with `\'` and `\\`,
//! `U&''` with and without `UESCAPE`, `B''`, `X''`, `N''`) continued over newlines, `$tag$`
//! bodies, quoted identifiers, nested `/* */` and `--` comments, with `;`, quotes and
//! backslashes inside them. Every case is valid SQL, so the server runs all of it.
//!
//! The oracle: the whole input sent as one simple query returns one result set per statement
//! the server found. keel must split the input into exactly the generated statements, and each
//! of them, sent alone, must return the same result set as the server's statement at that
//! position.
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests query and print freely

mod common;

use keel::sql::split::split;
use postgres::{Client, SimpleQueryMessage};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Characters a literal, identifier, comment or body may hold.
const ALPHABET: &[char] = &[
    'a', 'E', ';', '\'', '\\', '"', '$', '-', '/', '*', '\n', ' ', 'é', '!',
];

fn content() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 0..8)
        .prop_map(|v| v.into_iter().collect())
}

/// Whitespace that joins two parts of one literal: scan.l's `{whitespace_with_newline}`.
fn continuation() -> impl Strategy<Value = &'static str> {
    prop::sample::select(
        &[
            "\n",
            " \n ",
            "\n\n",
            " -- c;'\\\n",
            "\r",
            "\r\n",
            "\n-- x'\n",
            "\t\n\t",
        ][..],
    )
}

/// Whitespace and comments between tokens and between statements.
fn gap() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(" ".to_string()),
        Just("\n".to_string()),
        content().prop_map(|c| format!(" --{}\n", c.replace(['\n', '\r'], " "))),
        content().prop_map(|c| format!("/*{}*/", comment_safe(&c))),
        (content(), content()).prop_map(|(a, b)| format!(
            "/* {} /* {} */ */",
            comment_safe(&a),
            comment_safe(&b)
        )),
    ]
}

/// Comment text that neither opens nor closes a nested comment.
fn comment_safe(s: &str) -> String {
    s.replace('/', "/ ").replace('*', " * ")
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Plain,
    Escape,
    Unicode,
    UnicodeUescape,
    National,
    Bits,
    Hex,
}

/// One literal, in one or more parts joined by continuations.
fn literal() -> impl Strategy<Value = String> {
    let kind = prop::sample::select(
        &[
            Kind::Plain,
            Kind::Escape,
            Kind::Unicode,
            Kind::UnicodeUescape,
            Kind::National,
            Kind::Bits,
            Kind::Hex,
        ][..],
    );
    let parts = prop::collection::vec((content(), continuation(), any::<bool>()), 1..4);
    (kind, parts).prop_map(|(kind, parts)| {
        let prefix = match kind {
            Kind::Plain => "",
            Kind::Escape => "E",
            Kind::Unicode | Kind::UnicodeUescape => "U&",
            Kind::National => "N",
            Kind::Bits => "B",
            Kind::Hex => "X",
        };
        let mut out = String::from(prefix);
        for (i, (text, cont, doubled)) in parts.iter().enumerate() {
            if i > 0 {
                out.push_str(cont);
            }
            out.push('\'');
            for c in text.chars() {
                match (kind, c) {
                    (Kind::Bits, _) => out.push(if c == 'a' { '1' } else { '0' }),
                    (Kind::Hex, _) => out.push(if c == 'a' { 'f' } else { '0' }),
                    (Kind::Escape, '\'') if !doubled => out.push_str("\\'"),
                    (Kind::Escape, '\\') => out.push_str("\\\\"),
                    (Kind::Unicode, '\\') => out.push_str("\\\\"),
                    (Kind::UnicodeUescape, '!') => out.push_str("!!"),
                    (_, '\'') => out.push_str("''"),
                    _ => out.push(c),
                }
            }
            out.push('\'');
        }
        if let Kind::UnicodeUescape = kind {
            out.push_str(" UESCAPE '!'");
        }
        out
    })
}

fn dollar_body() -> impl Strategy<Value = String> {
    (prop::sample::select(&["", "q", "tag", "qé"][..]), content()).prop_map(|(tag, body)| {
        // The alphabet holds none of the tags' letters, so only `$$` could close early.
        let body = if tag.is_empty() {
            body.replace('$', "")
        } else {
            body
        };
        format!("${tag}${body}${tag}$")
    })
}

fn element() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![4 => literal(), 1 => dollar_body()];
    let expression = leaf.prop_recursive(2, 4, 1, |inner| inner.prop_map(|e| format!("({e})")));
    (expression, prop::option::of(content())).prop_map(|(e, alias)| match alias {
        Some(alias) => format!("{e} AS \"x{}\"", alias.replace('"', "\"\"")),
        None => e,
    })
}

/// Statement `marker`: `SELECT marker AS m, element, ...`, with gaps between tokens.
fn statement(marker: usize) -> impl Strategy<Value = String> {
    prop::collection::vec((gap(), element()), 0..4).prop_map(move |elements| {
        let mut s = format!("SELECT {marker} AS m");
        for (gap, e) in elements {
            s.push(',');
            s.push_str(&gap);
            s.push_str(&e);
        }
        s
    })
}

fn case() -> impl Strategy<Value = (Vec<String>, Vec<String>, bool)> {
    (1..5usize).prop_flat_map(|n| {
        (
            (1..=n).map(statement).collect::<Vec<_>>(),
            prop::collection::vec(gap(), n),
            any::<bool>(),
        )
    })
}

/// The rows of each result set of a simple query, as text.
fn result_sets(c: &mut Client, sql: &str) -> Result<Vec<Vec<Vec<Option<String>>>>, String> {
    let messages = c.simple_query(sql).map_err(|e| {
        e.as_db_error()
            .map_or_else(|| e.to_string(), |d| d.to_string())
    })?;
    let mut sets = Vec::new();
    let mut rows = Vec::new();
    for m in messages {
        match m {
            SimpleQueryMessage::Row(r) => {
                rows.push((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect());
            }
            SimpleQueryMessage::CommandComplete(_) => sets.push(std::mem::take(&mut rows)),
            _ => {}
        }
    }
    Ok(sets)
}

#[test]
fn keel_splits_where_the_server_does() {
    let db = common::fresh_db();
    // The runner takes a `Fn`: the connection is borrowed per case.
    let c = std::cell::RefCell::new(db.connect());
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&case(), |(statements, gaps, last_semicolon)| {
            let mut src = String::new();
            for (i, (s, g)) in statements.iter().zip(&gaps).enumerate() {
                src.push_str(s);
                if i + 1 < statements.len() || last_semicolon {
                    src.push(';');
                    src.push_str(g);
                }
            }
            let server = result_sets(&mut c.borrow_mut(), &src)
                .map_err(|e| TestCaseError::fail(format!("server refused {src:?}: {e}")))?;
            let keel: Vec<&str> = split(&src)
                .map(|s| s.map(|s| &src[s.text]))
                .collect::<Result<_, _>>()
                .map_err(|e| TestCaseError::fail(format!("keel cannot split {src:?}: {e}")))?;
            prop_assert_eq!(
                server.len(),
                statements.len(),
                "server statements in {:?}",
                src
            );
            prop_assert_eq!(&keel, &statements, "keel's statements in {:?}", src);
            for (i, text) in keel.iter().enumerate() {
                let alone = result_sets(&mut c.borrow_mut(), text)
                    .map_err(|e| TestCaseError::fail(format!("{text:?} alone: {e}")))?;
                prop_assert_eq!(alone.len(), 1, "{:?} alone is one statement", text);
                prop_assert_eq!(&alone[0], &server[i], "{:?} alone vs in {:?}", text, src);
            }
            Ok(())
        })
        .unwrap();
}
