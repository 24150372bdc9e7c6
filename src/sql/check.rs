//! Validation of one file before any database is touched: its header and
//! checksum, its statements split exactly and parsed with sqlparser's
//! PostgreSQL dialect, and the statement rules.
//!
//! sqlparser does not know all of PostgreSQL, so a statement it rejects is
//! either a real syntax error or valid PostgreSQL it lacks. Offline that is a
//! warning (`unvalidated`); with a database, `Session::server_validate`
//! (through `db::server_parse`) asks PostgreSQL's own parser and turns the
//! answer into a pass or an error.

use super::ddl;
use super::parse::{self, ParseError};
use super::rules::{self, Class};
use super::split::{self, SplitErrorKind};
use crate::diagnostic::{codes, Diagnostic, Position, Source};
use crate::header::{Entry, HeaderErrorKind, TransactionMode};
use crate::project::{FileKind, SqlText};
use std::ops::Range;

/// How strict a check is.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Statements sqlparser cannot validate are errors, not warnings.
    pub strict: bool,
    /// Keep what the up files' DDL statements do
    /// ([`CheckedStatement::changes`]), for the safety lint.
    pub ddl: bool,
}

/// What sqlparser made of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parse {
    Valid,
    /// sqlparser rejected it; `offset` is the file byte offset it pointed at.
    Rejected {
        message: String,
        offset: usize,
    },
    /// Nested deeper than keel reads ([`parse::MAX_DEPTH`]); `offset` is
    /// where the limit was crossed. An error, online too: see
    /// [`too_deep_diagnostic`].
    TooDeep {
        offset: usize,
    },
}

/// One statement of a file, validated.
#[derive(Debug, Clone)]
pub struct CheckedStatement {
    /// File byte range of the statement text (no leading comments, no `;`).
    pub text: Range<usize>,
    pub class: Class,
    pub parse: Parse,
    /// The index in [`CheckedFile::diagnostics`] of the statement's
    /// `unvalidated` warning, for the server's verdict to replace.
    pub unvalidated: Option<usize>,
    /// What it does to tables, read from sqlparser's tree: for up files
    /// when [`Options::ddl`] asks, else empty.
    pub changes: Vec<ddl::Change>,
}

/// The result of checking one file.
#[derive(Debug, Clone, Default)]
pub struct CheckedFile {
    pub statements: Vec<CheckedStatement>,
    pub diagnostics: Vec<Diagnostic>,
}

