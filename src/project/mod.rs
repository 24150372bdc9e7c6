//! Finding and reading `sql/`: file names, versions, pairing up and down
//! files. Every layout mistake becomes a [`Diagnostic`] naming the path; only
//! a missing or unreadable top folder is a hard error.

pub mod digest;
pub mod listing_cache;
pub mod version;

use crate::diagnostic::{codes, Diagnostic};
use crate::header::{Checksum, Header};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use walkdir::WalkDir;

pub use version::{parse_file_name, slug, NameError, Version};

/// Files from this size on have their checksum computed when first asked
/// rather than when read.
const LARGE: usize = 1 << 20;

/// The largest SQL file keel reads (1 GiB): far above any real migration
/// (the benchmarks apply a 100 MB one), low enough that a planted sparse or
/// endless file is refused instead of filling memory.
pub const MAX_FILE_SIZE: u64 = 1 << 30;

/// What role a SQL file plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Up,
    Down,
    Policy,
    PolicyTest,
}

/// A SQL file read from disk with its parsed header.
#[derive(Debug, Clone)]
pub struct SqlFile {
    pub path: PathBuf,
    pub kind: FileKind,
    pub text: String,
    pub header: Header,
    /// Header lines that could not be read (parsed once, with the header).
    pub header_errors: Vec<crate::header::HeaderError>,
    /// The checksum of the body as read: computed with the header, or for
    /// a large file when first asked (see [`SqlFile::checksum_pending`]).
    checksum: std::sync::OnceLock<Checksum>,
    /// The text was dropped by [`SqlFile::release`]; [`SqlFile::reread`]
    /// gets it back.
    released: bool,
}

impl SqlFile {
    pub fn new(path: PathBuf, kind: FileKind, text: String) -> SqlFile {
        let (header, header_errors) = Header::parse(&text);
        let checksum = std::sync::OnceLock::new();
        if text.len() < LARGE {
            let _ = checksum.set(Checksum::of_body(&text[header.body_start..]));
        }
        SqlFile {
            path,
            kind,
            text,
            header,
            header_errors,
            checksum,
            released: false,
        }
    }

    /// Everything after the header.
    pub fn body(&self) -> &str {
        debug_assert!(
            !self.released,
            "the text of {} was released",
            self.path.display()
        );
        self.text.get(self.header.body_start..).unwrap_or_default()
    }

    /// The checksum of the body as it was read.
    pub fn actual_checksum(&self) -> Checksum {
        *self.checksum.get_or_init(|| Checksum::of_body(self.body()))
    }

    /// True for a large file whose checksum is not computed yet: checking
    /// it computes the checksum on another core while splitting it.
    pub fn checksum_pending(&self) -> bool {
        self.checksum.get().is_none()
    }

    /// Drops the text and keeps what planning a run needs (path, header,
    /// checksum): a run holds one migration's text at a time, so its memory
    /// does not grow with the number of migrations. Call only once the
    /// header's problems have been reported.
    pub fn release(&mut self) {
        self.actual_checksum();
        self.text = String::new();
        // A run still asks for the transaction mode and irreversibility;
        // the checksum and message lines were checked and are not needed.
        self.header.lines.retain(|l| {
            matches!(
                l.entry,
                crate::header::Entry::Transaction(_) | crate::header::Entry::Irreversible
            )
        });
        self.header.lines.shrink_to_fit();
        self.header_errors = Vec::new();
        self.released = true;
    }

    pub fn is_released(&self) -> bool {
        self.released
    }

    /// The file with its text: itself, or read again from disk when it was
    /// released, refused if its body is no longer the one that was checked
    /// (someone edited it while keel was running).
    pub fn reread(&self) -> Result<std::borrow::Cow<'_, SqlFile>, Box<Diagnostic>> {
        if !self.released {
            return Ok(std::borrow::Cow::Borrowed(self));
        }
        let mut diags = Vec::new();
        let Some(now) = read_file(self.path.clone(), self.kind, &mut diags) else {
            return Err(Box::new(diags.pop().unwrap_or_else(|| {
                Diagnostic::error(codes::UNREADABLE, "cannot read file").with_path(&self.path)
            })));
        };
        if now.actual_checksum() != self.actual_checksum() {
            return Err(Box::new(
                Diagnostic::error(
                    codes::CHANGED_DURING_RUN,
                    "the file changed while keel was running, after it was checked",
                )
                .with_path(&self.path)
                .with_hint("finish the edit (and `keel seal`), then run the command again"),
            ));
        }
        Ok(std::borrow::Cow::Owned(now))
    }

    /// True when the body has no statement text at all (only blanks).
    pub fn body_is_blank(&self) -> bool {
        crate::header::normalized_lines(self.body())
            .next()
            .is_none()
    }
}

