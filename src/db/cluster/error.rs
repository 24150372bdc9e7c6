//! [`ClusterError`], what can go wrong while finding, creating, starting or stopping a cluster,
//! and the helpers that build it.

use std::io;
use std::path::{Path, PathBuf};

use super::binaries::BINDIR_ENV;

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

    /// No server binaries of the major asked for (`keel dev-db start --pg MAJOR`, or the major
    /// an existing dev database was made by).
    #[error(
        "no PostgreSQL {want} server binaries were found{}{}\nhint: install PostgreSQL {want}'s server package (e.g. `postgresql-{want}` from apt.postgresql.org), or set {BINDIR_ENV} to its bin directory (in keel's repository, `scripts/pg-binaries {want}` fetches one into the cache keel searches)",
        .why.as_deref().map(|w| format!(" ({w})")).unwrap_or_default(),
        found_list(.found)
    )]
    MajorNotFound {
        /// The major asked for.
        want: u32,
        /// Why that major, when it was not the user's choice.
        why: Option<String>,
        /// The majors that were found, with their bin directories.
        found: Vec<(u32, PathBuf)>,
    },

    /// `$KEEL_PG_BINDIR` holds another major than the one needed.
    #[error(
        "{BINDIR_ENV} is {}, a PostgreSQL {found} server, but PostgreSQL {want} is needed{}\nhint: point {BINDIR_ENV} at a PostgreSQL {want} bin directory, or unset it to let keel search",
        .dir.display(), .why.as_deref().map(|w| format!(" ({w})")).unwrap_or_default()
    )]
    BinDirMajor {
        /// The directory named by the variable.
        dir: PathBuf,
        /// Its major.
        found: u32,
        /// The major needed.
        want: u32,
        /// Why that major, when it was not the user's choice.
        why: Option<String>,
    },

    /// The dev database was made by another major than `--pg` asks for; a data directory only
    /// runs under the major that created it.
    #[error(
        "the dev database in {} was made by PostgreSQL {made_by}; it cannot run under PostgreSQL {want}\nhint: run `keel dev-db start` without --pg to keep it, or `keel dev-db destroy` (deletes its data) and then `keel dev-db start --pg {want}`",
        .data_dir.display()
    )]
    DevDbMajor {
        /// The data directory.
        data_dir: PathBuf,
        /// The major in its `PG_VERSION`.
        made_by: u32,
        /// The major asked for.
        want: u32,
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

pub(super) type Result<T, E = ClusterError> = std::result::Result<T, E>;

pub(super) fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> ClusterError + 'a {
    move |source| ClusterError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// "; found: 15 in /usr/lib/postgresql/15/bin, 17 in ..." or nothing.
fn found_list(found: &[(u32, PathBuf)]) -> String {
    if found.is_empty() {
        return "; no other major was found either".into();
    }
    let each: Vec<String> = found
        .iter()
        .map(|(major, dir)| format!("{major} in {}", dir.display()))
        .collect();
    format!("; found: {}", each.join(", "))
}

fn indented(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("\n    {l}"))
        .collect()
}
