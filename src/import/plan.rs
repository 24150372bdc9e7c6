//! From what a reader found to the keel files to write, all in memory: each file rendered and
//! sealed, the whole set checked as `keel check --offline` checks a project
//! ([`project_check::validate`]), every finding placed back at the line and column of the
//! source file it came from, and every version checked against the files already in the
//! migrations folder. Nothing here writes.

use super::body::Body;
use super::prepare::prepare;
use super::{ImportedFile, ImportedMigration, Scan, Skipped, SourceDir, SourceError, Tool};
use crate::diagnostic::{codes, Diagnostic, LineIndex};
use crate::header::{self, Checksum};
use crate::project::{parse_file_name, slug, FileKind, SqlText, Version};
use crate::project_check;
use crate::sql::check::Options;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Everything an import would write, and what stops it.
#[derive(Debug)]
pub struct Plan {
    pub tool: Tool,
    /// The source folder, as given.
    pub source: PathBuf,
    /// keel's migrations folder.
    pub dir: PathBuf,
    /// By version.
    pub migrations: Vec<PlannedMigration>,
    /// Source files not imported, and why.
    pub skipped: Vec<Skipped>,
    /// Problems in the source folder and in the imported SQL (placed in the source files).
    /// Any error refuses the whole import; warnings (statements sqlparser does not know, as
    /// `keel check --offline` reports them) do not.
    pub diagnostics: Vec<Diagnostic>,
}

/// One keel pair to write.
#[derive(Debug)]
pub struct PlannedMigration {
    pub version: Version,
    pub name: String,
    /// The `-- keel:message`: the source's description as written (none when it has none).
    pub message: Option<String>,
    pub up: PlannedFile,
    pub down: PlannedFile,
    /// The source has no down: the down file is `-- keel:irreversible`.
    pub irreversible: bool,
    /// What was carried over or changed, for the command to show.
    pub notes: Vec<String>,
}

impl PlannedMigration {
    /// `20230101120000_add_users`.
    pub fn id(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }
}

/// One keel file to write.
#[derive(Debug)]
pub struct PlannedFile {
    /// Where it goes: `<dir>/up/<version>_<name>.sql` or `down/`.
    pub path: PathBuf,
    /// The source file it comes from, as shown (for an irreversible down, the up's source).
    pub source: PathBuf,
    /// Header and body: the bytes to write.
    pub text: String,
    pub transaction_off: bool,
    /// Where the body starts in `text`, and where its bytes came from (none for an
    /// irreversible down, whose body is empty).
    body_start: usize,
    origin: Option<Body>,
}

impl Plan {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// Every file to write, each migration's up then down.
    pub fn files(&self) -> impl Iterator<Item = &PlannedFile> {
        self.migrations.iter().flat_map(|m| [&m.up, &m.down])
    }
}

/// Plans importing `tool`'s migrations from the folder `source` into keel's migrations folder
/// `dir`, validating them with `options` (`strict`: statements sqlparser cannot validate are
/// errors). Only a source folder that cannot be used at all is an error; everything else
/// wrong is in [`Plan::diagnostics`].
pub fn plan(tool: Tool, source: &Path, dir: &Path, options: Options) -> Result<Plan, SourceError> {
    let src = SourceDir::open(source)?;
    let Scan {
        mut migrations,
        skipped,
        mut problems,
    } = tool.read(&src);
    migrations.sort_by_key(|m| m.version);
    let migrations = without_duplicates(migrations, &mut problems);
    let mut planned = Vec::with_capacity(migrations.len());
    for mut m in migrations {
        prepare(&mut m, &mut problems);
        planned.push(render(tool, dir, m));
    }
    problems.extend(validate(&planned, options));
    problems.extend(collisions(dir, &planned));
    Ok(Plan {
        tool,
        source: source.to_path_buf(),
        dir: dir.to_path_buf(),
        migrations: planned,
        skipped,
        diagnostics: problems,
    })
}

