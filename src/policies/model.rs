//! The one model of a Row Level Security policy, wherever it comes from:
//! declared in `sql/policies/` ([`crate::policies::declared`]), as the
//! catalog has it ([`crate::policies::live`]) or as keel recorded it after
//! applying it ([`crate::db::policy`]). Status, reconcile, the matrix and the
//! lint all read this [`Policy`]; what only one side has is its [`Source`].
//!
//! Names are folded as PostgreSQL folds them ([`TableName`], [`fold`]).

use crate::sql::ident::quote_ident;
use sha2::{Digest, Sha256};
use sqlparser::ast::{Expr, Ident, ObjectName};
use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// A schema-qualified table name, normalized as PostgreSQL folds it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableName {
    pub schema: String,
    pub name: String,
}

impl TableName {
    /// `[name]` (schema `public`) or `[schema, name]`, already folded.
    fn from_parts(parts: Vec<String>) -> Option<TableName> {
        let mut parts = parts.into_iter();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(name), None, None) => Some(TableName {
                schema: "public".into(),
                name,
            }),
            (Some(schema), Some(name), None) => Some(TableName { schema, name }),
            _ => None,
        }
    }

    /// `public.items` for `items`, `Items` for `"Items"`.
    pub fn from_object_name(n: &ObjectName) -> Option<TableName> {
        let parts: Vec<String> = n.0.iter().filter_map(|p| p.as_ident().map(fold)).collect();
        TableName::from_parts(parts)
    }

    /// Parses a table name as written in SQL: `items`, `public.items`,
    /// `"Items"`, `app."My Table"` (quoted parts keep their case).
    pub fn parse(text: &str) -> Option<TableName> {
        TableName::from_parts(name_parts(text)?)
    }

    /// Parses `schema.name` or `name` written as bare words.
    pub fn from_words(text: &str) -> TableName {
        match text.split_once('.') {
            Some((s, n)) => TableName {
                schema: s.to_lowercase(),
                name: n.to_lowercase(),
            },
            None => TableName {
                schema: "public".into(),
                name: text.to_lowercase(),
            },
        }
    }

    /// The name quoted for SQL.
    pub fn sql(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

/// The dot-separated parts of a name as written in SQL, folded as
/// PostgreSQL folds them: bare parts lower-cased, quoted parts as written
/// (with `""` read as `"`). `None` when it is not a name.
pub(crate) fn name_parts(text: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        if let Some(q) = rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = q.char_indices().peekable();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                if c == '"' {
                    if chars.peek().map(|(_, c)| *c) == Some('"') {
                        chars.next();
                        out.push('"');
                    } else {
                        end = Some(i + 1);
                        break;
                    }
                } else {
                    out.push(c);
                }
            }
            parts.push(out);
            rest = &q[end?..];
        } else {
            let end = rest.find('.').unwrap_or(rest.len());
            let word = rest[..end].trim();
            if word.is_empty() || word.contains(char::is_whitespace) {
                return None;
            }
            parts.push(word.to_lowercase());
            rest = &rest[end..];
        }
        rest = rest.trim_start();
        match rest.strip_prefix('.') {
            Some(r) => rest = r.trim_start(),
            None if rest.is_empty() => break,
            None => return None,
        }
    }
    Some(parts)
}

/// One identifier as written in SQL (`p`, `"Select"`), folded.
pub(crate) fn one_name(text: &str) -> Option<String> {
    let mut parts = name_parts(text)?;
    (parts.len() == 1).then(|| parts.remove(0))
}

/// Serialized as `schema.name`.
impl serde::Serialize for TableName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// An identifier as PostgreSQL stores it: unquoted ones are lower-cased.
pub fn fold(i: &Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}

/// What a policy applies to (`FOR ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Command {
    All,
    Select,
    Insert,
    Update,
    Delete,
}

impl Command {
    /// `pg_policy.polcmd`.
    pub fn from_polcmd(c: i8) -> Command {
        match c as u8 {
            b'r' => Command::Select,
            b'a' => Command::Insert,
            b'w' => Command::Update,
            b'd' => Command::Delete,
            _ => Command::All,
        }
    }

    /// The inverse of [`Command::name`] (`ALL` for anything else).
    pub fn from_name(s: &str) -> Command {
        match s {
            "SELECT" => Command::Select,
            "INSERT" => Command::Insert,
            "UPDATE" => Command::Update,
            "DELETE" => Command::Delete,
            _ => Command::All,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Command::All => "ALL",
            Command::Select => "SELECT",
            Command::Insert => "INSERT",
            Command::Update => "UPDATE",
            Command::Delete => "DELETE",
        }
    }

    /// Whether this policy governs `other` (ALL governs everything).
    pub fn covers(self, other: Command) -> bool {
        self == Command::All || self == other
    }
}