/// One version: its up file and its down file.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: Version,
    pub name: String,
    pub up: SqlFile,
    pub down: SqlFile,
}

impl Migration {
    /// `0001_create_households`.
    pub fn id(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }

    pub fn irreversible(&self) -> bool {
        self.down.header.irreversible()
    }
}

/// Everything keel found under the migrations folder.
#[derive(Debug, Clone, Default)]
pub struct Project {
    pub dir: PathBuf,
    /// Complete pairs, ordered by version.
    pub migrations: Vec<Migration>,
    pub policies: Vec<SqlFile>,
    pub policy_tests: Vec<SqlFile>,
}

impl Project {
    pub fn find(&self, version: &Version) -> Option<&Migration> {
        self.migrations
            .binary_search_by(|m| m.version.cmp(version))
            .ok()
            .map(|i| &self.migrations[i])
    }

    pub fn head(&self) -> Option<&Migration> {
        self.migrations.last()
    }

    /// Every SQL file, for checks that apply to all of them.
    pub fn files(&self) -> impl Iterator<Item = &SqlFile> {
        self.migrations
            .iter()
            .flat_map(|m| [&m.up, &m.down])
            .chain(&self.policies)
            .chain(&self.policy_tests)
    }

    /// The digit width new versions should use: that of the newest file, or 4.
    pub fn version_width(&self) -> usize {
        self.head().map_or(4, |m| m.version.digits.len())
    }
}

/// The migrations folder itself cannot be used: a configuration problem.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("migrations folder `{}` does not exist", .0.display())]
    NotFound(PathBuf),
    #[error("cannot read migrations folder `{}`: {source}", .path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ProjectError {
    pub fn hint(&self) -> &'static str {
        match self {
            ProjectError::NotFound(_) => {
                "run keel from the project root, pass `--dir <path>`, or create it with `keel revision -m \"...\"`"
            }
            ProjectError::Unreadable { .. } => "check the folder's permissions",
        }
    }
}

/// The project and the problems found while reading it. A file with a
/// problem that stops it from being read is left out of `project`.
#[derive(Debug)]
pub struct Loaded {
    pub project: Project,
    pub diagnostics: Vec<Diagnostic>,
}

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

