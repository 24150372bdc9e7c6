//! Throwaway PostgreSQL clusters from the machine's server binaries.
//!
//! Two users: `keel dev-db` ([`DevDb`], a cluster under the project's `.keel/` that persists
//! between runs) and the integration tests ([`Cluster::throwaway`], one cluster per test binary).
//! Both run the machine's own `initdb`, `pg_ctl` and `postgres` ([`ServerBinaries`]), and both
//! serve only a private Unix socket with `trust` authentication: no TCP listener, no password,
//! so a connection URL can be printed and copied safely.
//!
//! PostgreSQL refuses to run as root. When keel runs as root (containers, CI), every server
//! command runs as the `postgres` OS user instead, every directory the server writes is handed to
//! that user first, and paths that user cannot reach are reported (or, for the dev cluster,
//! avoided) before the server gets a chance to fail obscurely.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The environment variable that names the directory holding `initdb`, `pg_ctl` and `postgres`.
pub const BINDIR_ENV: &str = "KEEL_PG_BINDIR";

/// The role every cluster is created with; `initdb -U` makes it the superuser.
pub const SUPERUSER: &str = "postgres";

/// The database that exists in every fresh cluster.
pub const DEFAULT_DB: &str = "postgres";

/// Where Debian and Ubuntu install one `<version>/bin` per PostgreSQL major version.
const DEBIAN_VERSIONS_ROOT: &str = "/usr/lib/postgresql";

/// `sun_path` is 108 bytes on Linux including the trailing NUL, and PostgreSQL refuses socket
/// paths that do not fit.
const MAX_SOCKET_PATH: usize = 107;

/// Dev cluster ports are derived from the project path into this range. Only the socket file
/// name uses the number (there is no TCP listener), so it only has to be stable per project.
const DEV_PORT_BASE: u16 = 20000;
const DEV_PORT_SPAN: u16 = 10000;

/// Seconds `pg_ctl -w` waits for the server to start or stop.
const PG_CTL_TIMEOUT_SECS: &str = "60";

/// How much of the server log a failed start shows.
const LOG_TAIL_LINES: usize = 30;
const LOG_TAIL_BYTES: u64 = 16 * 1024;

/// Everything that can go wrong while finding, creating, starting or stopping a cluster.
///
/// Each variant carries what a user needs to act on it: the paths involved, the command that
/// failed with its output, and a `hint:` line where there is an obvious fix.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No directory with `initdb`, `pg_ctl` and `postgres` was found.
    #[error(
        "could not find the PostgreSQL server binaries (initdb, pg_ctl, postgres)\n  tried: {}\nhint: install the server with `apt-get install postgresql`, or set {BINDIR_ENV} to the directory that holds initdb",
        .tried.join("\n         ")
    )]
    BinariesNotFound {
        /// One line per place that was searched, saying why it did not qualify.
        tried: Vec<String>,
    },

    /// `$KEEL_PG_BINDIR` is set but does not hold the server programs.
    #[error(
        "{BINDIR_ENV} is {}, but there is no executable {missing} there\nhint: set {BINDIR_ENV} to the directory that holds initdb, pg_ctl and postgres (`pg_config --bindir` prints it), or unset it",
        .dir.display()
    )]
    BadBinDir {
        /// The directory named by the variable.
        dir: PathBuf,
        /// The first program that is missing from it.
        missing: &'static str,
    },

    /// A file system operation failed.
    #[error("could not {action} {}: {source}", .path.display())]
    Io {
        /// What was being done, as a verb phrase ("create directory").
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// A program could not be started at all.
    #[error("could not run {command}: {source}")]
    Spawn {
        /// The command line, shell-quoted, in backticks.
        command: String,
        /// The underlying error.
        source: io::Error,
    },

    /// A program ran and failed.
    #[error("{command} failed ({status}){}", indented(.output))]
    Command {
        /// The command line, shell-quoted, in backticks.
        command: String,
        /// How it ended ("exit status: 1").
        status: String,
        /// Its standard error, or standard output when that is empty.
        output: String,
    },

    /// `pg_ctl start` failed; the server log usually says why.
    #[error(
        "PostgreSQL did not start (data directory {})\n  {pg_ctl}\n  last lines of the server log {}:{}",
        .data_dir.display(), .log_file.display(), indented(.log_tail)
    )]
    StartFailed {
        /// The cluster's data directory.
        data_dir: PathBuf,
        /// How `pg_ctl start` failed (a [`ClusterError::Command`]); boxed to keep every
        /// `Result` of this module small.
        pg_ctl: Box<ClusterError>,
        /// The server log.
        log_file: PathBuf,
        /// Its last lines.
        log_tail: String,
    },

    /// keel runs as root and there is no `postgres` OS user to run the server as.
    #[error(
        "PostgreSQL refuses to run as root, and there is no `postgres` OS user to run it as\nhint: `apt-get install postgresql` creates one (or `useradd --system --user-group postgres`), or run keel as a regular user"
    )]
    NoServerUser,

    /// keel runs as root and the `postgres` OS user cannot enter a directory on the way to a
    /// path the server must use.
    #[error(
        "the `{user}` OS user (uid {uid}) runs PostgreSQL because keel runs as root, but it cannot reach {}: it may not enter {} (mode {mode:o}, owner uid {owner})\nhint: `chmod o+x {}`, or keep the cluster in a directory every user can enter",
        .path.display(), .blocked.display(), .blocked.display()
    )]
    NotReachable {
        /// The server's OS user.
        user: String,
        /// Its uid.
        uid: u32,
        /// The path the server needs.
        path: PathBuf,
        /// The first directory on the way that it may not enter.
        blocked: PathBuf,
        /// That directory's permission bits.
        mode: u32,
        /// That directory's owner.
        owner: u32,
    },

    /// A file or directory keel would use exists but is not safe to use: a symbolic link, the
    /// wrong kind of file, or owned by another user (a repository can commit `.keel/` with
    /// planted links; `/tmp` and `/var/tmp` are shared with every user).
    #[error("refusing to use {}: {reason}\nhint: remove it (keel creates it afresh), or move it out of the way", .path.display())]
    UnsafePath {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// An initialized data directory that keel did not create on this machine: its identity
    /// (device, inode, birth time) is not the one the record kept when keel ran `initdb`.
    /// A repository can commit a whole data directory, and its `postgresql.conf` can run any
    /// command (`archive_command`) as the user who starts the server.
    #[error(
        "refusing to start a server from {}: it was not created by keel on this machine (it came with the repository, was copied, or predates keel recording it)\nhint: delete it (`rm -rf {}`) and run `keel dev-db start` to create a fresh one",
        .path.display(), .path.display()
    )]
    ForeignDataDir {
        /// The data directory.
        path: PathBuf,
    },

    /// `.keel/dev-db.json` names a path where keel never puts the dev cluster. Records are
    /// committed by accident or on purpose; trusting one would let a repository choose which
    /// directory the server is started in or which file gets the server log.
    #[error(
        "{} names {field} {}, which is not where keel keeps the dev database (only {} or {} are)\nhint: delete {} (nothing is started meanwhile); `keel dev-db start` writes a new one",
        .record.display(), .path.display(), .keel_dir.display(), .own_dir.display(), .record.display()
    )]
    ForeignRecordPath {
        /// The record file.
        record: PathBuf,
        /// The field (`data_dir`, `log_file`, `socket_dir`).
        field: &'static str,
        /// The path it names.
        path: PathBuf,
        /// The project's `.keel/`.
        keel_dir: PathBuf,
        /// keel's own `/var/tmp/keel-dev-<hash>/` for this project.
        own_dir: PathBuf,
    },

    /// `.keel/dev-db.json` exists but cannot be read as a dev cluster record.
    #[error(
        "{} is not a valid dev database record: {source}\nhint: stop any server still using it, then delete the file; `keel dev-db start` writes a new one",
        .path.display()
    )]
    BadRecord {
        /// The record file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
}

impl ClusterError {
    /// The message and, apart, the `hint:` line most variants end with, for callers that
    /// print hints on their own line.
    pub fn message_and_hint(&self) -> (String, Option<String>) {
        let text = self.to_string();
        match text.split_once("\nhint: ") {
            Some((message, hint)) => (message.to_string(), Some(hint.to_string())),
            None => (text, None),
        }
    }
}

