//! Unit tests of the splitter and its lexer.

use super::*;
use proptest::prelude::*;

/// The texts of all statements, panicking on an error.
fn texts(src: &str) -> Vec<&str> {
    split(src)
        .map(|r| &src[r.expect("split error").text])
        .collect()
}

/// The error the splitter reports, and the statements before it.
fn split_err(src: &str) -> (Vec<&str>, SplitError) {
    let mut ok = Vec::new();
    for item in split(src) {
        match item {
            Ok(s) => ok.push(&src[s.text]),
            Err(e) => return (ok, e),
        }
    }
    panic!("expected an error for {src:?}, got {ok:?}");
}

fn word_texts(text: &str) -> Vec<&str> {
    words(text).map(|w| w.text).collect()
}

#[test]
fn splits_on_top_level_semicolons() {
    assert_eq!(texts("SELECT 1; SELECT 2;"), ["SELECT 1", "SELECT 2"]);
    let src = "SELECT 1;\n  SELECT 2 ;\n";
    let stmts: Vec<_> = split(src).map(Result::unwrap).collect();
    assert_eq!(
        stmts,
        [
            Statement {
                span: 0..9,
                text: 0..8
            },
            Statement {
                span: 9..22,
                text: 12..20
            },
        ]
    );
}

#[test]
fn semicolon_inside_plain_string() {
    assert_eq!(
        texts("SELECT 'a;b'; SELECT 2"),
        ["SELECT 'a;b'", "SELECT 2"]
    );
    assert_eq!(texts("SELECT 'it''s; ok';"), ["SELECT 'it''s; ok'"]);
    // No backslash escapes in standard strings: the string ends at the second quote.
    assert_eq!(
        texts(r"SELECT 'a\'; SELECT 2;"),
        [r"SELECT 'a\'", "SELECT 2"]
    );
}

