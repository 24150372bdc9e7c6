//! The one way keel hands SQL to sqlparser: with a bound on how deeply the
//! result may nest, so that no input can overflow a stack.
//!
//! sqlparser guards its own recursion (`Parser::with_recursion_limit`), but
//! it builds a chain of infix operators in a loop: `1+1+...+1` with 100,000
//! terms parses without recursion into a tree 100,000 levels deep, and it is
//! dropping (or visiting, or printing) that tree that recurses and overflows.
//! So the tokens are measured before the parser runs, and a statement whose
//! tree could be deeper than [`MAX_DEPTH`] is refused without building it.

use sqlparser::ast::{Expr, Statement};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

/// The deepest nesting keel reads: operators chained in one operand list,
/// plus the parentheses, brackets and calls around them. Far above what
/// people write (a 2,000-term `OR` chain measures about 4,000), and low
/// enough that the tree, at a few hundred bytes of stack per level to drop,
/// visit or print, fits the stacks keel's threads are given
/// ([`crate::parallel::STACK_SIZE`]).
pub const MAX_DEPTH: usize = 10_000;

/// sqlparser's own bound on its recursion (parentheses, subqueries, `CASE`,
/// prefix operators); its default of 50 rejects SQL that PostgreSQL takes.
/// Each level costs sqlparser some kilobytes of stack in a debug build.
pub const MAX_RECURSION: usize = 500;

/// Why sqlparser gave no tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nested deeper than keel reads. `line` and `column` (1-based, within
    /// the text parsed) are where the limit was crossed, when known.
    #[error("nested deeper than {MAX_DEPTH} levels")]
    TooDeep { line: u64, column: u64 },
    /// sqlparser does not read it: its message, with its position.
    #[error("{0}")]
    Syntax(String),
}

impl From<ParserError> for ParseError {
    fn from(e: ParserError) -> ParseError {
        match e {
            ParserError::RecursionLimitExceeded => ParseError::TooDeep { line: 1, column: 1 },
            ParserError::TokenizerError(m) | ParserError::ParserError(m) => ParseError::Syntax(m),
        }
    }
}

/// `Parser::parse_sql` with the PostgreSQL dialect, bounded in depth.
pub fn statements(sql: &str) -> Result<Vec<Statement>, ParseError> {
    Ok(parser(sql)?.parse_statements()?)
}

/// [`statements`], handing the tree to `read` while the parser's buffers are
/// still held: what `read` keeps is then allocated apart from them, and
/// once they are freed the next statement's parse can reuse them whole
/// (kept allocations made after they are freed would split them, and the
/// heap would grow by more than what is kept).
pub fn statements_with<T>(
    sql: &str,
    read: impl FnOnce(&[Statement]) -> T,
) -> Result<T, ParseError> {
    let mut parser = parser(sql)?;
    let tree = parser.parse_statements()?;
    let kept = read(&tree);
    drop(tree);
    drop(parser);
    Ok(kept)
}

/// One expression, as `pg_get_expr` prints it, bounded in depth; the whole
/// text must be the expression.
pub fn expression(text: &str) -> Result<Expr, ParseError> {
    let mut parser = parser(text)?;
    let expr = parser.parse_expr()?;
    if parser.peek_token().token != Token::EOF {
        return Err(ParseError::Syntax(format!(
            "unexpected {} after the expression",
            parser.peek_token().token
        )));
    }
    Ok(expr)
}

fn parser(sql: &str) -> Result<Parser<'static>, ParseError> {
    static DIALECT: PostgreSqlDialect = PostgreSqlDialect {};
    // As `Parser::try_with_sql` does (it unescapes by default), with the
    // tokens looked at in between.
    let tokens = Tokenizer::new(&DIALECT, sql)
        .with_unescape(true)
        .tokenize_with_location()
        .map_err(ParserError::from)?;
    check_depth(&tokens)?;
    Ok(Parser::new(&DIALECT)
        .with_recursion_limit(MAX_RECURSION)
        .with_tokens_with_locations(tokens))
}