type Result<T, E = ClusterError> = std::result::Result<T, E>;

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ClusterError + 'a {
    move |source| ClusterError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

// ---------------------------------------------------------------------------------------------
// Finding the server binaries
// ---------------------------------------------------------------------------------------------

/// The three PostgreSQL server programs keel runs, all from one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerBinaries {
    bindir: PathBuf,
    initdb: PathBuf,
    pg_ctl: PathBuf,
    postgres: PathBuf,
}

impl ServerBinaries {
    /// Finds the server binaries, trying in order:
    ///
    /// 1. `$KEEL_PG_BINDIR` (an error if it is set and lacks a program: an explicit choice that
    ///    is wrong should not silently turn into another server version);
    /// 2. `pg_config --bindir`, if `initdb` is there (client-only installs have `pg_config`
    ///    without the server);
    /// 3. the newest `/usr/lib/postgresql/<version>/bin` (Debian and Ubuntu keep the server off
    ///    `PATH`);
    /// 4. the first `initdb` on `PATH`.
    pub fn find() -> Result<ServerBinaries> {
        find_binaries(
            std::env::var_os(BINDIR_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            pg_config_bindir,
            Path::new(DEBIAN_VERSIONS_ROOT),
            std::env::var_os("PATH").as_deref(),
        )
    }

    /// The binaries in `dir`, if all three are there and executable.
    pub fn in_dir(dir: &Path) -> Option<ServerBinaries> {
        let bins = Self::assume_in(dir);
        [&bins.initdb, &bins.pg_ctl, &bins.postgres]
            .iter()
            .all(|p| is_executable(p))
            .then_some(bins)
    }

    fn assume_in(dir: &Path) -> ServerBinaries {
        // Absolute, because server commands run in `/` and a relative program path would be
        // looked up there (KEEL_PG_BINDIR=., or `.` on PATH).
        let dir = &std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        ServerBinaries {
            bindir: dir.to_path_buf(),
            initdb: dir.join("initdb"),
            pg_ctl: dir.join("pg_ctl"),
            postgres: dir.join("postgres"),
        }
    }

    /// The directory holding the programs.
    pub fn bindir(&self) -> &Path {
        &self.bindir
    }

    /// Path to `initdb`.
    pub fn initdb(&self) -> &Path {
        &self.initdb
    }

    /// Path to `pg_ctl`.
    pub fn pg_ctl(&self) -> &Path {
        &self.pg_ctl
    }

    /// Path to `postgres`.
    pub fn postgres(&self) -> &Path {
        &self.postgres
    }
}

/// [`ServerBinaries::find`] with its inputs passed in, so the search order can be tested.
fn find_binaries(
    env_bindir: Option<PathBuf>,
    pg_config: impl FnOnce() -> Option<PathBuf>,
    versions_root: &Path,
    path_var: Option<&OsStr>,
) -> Result<ServerBinaries> {
    if let Some(dir) = env_bindir {
        let bins = ServerBinaries::assume_in(&dir);
        let missing = [
            ("initdb", &bins.initdb),
            ("pg_ctl", &bins.pg_ctl),
            ("postgres", &bins.postgres),
        ]
        .into_iter()
        .find(|(_, p)| !is_executable(p));
        return match missing {
            None => Ok(bins),
            Some((missing, _)) => Err(ClusterError::BadBinDir { dir, missing }),
        };
    }
    let mut tried = vec![format!("${BINDIR_ENV}: not set")];

    match pg_config() {
        Some(dir) => match ServerBinaries::in_dir(&dir) {
            Some(bins) => return Ok(bins),
            None => tried.push(format!(
                "`pg_config --bindir`: {} has no initdb, pg_ctl and postgres",
                dir.display()
            )),
        },
        None => tried.push("`pg_config --bindir`: no pg_config on PATH".into()),
    }

    let versioned = versioned_bindirs(versions_root);
    if let Some(bins) = versioned.iter().find_map(|d| ServerBinaries::in_dir(d)) {
        return Ok(bins);
    }
    tried.push(format!(
        "{}/<version>/bin: {}",
        versions_root.display(),
        if versioned.is_empty() {
            "none"
        } else {
            "none with initdb, pg_ctl and postgres"
        }
    ));

    for dir in path_var.map(std::env::split_paths).into_iter().flatten() {
        let initdb = dir.join("initdb");
        if !is_executable(&initdb) {
            continue;
        }
        // A PATH entry may hold only symlinks to some of the programs (e.g. /usr/local/bin);
        // the directory the real initdb lives in has all of them.
        let real_dir = fs::canonicalize(&initdb)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf));
        if let Some(bins) = ServerBinaries::in_dir(&dir)
            .or_else(|| real_dir.and_then(|d| ServerBinaries::in_dir(&d)))
        {
            return Ok(bins);
        }
    }
    tried.push("PATH: no initdb with pg_ctl and postgres beside it".into());

    Err(ClusterError::BinariesNotFound { tried })
}

fn pg_config_bindir() -> Option<PathBuf> {
    let out = Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let dir = String::from_utf8(out.stdout).ok()?;
    let dir = dir.trim();
    (out.status.success() && !dir.is_empty()).then(|| PathBuf::from(dir))
}

/// `<root>/<version>/bin` for every numeric version directory, newest first ("15" before "9.6").
fn versioned_bindirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = version_key(e.file_name().to_str()?)?;
            Some((version, e.path().join("bin")))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

// ---------------------------------------------------------------------------------------------
// The OS user the server runs as
// ---------------------------------------------------------------------------------------------

/// An OS account, as far as keel needs one: to run the server as it and hand it directories.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OsUser {
    name: String,
    uid: u32,
    gid: u32,
    home: PathBuf,
}

/// The user to run server commands as: `None` to run them as ourselves, the `postgres` user when
/// we are root (the server exits at once if started as root).
fn server_user() -> Result<Option<OsUser>> {
    if effective_uid() != Some(0) {
        return Ok(None);
    }
    lookup_user(SUPERUSER)
        .map(Some)
        .ok_or(ClusterError::NoServerUser)
}

fn effective_uid() -> Option<u32> {
    Some(crate::safe_fs::effective_uid())
}

/// Looks a user up in `/etc/passwd`, then through NSS (`getent`), then with `id`.
fn lookup_user(name: &str) -> Option<OsUser> {
    if let Some(user) = fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| parse_passwd(&text, name))
    {
        return Some(user);
    }
    let getent = Command::new("getent")
        .args(["passwd", name])
        .stderr(Stdio::null())
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| parse_passwd(&text, name));
    if getent.is_some() {
        return getent;
    }
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id")
            .args([flag, name])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    Some(OsUser {
        name: name.to_string(),
        uid: id("-u")?,
        gid: id("-g")?,
        home: PathBuf::from("/"),
    })
}

/// Finds `name` in passwd(5) text: `name:password:uid:gid:gecos:home:shell`.
fn parse_passwd(text: &str, name: &str) -> Option<OsUser> {
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 7 || fields[0] != name {
            return None;
        }
        Some(OsUser {
            name: name.to_string(),
            uid: fields[2].parse().ok()?,
            gid: fields[3].parse().ok()?,
            home: PathBuf::from(if fields[5].is_empty() { "/" } else { fields[5] }),
        })
    })
}

/// Whether a user may enter a directory with these permission bits. Supplementary groups are
/// ignored on purpose: `Command::uid` drops them, so only the primary group counts.
fn may_enter(mode: u32, owner: u32, group: u32, user: &OsUser) -> bool {
    if user.uid == 0 {
        return true;
    }
    let bit = if owner == user.uid {
        0o100
    } else if group == user.gid {
        0o010
    } else {
        0o001
    };
    mode & bit != 0
}

/// Fails with [`ClusterError::NotReachable`] when `user` cannot enter every directory from `/`
/// down to `path` (which must exist).
fn check_reachable(path: &Path, user: Option<&OsUser>) -> Result<()> {
    let Some(user) = user else {
        return Ok(());
    };
    let real = fs::canonicalize(path).map_err(io_err("resolve", path))?;
    let ancestors: Vec<&Path> = real.ancestors().collect();
    // From the root down, so the error names the outermost blocker (e.g. /root, not a
    // directory inside it that would be fine once /root is opened).
    for dir in ancestors.into_iter().rev() {
        let meta = fs::metadata(dir).map_err(io_err("inspect", dir))?;
        if meta.is_dir() && !may_enter(meta.mode(), meta.uid(), meta.gid(), user) {
            return Err(ClusterError::NotReachable {
                user: user.name.clone(),
                uid: user.uid,
                path: path.to_path_buf(),
                blocked: dir.to_path_buf(),
                mode: meta.mode() & 0o7777,
                owner: meta.uid(),
            });
        }
    }
    Ok(())
}