impl CheckedFile {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Checks one file: header, checksum, statements, rules.
pub fn check_file(file: &SqlText, options: Options) -> CheckedFile {
    let split = split::split(&file.text).collect::<Result<Vec<_>, _>>();
    let mut out = CheckedFile::default();
    // Every diagnostic of the file is placed through one line index.
    let source = Source::new(&file.path, &file.text);
    header_diagnostics(file, &mut out.diagnostics);
    if let Some(d) = nul_byte(&source) {
        out.diagnostics.push(d);
    }
    // A policy test always runs inside the transaction keel rolls back.
    let policy_test = file.kind == FileKind::PolicyTest;
    let transactional = policy_test || file.header.transaction() == TransactionMode::On;
    let stmts = match split {
        Ok(stmts) => stmts,
        Err(e) => {
            out.diagnostics.push(split_error(&source, &e));
            // The rest of the file cannot be split reliably.
            return out;
        }
    };
    let ddl = options.ddl && file.kind == FileKind::Up;
    // Statements are independent: a large file is parsed on all cores.
    let analyses = crate::parallel::map(&stmts, 256, |stmt| {
        let text = &file.text[stmt.text.clone()];
        let (parse, changes) = parse_statement(&file.text, stmt.text.clone(), ddl);
        (rules::classify(text), parse, changes)
    });
    for (stmt, (class, parse, changes)) in stmts.into_iter().zip(analyses) {
        let text = &file.text[stmt.text.clone()];
        match (&class, transactional) {
            (Class::TransactionControl(what), true) if policy_test => out.diagnostics.push(
                Diagnostic::error(
                    codes::TRANSACTION_CONTROL,
                    format!("explicit {what} in a policy test"),
                )
                .at(&file.path, &file.text, stmt.text.clone())
                .with_hint("remove it: each test runs in one transaction that keel always rolls back; to undo part of a test, use `SAVEPOINT s` and `ROLLBACK TO SAVEPOINT s`"),
            ),
            (Class::NonTransactional(what), true) if policy_test => out.diagnostics.push(
                Diagnostic::error(
                    codes::NEEDS_TRANSACTION_OFF,
                    format!("{what} cannot run inside a transaction block"),
                )
                .at(&file.path, &file.text, stmt.text.clone())
                .with_hint("remove it: a policy test runs inside a transaction that is rolled back; it belongs in a `-- keel:transaction off` migration"),
            ),
            (Class::TransactionControl(what), true) => out.diagnostics.push(
                Diagnostic::error(
                    codes::TRANSACTION_CONTROL,
                    format!("explicit {what} in a transactional migration"),
                )
                .located(&source, stmt.text.clone())
                .with_hint("remove it: keel owns the transaction (by default a whole run is one transaction); add `-- keel:transaction off` to manage transactions yourself"),
            ),
            (Class::NonTransactional(what), true) => out.diagnostics.push(
                Diagnostic::error(
                    codes::NEEDS_TRANSACTION_OFF,
                    format!("{what} cannot run inside a transaction block"),
                )
                .located(&source, stmt.text.clone())
                .with_hint("add `-- keel:transaction off` to this file's header; keel then runs its statements one by one, outside a transaction"),
            ),
            _ => {}
        }
        // keel reads COMMENT ON POLICY in policy files itself (sqlparser
        // lacks it); PostgreSQL checks it when the policy stage runs.
        let own_syntax = file.kind == FileKind::Policy && is_comment_on_policy(text);
        let mut unvalidated = None;
        if let (Parse::Rejected { message, offset }, false) = (&parse, own_syntax) {
            unvalidated = Some(out.diagnostics.len());
            out.diagnostics.push(rejected_diagnostic(
                &source,
                stmt.text.clone(),
                message,
                *offset,
                options,
            ));
        }
        if let Parse::TooDeep { offset } = parse {
            out.diagnostics
                .push(too_deep_diagnostic(&source, offset, stmt.text.end));
        }
        out.statements.push(CheckedStatement {
            text: stmt.text,
            class,
            parse,
            unvalidated,
            changes,
        });
    }

    stray_header_lines(file, &source, &out.statements, &mut out.diagnostics);
    match file.kind {
        FileKind::Up if out.statements.is_empty() => out.diagnostics.push(
            Diagnostic::error(codes::EMPTY_UP, "the up file has no statements")
                .with_path(&file.path)
                .with_hint("write the migration's SQL below the header, or delete the pair"),
        ),
        FileKind::Down if file.header.irreversible() && !out.statements.is_empty() => {
            out.diagnostics.push(
                Diagnostic::error(
                    codes::IRREVERSIBLE_NOT_EMPTY,
                    "a down file marked `-- keel:irreversible` must have an empty body",
                )
                .located(&source, out.statements[0].text.clone())
                .with_hint("remove the statements, or remove `-- keel:irreversible` if this does undo the migration"),
            )
        }
        FileKind::Down if !file.header.irreversible() && out.statements.is_empty() => out
            .diagnostics
            .push(
                Diagnostic::warning(codes::EMPTY_DOWN, "the down file is empty: downgrading through it does nothing")
                    .with_path(&file.path)
                    .with_hint("write the SQL that undoes the up file, or mark it `-- keel:irreversible`"),
            ),
        _ => {}
    }
    out
}

/// `-- keel:` lines below the header, between statements: the header ends at the first line
/// that is not one, so such a line is a comment that looks like a setting. A
/// `-- keel:irreversible` or `-- keel:transaction off` after a blank line would be silently
/// ignored; it is a warning instead (`-- keel:allow`, which belongs above a statement, is not
/// one). Not an error: a file imported from another tool may carry such a comment.
fn stray_header_lines(
    file: &SqlText,
    source: &Source,
    statements: &[CheckedStatement],
    out: &mut Vec<Diagnostic>,
) {
    let text = &file.text;
    let mut start = file.header.body_start.min(text.len());
    let ends = statements
        .iter()
        .map(|s| (s.text.start, s.text.end))
        .chain(std::iter::once((text.len(), text.len())));
    for (gap_end, next_start) in ends {
        let gap = &text[start.min(gap_end)..gap_end];
        if gap.contains(crate::header::PREFIX) {
            for line in crate::header::lines(gap) {
                let lead = line.len() - line.trim_start_matches([' ', '\t', ';']).len();
                let content = line[lead..].trim_end();
                let Some(rest) = content.strip_prefix(crate::header::PREFIX) else {
                    continue;
                };
                if rest.split_whitespace().next() == Some("allow") {
                    continue;
                }
                let at =
                    start.min(gap_end) + (line.as_ptr() as usize - gap.as_ptr() as usize) + lead;
                out.push(
                    Diagnostic::warning(
                        codes::STRAY_HEADER_LINE,
                        "a `-- keel:` line below the header is only a comment: the header ends at the first line that is not `-- keel:`",
                    )
                    .located(source, at..at + content.len())
                    .with_hint("move it up into the header (no blank line or SQL before it), or remove it"),
                );
            }
        }
        start = next_start;
    }
}

fn is_comment_on_policy(sql: &str) -> bool {
    let w: Vec<_> = split::words(sql)
        .take(3)
        .map(|w| w.text.to_ascii_uppercase())
        .collect();
    w == ["COMMENT", "ON", "POLICY"]
}

/// Parses the statement at `range` of `text` with sqlparser, with what it
/// does to tables when `ddl` asks (read from the tree before it is dropped:
/// nothing is parsed twice).
fn parse_statement(text: &str, range: Range<usize>, ddl: bool) -> (Parse, Vec<ddl::Change>) {
    let sql = &text[range.clone()];
    let read = |tree: &[sqlparser::ast::Statement]| {
        if !ddl {
            return Vec::new();
        }
        let mut changes: Vec<ddl::Change> = tree.iter().flat_map(ddl::changes).collect();
        // Kept until the whole project is linted: no spare capacity.
        changes.shrink_to_fit();
        changes
    };
    let parse = match parse::statements_with(sql, read) {
        Ok(changes) => return (Parse::Valid, changes),
        Err(ParseError::TooDeep { line, column }) => Parse::TooDeep {
            offset: Position::offset_of(text, range.start, line, column)
                .clamp(range.start, range.end),
        },
        Err(ParseError::Syntax(raw)) => {
            let (message, offset) = match locate(&raw) {
                Some((msg, line, col)) => (msg, Position::offset_of(text, range.start, line, col)),
                None => (raw, range.start),
            };
            Parse::Rejected {
                message,
                offset: offset.clamp(range.start, range.end),
            }
        }
    };
    (parse, Vec::new())
}

/// Splits sqlparser's `"<message> at Line: L, Column: C"`.
fn locate(message: &str) -> Option<(String, u64, u64)> {
    let at = message.rfind(" at Line: ")?;
    let (msg, pos) = message.split_at(at);
    let pos = pos.strip_prefix(" at Line: ")?;
    let (line, col) = pos.split_once(", Column: ")?;
    Some((
        msg.to_string(),
        line.trim().parse().ok()?,
        col.trim().parse().ok()?,
    ))
}

/// The first words PostgreSQL statements can begin with. A statement whose
/// first word is not one of these is certainly a syntax error, whatever
/// sqlparser knows.
const COMMANDS: &[&str] = &[
    "ABORT",
    "ALTER",
    "ANALYZE",
    "ANALYSE",
    "BEGIN",
    "CALL",
    "CHECKPOINT",
    "CLOSE",
    "CLUSTER",
    "COMMENT",
    "COMMIT",
    "COPY",
    "CREATE",
    "DEALLOCATE",
    "DECLARE",
    "DELETE",
    "DISCARD",
    "DO",
    "DROP",
    "END",
    "EXECUTE",
    "EXPLAIN",
    "FETCH",
    "GRANT",
    "IMPORT",
    "INSERT",
    "LISTEN",
    "LOAD",
    "LOCK",
    "MERGE",
    "MOVE",
    "NOTIFY",
    "PREPARE",
    "REASSIGN",
    "REFRESH",
    "REINDEX",
    "RELEASE",
    "RESET",
    "REVOKE",
    "ROLLBACK",
    "SAVEPOINT",
    "SECURITY",
    "SELECT",
    "SET",
    "SHOW",
    "START",
    "TABLE",
    "TRUNCATE",
    "UNLISTEN",
    "UPDATE",
    "VACUUM",
    "VALUES",
    "WITH",
];

fn rejected_diagnostic(
    source: &Source,
    stmt: Range<usize>,
    message: &str,
    offset: usize,
    options: Options,
) -> Diagnostic {
    let text = source.text;
    let sql = &text[stmt.clone()];
    if let Some(first) = split::words(sql).next() {
        let starts_with_word = sql[..first.range.start].trim().is_empty();
        if starts_with_word && !COMMANDS.iter().any(|c| c.eq_ignore_ascii_case(first.text)) {
            let span = stmt.start + first.range.start..stmt.start + first.range.end;
            return Diagnostic::error(
                codes::SYNTAX_ERROR,
                format!(
                    "syntax error at or near `{}`: not a PostgreSQL command",
                    first.text
                ),
            )
            .located(source, span)
            .with_hint("check the spelling of the statement's first word");
        }
    }
    let end = offset
        + text[offset..stmt.end]
            .find(char::is_whitespace)
            .unwrap_or(stmt.end - offset);
    let construct: Vec<String> = split::words(sql)
        .filter(|w| w.paren_depth == 0)
        .take(2)
        .map(|w| w.text.to_ascii_uppercase())
        .collect();
    let construct = match construct.first().map(String::as_str) {
        Some("CREATE" | "ALTER" | "DROP" | "COMMENT") => {
            format!("this {} statement", construct.join(" "))
        }
        Some(first) => format!("this {first} statement"),
        None => "this statement".to_string(),
    };
    let message =
        format!("not validated offline: sqlparser does not understand {construct} ({message})");
    let d = if options.strict {
        Diagnostic::error(codes::UNVALIDATED, message)
            .with_hint("fix the statement, or drop `--strict` if it is valid PostgreSQL that sqlparser does not know yet")
    } else {
        Diagnostic::warning(codes::UNVALIDATED, message)
            .with_hint("if this is valid PostgreSQL, `keel check` with a database checks it with the server's own parser")
    };
    d.located(source, offset..end.max(offset))
}

/// The first NUL byte of a file, as an error. PostgreSQL cannot carry a NUL in a query string
/// (the protocol's strings end at it) nor store it in text, so such a file could only fail
/// half-way through a run; it is refused before anything runs.
fn nul_byte(source: &Source) -> Option<Diagnostic> {
    let at = memchr::memchr(0, source.text.as_bytes())?;
    Some(
        Diagnostic::error(
            codes::NUL_BYTE,
            "this file contains a NUL byte, which PostgreSQL cannot carry in a statement",
        )
        .located(source, at..at + 1)
        .with_hint("remove the byte; write binary data as a bytea literal such as '\\x00'"),
    )
}

/// A statement nested deeper than keel reads is an error, offline and
/// online alike, and is not handed to the server's parser as other
/// statements sqlparser rejects are. keel would run a statement it could
/// not check (no statement rule, no lint), and the server's raw parser,
/// which PL/pgSQL runs, accepts such chains that PostgreSQL's analysis then
/// refuses when the migration runs ("stack depth limit exceeded"); an error
/// here, at the statement, is the earlier and clearer of the two.
fn too_deep_diagnostic(source: &Source, offset: usize, stmt_end: usize) -> Diagnostic {
    let end = source.text[offset..stmt_end]
        .chars()
        .next()
        .map_or(offset, |c| offset + c.len_utf8());
    Diagnostic::error(
        codes::TOO_DEEP,
        format!(
            "statement nested too deeply: more than {} levels of operators, parentheses or calls (or {} of subqueries, CASE or prefix operators)",
            parse::MAX_DEPTH,
            parse::MAX_RECURSION
        ),
    )
    .located(source, offset..end)
    .with_hint("split the expression: compute parts in separate statements, a CTE or a function, or use IN (...) or ANY(ARRAY[...]) instead of a long chain of OR")
}

fn split_error(source: &Source, e: &split::SplitError) -> Diagnostic {
    let (code, message, hint, len) = match e.kind {
        SplitErrorKind::UnterminatedString => (
            codes::UNTERMINATED_STRING,
            "unterminated string literal".to_string(),
            "close the string with `'` (write `''` for a quote inside it)".to_string(),
            1,
        ),
        SplitErrorKind::UnterminatedQuotedIdentifier => (
            codes::UNTERMINATED_IDENTIFIER,
            "unterminated quoted identifier".to_string(),
            "close the identifier with `\"`".to_string(),
            1,
        ),
        SplitErrorKind::UnterminatedDollarQuote => (
            codes::UNTERMINATED_DOLLAR_QUOTE,
            format!("unterminated dollar-quoted string `{}`", e.delimiter),
            format!("close the body with `{}`", e.delimiter),
            e.delimiter.len(),
        ),
        SplitErrorKind::UnterminatedComment => (
            codes::UNTERMINATED_COMMENT,
            "unterminated `/*` comment".to_string(),
            "close the comment with `*/` (comments nest in PostgreSQL)".to_string(),
            2,
        ),
        SplitErrorKind::MetaCommand => (
            codes::PSQL_META_COMMAND,
            "psql meta-command in a migration".to_string(),
            "keel runs SQL, not psql scripts: remove the `\\` command or write it as SQL"
                .to_string(),
            1,
        ),
    };
    let end = (e.offset + len).min(source.text.len());
    Diagnostic::error(code, message)
        .located(source, e.offset..end)
        .with_hint(hint)
}

/// Header and checksum problems of one file (cheap: no statement parsing).
pub fn header_diagnostics(file: &SqlText, out: &mut Vec<Diagnostic>) {
    let errors = &file.header_errors;
    let needs_checksum = matches!(file.kind, FileKind::Up | FileKind::Down);
    for e in errors {
        let code = match e.kind {
            HeaderErrorKind::UnknownKey { .. } => codes::UNKNOWN_HEADER_KEY,
            HeaderErrorKind::BadValue { .. } => codes::BAD_HEADER_VALUE,
            HeaderErrorKind::BadAllow(_) => codes::BAD_ALLOW,
            HeaderErrorKind::Duplicate { .. } => codes::DUPLICATE_HEADER_KEY,
            HeaderErrorKind::MissingChecksum => codes::MISSING_CHECKSUM,
        };
        out.push(
            Diagnostic::error(code, e.kind.to_string())
                .at(&file.path, &file.text, e.range.clone())
                .with_hint(e.hint()),
        );
    }
    for line in &file.header.lines {
        let allowed = match (&line.entry, file.kind) {
            (Entry::Irreversible, kind) => kind == FileKind::Down,
            (Entry::Requires(_), kind) => kind == FileKind::Policy,
            (Entry::Transaction(_), kind) => matches!(kind, FileKind::Up | FileKind::Down),
            // Only up files are linted for safety: downs do not run forward.
            (Entry::Allow(_), kind) => kind == FileKind::Up,
            _ => true,
        };
        if !allowed {
            out.push(
                Diagnostic::error(codes::MISPLACED_HEADER_KEY, "this header key does not belong in this kind of file")
                    .at(&file.path, &file.text, line.range.clone())
                    .with_hint("`irreversible` is for down files, `requires` for policy files, `transaction` for migrations, `allow` for up files"),
            );
        }
    }
    let checksum_line_is_bad = errors.iter().any(|e| {
        matches!(
            &e.kind,
            HeaderErrorKind::BadValue {
                key: "checksum",
                ..
            }
        )
    });
    match file.header.line_of("checksum") {
        Some(line) => {
            let declared = file.header.checksum();
            let actual = file.facts.checksum;
            if declared != Some(actual) {
                let declared = declared.map_or_else(|| "?".to_string(), |c| c.to_string());
                out.push(
                    Diagnostic::error(
                        codes::CHECKSUM_MISMATCH,
                        format!("checksum mismatch: the header says {declared}, the body is {actual}"),
                    )
                    .at(&file.path, &file.text, line.range.clone())
                    .with_hint("the file was edited without sealing; if the edit is intended, run `keel seal` (an applied version needs `keel repair`)"),
                );
            }
        }
        None if needs_checksum && !checksum_line_is_bad => out.push(
            Diagnostic::error(codes::MISSING_CHECKSUM, "missing `-- keel:checksum` header")
                .at(&file.path, &file.text, 0..0)
                .with_hint("run `keel seal` to add it"),
        ),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header;
    use std::path::PathBuf;

    fn file(kind: FileKind, body: &str, extra: &[&str]) -> SqlText {
        let text = format!(
            "{}{body}",
            header::render(crate::header::Checksum::of_body(body), None, extra)
        );
        SqlText::new(PathBuf::from("sql/up/0001_t.sql"), kind, text)
    }

    fn codes(f: &SqlText) -> Vec<codes::Code> {
        check_file(f, Options::default())
            .diagnostics
            .iter()
            .map(|d| d.code)
            .collect()
    }

    #[test]
    fn clean_file_has_no_diagnostics() {
        let f = file(
            FileKind::Up,
            "CREATE TABLE t (id int PRIMARY KEY);\nINSERT INTO t VALUES (1);\n",
            &[],
        );
        let c = check_file(&f, Options::default());
        assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
        assert_eq!(c.statements.len(), 2);
        assert!(c.statements.iter().all(|s| s.parse == Parse::Valid));
    }

    #[test]
    fn a_keel_line_below_the_header_is_a_warning_but_an_allow_is_not() {
        let body = "\n-- keel:irreversible\nCREATE TABLE t (id int);\n  -- keel:transaction off\n\
                    -- keel:allow ban-drop-table reviewed\nDROP TABLE t;\n-- keel:bogus x\n";
        let f = file(FileKind::Up, body, &[]);
        let c = check_file(&f, Options::default());
        let stray: Vec<(Option<usize>, Option<usize>)> = c
            .diagnostics
            .iter()
            .filter(|d| d.code == codes::STRAY_HEADER_LINE)
            .map(|d| (d.line, d.column))
            .collect();
        // The header is one line; the body's lines 3, 5 and 8 are stray, the allow is not.
        assert_eq!(
            stray,
            [(Some(3), Some(1)), (Some(5), Some(3)), (Some(8), Some(1))]
        );
    }

    #[test]
    fn rules_apply_to_transactional_files_only() {
        let body = "CREATE INDEX CONCURRENTLY i ON t (a);\nCOMMIT;\n";
        assert_eq!(
            codes(&file(FileKind::Up, body, &[])),
            [codes::NEEDS_TRANSACTION_OFF, codes::TRANSACTION_CONTROL]
        );
        assert!(codes(&file(FileKind::Up, body, &["transaction off"])).is_empty());
    }

    #[test]
    fn policy_tests_are_checked_as_transactional_migrations() {
        let test = |body: &str| {
            SqlText::new(
                PathBuf::from("sql/policies/tests/t.sql"),
                FileKind::PolicyTest,
                body.to_string(),
            )
        };
        assert_eq!(
            codes(&test("SELECT 1;\nCOMMIT;\nVACUUM t;\n")),
            [codes::TRANSACTION_CONTROL, codes::NEEDS_TRANSACTION_OFF]
        );
        // Savepoints stay inside the test's transaction.
        assert!(codes(&test(
            "SAVEPOINT a;\nROLLBACK TO SAVEPOINT a;\nRELEASE a;\n"
        ))
        .is_empty());
        // No header turns the rules off.
        assert_eq!(
            codes(&test("-- keel:transaction off\nCOMMIT;\n")),
            [codes::MISPLACED_HEADER_KEY, codes::TRANSACTION_CONTROL]
        );
        assert_eq!(
            codes(&test("SELECT 1;\nSELECT 'x;\n")),
            [codes::UNTERMINATED_STRING]
        );
    }

    #[test]
    fn syntax_error_positions_count_the_header() {
        let f = file(FileKind::Up, "SELECT 1;\nCREAT TABLE t (id int);\n", &[]);
        let d = &check_file(&f, Options::default()).diagnostics[0];
        assert_eq!(
            (d.code, d.line, d.column),
            (codes::SYNTAX_ERROR, Some(3), Some(1))
        );
        let f = file(FileKind::Up, "CREATE TABLE t (id int,, b int);\n", &[]);
        let d = &check_file(&f, Options::default()).diagnostics[0];
        assert_eq!(
            (d.code, d.severity, d.line, d.column),
            (
                codes::UNVALIDATED,
                crate::diagnostic::Severity::Warning,
                Some(2),
                Some(24)
            )
        );
        let d = &check_file(
            &f,
            Options {
                strict: true,
                ..Options::default()
            },
        )
        .diagnostics[0];
        assert!(d.is_error());
    }

    #[test]
    fn checksum_problems() {
        let mut f = file(FileKind::Up, "SELECT 1;", &[]);
        f.text.push_str("\nSELECT 2;");
        f = SqlText::new(f.file.path, f.file.kind, f.text);
        assert_eq!(codes(&f), [codes::CHECKSUM_MISMATCH]);
        let f = SqlText::new(PathBuf::from("x.sql"), FileKind::Up, "SELECT 1;".into());
        assert_eq!(codes(&f), [codes::MISSING_CHECKSUM]);
    }

    #[test]
    fn empty_and_irreversible() {
        assert_eq!(
            codes(&file(FileKind::Up, "-- nothing\n", &[])),
            [codes::EMPTY_UP]
        );
        assert_eq!(
            codes(&file(FileKind::Down, "", &["irreversible"])),
            Vec::<codes::Code>::new()
        );
        assert_eq!(
            codes(&file(FileKind::Down, "DROP TABLE t;", &["irreversible"])),
            [codes::IRREVERSIBLE_NOT_EMPTY]
        );
        assert_eq!(
            codes(&file(FileKind::Up, "SELECT 1;", &["irreversible"])),
            [codes::MISPLACED_HEADER_KEY]
        );
    }

    #[test]
    fn locate_parses_sqlparser_positions() {
        assert_eq!(
            locate("Expected: an expression, found: ; at Line: 2, Column: 7"),
            Some(("Expected: an expression, found: ;".to_string(), 2, 7))
        );
        assert_eq!(locate("no position"), None);
    }

    /// Not a timed test: the positions of a file's diagnostics come from one
    /// line index, never from a scan of the file per diagnostic (which made
    /// 40,000 diagnostics take minutes).
    #[test]
    fn a_files_diagnostics_are_placed_through_one_line_index() {
        use crate::diagnostic::{INDEXES, SCANS};
        let body: String = (0..2_000)
            .map(|i| format!("CREATE TABLE t{i} (a int,, b int); COMMIT;\n"))
            .collect();
        let f = file(FileKind::Up, &body, &[]);
        let (scans, indexes) = (SCANS.with(|s| s.get()), INDEXES.with(|s| s.get()));
        let c = check_file(&f, Options::default());
        assert_eq!(c.diagnostics.len(), 4_000);
        assert_eq!(INDEXES.with(|s| s.get()) - indexes, 1);
        assert_eq!(SCANS.with(|s| s.get()) - scans, 0);
        let last = c.diagnostics.last().unwrap();
        assert_eq!(
            (last.code, last.line, last.column),
            (codes::TRANSACTION_CONTROL, Some(2_001), Some(37))
        );
        // Each statement knows its warning, for the server's verdict.
        let s = &c.statements[2];
        assert_eq!(
            c.diagnostics[s.unvalidated.unwrap()].code,
            codes::UNVALIDATED
        );
    }
}