/// An upper bound of the depth of the tree sqlparser would build from
/// `tokens`, checked against [`MAX_DEPTH`] in one pass.
///
/// Every operator (symbol or keyword such as `AND`, `IS`, `UNION`) can wrap
/// everything before it in its operand list in one more node, so it counts
/// one; an opening parenthesis or bracket counts one and starts a new list;
/// a comma starts the next item of the current list afresh. A closing
/// parenthesis keeps the count: the operators after it wrap what was inside.
fn check_depth(tokens: &[TokenWithSpan]) -> Result<(), ParseError> {
    let mut depth = 0usize;
    // The depth at which each open list started.
    let mut lists: Vec<usize> = Vec::new();
    for t in tokens {
        match &t.token {
            Token::LParen | Token::LBracket => {
                depth += 1;
                lists.push(depth);
            }
            Token::RParen | Token::RBracket => {
                lists.pop();
            }
            Token::Comma => depth = lists.last().copied().unwrap_or(0),
            Token::Word(w) => {
                if is_infix_keyword(w.keyword) {
                    depth += 1;
                }
            }
            t if is_operand_or_space(t) => {}
            _ => depth += 1,
        }
        if depth > MAX_DEPTH {
            return Err(ParseError::TooDeep {
                line: t.span.start.line,
                column: t.span.start.column,
            });
        }
    }
    Ok(())
}

/// Keywords sqlparser reads as infix (or set) operators, in a loop.
fn is_infix_keyword(k: Keyword) -> bool {
    matches!(
        k,
        Keyword::AND
            | Keyword::OR
            | Keyword::XOR
            | Keyword::NOT
            | Keyword::IS
            | Keyword::IN
            | Keyword::BETWEEN
            | Keyword::LIKE
            | Keyword::ILIKE
            | Keyword::SIMILAR
            | Keyword::COLLATE
            | Keyword::AT
            | Keyword::OVERLAPS
            | Keyword::OPERATOR
            | Keyword::UNION
            | Keyword::INTERSECT
            | Keyword::EXCEPT
            // Not infix, but nested without a parenthesis, and sqlparser's
            // backtracking hides its recursion limit inside one.
            | Keyword::CASE
    )
}

fn is_operand_or_space(t: &Token) -> bool {
    matches!(
        t,
        Token::EOF
            | Token::Whitespace(_)
            | Token::Number(..)
            | Token::Char(_)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::TripleSingleQuotedString(_)
            | Token::TripleDoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::DoubleQuotedByteStringLiteral(_)
            | Token::TripleSingleQuotedByteStringLiteral(_)
            | Token::TripleDoubleQuotedByteStringLiteral(_)
            | Token::SingleQuotedRawStringLiteral(_)
            | Token::DoubleQuotedRawStringLiteral(_)
            | Token::TripleSingleQuotedRawStringLiteral(_)
            | Token::TripleDoubleQuotedRawStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::QuoteDelimitedStringLiteral(_)
            | Token::NationalQuoteDelimitedStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::Placeholder(_)
            | Token::SemiColon
            | Token::LBrace
            | Token::RBrace
            | Token::CopyData { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize, op: &str) -> String {
        format!("SELECT {}", vec!["1"; n].join(op))
    }

    #[test]
    fn long_operator_chains_are_refused_before_parsing() {
        // Just under the limit: read, and dropped on keel's own stack size.
        let deep = chain(MAX_DEPTH - 1, "+");
        assert!(crate::parallel::with_large_stack(
            || statements(&deep).is_ok()
        ));
        let e = statements(&format!("SELECT 1,\n  {}", chain(100_000, " + "))).unwrap_err();
        let ParseError::TooDeep { line, column } = e else {
            panic!("{e:?}")
        };
        assert_eq!(line, 2);
        assert!(column > 1);
        assert!(matches!(
            statements(&chain(100_000, " OR ")),
            Err(ParseError::TooDeep { .. })
        ));
    }

    #[test]
    fn lists_and_rows_do_not_add_up() {
        // 20,000 rows of an INSERT, each with operators: shallow.
        let rows: Vec<String> = (0..20_000).map(|i| format!("({i}, -{i} + 1)")).collect();
        let sql = format!("INSERT INTO t VALUES {}", rows.join(", "));
        assert!(statements(&sql).is_ok());
    }

    #[test]
    fn deep_parentheses_calls_and_case_are_refused() {
        let n = 100_000;
        for sql in [
            format!("SELECT {}1{}", "(".repeat(n), ")".repeat(n)),
            format!("SELECT {}1{}", "f(".repeat(n), ")".repeat(n)),
            format!(
                "SELECT {}1{}",
                "CASE WHEN true THEN ".repeat(n),
                " END".repeat(n)
            ),
            format!("SELECT {}1", "- ".repeat(n)),
        ] {
            assert!(
                matches!(statements(&sql), Err(ParseError::TooDeep { .. })),
                "{}",
                &sql[..40]
            );
        }
    }

    #[test]
    fn expressions_are_bounded_too() {
        assert!(expression("a = 1 AND b").is_ok());
        assert!(matches!(expression("a b"), Err(ParseError::Syntax(_))));
        assert!(matches!(
            expression(&vec!["x = 1"; 50_000].join(" OR ")),
            Err(ParseError::TooDeep { .. })
        ));
    }
}