fn is_reachable(path: &Path, user: Option<&OsUser>) -> bool {
    check_reachable(path, user).is_ok()
}

/// Creates `dir` (and missing parents) if needed, gives it `mode` and hands it to `owner`.
///
/// An existing directory must be a real directory owned by us or by `owner`: some of these live
/// in world-writable places (`/tmp`, `/var/tmp`), where another user could have planted a
/// symlink or a directory of their own to read the cluster's socket, and `.keel/` comes with
/// the repository. Mode and owner are changed through a descriptor opened with `O_NOFOLLOW`,
/// so a link swapped in after the check is never followed.
fn ensure_dir(dir: &Path, mode: u32, owner: Option<&OsUser>) -> Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // Missing parents get the default mode: `mode` is usually private, and a private
            // parent would lock the server user out of its own directory.
            if let Some(parent) = dir.parent() {
                fs::create_dir_all(parent).map_err(io_err("create directory", parent))?;
            }
            fs::DirBuilder::new()
                .mode(mode)
                .create(dir)
                .map_err(io_err("create directory", dir))?;
        }
        Err(e) => return Err(io_err("inspect", dir)(e)),
    }
    let handle = open_owned(dir, Kind::Dir, &allowed_owners(owner))?;
    // Set explicitly: the umask may have narrowed the mode given at creation.
    handle
        .set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io_err("set permissions on", dir))?;
    give_handle_to(&handle, dir, owner)
}

/// What a path keel uses must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
}

/// keel's own uid, and the server user's when it differs.
fn allowed_owners(server: Option<&OsUser>) -> Vec<u32> {
    let mut owners: Vec<u32> = effective_uid().into_iter().collect();
    owners.extend(server.map(|u| u.uid));
    owners
}

/// Opens `path` without following a symbolic link and checks, on the opened descriptor, that
/// it is a `kind` owned by one of `owners`.
fn open_owned(path: &Path, kind: Kind, owners: &[u32]) -> Result<fs::File> {
    let unsafe_path = |reason: String| ClusterError::UnsafePath {
        path: path.to_path_buf(),
        reason,
    };
    let opened = match kind {
        Kind::Dir => crate::safe_fs::open_dir_nofollow(path),
        Kind::File => crate::safe_fs::open_nofollow(path),
    };
    let file = match opened {
        Ok(f) => f,
        // With O_DIRECTORY, Linux reports a link as ENOTDIR rather than ELOOP: ask lstat.
        Err(e)
            if crate::safe_fs::is_symlink_error(&e)
                || fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) =>
        {
            return Err(unsafe_path("it is a symbolic link".into()))
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
            return Err(unsafe_path("it is not a directory".into()))
        }
        Err(e) => return Err(io_err("open", path)(e)),
    };
    let meta = file.metadata().map_err(io_err("inspect", path))?;
    if kind == Kind::File && !meta.is_file() {
        return Err(unsafe_path("it is not a regular file".into()));
    }
    if !owners.contains(&meta.uid()) {
        return Err(unsafe_path(format!(
            "it belongs to another user (uid {})",
            meta.uid()
        )));
    }
    Ok(file)
}

/// Checks `path` like [`open_owned`] when it exists; a missing path is fine.
fn check_owned_if_present(path: &Path, kind: Kind, owners: &[u32]) -> Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("inspect", path)(e)),
        Ok(_) => open_owned(path, kind, owners).map(drop),
    }
}

/// Hands an opened file to `owner` (`fchown`: the descriptor, never a path that could have
/// become a link meanwhile).
fn give_handle_to(file: &fs::File, path: &Path, owner: Option<&OsUser>) -> Result<()> {
    match owner {
        Some(user) => std::os::unix::fs::fchown(file, Some(user.uid), Some(user.gid))
            .map_err(io_err("change the owner of", path)),
        None => Ok(()),
    }
}

/// Hands `path` itself to `owner` (`lchown`: a symbolic link is changed, never its target).
fn give_to(path: &Path, owner: Option<&OsUser>) -> Result<()> {
    match owner {
        Some(user) => std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid))
            .map_err(io_err("change the owner of", path)),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------------------------

/// A command for a server program, run as `run_as` when given.
fn server_command(program: &Path, run_as: Option<&OsUser>) -> Command {
    let mut cmd = Command::new(program);
    // The server programs read PG* variables (PGDATA, PGPORT, PGCTLTIMEOUT...), and every
    // server process would carry the caller's PGPASSWORD, PGPASSFILE or DATABASE_URL in its
    // environment, readable in /proc by the server's OS user: none of them is passed on.
    for (name, _) in std::env::vars_os() {
        if name.as_bytes().starts_with(b"PG") || name == "DATABASE_URL" {
            cmd.env_remove(&name);
        }
    }
    // English messages: they are shown next to keel's own, and initdb's missing-locale failure
    // is recognized by its wording.
    cmd.env_remove("LC_ALL")
        .env_remove("LANGUAGE")
        .env("LC_MESSAGES", "C");
    // The server user may not be allowed into our working directory (a project under /root);
    // every path passed is absolute, so the working directory does not matter otherwise.
    cmd.current_dir("/").stdin(Stdio::null());
    if let Some(user) = run_as {
        cmd.uid(user.uid)
            .gid(user.gid)
            .env("HOME", &user.home)
            .env("USER", &user.name)
            .env("LOGNAME", &user.name);
    }
    cmd
}

/// The command line, in backticks, as a user could paste it into a shell.
fn render_command(cmd: &Command, run_as: Option<&OsUser>) -> String {
    let words: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(shell_quote)
        .collect();
    match run_as {
        Some(user) => format!("`{}` (as the {} OS user)", words.join(" "), user.name),
        None => format!("`{}`", words.join(" ")),
    }
}

/// Runs `cmd` to completion; a non-zero exit is a [`ClusterError::Command`].
fn run(cmd: &mut Command, run_as: Option<&OsUser>) -> Result<Output> {
    let output = cmd.output().map_err(|source| ClusterError::Spawn {
        command: render_command(cmd, run_as),
        source,
    })?;
    if output.status.success() {
        return Ok(output);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let shown = if stderr.trim().is_empty() {
        String::from_utf8_lossy(&output.stdout)
    } else {
        stderr
    };
    Err(ClusterError::Command {
        command: render_command(cmd, run_as),
        status: output.status.to_string(),
        output: shown.trim_end().to_string(),
    })
}

/// Quotes a word for a POSIX shell when it needs it.
fn shell_quote(word: impl AsRef<OsStr>) -> String {
    let word = word.as_ref().to_string_lossy();
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-=:,+@%".contains(&b));
    if plain {
        word.into_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn indented(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("\n    {l}"))
        .collect()
}

/// The last lines of a file, for error messages; empty if it cannot be read.
fn tail(path: &Path, lines: usize) -> String {
    let Ok(mut file) = crate::safe_fs::open_nofollow(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if file
        .seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))
        .is_err()
    {
        return String::new();
    }
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn hash64(bytes: &[u8]) -> u64 {
    let digest = Sha256::digest(bytes);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

// ---------------------------------------------------------------------------------------------
// Connection strings
// ---------------------------------------------------------------------------------------------

/// `host=<socket dir> port=<port> user=postgres dbname=<db>`, quoted where libpq needs it.
pub fn connection_string(socket_dir: &Path, port: u16, dbname: &str) -> String {
    format!(
        "host={} port={port} user={SUPERUSER} dbname={}",
        conninfo_quote(&socket_dir.to_string_lossy()),
        conninfo_quote(dbname)
    )
}

/// `postgresql:///<db>?host=<socket dir>&port=<port>&user=postgres`, percent-encoded. This is
/// the form users copy; it has no password because the socket uses `trust` authentication.
pub fn connection_url(socket_dir: &Path, port: u16, dbname: &str) -> String {
    format!(
        "postgresql:///{}?host={}&port={port}&user={SUPERUSER}",
        percent_encode(dbname.as_bytes()),
        percent_encode(socket_dir.as_os_str().as_bytes())
    )
}

fn conninfo_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '\\');
    if plain {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\\', r"\\").replace('\'', r"\'"))
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Clusters
// ---------------------------------------------------------------------------------------------

/// Where a cluster keeps its files and which socket it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSpec {
    /// The data directory (`initdb -D`).
    pub data_dir: PathBuf,
    /// The directory for the Unix socket. If `<socket_dir>/.s.PGSQL.<port>` would not fit in a
    /// socket address, or the path has characters PostgreSQL's socket list syntax would
    /// misread, a short private directory under `/tmp` is used instead.
    pub socket_dir: PathBuf,
    /// The server log (`pg_ctl -l`).
    pub log_file: PathBuf,
    /// The port number; with no TCP listener it only names the socket file.
    pub port: u16,
}

