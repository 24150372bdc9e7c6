//! Listing the migrations folder without reading any file: names, versions,
//! up/down pairs, and every layout mistake as a [`Diagnostic`] naming the
//! path. Only a missing or unreadable top folder is a hard error.
//!
//! A pair is kept as its version and name: its paths follow from them, so a
//! listing of 10,000 pairs holds no path.

use super::file::not_regular;
use super::version::{parse_file_name, slug, NameError, Version};
use super::{FileKind, ProjectError};
use crate::diagnostic::{codes, Diagnostic};
use std::path::{Path, PathBuf};
use walkdir::WalkDir;

/// The names in the migrations folder, before any file is read: enough to
/// know which versions exist (a no-op `upgrade` or `current` needs no more).
#[derive(Debug, Default)]
pub struct Layout {
    pub dir: PathBuf,
    /// Up/down pairs by version, ordered.
    pub pairs: Vec<Pair>,
    pub policies: Vec<PathBuf>,
    pub policy_tests: Vec<PathBuf>,
    /// Layout mistakes: bad names, strays, missing partners, unreadable
    /// entries.
    pub diagnostics: Vec<Diagnostic>,
}

/// The two files of one version.
#[derive(Debug, Clone)]
pub struct Pair {
    /// As the up file writes it (the down file may pad it differently).
    pub version: Version,
    pub name: Box<str>,
    /// How many digits the down file's name gives the version.
    pub(super) down_width: u8,
    /// False for a side already reported as unreadable: it is not read, and
    /// its partner is not called missing.
    pub up_readable: bool,
    pub down_readable: bool,
}

impl Pair {
    /// The path of one side in the migrations folder `dir`.
    pub fn path(&self, dir: &Path, kind: FileKind) -> PathBuf {
        file_path(dir, &self.version, &self.name, kind, self.down_width)
    }
}

/// `dir/up/0001_name.sql` (or `down/`, with the down file's padding).
pub(super) fn file_path(
    dir: &Path,
    version: &Version,
    name: &str,
    kind: FileKind,
    down_width: u8,
) -> PathBuf {
    let (folder, width) = match kind {
        FileKind::Down => ("down", usize::from(down_width)),
        _ => ("up", version.width()),
    };
    dir.join(folder).join(format!(
        "{:0width$}_{name}.sql",
        version.number(),
        width = width
    ))
}

impl Layout {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn head(&self) -> Option<&Pair> {
        self.pairs.last()
    }
}

/// Lists the migrations folder `dir` without reading any file.
pub fn scan(dir: &Path) -> Result<Layout, ProjectError> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(ProjectError::NotAFolder(dir.to_path_buf())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ProjectError::NotFound(dir.to_path_buf()))
        }
        Err(source) => {
            return Err(ProjectError::Unreadable {
                path: dir.to_path_buf(),
                source,
            })
        }
    }
    std::fs::read_dir(dir).map_err(|source| ProjectError::Unreadable {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut diagnostics = Vec::new();
    let root = Root::of(dir);
    let ups = list_migration_folder(&dir.join("up"), &root, &mut diagnostics);
    let downs = list_migration_folder(&dir.join("down"), &root, &mut diagnostics);
    let pairs = pair(dir, ups, downs, &mut diagnostics);
    let (policies, policy_tests) = scan_policies(dir, &mut diagnostics);
    Ok(Layout {
        dir: dir.to_path_buf(),
        pairs,
        policies,
        policy_tests,
        diagnostics,
    })
}

/// The policy files and policy test files of the migrations folder `dir`.
pub fn scan_policies(
    dir: &Path,
    diagnostics: &mut Vec<Diagnostic>,
) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let root = Root::of(dir);
    let policies_dir = dir.join("policies");
    let policies = list_sql_folder(&policies_dir, &root, &["tests"], diagnostics);
    let policy_tests = list_sql_folder(&policies_dir.join("tests"), &root, &[], diagnostics);
    (policies, policy_tests)
}