/// The role PostgreSQL calls PUBLIC: every role is a member of it.
pub const PUBLIC: &str = "public";

/// One RLS policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    pub table: TableName,
    pub command: Command,
    pub permissive: bool,
    /// Role names, folded. PUBLIC is [`PUBLIC`] (`public`): a policy
    /// declared without `TO` has `["public"]`, as the catalog reports it.
    /// The catalog sorts them; a file keeps the order it names them in.
    pub roles: Vec<String>,
    /// `USING` and `WITH CHECK` as sqlparser reads them; `None` when the
    /// policy has none or sqlparser could not read it (see `parsed`).
    pub using: Option<Expr>,
    pub with_check: Option<Expr>,
    /// False when sqlparser could not read the expressions: the policy is
    /// still applied (PostgreSQL parses it), but lint rules that look at
    /// them skip it.
    pub parsed: bool,
    /// The `COMMENT ON POLICY` text.
    pub comment: Option<String>,
    pub source: Source,
}

/// Where a policy comes from, and what only that side knows of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A `CREATE POLICY` in a policy file.
    File(FileSource),
    /// The catalog (or keel's record of what the catalog had).
    Catalog(CatalogText),
}

/// A declared policy's statements and where they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSource {
    /// The `CREATE POLICY` as written (executed verbatim).
    pub sql: String,
    /// Its `COMMENT ON POLICY`, as written.
    pub comment_sql: Option<String>,
    pub path: PathBuf,
    /// File byte range of the `CREATE POLICY`.
    pub span: Range<usize>,
}

impl FileSource {
    /// Identifies the declaration's text: a changed file means a changed
    /// policy, whatever the catalog says.
    pub fn source_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.sql.as_bytes());
        h.update([0]);
        if let Some(c) = &self.comment_sql {
            h.update(c.as_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A policy's expressions as `pg_get_expr` prints them: PostgreSQL's own
/// normalized text, so formatting in a file never counts as a change and a
/// hand edit in the database does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogText {
    pub using: Option<String>,
    pub with_check: Option<String>,
}

impl CatalogText {
    /// The expressions read from the text, and whether both could be read.
    pub fn parse(&self) -> (Option<Expr>, Option<Expr>, bool) {
        let read = |t: &Option<String>| t.as_deref().map(crate::sql::parse::expression);
        let (using, with_check) = (read(&self.using), read(&self.with_check));
        let parsed = !matches!(using, Some(Err(_))) && !matches!(with_check, Some(Err(_)));
        (
            using.and_then(Result::ok),
            with_check.and_then(Result::ok),
            parsed,
        )
    }
}

impl Policy {
    /// Whether it applies to every role (`TO public`, or no `TO`).
    pub fn applies_to_public(&self) -> bool {
        self.roles.iter().any(|r| r == PUBLIC)
    }

    /// Whether the policy applies to `role` (`public`: only PUBLIC ones).
    pub fn applies_to(&self, role: &str) -> bool {
        self.applies_to_public() || self.roles.iter().any(|r| r == role)
    }

    /// Whether it is a permissive policy letting `role` run `command` (on
    /// the rows it passes).
    pub fn allows(&self, role: &str, command: Command) -> bool {
        self.permissive && self.command.covers(command) && self.applies_to(role)
    }

    /// The file it is declared in, if it comes from one.
    pub fn file(&self) -> Option<&FileSource> {
        match &self.source {
            Source::File(f) => Some(f),
            Source::Catalog(_) => None,
        }
    }

    /// Its `pg_get_expr` text, if it comes from the catalog.
    pub fn catalog_text(&self) -> Option<&CatalogText> {
        match &self.source {
            Source::Catalog(t) => Some(t),
            Source::File(_) => None,
        }
    }

    /// `USING (...) WITH CHECK (...)`: the catalog's text, or the file's
    /// expressions as sqlparser prints them (the statement itself when it
    /// shows neither, e.g. because sqlparser could not read it).
    pub fn definition(&self) -> String {
        match &self.source {
            Source::Catalog(text) => clauses(text.using.as_deref(), text.with_check.as_deref()),
            Source::File(file) => {
                let text = |e: &Option<Expr>| e.as_ref().map(Expr::to_string);
                let s = clauses(
                    text(&self.using).as_deref(),
                    text(&self.with_check).as_deref(),
                );
                if s.is_empty() {
                    file.sql.clone()
                } else {
                    s
                }
            }
        }
    }
}

fn clauses(using: Option<&str>, check: Option<&str>) -> String {
    let mut s = String::new();
    if let Some(u) = using {
        s.push_str(&format!("USING ({u})"));
    }
    if let Some(c) = check {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(&format!("WITH CHECK ({c})"));
    }
    s
}