impl ClusterSpec {
    /// The usual layout inside one directory: `<base>/pgdata`, `<base>/run` (socket) and
    /// `<base>/server.log`.
    pub fn in_dir(base: &Path, port: u16) -> ClusterSpec {
        ClusterSpec {
            data_dir: base.join("pgdata"),
            socket_dir: base.join("run"),
            log_file: base.join("server.log"),
            port,
        }
    }
}

/// The socket directory actually used for `socket_dir`: itself when the socket path fits and
/// is plain, else `/tmp/keel-<hash of the data dir>` (the same every time for one data dir, so
/// a restarted server comes back on the same socket).
fn effective_socket_dir(socket_dir: &Path, port: u16, data_dir: &Path) -> PathBuf {
    let socket = socket_dir.join(format!(".s.PGSQL.{port}"));
    // unix_socket_directories is a comma-separated list with quoting rules of its own, and the
    // path is also pasted into pg_ctl's shell command: keep to characters that mean nothing.
    let plain = socket_dir
        .as_os_str()
        .as_bytes()
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+@".contains(b));
    if plain && socket.as_os_str().len() <= MAX_SOCKET_PATH {
        socket_dir.to_path_buf()
    } else {
        PathBuf::from(format!(
            "/tmp/keel-{:016x}",
            hash64(data_dir.as_os_str().as_bytes())
        ))
    }
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(io_err("resolve", path))
}

/// Whether a server is running, and where to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterStatus {
    /// Whether the postmaster is running.
    pub running: bool,
    /// The postmaster's process id, when running.
    pub pid: Option<u32>,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The directory holding the Unix socket.
    pub socket_dir: PathBuf,
    /// The port number the socket is named after.
    pub port: u16,
    /// The server log.
    pub log_file: PathBuf,
    /// A URL for the `postgres` database (valid while running).
    pub url: String,
}

/// A PostgreSQL cluster (one data directory, one server) run with the machine's binaries.
///
/// A cluster made by [`Cluster::throwaway`] deletes itself when dropped, or, if the process
/// dies first, from a watchdog process. Other clusters persist; [`Cluster::stop`] them.
#[derive(Debug)]
pub struct Cluster {
    bins: ServerBinaries,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    log_file: PathBuf,
    port: u16,
    run_as: Option<OsUser>,
    throwaway: Option<Throwaway>,
}

/// What a throwaway cluster must clean up.
#[derive(Debug)]
struct Throwaway {
    root: PathBuf,
    /// The watchdog; its stdin is a pipe whose write end only this process holds.
    reaper: Option<Child>,
}

/// Distinguishes throwaway clusters of one process.
static THROWAWAY_SEQ: AtomicU32 = AtomicU32::new(0);

/// The watchdog for a throwaway cluster. Arguments: data dir, root dir, socket dir.
///
/// It waits for EOF on stdin, which the kernel delivers when the test process exits however it
/// exits (panic, abort, SIGKILL): the pipe's only write end dies with it. That beats polling
/// `kill -0 <pid>`, which cannot tell a recycled pid from the parent and costs a wake-up every
/// interval. It then does what `pg_ctl stop -m immediate` does (SIGQUIT to the postmaster, wait
/// for postmaster.pid to go away) by hand, because pg_ctl refuses to run as root and the
/// watchdog stays root to delete the directories. The pid is only signalled if its command line
/// names our data directory, so a stale postmaster.pid cannot kill a recycled pid. A server
/// that was still starting when the process died, and so had no postmaster.pid yet, shuts
/// itself down within a minute of its lock file being deleted.
const REAPER_SCRIPT: &str = r#"
trap '' INT HUP
while read -r _; do :; done
data=$1 root=$2 sock=$3
pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ]; then
  case " $(tr '\000' ' ' < "/proc/$pid/cmdline")" in
    *" -D $data "*) ;;
    *) pid= ;;
  esac