/// Two migrations of one version (`1_a.sql` and `0001_b.sql`) are refused, as keel refuses them
/// in its own folder; the first is kept so that the rest is still checked.
fn without_duplicates(
    migrations: Vec<ImportedMigration>,
    problems: &mut Vec<Diagnostic>,
) -> Vec<ImportedMigration> {
    let mut kept: Vec<ImportedMigration> = Vec::with_capacity(migrations.len());
    for m in migrations {
        match kept.last() {
            Some(first) if first.version == m.version => problems.push(
                Diagnostic::error(
                    codes::DUPLICATE_VERSION,
                    format!(
                        "version {} is used twice: `{}` and `{}`",
                        m.version.number(),
                        first.up.body.file.shown.display(),
                        m.up.body.file.shown.display()
                    ),
                )
                .with_path(&m.up.body.file.shown)
                .with_hint("versions compare as numbers (`0003` and `3` are the same); give one of them a free version in the source folder"),
            ),
            _ => kept.push(m),
        }
    }
    kept
}

/// The keel pair of `m`, sealed.
fn render(tool: Tool, dir: &Path, m: ImportedMigration) -> PlannedMigration {
    let name = slug(&m.description);
    let file_name = format!("{}_{name}.sql", m.version);
    let description = m.description.trim();
    let message = (!description.is_empty()).then(|| description.to_string());
    let source_of =
        |f: &ImportedFile| format!("source {} {}", tool.name(), f.body.file.rel.display());
    let up = file(
        dir.join("up").join(&file_name),
        message.as_deref(),
        &source_of(&m.up),
        Some(&m.up),
    );
    let irreversible = m.down.is_none();
    let down = match &m.down {
        Some(d) => file(
            dir.join("down").join(&file_name),
            message.as_deref(),
            &source_of(d),
            Some(d),
        ),
        None => {
            let mut down = file(
                dir.join("down").join(&file_name),
                message.as_deref(),
                &source_of(&m.up),
                None,
            );
            down.source = m.up.body.file.shown.clone();
            down
        }
    };
    PlannedMigration {
        version: m.version,
        name,
        message,
        up,
        down,
        irreversible,
        notes: m.notes,
    }
}

/// One sealed keel file: the body of `imported`, or for `None` an irreversible down.
fn file(
    path: PathBuf,
    message: Option<&str>,
    source: &str,
    imported: Option<&ImportedFile>,
) -> PlannedFile {
    let mut body = imported.map(|f| f.body.text()).unwrap_or_default();
    let transaction_off = imported.is_some_and(|f| f.transaction_off);
    let mut extra = vec![source];
    match imported {
        None => extra.push("irreversible"),
        Some(_) if transaction_off => extra.push("transaction off"),
        Some(_) => {}
    }
    // A body whose first line looks like a header line would be read as one: a blank line
    // ends the header first (and the checksum ignores leading blank lines).
    let separator = if body.starts_with(header::PREFIX) {
        "\n"
    } else {
        ""
    };
    if !body.is_empty() && !body.ends_with('\n') {
        body.push('\n');
    }
    let written_body = format!("{separator}{body}");
    let head = header::render(Checksum::of_body(&written_body), message, &extra);
    PlannedFile {
        source: imported.map_or_else(PathBuf::new, |f| f.body.file.shown.clone()),
        body_start: head.len() + separator.len(),
        text: format!("{head}{written_body}"),
        path,
        transaction_off,
        origin: imported.map(|f| f.body.clone()),
    }
}

/// Checks the planned files as `keel check --offline` checks a project, and places every
/// finding in the source file it came from.
fn validate(planned: &[PlannedMigration], options: Options) -> Vec<Diagnostic> {
    let files: Vec<&PlannedFile> = planned.iter().flat_map(|m| [&m.up, &m.down]).collect();
    let texts: Vec<SqlText> = planned
        .iter()
        .flat_map(|m| {
            [
                SqlText::new(m.up.path.clone(), FileKind::Up, m.up.text.clone()),
                SqlText::new(m.down.path.clone(), FileKind::Down, m.down.text.clone()),
            ]
        })
        .collect();
    let v = project_check::validate(&texts, options);
    let by_path: BTreeMap<&Path, &PlannedFile> =
        files.iter().map(|f| (f.path.as_path(), *f)).collect();
    let mut out = Vec::new();
    for (file, checked) in files.iter().zip(&v.files) {
        out.extend(checked.diagnostics.iter().map(|d| in_source(d, file)));
    }
    for d in &v.diagnostics {
        match d.path.as_deref().and_then(|p| by_path.get(p)) {
            Some(file) => out.push(in_source(d, file)),
            None => out.push(d.clone()),
        }
    }
    out
}