#[test]
fn semicolon_inside_quoted_identifier() {
    assert_eq!(
        texts(r#"SELECT "a;""b" FROM t; SELECT 2"#),
        [r#"SELECT "a;""b" FROM t"#, "SELECT 2"]
    );
}

#[test]
fn semicolon_inside_comments() {
    assert_eq!(
        texts("SELECT 1 -- x; y\n; SELECT 2;"),
        ["SELECT 1 -- x; y", "SELECT 2"]
    );
    assert_eq!(
        texts("SELECT /* ; */ 1; SELECT 2;"),
        ["SELECT /* ; */ 1", "SELECT 2"]
    );
}

#[test]
fn block_comments_nest() {
    assert_eq!(
        texts("SELECT /* a /* b; */ still; comment */ 1; SELECT 2;"),
        ["SELECT /* a /* b; */ still; comment */ 1", "SELECT 2"]
    );
    // `/*/` opens only one level, and `**/` closes.
    assert_eq!(texts("SELECT /*/ ; **/ 1;"), ["SELECT /*/ ; **/ 1"]);
    // Outside comments, `*/` is just operator characters.
    assert_eq!(
        texts("SELECT 2 */ 1; SELECT 3"),
        ["SELECT 2 */ 1", "SELECT 3"]
    );
}

#[test]
fn e_string_backslash_escapes() {
    assert_eq!(
        texts(r"SELECT E'it\'s; ok'; SELECT 2;"),
        [r"SELECT E'it\'s; ok'", "SELECT 2"]
    );
    assert_eq!(
        texts(r"SELECT e'a''b;\\'; SELECT 2;"),
        [r"SELECT e'a''b;\\'", "SELECT 2"]
    );
    // A backslash before a multi-byte character.
    assert_eq!(
        texts("SELECT E'\\é;'; SELECT 2;"),
        ["SELECT E'\\é;'", "SELECT 2"]
    );
}

#[test]
fn string_prefix_only_counts_as_a_whole_token() {
    // `somE` is an identifier, so `'x\'` is a standard string ending at its second quote.
    assert_eq!(
        texts(r"SELECT somE'x\'; SELECT 2;"),
        [r"SELECT somE'x\'", "SELECT 2"]
    );
    assert_eq!(texts(r"SELECT (E'x\';');"), [r"SELECT (E'x\';')"]);
    // A number swallows the identifier after it (PostgreSQL's trailing-junk rule), so the
    // `e` here is not a prefix either.
    assert_eq!(
        texts(r"SELECT 1e'\'; SELECT 2;"),
        [r"SELECT 1e'\'", "SELECT 2"]
    );
}

#[test]
fn other_prefixed_strings_end_like_plain_strings() {
    for src in [
        r"SELECT B'1;0\'; SELECT 2;",
        r"SELECT x'0A;\'; SELECT 2;",
        r"SELECT N'a;\'; SELECT 2;",
        r"SELECT U&'d\0061t;\'; SELECT 2;",
    ] {
        let got = texts(src);
        assert_eq!(got.len(), 2, "{src}");
        assert_eq!(got[1], "SELECT 2", "{src}");
    }
    assert_eq!(
        texts(r#"SELECT U&"a;""b"; SELECT 2;"#),
        [r#"SELECT U&"a;""b""#, "SELECT 2"]
    );
}

#[test]
fn dollar_quotes() {
    assert_eq!(
        texts("SELECT $$a; 'b$$; SELECT $body$ x; $$ $Body$ ; $body$; SELECT 3"),
        [
            "SELECT $$a; 'b$$",
            "SELECT $body$ x; $$ $Body$ ; $body$",
            "SELECT 3"
        ]
    );
    // A non-ASCII tag, and `$a$` inside `$ab$...$ab$`.
    assert_eq!(
        texts("SELECT $é$;$é$; SELECT $ab$ $a$; $ab$;"),
        ["SELECT $é$;$é$", "SELECT $ab$ $a$; $ab$"]
    );
    // The body ends at the first exact delimiter, also inside `$x$body$`.
    assert_eq!(
        texts("SELECT $body$ ;$x$body$; SELECT 2"),
        ["SELECT $body$ ;$x$body$", "SELECT 2"]
    );
}

#[test]
fn positional_parameters_are_not_dollar_quotes() {
    assert_eq!(
        texts("SELECT $1; SELECT $2$a$;$a$;"),
        ["SELECT $1", "SELECT $2$a$;$a$"]
    );
    // `$1a$b$` is one token: a parameter followed by the identifier `a$b$` (parameter junk).
    assert_eq!(
        texts("SELECT $1a$b$; SELECT 2"),
        ["SELECT $1a$b$", "SELECT 2"]
    );
}

#[test]
fn dollar_inside_identifier_is_not_a_quote() {
    assert_eq!(
        texts("SELECT a$b$ c; SELECT 2;"),
        ["SELECT a$b$ c", "SELECT 2"]
    );
    // `$a` not followed by `$` is a lone `$` and an identifier.
    assert_eq!(texts("SELECT $a ; SELECT 2"), ["SELECT $a", "SELECT 2"]);
}

#[test]
fn begin_atomic_body_with_case() {
    let src = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END; SELECT 3;";
    assert_eq!(
        texts(src),
        [
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END",
            "SELECT 3"
        ]
    );
    let src =
        "create or replace procedure p() begin atomic insert into t values (1); end;\nSELECT 1;";
    assert_eq!(
        texts(src),
        [
            "create or replace procedure p() begin atomic insert into t values (1); end",
            "SELECT 1"
        ]
    );
}

#[test]
fn begin_outside_routines_is_a_transaction() {
    assert_eq!(
        texts("BEGIN; SELECT 1; COMMIT;"),
        ["BEGIN", "SELECT 1", "COMMIT"]
    );
    // CREATE TABLE is not a routine, and words inside parentheses are not counted.
    assert_eq!(
        texts("CREATE TABLE begin (x int); SELECT 1;"),
        ["CREATE TABLE begin (x int)", "SELECT 1"]
    );
    assert_eq!(
        texts("CREATE FUNCTION f(begin int) RETURNS int AS 'select 1'; SELECT 1;"),
        [
            "CREATE FUNCTION f(begin int) RETURNS int AS 'select 1'",
            "SELECT 1"
        ]
    );
    // psql's counting stops at the fourth identifier: `CREATE OR OR FUNCTION` is no routine.
    assert_eq!(
        texts("CREATE OR OR FUNCTION BEGIN; x;"),
        ["CREATE OR OR FUNCTION BEGIN", "x"]
    );
}

#[test]
fn parentheses_hold_semicolons_and_stray_closers_do_not_underflow() {
    assert_eq!(
        texts("SELECT (1; 2); SELECT 3;"),
        ["SELECT (1; 2)", "SELECT 3"]
    );
    assert_eq!(texts(")); SELECT 1; (x;"), ["))", "SELECT 1", "(x;"]);
}

#[test]
fn last_statement_without_semicolon() {
    let src = "SELECT 1;\nSELECT 2  \n\n";
    let stmts: Vec<_> = split(src).map(Result::unwrap).collect();
    assert_eq!(
        stmts[1],
        Statement {
            span: 9..src.len(),
            text: 10..18
        }
    );
    // A trailing line comment stays in the text when no `;` follows it.
    assert_eq!(texts("SELECT 1 -- done  \n"), ["SELECT 1 -- done"]);
}

#[test]
fn empty_statements_fold_into_the_next_span() {
    let src = ";; /* c */ ; SELECT 1;; ;\n";
    let mut it = split(src);
    let first = it.next().unwrap().unwrap();
    assert_eq!(first.span, 0..src.find("1;").unwrap() + 2);
    assert_eq!(&src[first.text], "SELECT 1");
    assert!(it.next().is_none());
    assert_eq!(&src[it.trailing()], "; ;\n");
    assert!(texts(";;").is_empty());
}

#[test]
fn leading_comments_are_skipped_and_inner_comments_kept() {
    let src = "-- header\n/* doc */ SELECT 1 /* why */ ;";
    assert_eq!(texts(src), ["SELECT 1 /* why */"]);
}

#[test]
fn byte_order_mark_is_whitespace() {
    let src = "\u{feff}SELECT 1;";
    let s = split(src).next().unwrap().unwrap();
    assert_eq!(s.span, 0..src.len());
    assert_eq!(&src[s.text], "SELECT 1");
    assert!(texts("\u{feff}").is_empty());
    // Only at the very start: elsewhere U+FEFF is an identifier character, as in psql.
    assert_eq!(texts("SELECT 1;\u{feff};"), ["SELECT 1", "\u{feff}"]);
}

#[test]
fn crlf_line_endings() {
    let src = "SELECT 1 -- one\r\n;\r\nSELECT 'a\r\n;b';\r\n";
    assert_eq!(texts(src), ["SELECT 1 -- one", "SELECT 'a\r\n;b'"]);
    let mut it = split(src);
    it.by_ref().for_each(drop);
    assert_eq!(&src[it.trailing()], "\r\n");
}

#[test]
fn meta_command_at_line_start() {
    let (before, e) = split_err("SELECT 1;\n  \\i other.sql\nSELECT 2;");
    assert_eq!(before, ["SELECT 1"]);
    assert_eq!(
        e,
        SplitError {
            kind: SplitErrorKind::MetaCommand,
            offset: 12,
            delimiter: String::new()
        }
    );
    assert_eq!(split_err("\\set x 1").1.offset, 0);
    assert_eq!(split_err("\u{feff}\\set x 1").1.offset, 3);
    assert_eq!(split_err("SELECT 1\r\n\\gset").1.offset, 10);
    // In the middle of a statement, too.
    assert_eq!(
        split_err("SELECT\n\\x\n1;").1.kind,
        SplitErrorKind::MetaCommand
    );
}

#[test]
fn backslashes_that_are_not_meta_commands() {
    // Mid-line at top level: passed on (the server will reject it).
    assert_eq!(texts("SELECT 1 \\x;"), ["SELECT 1 \\x"]);
    // At the start of a line inside a string, an E'' string, a dollar body or a comment.
    assert_eq!(texts("SELECT 'a\n\\b';"), ["SELECT 'a\n\\b'"]);
    assert_eq!(texts("SELECT E'a\n\\'b';"), ["SELECT E'a\n\\'b'"]);
    assert_eq!(texts("SELECT $$\n\\d$$;"), ["SELECT $$\n\\d$$"]);
    assert_eq!(texts("SELECT /*\n\\d */ 1;"), ["SELECT /*\n\\d */ 1"]);
    assert_eq!(texts("SELECT \"a\n\\b\";"), ["SELECT \"a\n\\b\""]);
}

#[test]
fn unterminated_string() {
    let (before, e) = split_err("SELECT 1; SELECT 'abc;");
    assert_eq!(before, ["SELECT 1"]);
    assert_eq!(
        e,
        SplitError {
            kind: SplitErrorKind::UnterminatedString,
            offset: 17,
            delimiter: String::new()
        }
    );
    for (src, offset) in [
        ("SELECT E'abc\\';", 7),
        ("SELECT E'abc\\", 7),
        ("SELECT 'it''", 7),
        ("SELECT U&'x", 7),
        ("SELECT b'01", 7),
        ("SELECT X'", 7),
        ("SELECT n'", 7),
    ] {
        assert_eq!(
            split_err(src).1.kind,
            SplitErrorKind::UnterminatedString,
            "{src}"
        );
        assert_eq!(split_err(src).1.offset, offset, "{src}");
    }
}

#[test]
fn unterminated_quoted_identifier() {
    let e = split_err(r#"SELECT "a"";"#).1;
    assert_eq!(
        (e.kind, e.offset),
        (SplitErrorKind::UnterminatedQuotedIdentifier, 7)
    );
    let e = split_err(r#"SELECT 1; SELECT u&"a"#).1;
    assert_eq!(
        (e.kind, e.offset),
        (SplitErrorKind::UnterminatedQuotedIdentifier, 17)
    );
}

#[test]
fn unterminated_dollar_quote() {
    let e = split_err("SELECT 1;\nCREATE FUNCTION f() AS $body$ SELECT 1; $Body$;").1;
    assert_eq!(
        e,
        SplitError {
            kind: SplitErrorKind::UnterminatedDollarQuote,
            offset: 33,
            delimiter: "$body$".into()
        }
    );
    let e = split_err("SELECT $$ a").1;
    assert_eq!((e.offset, e.delimiter.as_str()), (7, "$$"));
}

#[test]
fn unterminated_comment() {
    let e = split_err("SELECT 1 /* a /* b */ c; d;").1;
    assert_eq!(e.kind, SplitErrorKind::UnterminatedComment);
    assert_eq!(e.offset, 9);
    let e = split_err("/*").1;
    assert_eq!((e.kind, e.offset), (SplitErrorKind::UnterminatedComment, 0));
}

#[test]
fn iteration_stops_after_an_error() {
    let mut it = split("SELECT 1; 'x");
    assert!(it.next().unwrap().is_ok());
    assert!(it.next().unwrap().is_err());
    assert!(it.next().is_none());
    assert_eq!(it.trailing(), 9..12);
}

#[test]
fn psql_variables_lex_as_the_server_lexes_them() {
    // The server has no variables: `:'v'` is `:` and a literal, `:x` is `:` and a word.
    assert_eq!(
        texts("SELECT :'v', :\"w\", :x, :{?y}, 1::int; SELECT 2"),
        ["SELECT :'v', :\"w\", :x, :{?y}, 1::int", "SELECT 2"]
    );
    // So `:E'...'` is an escape string: psql would read `:E` and a standard string whose
    // doubled quote hides the `;`, the server ends the statement there.
    assert_eq!(
        texts("SELECT :E'\\'' ; COMMIT; --'"),
        ["SELECT :E'\\''", "COMMIT"]
    );
    assert_eq!(word_texts("SELECT :a, :begin"), ["SELECT", "a", "begin"]);
    assert_eq!(
        word_texts("SELECT 1e5x, 1.5e+3y, 1..2, .5z, 1e+ b"),
        ["SELECT", "b"]
    );
}

#[test]
fn token_extents_decide_what_counts_as_an_identifier() {
    // Checked against psql 15.18: a token that swallows the next word (or is no identifier)
    // keeps FUNCTION the second identifier, so the BEGIN ... END body holds together.
    for src in [
        "CREATE 1x FUNCTION f() BEGIN a; END;",
        "CREATE $1x FUNCTION f() BEGIN a; END;",
        "CREATE 1e+ FUNCTION f() BEGIN a; END;",
        "CREATE 1.5e+3x FUNCTION f() BEGIN a; END;",
        "CREATE :'x' FUNCTION f() BEGIN a; END;",
        "CREATE U&FUNCTION f() BEGIN a; END;",
        "CREATE N'x' FUNCTION f() BEGIN a; END;",
    ] {
        assert_eq!(texts(src).len(), 1, "{src}");
    }
    // Here a real identifier comes between, so psql splits at the first `;`.
    for src in [
        "CREATE $x FUNCTION f() BEGIN a; END;",
        "CREATE é FUNCTION f() BEGIN a; END;",
        "CREATE 1..x FUNCTION f() BEGIN a; END;",
        "CREATE :x FUNCTION f() BEGIN a; END;",
    ] {
        assert_eq!(texts(src).len(), 2, "{src}");
    }
}

#[test]
fn string_continuation_follows_the_server() {
    // scan.l's {quotecontinue}: the second part of an `E'...'` literal keeps its escapes.
    assert_eq!(
        texts("SELECT E'x'\n'\\' '; CREATE TABLE t2(); COMMIT; --'\n;\n"),
        ["SELECT E'x'\n'\\' '", "CREATE TABLE t2()", "COMMIT"]
    );
    assert_eq!(
        texts("SELECT E'a'\n'\\';'; SELECT 2;"),
        ["SELECT E'a'\n'\\';'", "SELECT 2"]
    );
    // Comments and blank lines may come between, a `\r` counts as a newline.
    for sep in [
        "\n\n",
        " -- c\n",
        "\n-- c\n  ",
        "\r",
        " \t\x0b\x0c\r\n -- x\r\x0b",
    ] {
        let src = format!("SELECT E'a'{sep}'\\';'; SELECT 2;");
        let stmt = format!("SELECT E'a'{sep}'\\';'");
        assert_eq!(texts(&src), [stmt.as_str(), "SELECT 2"], "{sep:?}");
    }
    // Without a newline, or with a comment that takes the quote, the literals stay apart.
    for sep in [" ", "\t", "/* */\n", "\n/* */"] {
        let src = format!("SELECT E'a'{sep}'\\'; SELECT 2;");
        let first = format!("SELECT E'a'{sep}'\\'");
        assert_eq!(texts(&src)[0], first, "{sep:?}");
    }
    // Every literal kind continues, and a plain one stays plain.
    assert_eq!(
        texts("SELECT 'a'\n'\\'; SELECT B'1'\n'0'; SELECT U&'x'\n'\\' UESCAPE '!';"),
        [
            "SELECT 'a'\n'\\'",
            "SELECT B'1'\n'0'",
            "SELECT U&'x'\n'\\' UESCAPE '!'"
        ]
    );
}

#[test]
fn statements_ending_in_a_line_comment() {
    for text in [
        "SELECT 1 -- c",
        "SELECT 1 /* a */ -- c;",
        "SELECT 1\n-- a\n-- b",
        "SELECT 1 --",
    ] {
        assert!(ends_in_line_comment(text), "{text:?}");
    }
    for text in [
        "SELECT 1",
        "SELECT '--'",
        "SELECT 1 -- c\n",
        "SELECT 1 -- c\n/* d */",
        "SELECT $$ -- $$",
        "SELECT \"--\"",
    ] {
        assert!(!ends_in_line_comment(text), "{text:?}");
    }
}

#[test]
fn words_skip_literals_comments_and_bodies() {
    let text = "CREATE /* INDEX */ INDEX -- CONCURRENTLY\n \"CONCURRENTLY\" ON t USING \
                    btree (lower(a), 'x y', E'\\'z', $$ w $$, $f$ v $f$) WHERE U&\"q\" > 1";
    assert_eq!(
        word_texts(text),
        ["CREATE", "INDEX", "ON", "t", "USING", "btree", "lower", "a", "WHERE"]
    );
    let w: Vec<_> = words("a (b (c) d) e")
        .map(|w| (w.text, w.paren_depth, w.range))
        .collect();
    assert_eq!(
        w,
        [
            ("a", 0, 0..1),
            ("b", 1, 3..4),
            ("c", 2, 6..7),
            ("d", 1, 9..10),
            ("e", 0, 12..13)
        ]
    );
    assert_eq!(word_texts(") x ("), ["x"]);
    assert_eq!(words(") x").next().unwrap().paren_depth, 0);
    // Unterminated constructs end the words quietly.
    assert_eq!(word_texts("a 'b c"), ["a"]);
    assert_eq!(word_texts("é$x _y"), ["é$x", "_y"]);
}

#[test]
fn realistic_migration_file() {
    let src = r#"-- Migration 0042: accounts
/* Multi-line header
   /* with a nested comment; */
*/
BEGIN;

CREATE TABLE "Account; Data" (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL DEFAULT 'unnamed; really',
    note text DEFAULT E'it\'s; escaped\\',
    flags bit(4) DEFAULT B'0101',
    raw bytea DEFAULT '\x00'::bytea
);

COMMENT ON TABLE "Account; Data" IS 'Holds accounts; one per customer';

CREATE OR REPLACE FUNCTION touch() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    NEW.updated_at := now(); -- semicolons; everywhere
    RETURN NEW;
END;
$fn$;

CREATE FUNCTION add_one(i int) RETURNS int
LANGUAGE sql
BEGIN ATOMIC
    SELECT CASE WHEN i IS NULL THEN 0 ELSE i + 1 END;
    SELECT $1 + 1;
END;

CREATE PROCEDURE p() LANGUAGE sql AS $$ INSERT INTO t VALUES (1); $$;
;;
INSERT INTO "Account; Data" (name, note) VALUES
    ('a;b', U&'d\0061t\+000061'), ('c', N'naïve; ok');
SELECT a$b$ FROM (SELECT 1 AS a$b$) s; -- trailing comment
COMMIT;
-- end of file
"#;
    assert_eq!(
        texts(src),
        [
            "BEGIN",
            "CREATE TABLE \"Account; Data\" (\n    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    name text NOT NULL DEFAULT 'unnamed; really',\n    note text DEFAULT E'it\\'s; escaped\\\\',\n    flags bit(4) DEFAULT B'0101',\n    raw bytea DEFAULT '\\x00'::bytea\n)",
            "COMMENT ON TABLE \"Account; Data\" IS 'Holds accounts; one per customer'",
            "CREATE OR REPLACE FUNCTION touch() RETURNS trigger\nLANGUAGE plpgsql AS $fn$\nBEGIN\n    NEW.updated_at := now(); -- semicolons; everywhere\n    RETURN NEW;\nEND;\n$fn$",
            "CREATE FUNCTION add_one(i int) RETURNS int\nLANGUAGE sql\nBEGIN ATOMIC\n    SELECT CASE WHEN i IS NULL THEN 0 ELSE i + 1 END;\n    SELECT $1 + 1;\nEND",
            "CREATE PROCEDURE p() LANGUAGE sql AS $$ INSERT INTO t VALUES (1); $$",
            "INSERT INTO \"Account; Data\" (name, note) VALUES\n    ('a;b', U&'d\\0061t\\+000061'), ('c', N'naïve; ok')",
            "SELECT a$b$ FROM (SELECT 1 AS a$b$) s",
            "COMMIT",
        ]
    );
    let mut it = split(src);
    it.by_ref().for_each(drop);
    assert_eq!(&src[it.trailing()], "\n-- end of file\n");
}

/// Checks the structural promises of the splitter on any input.
fn check_invariants(src: &str) {
    let mut it = split(src);
    let mut expected_start = 0;
    let mut failed = false;
    for item in it.by_ref() {
        match item {
            Ok(s) => {
                assert_eq!(s.span.start, expected_start);
                assert!(s.span.start <= s.text.start && s.text.start < s.text.end);
                assert!(s.text.end <= s.span.end && s.span.end <= src.len());
                let text = src.get(s.text.clone()).expect("text on char boundaries");
                assert!(src.get(s.span.clone()).is_some(), "span on char boundaries");
                assert!(!text.starts_with(|c: char| c.is_ascii_whitespace()));
                assert!(!text.ends_with(|c: char| c.is_ascii_whitespace()));
                for w in words(text) {
                    assert_eq!(&text[w.range.clone()], w.text);
                }
                expected_start = s.span.end;
            }
            Err(e) => {
                assert!(e.offset < src.len() && src.is_char_boundary(e.offset));
                failed = true;
            }
        }
    }
    assert!(it.next().is_none());
    assert_eq!(it.trailing(), expected_start..src.len());
    if !failed {
        let mut rebuilt = String::with_capacity(src.len());
        for s in split(src) {
            rebuilt.push_str(&src[s.unwrap().span]);
        }
        rebuilt.push_str(&src[it.trailing()]);
        assert_eq!(rebuilt, src);
    }
}

const FRAGMENTS: &[&str] = &[
    "'",
    "''",
    "E'",
    "e'",
    "\\",
    "\\\\",
    "\"",
    "$$",
    "$a$",
    "$1",
    "$",
    "--",
    "/*",
    "*/",
    ";",
    "(",
    ")",
    "BEGIN",
    "END",
    "CASE",
    "CREATE FUNCTION",
    "CREATE OR REPLACE PROCEDURE",
    "\n",
    "\r",
    "\r\n",
    " ",
    "é",
    "a",
    "b",
    "x",
    "1",
    "U&",
    "B'",
    ":",
    "::",
    ":'",
    "-",
    "/",
    "*",
    ".",
    "e",
    "SELECT",
    "ATOMIC",
    "\u{feff}",
];

fn tricky_sql() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..48).prop_map(|parts| parts.concat())
}

/// A statement without a top-level `;`, built from parts that each lex as one unit.
fn simple_statement() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        "[a-d][a-d0-9_]{0,6}",
        "[0-9]{1,4}",
        "'[a-z ;]{0,6}'",
        "\"[a-z ;]{0,6}\"",
        "\\$\\$[a-z ;]{0,6}\\$\\$",
        "\\([a-d ;,]{0,6}\\)",
        "/\\* [a-z;]{0,6} \\*/",
        "[=<>+*,]",
    ];
    prop::collection::vec(part, 1..6)
        .prop_map(|parts| parts.join(" "))
        .prop_filter("starts with a comment", |s| !s.starts_with("/*"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_arbitrary_strings(src in any::<String>()) {
        check_invariants(&src);
    }

    #[test]
    fn never_panics_on_tricky_fragments(src in tricky_sql()) {
        check_invariants(&src);
    }

    #[test]
    fn joined_simple_statements_split_back(
        stmts in prop::collection::vec(simple_statement(), 1..8),
        sep in "[ \n]{0,2};[ \n\t]{0,2}",
        last_semicolon in any::<bool>(),
    ) {
        let mut src = stmts.join(&sep);
        if last_semicolon {
            src.push(';');
        }
        prop_assert_eq!(texts(&src), stmts.iter().map(String::as_str).collect::<Vec<_>>());
    }
}

/// `rows` rows of an INSERT whose strings contain `;`, quotes and escapes.
fn bulk_insert(target_len: usize) -> (String, usize) {
    let mut src = String::with_capacity(target_len + 4096);
    let mut statements = 0;
    let mut row = 0u64;
    while src.len() < target_len {
        src.push_str("INSERT INTO events (id, kind, payload, note) VALUES\n");
        for i in 0..200 {
            if i > 0 {
                src.push_str(",\n");
            }
            row += 1;
            src.push_str("    (");
            src.push_str(&row.to_string());
            src.push_str(", 'kind;");
            src.push_str(["a", "b'' c", "d -- e", "f /* g"][(row % 4) as usize]);
            src.push_str("', E'{\"k\": \"v;\\'x\\'\"}', $$note; ");
            src.push_str("with $dollar and 'quotes'$$)");
        }
        src.push_str(";\n-- batch done; really\n");
        statements += 1;
    }
    (src, statements)
}

#[test]
fn splits_a_five_megabyte_file() {
    let (src, statements) = bulk_insert(5 << 20);
    let mut count = 0;
    for s in split(&src) {
        let s = s.unwrap();
        assert!(src[s.text].starts_with("INSERT INTO events"));
        count += 1;
    }
    assert_eq!(count, statements);
}

/// Splits 200 MB, checks the statement count and prints the throughput; run with
/// `cargo test --release -- --ignored --nocapture`. Large files are the bench's (W4 "one 100 MB
/// file"); `make test` splits 5 MB above.
#[test]
#[ignore = "benchmark; run in release mode"]
#[allow(clippy::disallowed_macros)]
fn throughput() {
    let (src, statements) = bulk_insert(200 << 20);
    let start = std::time::Instant::now();
    let count = split(&src).map(Result::unwrap).count();
    let elapsed = start.elapsed();
    assert_eq!(count, statements);
    let mb = src.len() as f64 / 1e6;
    eprintln!(
        "split {mb:.0} MB in {elapsed:?}: {:.0} MB/s",
        mb / elapsed.as_secs_f64()
    );
}