/// The two files of one version. `Err` holds a path already reported as
/// unreadable.
#[derive(Debug, Clone)]
pub struct Pair {
    pub version: Version,
    pub name: String,
    pub up: Listed,
    pub down: Listed,
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
        Ok(_) => return Err(ProjectError::NotFound(dir.to_path_buf())),
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
    let pairs = pair(ups, downs, &mut diagnostics);
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

/// Reads the migrations folder `dir`: its layout, then every file.
pub fn load(dir: &Path) -> Result<Loaded, ProjectError> {
    Ok(load_layout(scan(dir)?, |_, _| {}))
}

/// Reads every file of `layout`. `prepare` sees each file as soon as it is
/// read, on the reading thread (e.g. to report its header and release its
/// text).
pub fn load_layout(
    layout: Layout,
    prepare: impl Fn(&mut SqlFile, &mut Vec<Diagnostic>) + Sync,
) -> Loaded {
    let Layout {
        dir,
        pairs,
        policies,
        policy_tests,
        mut diagnostics,
    } = layout;
    let read = |path: PathBuf, kind: FileKind, d: &mut Vec<Diagnostic>| {
        let mut file = read_file(path, kind, d)?;
        prepare(&mut file, d);
        Some(file)
    };
    // Pairs are read on all cores, each pair's paths moved into its files.
    // A side already reported unreadable is skipped; the other is still
    // read for its own problems.
    let read_pairs = crate::parallel::map_owned(pairs, 32, |p: Pair| {
        let mut d = Vec::new();
        let up = p.up.ok().and_then(|path| read(path, FileKind::Up, &mut d));
        let down = p
            .down
            .ok()
            .and_then(|path| read(path, FileKind::Down, &mut d));
        let migration = match (up, down) {
            (Some(up), Some(down)) => Some(Migration {
                version: p.version,
                name: p.name,
                up,
                down,
            }),
            _ => None,
        };
        (migration, d)
    });
    // Collected in place: the results' own allocation becomes the list.
    let migrations: Vec<Migration> = read_pairs
        .into_iter()
        .filter_map(|(m, d)| {
            diagnostics.extend(d);
            m
        })
        .collect();
    let mut read_all = |paths: Vec<PathBuf>, kind: FileKind| -> Vec<SqlFile> {
        let files = crate::parallel::map_owned(paths, 64, |path| {
            let mut d = Vec::new();
            (read(path, kind, &mut d), d)
        });
        let mut out = Vec::with_capacity(files.len());
        for (f, d) in files {
            diagnostics.extend(d);
            out.extend(f);
        }
        out
    };
    let policies = read_all(policies, FileKind::Policy);
    let policy_tests = read_all(policy_tests, FileKind::PolicyTest);
    Loaded {
        project: Project {
            dir,
            migrations,
            policies,
            policy_tests,
        },
        diagnostics,
    }
}

/// Reads the policy files `paths` (the policy stage needs them even when no
/// migration runs).
pub fn read_policies(paths: &[PathBuf], diagnostics: &mut Vec<Diagnostic>) -> Vec<SqlFile> {
    paths
        .iter()
        .filter_map(|path| read_file(path.clone(), FileKind::Policy, diagnostics))
        .collect()
}

/// Files named `<version>_<name>.sql`, by version. Duplicates are reported
/// and the later one (by file name) is dropped.
type Folder = BTreeMap<Version, (String, Listed)>;

fn list_migration_folder(dir: &Path, root: &Root, diags: &mut Vec<Diagnostic>) -> Folder {
    let mut out: Folder = BTreeMap::new();
    for listed in list_folder(dir, root, &[], diags) {
        let (path, readable) = match &listed {
            Ok(p) => (p.clone(), true),
            Err(p) => (p.clone(), false),
        };
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (version, name) = match parse_file_name(&file_name) {
            Ok(v) => v,
            Err(NameError::NotSql) => {
                if readable {
                    diags.push(stray(&path));
                }
                continue;
            }
            Err(e) => {
                diags.push(
                    Diagnostic::error(
                        codes::BAD_FILE_NAME,
                        format!("bad migration file name: {e}"),
                    )
                    .with_path(&path)
                    .with_hint(rename_hint(&file_name, &e)),
                );
                continue;
            }
        };
        if let Some((first, (other_name, _))) = out.get_key_value(&version) {
            let other = dir.join(format!("{first}_{other_name}.sql"));
            diags.push(
                Diagnostic::error(
                    codes::DUPLICATE_VERSION,
                    format!(
                        "version {} is used twice: `{}` and `{}`",
                        version.number,
                        other.display(),
                        path.display()
                    ),
                )
                .with_path(&path)
                .with_hint("versions compare as numbers (`0003` and `3` are the same); give one of them a free version"),
            );
            continue;
        }
        out.insert(version, (name, listed));
    }
    out
}

fn pair(ups: Folder, mut downs: Folder, diags: &mut Vec<Diagnostic>) -> Vec<Pair> {
    let mut pairs = Vec::new();
    for (version, (name, up)) in ups {
        let up_path = match &up {
            Ok(p) | Err(p) => p.clone(),
        };
        match downs.remove(&version) {
            Some((down_name, down)) if down_name == name => pairs.push(Pair {
                version,
                name,
                up,
                down,
            }),
            Some((_, down)) => {
                let down_path = match &down {
                    Ok(p) | Err(p) => p.clone(),
                };
                diags.push(
                    Diagnostic::error(
                        codes::MISSING_DOWN,
                        format!(
                            "up file `{}` and down file `{}` have the same version but different names",
                            up_path.display(),
                            down_path.display()
                        ),
                    )
                    .with_path(&up_path)
                    .with_hint("an up file and its down file must have the same file name"),
                )
            }
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
    for (_, (_, down)) in downs {
        let down_path = match &down {
            Ok(p) | Err(p) => p.clone(),
        };
        diags.push(
            Diagnostic::error(codes::MISSING_UP, "down file has no up file")
                .with_path(&down_path)
                .with_hint(format!(
                    "create `{}` or delete the down file",
                    sibling(&down_path, "up").display()
                )),
        );
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
    let mut out = Vec::new();
    for path in list_folder(dir, root, allowed_dirs, diags)
        .into_iter()
        .flatten()
    {
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

/// The regular files directly in `dir`, sorted by name; a missing folder is
/// empty. Sub-folders other than `allowed_dirs`, unreadable entries and
/// symlink loops are reported.
/// An entry of a folder: a path to read, or one already reported as
/// unreadable (kept so that its up/down partner is not called missing).
pub type Listed = Result<PathBuf, PathBuf>;

/// The migrations folder as the boundary symbolic links may not cross: its
/// canonical path, when it has one.
struct Root(Option<PathBuf>);

impl Root {
    fn of(dir: &Path) -> Root {
        Root(std::fs::canonicalize(dir).ok())
    }

    /// `None` when `path` resolves inside the folder, else why it may not be
    /// read. Only called for symbolic links and the sub-folders themselves:
    /// resolving every plain file would cost a walk of its ancestors.
    fn refuses(&self, path: &Path) -> Option<String> {
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

/// What a special file is, for an error message.
fn special_kind(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "not a file"
    }
}

fn not_regular(path: &Path, t: std::fs::FileType) -> Diagnostic {
    Diagnostic::error(
        codes::UNREADABLE,
        format!(
            "cannot read this entry: it is not a regular file ({})",
            special_kind(t)
        ),
    )
    .with_path(path)
    .with_hint("migration folders hold only regular `.sql` files; remove this entry")
}

fn list_folder(
    dir: &Path,
    root: &Root,
    allowed_dirs: &[&str],
    diags: &mut Vec<Diagnostic>,
) -> Vec<Listed> {
    if !dir.exists() {
        return Vec::new();
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
            return Vec::new();
        }
    }
    let mut out = Vec::new();
    // Links are not followed by the walk (which would stat every entry);
    // the few symbolic links are resolved below.
    // Sorted below with each name computed once (walkdir's own sort parses
    // both paths on every comparison: 10,000 migrations felt it).
    let walker = WalkDir::new(dir)
        .min_depth(1)
        .max_depth(1)
        .follow_links(false);
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().unwrap_or(dir).to_path_buf();
                let what = if e.loop_ancestor().is_some()
                    || e.io_error().and_then(std::io::Error::raw_os_error) == Some(40)
                {
                    "it is a symbolic link loop".to_string()
                } else if e
                    .io_error()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound)
                {
                    "it is a broken symbolic link (its target does not exist)".to_string()
                } else {
                    e.io_error()
                        .map_or_else(|| e.to_string(), |io| io.to_string())
                };
                diags.push(
                    Diagnostic::error(codes::UNREADABLE, format!("cannot read this entry: {what}"))
                        .with_path(&path)
                        .with_hint("fix or remove this entry"),
                );
                out.push(Err(path));
                continue;
            }
        };
        let name = entry.file_name().to_string_lossy();
        if name.starts_with('.') {
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
                        out.push(Err(entry.into_path()));
                        continue;
                    }
                    m.file_type()
                }
                Err(e) => {
                    let what = if e.raw_os_error() == Some(40) {
                        "it is a symbolic link loop".to_string()
                    } else if e.kind() == std::io::ErrorKind::NotFound {
                        "it is a broken symbolic link (its target does not exist)".to_string()
                    } else {
                        e.to_string()
                    };
                    diags.push(
                        Diagnostic::error(
                            codes::UNREADABLE,
                            format!("cannot read this entry: {what}"),
                        )
                        .with_path(entry.path())
                        .with_hint("fix or remove this entry"),
                    );
                    out.push(Err(entry.into_path()));
                    continue;
                }
            }
        } else {
            entry.file_type()
        };
        if !file_type.is_dir() && !file_type.is_file() {
            // Never opened: reading a FIFO blocks, a device may never end.
            diags.push(not_regular(entry.path(), file_type));
            out.push(Err(entry.into_path()));
            continue;
        }
        if file_type.is_dir() {
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
        out.push(Ok(entry.into_path()));
    }
    out.sort_by_cached_key(|listed| {
        let (Ok(p) | Err(p)) = listed;
        p.file_name().map(|n| n.to_os_string())
    });
    out
}