fi
if [ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null; then
  i=0
  while [ -e "$data/postmaster.pid" ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  kill -KILL "$pid" 2>/dev/null
fi
rm -rf -- "$root" "$sock"
"#;

impl Cluster {
    /// A handle on the cluster described by `spec`, without touching the disk.
    ///
    /// Relative paths are made absolute; the socket directory may be replaced (see
    /// [`ClusterSpec::socket_dir`]).
    pub fn open(bins: ServerBinaries, spec: ClusterSpec) -> Result<Cluster> {
        Self::from_spec(bins, spec, server_user()?)
    }

    /// Like [`Cluster::open`], and runs `initdb` unless the data directory already holds a
    /// cluster. Does not start the server.
    ///
    /// The cluster gets the `postgres` superuser, UTF8, the `C.UTF-8` locale (`C` where that is
    /// missing), `trust` authentication on the socket and `reject` over TCP.
    pub fn init(bins: ServerBinaries, spec: ClusterSpec) -> Result<Cluster> {
        let cluster = Self::open(bins, spec)?;
        cluster.init_data_dir()?;
        Ok(cluster)
    }

    /// A new cluster in a fresh directory under the system temp dir, initialized and started.
    ///
    /// It is stopped and deleted when dropped. If the process dies without dropping it (a
    /// `static`, a panic that aborts, SIGKILL), a detached watchdog notices within
    /// milliseconds, stops the server and deletes the directory.
    pub fn throwaway() -> Result<Cluster> {
        let bins = ServerBinaries::find()?;
        let run_as = server_user()?;
        let root = make_throwaway_root(run_as.as_ref())?;
        // Any number works: the socket directory belongs to this cluster alone (so does its
        // /tmp fallback, named after the data dir), so no other server can hold the same socket
        // name, and there is no TCP port to collide on.
        let port =
            DEV_PORT_BASE + (hash64(root.as_os_str().as_bytes()) % DEV_PORT_SPAN as u64) as u16;
        let mut cluster = match Self::from_spec(bins, ClusterSpec::in_dir(&root, port), run_as) {
            Ok(cluster) => cluster,
            Err(e) => {
                let _ = fs::remove_dir_all(&root);
                return Err(e);
            }
        };
        cluster.throwaway = Some(Throwaway {
            root: root.clone(),
            reaper: None,
        });
        // From here on, Drop cleans up after any failure below.
        let reaper = cluster.spawn_reaper(&root)?;
        if let Some(t) = cluster.throwaway.as_mut() {
            t.reaper = Some(reaper);
        }
        cluster.init_data_dir()?;
        cluster.start()?;
        Ok(cluster)
    }

    fn from_spec(
        bins: ServerBinaries,
        spec: ClusterSpec,
        run_as: Option<OsUser>,
    ) -> Result<Cluster> {
        let data_dir = absolute(&spec.data_dir)?;
        let socket_dir = effective_socket_dir(&absolute(&spec.socket_dir)?, spec.port, &data_dir);
        Ok(Cluster {
            bins,
            socket_dir,
            log_file: absolute(&spec.log_file)?,
            port: spec.port,
            data_dir,
            run_as,
            throwaway: None,
        })
    }

    fn spawn_reaper(&self, root: &Path) -> Result<Child> {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(REAPER_SCRIPT)
            .arg("keel-reaper")
            .arg(&self.data_dir)
            .arg(root)
            .arg(&self.socket_dir)
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: a Ctrl-C in the terminal must not kill it before it has
            // cleaned up after the tests it interrupted.
            .process_group(0);
        cmd.spawn().map_err(|source| ClusterError::Spawn {
            command: render_command(&cmd, None),
            source,
        })
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The directory holding the Unix socket (after any fallback to `/tmp`).
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The port number the socket file is named after.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server log.
    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    /// The binaries this cluster runs.
    pub fn binaries(&self) -> &ServerBinaries {
        &self.bins
    }

    /// A libpq key/value connection string for `dbname` (see [`connection_string`]).
    pub fn connection_string(&self, dbname: &str) -> String {
        connection_string(&self.socket_dir, self.port, dbname)
    }

    /// A connection URL for `dbname` (see [`connection_url`]).
    pub fn url(&self, dbname: &str) -> String {
        connection_url(&self.socket_dir, self.port, dbname)
    }

    /// Whether the data directory holds an initialized cluster.
    pub fn is_initialized(&self) -> bool {
        self.data_dir.join("PG_VERSION").is_file()
    }

    fn init_data_dir(&self) -> Result<()> {
        if self.is_initialized() {
            return Ok(());
        }
        let run_as = self.run_as.as_ref();
        ensure_dir(&self.data_dir, 0o700, run_as)?;
        check_reachable(&self.data_dir, run_as)?;
        let initdb = |locale: &str| {
            let mut cmd = server_command(&self.bins.initdb, run_as);
            cmd.arg("-D")
                .arg(&self.data_dir)
                .args(["-U", SUPERUSER])
                // trust on the socket only: a server someone starts by hand without keel's
                // listen_addresses='' must not accept password-less TCP connections.
                .args(["--auth-local=trust", "--auth-host=reject", "-E", "UTF8"])
                .arg(format!("--locale={locale}"))
                // A throwaway or dev cluster is not worth the fsyncs.
                .arg("--no-sync");
            run(&mut cmd, run_as)
        };
        match initdb("C.UTF-8") {
            // Older or minimal systems lack C.UTF-8. initdb checks the locale before it writes
            // anything, so trying again is safe.
            Err(ClusterError::Command { output, .. }) if output.contains("locale") => initdb("C"),
            other => other,
        }
        .map(drop)
    }

    /// Starts the server unless it is already running, and waits until it accepts connections.
    ///
    /// The server listens on the Unix socket only, with durability off (`fsync`,
    /// `synchronous_commit`, `full_page_writes`): an OS crash may lose or corrupt its data,
    /// which is the right trade for test and development databases.
    pub fn start(&self) -> Result<()> {
        self.start_with(&[])
    }

    /// Starts the server with extra `-c name=value` settings, which win over
    /// the defaults above (e.g. a TCP listener with TLS for a test). Values
    /// are shell-quoted.
    pub fn start_with(&self, settings: &[(&str, &str)]) -> Result<()> {
        if self.is_running()? {
            return Ok(());
        }
        let run_as = self.run_as.as_ref();
        ensure_dir(&self.socket_dir, 0o700, run_as)?;
        check_reachable(&self.socket_dir, run_as)?;
        self.prepare_log_file()?;

        let options = format!(
            "-k {} -p {} -c listen_addresses='' -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB",
            shell_quote(&self.socket_dir),
            self.port
        );
        let mut options = options;
        for (name, value) in settings {
            options.push_str(&format!(" -c {}", shell_quote(format!("{name}={value}"))));
        }
        let mut cmd = server_command(&self.bins.pg_ctl, run_as);
        cmd.arg("start")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&self.log_file)
            .args(["-w", "-t", PG_CTL_TIMEOUT_SECS, "-o"])
            // pg_ctl passes this through /bin/sh, hence the shell quoting above.
            .arg(options);
        match run(&mut cmd, run_as) {
            Ok(_) => Ok(()),
            // Another keel started it meanwhile (our pg_ctl then fails on the lock file).
            Err(ClusterError::Command { .. }) if self.is_running().unwrap_or(false) => Ok(()),
            Err(e @ ClusterError::Command { .. }) => Err(ClusterError::StartFailed {
                data_dir: self.data_dir.clone(),
                pg_ctl: Box::new(e),
                log_file: self.log_file.clone(),
                log_tail: tail(&self.log_file, LOG_TAIL_LINES),
            }),
            Err(e) => Err(e),
        }
    }

    /// The server appends to its log as the server user, so the file must exist and be theirs.
    /// keel creates it (new, no-follow, mode 0600) before `pg_ctl -l` opens it: pg_ctl's own
    /// `fopen(..., "a")` would follow a planted symbolic link.
    fn prepare_log_file(&self) -> Result<()> {
        let run_as = self.run_as.as_ref();
        if let Some(dir) = self.log_file.parent() {
            if !dir.exists() {
                ensure_dir(dir, 0o700, run_as)?;
            }
            check_reachable(dir, run_as)?;
        }
        let log = &self.log_file;
        let file = match crate::safe_fs::create_new_private(log) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                open_owned(log, Kind::File, &allowed_owners(run_as))?;
                crate::safe_fs::open_append_nofollow(log)
                    .map_err(io_err("open the server log", log))?
            }
            Err(e) => return Err(io_err("create the server log", log)(e)),
        };
        give_handle_to(&file, log, run_as)
    }

    /// Stops the server if it is running (`pg_ctl stop -m fast`: sessions are ended, the data
    /// is checkpointed), and waits until it is gone.
    pub fn stop(&self) -> Result<()> {
        self.stop_with("fast")
    }

    fn stop_with(&self, mode: &str) -> Result<()> {
        if !self.is_running()? {
            return Ok(());
        }
        let run_as = self.run_as.as_ref();
        let mut cmd = server_command(&self.bins.pg_ctl, run_as);
        cmd.arg("stop").arg("-D").arg(&self.data_dir).args([
            "-m",
            mode,
            "-w",
            "-t",
            PG_CTL_TIMEOUT_SECS,
        ]);
        run(&mut cmd, run_as).map(drop)
    }

    /// Whether the server is running (`pg_ctl status`).
    pub fn is_running(&self) -> Result<bool> {
        if !self.is_initialized() {
            return Ok(false);
        }
        let run_as = self.run_as.as_ref();
        let mut cmd = server_command(&self.bins.pg_ctl, run_as);
        cmd.arg("status").arg("-D").arg(&self.data_dir);
        let output = cmd.output().map_err(|source| ClusterError::Spawn {
            command: render_command(&cmd, run_as),
            source,
        })?;
        match output.status.code() {
            Some(0) => Ok(true),
            // 3: not running; 4: no accessible data directory, so nothing runs from it.
            Some(3 | 4) => Ok(false),
            _ => Err(ClusterError::Command {
                command: render_command(&cmd, run_as),
                status: output.status.to_string(),
                output: String::from_utf8_lossy(&output.stderr)
                    .trim_end()
                    .to_string(),
            }),
        }
    }

    /// The postmaster's pid, read from `postmaster.pid`, when the server is running.
    pub fn pid(&self) -> Result<Option<u32>> {
        if !self.is_running()? {
            return Ok(None);
        }
        Ok(self.read_pid())
    }

    fn read_pid(&self) -> Option<u32> {
        fs::read_to_string(self.data_dir.join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// Running or not, the pid, and where everything is.
    pub fn status(&self) -> Result<ClusterStatus> {
        let running = self.is_running()?;
        Ok(ClusterStatus {
            running,
            pid: if running { self.read_pid() } else { None },
            data_dir: self.data_dir.clone(),
            socket_dir: self.socket_dir.clone(),
            port: self.port,
            log_file: self.log_file.clone(),
            url: self.url(DEFAULT_DB),
        })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let Some(mut throwaway) = self.throwaway.take() else {
            return;
        };
        // Immediate: the data is about to be deleted, so a clean shutdown is wasted time.
        let _ = self.stop_with("immediate");
        let _ = fs::remove_dir_all(&throwaway.root);
        if !self.socket_dir.starts_with(&throwaway.root) {
            let _ = fs::remove_dir_all(&self.socket_dir);
        }
        // Only now release the watchdog (it finds nothing left to do): had any step above
        // failed, it would still have tried again.
        if let Some(mut reaper) = throwaway.reaper.take() {
            drop(reaper.stdin.take());
            let _ = reaper.wait();
        }
    }
}

/// Creates `keel-pg-<pid>-<n>` in the system temp dir, or in `/tmp` when the server user cannot
/// reach that (a `TMPDIR` under `/root`), readable by the server user.
fn make_throwaway_root(run_as: Option<&OsUser>) -> Result<PathBuf> {
    let temp = absolute(&std::env::temp_dir())?;
    match make_throwaway_root_in(&temp, run_as) {
        Err(e) if temp != Path::new("/tmp") => {
            make_throwaway_root_in(Path::new("/tmp"), run_as).map_err(|_| e)
        }
        result => result,
    }
}

fn make_throwaway_root_in(base: &Path, run_as: Option<&OsUser>) -> Result<PathBuf> {
    check_reachable(base, run_as)?;
    loop {
        let n = THROWAWAY_SEQ.fetch_add(1, Ordering::Relaxed);
        let root = base.join(format!("keel-pg-{}-{n}", std::process::id()));
        // create, not create_all: an existing directory (a leftover of an earlier process with
        // the same pid, or someone else's) is never reused.
        match fs::DirBuilder::new().mode(0o755).create(&root) {
            Ok(()) => {
                fs::set_permissions(&root, fs::Permissions::from_mode(0o755))
                    .map_err(io_err("set permissions on", &root))?;
                give_to(&root, run_as)?;
                return Ok(root);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err("create directory", &root)(e)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The dev cluster
// ---------------------------------------------------------------------------------------------

/// What `.keel/dev-db.json` records: where the project's dev cluster lives, so every later run
/// (and `keel dev-db url`) finds the same server even when it had to live outside the project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct DevDbRecord {
    project_dir: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    log_file: PathBuf,
    port: u16,
    /// The data directory's [`dir_identity`] once keel's `initdb` created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data_dir_identity: Option<String>,
}

/// The project's development cluster, `keel dev-db start|stop|status|url`.
///
/// Layout: `.keel/pgdata` (data), `.keel/run` (socket), `.keel/server.log` and
/// `.keel/dev-db.json` (where all of these are, and the port). When keel runs as root and the
/// `postgres` OS user cannot enter the project directory (a clone under `/root`), the data,
/// socket and log live in `/var/tmp/keel-dev-<hash of the project path>/` instead; the record
/// stays in `.keel/`.
#[derive(Debug, Clone)]
pub struct DevDb {
    keel_dir: PathBuf,
    record_file: PathBuf,
    record: DevDbRecord,
}

impl DevDb {
    /// The dev cluster of the project in `project_dir`. Reads `.keel/dev-db.json` if there is
    /// one; writes nothing.
    ///
    /// `.keel/` and the record must be keel's own (not symbolic links, owned by the user keel
    /// runs as), and the record may only name the places keel itself puts a dev cluster
    /// ([`ClusterError::ForeignRecordPath`]): a repository can commit any of these.
    pub fn new(project_dir: impl AsRef<Path>) -> Result<DevDb> {
        let given = project_dir.as_ref();
        let project_dir =
            fs::canonicalize(given).map_err(io_err("find the project directory", given))?;
        let keel_dir = project_dir.join(".keel");
        let record_file = keel_dir.join("dev-db.json");
        let ours = allowed_owners(None);
        check_owned_if_present(&keel_dir, Kind::Dir, &ours)?;
        let recorded = read_record(&record_file, &ours)?;
        // A record written for another path came along with a moved or copied project: the
        // data directory moved with it (when it was inside), so lay the cluster out afresh.
        let record = match recorded {
            Some(record) if record.project_dir == project_dir => {
                check_record(&record, &record_file, &keel_dir)?;
                record
            }
            // The identity comes along: it still proves (or disproves) that the data
            // directory found in the new place is the one keel created.
            other => DevDbRecord {
                data_dir_identity: other.and_then(|r| r.data_dir_identity),
                ..plan_dev_layout(&project_dir, server_user()?.as_ref())
            },
        };
        Ok(DevDb {
            keel_dir,
            record_file,
            record,
        })
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.record.data_dir
    }

    /// The directory holding the Unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.record.socket_dir
    }

    /// The server log.
    pub fn log_file(&self) -> &Path {
        &self.record.log_file
    }

    /// The port number, fixed per project.
    pub fn port(&self) -> u16 {
        self.record.port
    }

    /// `.keel/dev-db.json`.
    pub fn record_file(&self) -> &Path {
        &self.record_file
    }

    /// The URL of the dev cluster's `postgres` database (whether or not it is running).
    pub fn url(&self) -> String {
        connection_url(&self.record.socket_dir, self.record.port, DEFAULT_DB)
    }

    /// The cluster, for other databases or lower-level control.
    ///
    /// An initialized data directory must be the one keel created ([`ClusterError::ForeignDataDir`]):
    /// starting, stopping (`pg_ctl` signals the pid in its `postmaster.pid`) or reading the
    /// status of any other would act on whatever a repository committed.
    pub fn cluster(&self) -> Result<Cluster> {
        self.check_data_dir()?;
        Cluster::open(
            ServerBinaries::find()?,
            ClusterSpec {
                data_dir: self.record.data_dir.clone(),
                socket_dir: self.record.socket_dir.clone(),
                log_file: self.record.log_file.clone(),
                port: self.record.port,
            },
        )
    }

    /// Creates the cluster if needed and starts it if stopped; does nothing when it runs.
    ///
    /// Every path is checked before anything is written or started: an existing one must be
    /// of the right kind, not a symbolic link, and owned by keel's user (`.keel/`, the
    /// record) or by it or the server's user (the data, socket and log).
    pub fn start(&self) -> Result<ClusterStatus> {
        let run_as = server_user()?;
        let run_as = run_as.as_ref();
        let ours = allowed_owners(None);
        let server = allowed_owners(run_as);
        check_owned_if_present(&self.keel_dir, Kind::Dir, &ours)?;
        check_owned_if_present(&self.record_file, Kind::File, &ours)?;
        let base = self
            .record
            .data_dir
            .parent()
            .filter(|b| *b != self.keel_dir);
        for (path, kind) in [
            (base, Kind::Dir),
            (Some(self.record.socket_dir.as_path()), Kind::Dir),
            (Some(self.record.log_file.as_path()), Kind::File),
        ] {
            if let Some(path) = path {
                check_owned_if_present(path, kind, &server)?;
            }
        }
        // An initialized data directory is the server's alone (initdb ran as that user); one
        // that came with the repository belongs to whoever cloned it.
        let data_owner = run_as.map_or(ours.clone(), |u| vec![u.uid]);
        if self.record.data_dir.join("PG_VERSION").exists() {
            check_owned_if_present(&self.record.data_dir, Kind::Dir, &data_owner)?;
        } else {
            check_owned_if_present(&self.record.data_dir, Kind::Dir, &server)?;
        }

        if !self.keel_dir.exists() {
            // 755: as root, the postgres user must enter it to reach the data, socket and log.
            ensure_dir(&self.keel_dir, 0o755, None)?;
        }
        write_keel_gitignore(&self.keel_dir)
            .map_err(io_err("write", &self.keel_dir.join(KEEL_GITIGNORE)))?;
        if let Some(base) = base {
            ensure_dir(base, 0o700, run_as)?;
        }
        self.write_record(&self.record)?;
        let cluster = self.cluster()?;
        cluster.init_data_dir()?;
        // Reached with a data directory initdb has just created, or one `cluster()` accepted:
        // from now on only this very directory is started.
        let identity = dir_identity(
            &fs::symlink_metadata(&self.record.data_dir)
                .map_err(io_err("inspect", &self.record.data_dir))?,
        );
        if self.record.data_dir_identity.as_ref() != Some(&identity) {
            self.write_record(&DevDbRecord {
                data_dir_identity: Some(identity),
                ..self.record.clone()
            })?;
        }
        cluster.start()?;
        cluster.status()
    }

    /// Stops the server if it is running.
    pub fn stop(&self) -> Result<()> {
        self.cluster()?.stop()
    }

    /// Running or not, the pid, and where everything is.
    pub fn status(&self) -> Result<ClusterStatus> {
        self.cluster()?.status()
    }

    /// Stops the server and deletes the cluster: data, socket directory, log and record.
    pub fn destroy(&self) -> Result<()> {
        let cluster = self.cluster()?;
        cluster.stop()?;
        let remove_dir = |dir: &Path| match fs::remove_dir_all(dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("delete", dir)(e)),
            _ => Ok(()),
        };
        let remove_file = |file: &Path| match fs::remove_file(file) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("delete", file)(e)),
            _ => Ok(()),
        };
        remove_dir(cluster.data_dir())?;
        remove_dir(cluster.socket_dir())?;
        remove_file(cluster.log_file())?;
        if let Some(base) = self.record.data_dir.parent() {
            if base != self.keel_dir {
                remove_dir(base)?;
            }
        }
        remove_file(&self.record_file)
    }

    /// Refuses an initialized data directory keel did not create (see [`DevDb::cluster`]).
    fn check_data_dir(&self) -> Result<()> {
        let path = &self.record.data_dir;
        if fs::symlink_metadata(path.join("PG_VERSION")).is_err() {
            // Not initialized: `start` runs initdb, which refuses a directory that is not empty.
            return Ok(());
        }
        let meta = fs::symlink_metadata(path).map_err(io_err("inspect", path))?;
        match &self.record.data_dir_identity {
            Some(known) if *known == dir_identity(&meta) => Ok(()),
            // A record from before identities were kept: a data directory owned by a server
            // user other than keel's own was made by initdb running as that user, which no
            // clone can produce. `start` records its identity.
            None if meta.uid() != crate::safe_fs::effective_uid() => Ok(()),
            _ => Err(ClusterError::ForeignDataDir { path: path.clone() }),
        }
    }

    fn write_record(&self, record: &DevDbRecord) -> Result<()> {
        let mut json = serde_json::to_string_pretty(record).map_err(|e| ClusterError::Io {
            action: "write",
            path: self.record_file.clone(),
            source: io::Error::new(io::ErrorKind::InvalidData, e),
        })?;
        json.push('\n');
        let ours = allowed_owners(None);
        if read_record_text(&self.record_file, &ours)?.is_some_and(|old| old == json) {
            return Ok(());
        }
        // A new file with an unpredictable name, renamed over the record: a crash never
        // leaves a half-written record, and no planted `.tmp` link is ever written through.
        crate::safe_fs::replace(
            &self.record_file,
            json.as_bytes(),
            Some(crate::safe_fs::PRIVATE_FILE_MODE),
        )
        .map_err(io_err("write", &self.record_file))
    }
}

/// What makes a directory this one and no copy of it: its device and inode, and its birth
/// time where the file system keeps one (a clone or a copy gets a new inode; the birth time,
/// in nanoseconds, also tells a reused inode apart and cannot be set by anyone).
fn dir_identity(meta: &fs::Metadata) -> String {
    let born = meta
        .created()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or_else(
            || "-".to_string(),
            |d| format!("{}.{:09}", d.as_secs(), d.subsec_nanos()),
        );
    format!("{}:{}:{born}", meta.dev(), meta.ino())
}

/// The file in `.keel/` that keeps the folder out of version control.
pub const KEEL_GITIGNORE: &str = ".gitignore";

/// Writes `<keel_dir>/.gitignore` (`*`) unless something by that name exists: never
/// overwritten, never followed if it is a symbolic link. Returns whether it was written.
pub fn write_keel_gitignore(keel_dir: &Path) -> io::Result<bool> {
    let path = keel_dir.join(KEEL_GITIGNORE);
    match crate::safe_fs::create_new_private(&path) {
        Ok(mut file) => {
            file.write_all(b"# Written by keel: the local dev database, never committed.\n*\n")?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// The largest record keel reads; a real one is a few hundred bytes.
const MAX_RECORD_BYTES: u64 = 64 * 1024;

/// The record's text, if there is one: opened without following a link, checked to be a
/// regular file owned by one of `owners`, read without blocking.
fn read_record_text(path: &Path, owners: &[u32]) -> Result<Option<String>> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("read", path)(e)),
        Ok(_) => {}
    }
    let file = open_owned(path, Kind::File, owners)?;
    let mut text = String::new();
    file.take(MAX_RECORD_BYTES)
        .read_to_string(&mut text)
        .map_err(io_err("read", path))?;
    Ok(Some(text))
}

fn read_record(path: &Path, owners: &[u32]) -> Result<Option<DevDbRecord>> {
    let Some(text) = read_record_text(path, owners)? else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|source| ClusterError::BadRecord {
            path: path.to_path_buf(),
            source,
        })
}

