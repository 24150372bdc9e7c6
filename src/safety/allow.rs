//! `-- keel:allow <rule-id> <reason>`: silencing one safety rule, for one
//! statement (the line sits among the comment lines directly above it) or
//! for a whole file (the line is in the header, which `crate::header`
//! reads and checks).
//!
//! Only the text between statements is searched, so an allow written inside
//! a string or a function body is never one. An allow is used when its rule
//! matches its statement (or, for the header, any statement of the file),
//! whether or not the finding would have been reported: a table's age or
//! size does not make a deliberate allow wrong.

use crate::config::{RuleLevel, SafetyConfig};
use crate::diagnostic::{codes, Code, Diagnostic, Source};
use crate::header::{parse_allow, Entry, PREFIX};
use crate::project::SqlText;
use crate::sql::check::{CheckedStatement, Parse};
use std::ops::Range;

/// Where an allow applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    File,
    /// The index of a statement of the file.
    Statement(usize),
    /// Not directly above a statement: it applies nowhere.
    Nowhere,
}

#[derive(Debug)]
struct Allow {
    rule: Code,
    scope: Scope,
    /// The line, in file bytes.
    line: Range<usize>,
    used: bool,
}

/// The allows of one file.
#[derive(Debug, Default)]
pub struct Allows {
    allows: Vec<Allow>,
}

impl Allows {
    /// Reads the allows of `file` (its header, and the comment lines between
    /// its `statements`); malformed ones are `bad-allow` errors in `out`.
    pub fn read(
        file: &SqlText,
        statements: &[CheckedStatement],
        source: &Source,
        out: &mut Vec<Diagnostic>,
    ) -> Allows {
        let mut allows: Vec<Allow> = file
            .header
            .lines
            .iter()
            .filter_map(|l| match &l.entry {
                Entry::Allow(a) => Some(Allow {
                    rule: a.rule,
                    scope: Scope::File,
                    line: l.range.clone(),
                    used: false,
                }),
                _ => None,
            })
            .collect();
        let text = &file.text;
        let mut gap_start = file.header.body_start;
        // The gaps between statements, the last one running to the end.
        let gaps = statements
            .iter()
            .map(|s| s.text.start)
            .chain(std::iter::once(text.len()));
        for (i, gap_end) in gaps.enumerate() {
            let gap = gap_start.min(gap_end)..gap_end;
            if let Some(s) = statements.get(i) {
                gap_start = s.text.end;
            }
            let gap_text = &text[gap.clone()];
            if !gap_text.contains(ALLOW) {
                continue;
            }
            let above = (i < statements.len()).then_some(i);
            let lines: Vec<Range<usize>> = crate::header::lines(gap_text)
                .map(|l| {
                    let at = gap.start + (l.as_ptr() as usize - gap_text.as_ptr() as usize);
                    at..at + l.len()
                })
                .collect();
            // Last first: an allow belongs to the statement below it while
            // only comment lines separate them. The last piece of a gap
            // is the statement's own line, before the statement.
            let mut adjacent = above.is_some();
            let skip = usize::from(above.is_some());
            for range in lines.iter().rev().skip(skip) {
                let line = &text[range.clone()];
                let lead = line.len() - line.trim_start_matches([' ', '\t', ';']).len();
                let content = line[lead..].trim_end();
                if !content.starts_with("--") {
                    adjacent = false;
                }
                let Some(value) = allow_value(content) else {
                    continue;
                };
                let at = range.start + lead..range.start + lead + content.len();
                match parse_allow(value) {
                    Ok(a) => allows.push(Allow {
                        rule: a.rule,
                        scope: match above {
                            Some(s) if adjacent => Scope::Statement(s),
                            _ => Scope::Nowhere,
                        },
                        line: at,
                        used: false,
                    }),
                    Err(e) => out.push(
                        Diagnostic::error(codes::BAD_ALLOW, e.to_string())
                            .located(source, at)
                            .with_hint(e.hint()),
                    ),
                }
            }
        }
        Allows { allows }
    }

    /// Whether an allow for `rule` applies at statement `statement`.
    pub fn names(&self, rule: Code, statement: usize) -> bool {
        self.allows.iter().any(|a| {
            a.rule == rule && (a.scope == Scope::File || a.scope == Scope::Statement(statement))
        })
    }

    /// Whether an allow silences `rule` at statement `statement`; the one
    /// that does (the statement's own before the file's) counts as used.
    pub fn silences(&mut self, rule: Code, statement: usize) -> bool {
        let own = self
            .allows
            .iter()
            .position(|a| a.rule == rule && a.scope == Scope::Statement(statement));
        let found = own.or_else(|| {
            self.allows
                .iter()
                .position(|a| a.rule == rule && a.scope == Scope::File)
        });
        if let Some(i) = found {
            self.allows[i].used = true;
        }
        found.is_some()
    }

    /// An `unused-allow` warning for every allow that silenced nothing
    /// (rules turned off in `keel.toml` excepted: their allows wait for
    /// the rule to come back).
    pub fn unused(
        &self,
        statements: &[CheckedStatement],
        source: &Source,
        config: &SafetyConfig,
        out: &mut Vec<Diagnostic>,
    ) {
        for a in self.allows.iter().filter(|a| !a.used) {
            if config.level(a.rule) == Some(RuleLevel::Off) {
                continue;
            }
            let (message, hint) = match a.scope {
                Scope::Nowhere => (
                    format!("`-- keel:allow {}` is not directly above a statement: it silences nothing", a.rule),
                    "put it on the comment lines right above the statement (no blank line between), or in the file's header for the whole file".to_string(),
                ),
                Scope::Statement(i) if !matches!(statements[i].parse, Parse::Valid) => (
                    format!("`-- keel:allow {}` silences nothing: sqlparser cannot read the statement, so no safety rule looks at it", a.rule),
                    "remove the allow".to_string(),
                ),
                Scope::Statement(_) => (
                    format!("`-- keel:allow {}` silences nothing: the rule does not match this statement", a.rule),
                    "remove the allow, or name the rule the statement breaks".to_string(),
                ),
                Scope::File => (
                    format!("`-- keel:allow {}` silences nothing: the rule matches no statement of this file", a.rule),
                    "remove the allow".to_string(),
                ),
            };
            out.push(
                Diagnostic::warning(codes::UNUSED_ALLOW, message)
                    .located(source, a.line.clone())
                    .with_hint(hint),
            );
        }
    }
}

/// `-- keel:allow`.
const ALLOW: &str = "-- keel:allow";

/// The value of an allow comment line (`-- keel:allow <value>`).
fn allow_value(line: &str) -> Option<&str> {
    let rest = line.strip_prefix(PREFIX)?.strip_prefix("allow")?;
    (rest.is_empty() || rest.starts_with([' ', '\t'])).then_some(rest)
}