/// `d`, found in the planned keel file `file`, placed at the same statement in its source
/// file, with a note naming the keel file.
fn in_source(d: &Diagnostic, file: &PlannedFile) -> Diagnostic {
    let note = format!("to be imported as `{}`", file.path.display());
    let Some(body) = &file.origin else {
        return d.clone().with_note(note);
    };
    let source = &body.file;
    let offset = match (d.line, d.column) {
        (Some(line), Some(column)) => {
            // A position keel reported: its own line endings (a lone CR too).
            LineIndex::new(&file.text).offset(&file.text, line, column)
        }
        _ => {
            let mut moved = d.clone().with_note(note);
            moved.path = Some(source.shown.clone());
            return moved;
        }
    };
    if offset < file.body_start {
        // In the header keel wrote: not the source's doing, so shown where it is.
        return d.clone().with_note(note);
    }
    let at = body.source_offset(offset - file.body_start);
    let len = d.snippet.as_ref().map_or(0, |s| s.span.len());
    let mut end = (at + len).min(source.text.len());
    while !source.text.is_char_boundary(end) {
        end -= 1;
    }
    let mut moved = Diagnostic {
        snippet: None,
        ..d.clone()
    }
    .at(&source.shown, &source.text, at..end.max(at));
    moved.notes.push(note);
    moved
}