/// keel's own directory for a dev cluster the server user cannot keep inside the project.
fn own_dev_dir(project_dir: &Path) -> PathBuf {
    let hash = hash64(project_dir.as_os_str().as_bytes());
    PathBuf::from(format!("/var/tmp/keel-dev-{hash:016x}"))
}

/// Accepts a record only if it describes a layout [`plan_dev_layout`] makes: everything in
/// `.keel/` or everything in keel's own `/var/tmp/keel-dev-<hash>/`, the socket there or in
/// its `/tmp/keel-<hash>` fallback. Exact paths, so `..` or a look-alike prefix cannot pass.
fn check_record(record: &DevDbRecord, record_file: &Path, keel_dir: &Path) -> Result<()> {
    let own_dir = own_dev_dir(&record.project_dir);
    let foreign = |field: &'static str, path: &Path| ClusterError::ForeignRecordPath {
        record: record_file.to_path_buf(),
        field,
        path: path.to_path_buf(),
        keel_dir: keel_dir.to_path_buf(),
        own_dir: own_dir.clone(),
    };
    let base = [keel_dir, own_dir.as_path()]
        .into_iter()
        .find(|base| record.data_dir == ClusterSpec::in_dir(base, record.port).data_dir)
        .ok_or_else(|| foreign("data_dir", &record.data_dir))?;
    let spec = ClusterSpec::in_dir(base, record.port);
    if record.log_file != spec.log_file {
        return Err(foreign("log_file", &record.log_file));
    }
    let fallback = effective_socket_dir(&spec.socket_dir, record.port, &spec.data_dir);
    if record.socket_dir != spec.socket_dir && record.socket_dir != fallback {
        return Err(foreign("socket_dir", &record.socket_dir));
    }
    Ok(())
}