/// Why a listed file could not be read.
enum ReadError {
    Io(std::io::Error),
    /// It changed into a FIFO, socket or device since it was listed.
    NotRegular(std::fs::FileType),
    TooLarge(u64),
}

/// The bytes of a regular file of at most [`MAX_FILE_SIZE`]. The file is
/// opened without blocking and checked on the opened descriptor, so what is
/// checked is what is read, and a FIFO swapped in after listing cannot hang
/// keel.
fn read_regular(path: &Path) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    let file = crate::safe_fs::open_nonblocking(path).map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(meta.file_type()));
    }
    if meta.len() > MAX_FILE_SIZE {
        return Err(ReadError::TooLarge(meta.len()));
    }
    // Bounded even if the file grows while it is read.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(ReadError::TooLarge(bytes.len() as u64));
    }
    Ok(bytes)
}

fn read_file(path: PathBuf, kind: FileKind, diags: &mut Vec<Diagnostic>) -> Option<SqlFile> {
    let bytes = match read_regular(&path) {
        Ok(b) => b,
        Err(ReadError::Io(e)) => {
            diags.push(
                Diagnostic::error(codes::UNREADABLE, format!("cannot read file: {e}"))
                    .with_path(&path)
                    .with_hint("check the file's permissions"),
            );
            return None;
        }
        Err(ReadError::NotRegular(t)) => {
            diags.push(not_regular(&path, t));
            return None;
        }
        Err(ReadError::TooLarge(len)) => {
            diags.push(
                Diagnostic::error(
                    codes::UNREADABLE,
                    format!("the file is larger than keel's limit of 1 GiB ({len} bytes)"),
                )
                .with_path(&path)
                .with_hint("split it into several migrations"),
            );
            return None;
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => Some(SqlFile::new(path, kind, text)),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let bad = bytes.get(valid).copied().unwrap_or_default();
            let prefix = std::str::from_utf8(&bytes[..valid]).unwrap_or_default();
            let pos = crate::diagnostic::Position::of(prefix, prefix.len());
            let mut d = Diagnostic::error(
                codes::NOT_UTF8,
                format!("the file is not valid UTF-8 (byte 0x{bad:02X})"),
            )
            .with_path(&path)
            .with_hint("save the file as UTF-8 (it may have been saved as Latin-1 or Windows-1252, e.g. `iconv -f WINDOWS-1252 -t UTF-8`)");
            d.line = Some(pos.line);
            d.column = Some(pos.column);
            diags.push(d);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_released_file_is_read_again_only_while_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0001_a.sql");
        std::fs::write(&path, "-- keel:checksum sha256:00\nSELECT 1;\n").unwrap();
        let mut diags = Vec::new();
        let mut f = read_file(path.clone(), FileKind::Up, &mut diags).unwrap();
        let checksum = f.actual_checksum();
        f.release();
        assert!(f.is_released() && f.text.is_empty());
        assert_eq!(f.actual_checksum(), checksum);
        // A cosmetic edit of the header keeps the body: still the same file.
        std::fs::write(&path, "-- keel:checksum sha256:11\nSELECT 1;\n").unwrap();
        let again = f.reread().unwrap();
        assert_eq!(again.body(), "SELECT 1;\n");
        std::fs::write(&path, "-- keel:checksum sha256:00\nSELECT 2;\n").unwrap();
        assert_eq!(f.reread().unwrap_err().code, codes::CHANGED_DURING_RUN);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(f.reread().unwrap_err().code, codes::UNREADABLE);
    }

    #[test]
    fn a_large_file_gets_its_checksum_when_first_asked() {
        let body = "INSERT INTO t VALUES (1);   \n".repeat(LARGE / 20);
        let f = SqlFile::new(PathBuf::from("big.sql"), FileKind::Up, body.clone());
        assert!(f.checksum_pending());
        let checked = crate::sql::check::check_file(&f, Default::default());
        assert!(!f.checksum_pending());
        // Only the header is missing; every statement parsed.
        assert!(
            checked
                .diagnostics
                .iter()
                .all(|d| d.code == codes::MISSING_CHECKSUM),
            "{:?}",
            checked.diagnostics.first()
        );
        assert_eq!(checked.statements.len(), LARGE / 20);
        assert_eq!(f.actual_checksum(), Checksum::of_body(&body));
        let small = SqlFile::new(PathBuf::from("s.sql"), FileKind::Up, "SELECT 1;\n".into());
        assert!(!small.checksum_pending());
    }

    #[test]
    fn sibling_swaps_folder() {
        assert_eq!(
            sibling(Path::new("sql/up/0001_a.sql"), "down"),
            PathBuf::from("sql/down/0001_a.sql")
        );
    }
}
