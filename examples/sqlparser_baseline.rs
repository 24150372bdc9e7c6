//! The W4 baseline of the benchmark: sqlparser alone parsing the statements
//! of the given files on one core (statements are cut with keel's splitter,
//! which is far faster than parsing and so does not disturb the figure).
//!
//! Prints `<bytes> <statements> <seconds>` for the parsing alone.
#![allow(clippy::disallowed_macros)] // a benchmark program prints its figures

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use std::time::Instant;

fn main() {
    let texts: Vec<String> = std::env::args()
        .skip(1)
        .map(|p| std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}")))
        .collect();
    let statements: Vec<&str> = texts
        .iter()
        .flat_map(|t| {
            keel::sql::split::split(t)
                .filter_map(Result::ok)
                .map(move |s| &t[s.text])
        })
        .collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    let start = Instant::now();
    let mut ok = 0usize;
    for s in &statements {
        if Parser::parse_sql(&PostgreSqlDialect {}, s).is_ok() {
            ok += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{bytes} {} {secs:.6} {ok}", statements.len());
}