/// Where a new dev cluster goes. The port comes from the project path, so it stays the same
/// across runs; it is recorded anyway so a change of hash never moves an existing cluster.
fn plan_dev_layout(project_dir: &Path, run_as: Option<&OsUser>) -> DevDbRecord {
    let hash = hash64(project_dir.as_os_str().as_bytes());
    let port = DEV_PORT_BASE + (hash % DEV_PORT_SPAN as u64) as u16;
    // /var/tmp rather than /tmp: it survives reboots, like a dev database should (though
    // systemd-tmpfiles may prune it after a month without use).
    let base = if is_reachable(project_dir, run_as) {
        project_dir.join(".keel")
    } else {
        own_dev_dir(project_dir)
    };
    let spec = ClusterSpec::in_dir(&base, port);
    DevDbRecord {
        project_dir: project_dir.to_path_buf(),
        socket_dir: effective_socket_dir(&spec.socket_dir, port, &spec.data_dir),
        data_dir: spec.data_dir,
        log_file: spec.log_file,
        port,
        data_dir_identity: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn user(uid: u32, gid: u32) -> OsUser {
        OsUser {
            name: "postgres".into(),
            uid,
            gid,
            home: "/var/lib/postgresql".into(),
        }
    }

    #[test]
    fn url_percent_encodes_the_socket_dir_and_has_no_password() {
        let url = connection_url(Path::new("/tmp/keel x/run"), 25432, "app");
        assert_eq!(
            url,
            "postgresql:///app?host=%2Ftmp%2Fkeel%20x%2Frun&port=25432&user=postgres"
        );
    }

    #[test]
    fn connection_string_quotes_only_when_needed() {
        assert_eq!(
            connection_string(Path::new("/tmp/run"), 5432, "postgres"),
            "host=/tmp/run port=5432 user=postgres dbname=postgres"
        );
        assert_eq!(
            connection_string(Path::new("/tmp/a b'c"), 5432, "db"),
            r"host='/tmp/a b\'c' port=5432 user=postgres dbname=db"
        );
    }

    #[test]
    fn long_or_odd_socket_dirs_fall_back_to_a_short_stable_one() {
        let data = Path::new("/x/pgdata");
        let short = Path::new("/work/p/.keel/run");
        assert_eq!(effective_socket_dir(short, 25432, data), short);

        let long = PathBuf::from(format!("/{}", "d".repeat(100)));
        let fallback = effective_socket_dir(&long, 25432, data);
        assert!(fallback.starts_with("/tmp"), "{}", fallback.display());
        assert_eq!(fallback, effective_socket_dir(&long, 25432, data));
        assert_ne!(
            fallback,
            effective_socket_dir(&long, 25432, Path::new("/y"))
        );

        // Exactly at the limit still fits: "/" + n + "/.s.PGSQL.25432" == 107 bytes.
        let edge = PathBuf::from(format!("/{}", "d".repeat(107 - 1 - 15)));
        assert_eq!(edge.join(".s.PGSQL.25432").as_os_str().len(), 107);
        assert_eq!(effective_socket_dir(&edge, 25432, data), edge);

        for odd in ["/tmp/a,b", "/tmp/a b", "/tmp/a'b"] {
            let dir = effective_socket_dir(Path::new(odd), 1, data);
            assert!(dir.to_str().unwrap().starts_with("/tmp/keel-"), "{odd}");
        }
    }

    #[test]
    fn versions_sort_numerically() {
        let dir = tempfile::tempdir().unwrap();
        for v in ["9.6", "15", "10", "notes"] {
            fs::create_dir(dir.path().join(v)).unwrap();
        }
        let found: Vec<PathBuf> = versioned_bindirs(dir.path());
        let names: Vec<_> = found
            .iter()
            .map(|p| p.parent().unwrap().file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["15", "10", "9.6"]);
    }

    fn fake_bindir(dir: &Path, programs: &[&str]) {
        fs::create_dir_all(dir).unwrap();
        for p in programs {
            let path = dir.join(p);
            fs::write(&path, "#!/bin/sh\n").unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    #[test]
    fn binary_search_order() {
        let tmp = tempfile::tempdir().unwrap();
        let all = ["initdb", "pg_ctl", "postgres"];
        let env_dir = tmp.path().join("env");
        let cfg_dir = tmp.path().join("cfg");
        let versions = tmp.path().join("versions");
        let path_dir = tmp.path().join("path");
        fake_bindir(&env_dir, &all);
        fake_bindir(&cfg_dir, &["pg_ctl"]); // a client-only pg_config
        fake_bindir(&versions.join("9.6/bin"), &all);
        fake_bindir(&versions.join("15/bin"), &all);
        fake_bindir(&path_dir, &all);
        let path_var = OsString::from(path_dir.as_os_str());

        let found = find_binaries(Some(env_dir.clone()), || None, &versions, None).unwrap();
        assert_eq!(found.bindir(), env_dir);

        let found = find_binaries(None, || Some(cfg_dir.clone()), &versions, None).unwrap();
        assert_eq!(found.bindir(), versions.join("15/bin"));

        let found =
            find_binaries(None, || None, &tmp.path().join("none"), Some(&path_var)).unwrap();
        assert_eq!(found.initdb(), path_dir.join("initdb"));

        match find_binaries(Some(cfg_dir.clone()), || None, &versions, None) {
            Err(ClusterError::BadBinDir { missing, .. }) => assert_eq!(missing, "initdb"),
            other => panic!("expected BadBinDir, got {other:?}"),
        }

        let err = find_binaries(
            None,
            || Some(cfg_dir.clone()),
            &tmp.path().join("none"),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("apt-get install postgresql"), "{err}");
        assert!(err.contains("pg_config --bindir"), "{err}");
        assert!(err.contains("PATH"), "{err}");
    }

    #[test]
    fn path_entries_with_symlinks_resolve_to_the_real_bindir() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        fake_bindir(&real, &["initdb", "pg_ctl", "postgres"]);
        let links = tmp.path().join("links");
        fs::create_dir(&links).unwrap();
        std::os::unix::fs::symlink(real.join("initdb"), links.join("initdb")).unwrap();
        let found = find_binaries(
            None,
            || None,
            &tmp.path().join("none"),
            Some(links.as_os_str()),
        )
        .unwrap();
        assert_eq!(found.bindir(), fs::canonicalize(&real).unwrap());
    }

    #[test]
    fn passwd_and_proc_status_parsing() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      postgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash\n";
        assert_eq!(parse_passwd(passwd, "postgres"), Some(user(101, 104)));
        assert_eq!(parse_passwd(passwd, "nobody"), None);
    }

    #[test]
    fn permission_bits_decide_who_may_enter() {
        let pg = user(101, 104);
        assert!(!may_enter(0o700, 0, 0, &pg)); // /root
        assert!(may_enter(0o755, 0, 0, &pg));
        assert!(may_enter(0o710, 0, 104, &pg));
        assert!(may_enter(0o700, 101, 0, &pg));
        assert!(!may_enter(0o605, 101, 0, &pg)); // owner bits win even when "other" allows
        assert!(may_enter(0o000, 5, 5, &user(0, 0)));
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("/usr/bin/pg_ctl"), "/usr/bin/pg_ctl");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(
            shell_quote("listen_addresses=''"),
            r"'listen_addresses='\'''\'''"
        );
    }

    #[test]
    fn dev_ports_are_stable_and_in_range() {
        let a = plan_dev_layout(Path::new("/work/a"), None);
        assert_eq!(a, plan_dev_layout(Path::new("/work/a"), None));
        assert!((20000..30000).contains(&a.port));
        assert_eq!(a.data_dir, Path::new("/work/a/.keel/pgdata"));
        assert_eq!(a.socket_dir, Path::new("/work/a/.keel/run"));
        assert_eq!(a.log_file, Path::new("/work/a/.keel/server.log"));
    }

    #[test]
    fn records_may_name_only_keels_own_layouts() {
        let project = Path::new("/work/a");
        let keel_dir = project.join(".keel");
        let record_file = keel_dir.join("dev-db.json");
        let inside = plan_dev_layout(project, None);
        check_record(&inside, &record_file, &keel_dir).unwrap();

        // The layout used when the server user cannot enter the project.
        let own = own_dev_dir(project);
        let spec = ClusterSpec::in_dir(&own, inside.port);
        let outside = DevDbRecord {
            socket_dir: effective_socket_dir(&spec.socket_dir, spec.port, &spec.data_dir),
            data_dir: spec.data_dir,
            log_file: spec.log_file,
            ..inside.clone()
        };
        check_record(&outside, &record_file, &keel_dir).unwrap();

        // A long project path puts the socket in its /tmp fallback.
        let deep = PathBuf::from(format!("/{}", "d".repeat(100)));
        let deep_record = plan_dev_layout(&deep, None);
        assert!(deep_record
            .socket_dir
            .to_string_lossy()
            .starts_with("/tmp/keel-"));
        check_record(
            &deep_record,
            &deep.join(".keel/dev-db.json"),
            &deep.join(".keel"),
        )
        .unwrap();

        let field_of = |record: &DevDbRecord| match check_record(record, &record_file, &keel_dir) {
            Err(ClusterError::ForeignRecordPath { field, path, .. }) => (field, path),
            other => panic!("accepted {record:?}: {other:?}"),
        };
        for (field, bad) in [
            ("data_dir", "/etc/pgdata"),
            ("data_dir", "/work/a/.keel/../../etc/pgdata"),
            ("data_dir", "/work/a/.keel/pgdata/x"),
            ("data_dir", "/var/tmp/keel-dev-0000000000000000/pgdata"),
            ("log_file", "/etc/passwd"),
            ("log_file", "/work/a/.keel/other.log"),
            ("socket_dir", "/tmp"),
            ("socket_dir", "/work/a/.keel/pgdata"),
        ] {
            let mut record = inside.clone();
            match field {
                "data_dir" => record.data_dir = bad.into(),
                "log_file" => record.log_file = bad.into(),
                _ => record.socket_dir = bad.into(),
            }
            assert_eq!(field_of(&record), (field, PathBuf::from(bad)));
        }
        // Mixed layouts are not keel's either.
        let mixed = DevDbRecord {
            log_file: outside.log_file.clone(),
            ..inside.clone()
        };
        assert_eq!(field_of(&mixed).0, "log_file");
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("log");
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
        fs::write(&log, text).unwrap();
        let t = tail(&log, 3);
        assert_eq!(t, "line 97\nline 98\nline 99");
        assert_eq!(tail(&tmp.path().join("missing"), 3), "");
    }
}