/// One file of a migration folder: `<version>_<name>.sql`.
struct Named {
    version: Version,
    name: Box<str>,
    readable: bool,
}

impl Named {
    fn file_name(&self) -> String {
        format!("{}_{}.sql", self.version, self.name)
    }
}

/// The migration files of one folder, ordered by version, one per version
/// (a duplicate is reported and the later one by file name dropped).
fn list_migration_folder(dir: &Path, root: &Root, diags: &mut Vec<Diagnostic>) -> Vec<Named> {
    let mut named = Vec::new();
    // Reported in file-name order, whatever order the folder lists in.
    let mut found: Vec<(String, Diagnostic)> = Vec::new();
    list_folder(dir, root, &[], diags, |path, readable| {
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match parse_file_name(&file_name) {
            Ok((version, name)) => named.push(Named {
                version,
                name: name.into(),
                readable,
            }),
            Err(NameError::NotSql) => {
                if readable {
                    found.push((file_name, stray(&path)));
                }
            }
            Err(e) => {
                let d = Diagnostic::error(
                    codes::BAD_FILE_NAME,
                    format!("bad migration file name: {e}"),
                )
                .with_path(&path)
                .with_hint(rename_hint(&file_name, &e));
                found.push((file_name, d));
            }
        }
    });
    // By version; within one version by file name, which puts the version
    // written with more digits first (`0003_a` before `3_a`).
    named.sort_by(|a, b| {
        a.version
            .cmp(&b.version)
            .then_with(|| b.version.width().cmp(&a.version.width()))
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut kept: Vec<Named> = Vec::with_capacity(named.len());
    for n in named {
        match kept.last() {
            Some(first) if first.version == n.version => {
                let path = dir.join(n.file_name());
                let d = Diagnostic::error(
                    codes::DUPLICATE_VERSION,
                    format!(
                        "version {} is used twice: `{}` and `{}`",
                        n.version.number(),
                        dir.join(first.file_name()).display(),
                        path.display()
                    ),
                )
                .with_path(&path)
                .with_hint("versions compare as numbers (`0003` and `3` are the same); give one of them a free version");
                found.push((n.file_name(), d));
            }
            _ => kept.push(n),
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    diags.extend(found.into_iter().map(|(_, d)| d));
    kept
}

/// Joins the two folders' listings by version.
fn pair(dir: &Path, ups: Vec<Named>, downs: Vec<Named>, diags: &mut Vec<Diagnostic>) -> Vec<Pair> {
    let mut pairs = Vec::with_capacity(ups.len());
    let mut downs = downs.into_iter().peekable();
    let missing_up = |down: &Named, diags: &mut Vec<Diagnostic>| {
        let down_path = dir.join("down").join(down.file_name());
        diags.push(
            Diagnostic::error(codes::MISSING_UP, "down file has no up file")
                .with_path(&down_path)
                .with_hint(format!(
                    "create `{}` or delete the down file",
                    sibling(&down_path, "up").display()
                )),
        );
    };
    let mut unpaired_downs = Vec::new();
    for up in ups {
        while let Some(d) = downs.next_if(|d| d.version < up.version) {
            unpaired_downs.push(d);
        }
        let up_path = dir.join("up").join(up.file_name());
        match downs.next_if(|d| d.version == up.version) {
            Some(down) if down.name == up.name => pairs.push(Pair {
                down_width: down.version.width() as u8,
                version: up.version,
                name: up.name,
                up_readable: up.readable,
                down_readable: down.readable,
            }),
            Some(down) => diags.push(
                Diagnostic::error(
                    codes::MISSING_DOWN,
                    format!(
                        "up file `{}` and down file `{}` have the same version but different names",
                        up_path.display(),
                        dir.join("down").join(down.file_name()).display()
                    ),
                )
                .with_path(&up_path)
                .with_hint("an up file and its down file must have the same file name"),
            ),
            None => diags.push(
                Diagnostic::error(codes::MISSING_DOWN, "up file has no down file")
                    .with_path(&up_path)
                    .with_hint(format!(
                        "create `{}` (with `-- keel:irreversible` if it cannot be undone)",
                        sibling(&up_path, "down").display()
                    )),
            ),
        }
    }
    unpaired_downs.extend(downs);
    for d in &unpaired_downs {
        missing_up(d, diags);
    }
    pairs
}

/// The same file name in the sibling folder (`up` ↔ `down`).
fn sibling(path: &Path, folder: &str) -> PathBuf {
    let name = path.file_name().unwrap_or_default();
    path.parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from(folder), |p| p.join(folder))
        .join(name)
}

fn list_sql_folder(
    dir: &Path,
    root: &Root,
    allowed_dirs: &[&str],
    diags: &mut Vec<Diagnostic>,
) -> Vec<PathBuf> {
    let mut listed = Vec::new();
    list_folder(dir, root, allowed_dirs, diags, |path, readable| {
        listed.push((path, readable));
    });
    listed.sort_by(|a, b| a.0.file_name().cmp(&b.0.file_name()));
    let mut out = Vec::new();
    for (path, readable) in listed {
        if !readable {
            continue;
        }
        if path.extension().is_some_and(|e| e == "sql") {
            out.push(path);
        } else {
            diags.push(stray(&path));
        }
    }
    out
}

/// A concrete rename for a bad migration file name.
fn rename_hint(file_name: &str, e: &NameError) -> String {
    let stem = file_name.strip_suffix(".sql").unwrap_or(file_name);
    match e {
        NameError::Name => {
            let (digits, name) = stem.split_once('_').unwrap_or((stem, ""));
            format!("rename it to `{digits}_{}.sql`", slug(name))
        }
        NameError::Version => "versions have at most 20 digits".to_string(),
        _ => "rename it to `<version>_<name>.sql`, e.g. `0002_add_items.sql`".to_string(),
    }
}

fn stray(path: &Path) -> Diagnostic {
    Diagnostic::error(
        codes::STRAY_FILE,
        "not a SQL file; keel does not know what to do with it",
    )
    .with_path(path)
    .with_hint("move it out of the migrations folder (files starting with `.` are ignored)")
}

/// The migrations folder as the boundary symbolic links may not cross: its
/// canonical path, when it has one. `keel import` holds another tool's
/// migrations folder to the same boundary.
#[derive(Debug)]
pub struct Root(Option<PathBuf>);

impl Root {
    pub fn of(dir: &Path) -> Root {
        Root(std::fs::canonicalize(dir).ok())
    }

    /// `None` when `path` resolves inside the folder, else why it may not be
    /// read. Only called for symbolic links and the sub-folders themselves:
    /// resolving every plain file would cost a walk of its ancestors.
    pub fn refuses(&self, path: &Path) -> Option<String> {
        let root = self.0.as_ref()?;
        match std::fs::canonicalize(path) {
            Ok(real) if real.starts_with(root) => None,
            Ok(real) => Some(format!(
                "it is a symbolic link to `{}`, outside the migrations folder",
                real.display()
            )),
            Err(e) => Some(e.to_string()),
        }
    }
}

/// What a broken entry is, for an error message.
pub(crate) fn broken(e: &std::io::Error) -> String {
    if e.raw_os_error() == Some(40) {
        "it is a symbolic link loop".to_string()
    } else if e.kind() == std::io::ErrorKind::NotFound {
        "it is a broken symbolic link (its target does not exist)".to_string()
    } else {
        e.to_string()
    }
}

/// Hands each regular file directly in `dir` to `found`, with whether it can
/// be read (an unreadable entry is reported here, and still handed over so
/// that its up/down partner is not called missing); a missing folder is
/// empty. Sub-folders other than `allowed_dirs`, special files and symbolic
/// links out of the project are reported. Entries come in the folder's own
/// order: the callers sort what they keep.
fn list_folder(
    dir: &Path,
    root: &Root,
    allowed_dirs: &[&str],
    diags: &mut Vec<Diagnostic>,
    mut found: impl FnMut(PathBuf, bool),
) {
    if !dir.exists() {
        return;
    }
    // A sub-folder that is a link out of the project (`policies/tests ->
    // /etc`) would list, and then read, another folder's files.
    if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
        if let Some(why) = root.refuses(dir) {
            diags.push(
                Diagnostic::error(codes::UNREADABLE, format!("cannot read this folder: {why}"))
                    .with_path(dir)
                    .with_hint("keep migration folders inside the project"),
            );
            return;
        }
    }
    // Links are not followed by the walk (which would stat every entry);
    // the few symbolic links are resolved below.
    let walker = WalkDir::new(dir)
        .min_depth(1)
        .max_depth(1)
        .follow_links(false);
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().unwrap_or(dir).to_path_buf();
                let what = if e.loop_ancestor().is_some() {
                    "it is a symbolic link loop".to_string()
                } else {
                    e.io_error().map_or_else(|| e.to_string(), broken)
                };
                diags.push(
                    Diagnostic::error(codes::UNREADABLE, format!("cannot read this entry: {what}"))
                        .with_path(&path)
                        .with_hint("fix or remove this entry"),
                );
                found(path, false);
                continue;
            }
        };
        if entry.file_name().as_encoded_bytes().starts_with(b".") {
            continue;
        }
        let file_type = if entry.file_type().is_symlink() {
            match std::fs::metadata(entry.path()) {
                Ok(m) => {
                    if let Some(why) = root.refuses(entry.path()) {
                        diags.push(
                            Diagnostic::error(codes::UNREADABLE, format!("cannot read this entry: {why}"))
                                .with_path(entry.path())
                                .with_hint("a migration may link only to a file inside the migrations folder; copy the file in instead"),
                        );
                        found(entry.into_path(), false);
                        continue;
                    }
                    m.file_type()
                }
                Err(e) => {
                    diags.push(
                        Diagnostic::error(
                            codes::UNREADABLE,
                            format!("cannot read this entry: {}", broken(&e)),
                        )
                        .with_path(entry.path())
                        .with_hint("fix or remove this entry"),
                    );
                    found(entry.into_path(), false);
                    continue;
                }
            }
        } else {
            entry.file_type()
        };
        if file_type.is_dir() {
            let name = entry.file_name().to_string_lossy();
            if !allowed_dirs.contains(&name.as_ref()) {
                diags.push(
                    Diagnostic::error(
                        codes::STRAY_FILE,
                        "unexpected folder inside the migrations folder",
                    )
                    .with_path(entry.path())
                    .with_hint("migration folders hold only `.sql` files; move it elsewhere"),
                );
            }
            continue;
        }
        if !file_type.is_file() {
            // Never opened: reading a FIFO blocks, a device may never end.
            diags.push(not_regular(entry.path(), file_type));
            found(entry.into_path(), false);
            continue;
        }
        found(entry.into_path(), true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sibling_swaps_folder() {
        assert_eq!(
            sibling(Path::new("sql/up/0001_a.sql"), "down"),
            PathBuf::from("sql/down/0001_a.sql")
        );
    }

    #[test]
    fn a_pair_knows_its_paths_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let sql = dir.path();
        for (folder, name) in [("up", "0003_a.sql"), ("down", "3_a.sql")] {
            std::fs::create_dir_all(sql.join(folder)).unwrap();
            std::fs::write(sql.join(folder).join(name), "SELECT 1;\n").unwrap();
        }
        let layout = scan(sql).unwrap();
        let p = &layout.pairs[0];
        assert_eq!(p.path(sql, FileKind::Up), sql.join("up/0003_a.sql"));
        assert_eq!(p.path(sql, FileKind::Down), sql.join("down/3_a.sql"));
    }
}