/// Versions being imported that already have a file in `dir/up` or `dir/down`: keel import
/// never overwrites, and two files of one version would make the folder invalid.
fn collisions(dir: &Path, planned: &[PlannedMigration]) -> Vec<Diagnostic> {
    let mut existing: BTreeMap<u128, PathBuf> = BTreeMap::new();
    for sub in ["up", "down"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            if let Ok((version, _)) = parse_file_name(&entry.file_name().to_string_lossy()) {
                existing
                    .entry(version.number())
                    .or_insert_with(|| entry.path());
            }
        }
    }
    planned
        .iter()
        .filter_map(|m| {
            let path = existing.get(&m.version.number())?;
            Some(
                Diagnostic::error(
                    codes::IMPORT_TARGET_EXISTS,
                    format!(
                        "version {} already exists: importing `{}` as `{}` would give it a second file",
                        m.version.number(),
                        m.up.source.display(),
                        m.up.path.display()
                    ),
                )
                .with_path(path)
                .with_hint("keel import never overwrites: import into a migrations folder without these versions, or move the existing pair away first"),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::Header;

    fn write(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn planned_files_are_sealed_and_carry_message_and_source() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("migrations");
        write(
            &src,
            "20230101120000_Add Users!.up.sql",
            "CREATE TABLE users (id int);\n",
        );
        write(
            &src,
            "20230101120000_Add Users!.down.sql",
            "DROP TABLE users;",
        );
        write(
            &src,
            "20230102000000_seed.sql",
            "-- no-transaction\nVACUUM;\n",
        );
        let plan = plan(
            Tool::Sqlx,
            &src,
            &tmp.path().join("sql"),
            Options::default(),
        )
        .unwrap();
        assert!(plan.diagnostics.is_empty(), "{:?}", plan.diagnostics);
        let ids: Vec<String> = plan.migrations.iter().map(|m| m.id()).collect();
        assert_eq!(ids, ["20230101120000_add_users", "20230102000000_seed"]);
        let up = &plan.migrations[0].up;
        let (h, errors) = Header::parse(&up.text);
        assert!(errors.is_empty());
        assert_eq!(h.message(), Some("Add Users!"));
        assert_eq!(h.source(), Some("sqlx 20230101120000_Add Users!.up.sql"));
        assert_eq!(
            h.checksum(),
            Some(Checksum::of_body(&up.text[h.body_start..]))
        );
        assert_eq!(&up.text[h.body_start..], "CREATE TABLE users (id int);\n");
        let down = &plan.migrations[1].down;
        assert!(plan.migrations[1].irreversible && plan.migrations[1].up.transaction_off);
        assert_eq!(
            down.text,
            format!(
                "-- keel:checksum {}\n-- keel:message seed\n-- keel:source sqlx 20230102000000_seed.sql\n-- keel:irreversible\n",
                Checksum::of_body("")
            )
        );
        assert_eq!(down.source, src.join("20230102000000_seed.sql"));
    }

    #[test]
    fn a_body_that_starts_like_a_header_is_kept_out_of_it() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("m");
        write(&src, "1_a.sql", "-- keel:whatever\nSELECT 1;");
        let plan = plan(
            Tool::Supabase,
            &src,
            &tmp.path().join("sql"),
            Options::default(),
        )
        .unwrap();
        // Kept, with the warning every `-- keel:` line below a header gets.
        let codes: Vec<_> = plan.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(
            codes,
            [crate::diagnostic::codes::STRAY_HEADER_LINE],
            "{:?}",
            plan.diagnostics
        );
        assert!(!plan.has_errors());
        let up = &plan.migrations[0].up;
        assert!(up
            .text
            .contains("-- keel:source supabase 1_a.sql\n\n-- keel:whatever\nSELECT 1;\n"));
    }

    #[test]
    fn problems_are_placed_in_the_source_file() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("m");
        write(
            &src,
            "1_a.up.sql",
            "-- no-transaction\r\nSELECT 1;\r\n  CREAT TABLE t (a int);\r\n",
        );
        write(
            &src,
            "1_a.down.sql",
            "BEGIN;\nSELECT 1;\nCOMMIT;\nSELECT 2;\n",
        );
        let plan = plan(
            Tool::Sqlx,
            &src,
            &tmp.path().join("sql"),
            Options::default(),
        )
        .unwrap();
        let found: Vec<_> = plan
            .diagnostics
            .iter()
            .map(|d| (d.code, d.location().unwrap()))
            .collect();
        let at = |rel: &str, pos: &str| format!("{}:{pos}", src.join(rel).display());
        assert_eq!(
            found,
            [
                (codes::SYNTAX_ERROR, at("1_a.up.sql", "3:3")),
                (codes::TRANSACTION_CONTROL, at("1_a.down.sql", "1:1")),
                (codes::TRANSACTION_CONTROL, at("1_a.down.sql", "3:1")),
            ]
        );
        let d = &plan.diagnostics[0];
        assert_eq!(
            d.snippet.as_ref().unwrap().line_text,
            "  CREAT TABLE t (a int);"
        );
        assert_eq!(
            d.notes,
            [format!(
                "to be imported as `{}`",
                tmp.path().join("sql/up/1_a.sql").display()
            )]
        );
        assert!(plan.has_errors());
    }

    #[test]
    fn an_existing_version_refuses_the_import() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("m");
        write(&src, "1_a.sql", "SELECT 1;");
        write(&src, "2_b.sql", "SELECT 2;");
        let sql = tmp.path().join("sql");
        write(&sql, "down/0002_other.sql", "");
        let plan = plan(Tool::Supabase, &src, &sql, Options::default()).unwrap();
        let d = &plan.diagnostics[0];
        assert_eq!(plan.diagnostics.len(), 1);
        assert_eq!(d.code, codes::IMPORT_TARGET_EXISTS);
        assert_eq!(
            d.path.as_deref(),
            Some(sql.join("down/0002_other.sql").as_path())
        );
    }

    #[test]
    fn two_source_files_of_one_version_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("m");
        write(&src, "1_a.sql", "SELECT 1;");
        write(&src, "0001_b.sql", "SELECT 2;");
        let plan = plan(
            Tool::Supabase,
            &src,
            &tmp.path().join("sql"),
            Options::default(),
        )
        .unwrap();
        assert_eq!(plan.diagnostics[0].code, codes::DUPLICATE_VERSION);
        assert_eq!(plan.migrations.len(), 1);
    }
}
