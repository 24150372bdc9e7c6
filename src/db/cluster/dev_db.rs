//! The project's development cluster, `keel dev-db` ([`DevDb`]), and its record
//! `.keel/dev-db.json`: a cluster under the project's `.keel/` that persists between runs.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::binaries::ServerBinaries;
use super::error::{io_err, ClusterError, Result};
use super::os_user::{
    allowed_owners, check_owned_if_present, ensure_dir, is_reachable, open_owned, server_user,
    Kind, OsUser,
};
use super::server::{
    effective_socket_dir, hash64, Cluster, ClusterSpec, ClusterStatus, DEFAULT_DB,
};
use super::url::connection_url;

/// Dev cluster ports are derived from the project path into this range. Only the socket file
/// name uses the number (there is no TCP listener), so it only has to be stable per project.
pub(super) const DEV_PORT_BASE: u16 = 20000;
pub(super) const DEV_PORT_SPAN: u16 = 10000;

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
        self.cluster_of(None)
    }

    /// [`DevDb::cluster`] run by PostgreSQL `major` (`None`: the major that made the data
    /// directory, or for a new one the newest found).
    fn cluster_of(&self, major: Option<u32>) -> Result<Cluster> {
        self.check_data_dir()?;
        Cluster::open(
            self.binaries(major)?,
            ClusterSpec {
                data_dir: self.record.data_dir.clone(),
                socket_dir: self.record.socket_dir.clone(),
                log_file: self.record.log_file.clone(),
                port: self.record.port,
            },
        )
    }

    /// The PostgreSQL major that made the data directory (its `PG_VERSION`), or `None` before
    /// `initdb` ran. Nothing else is kept: the record names no program, so a record that came
    /// with a repository cannot choose what keel runs.
    pub fn made_by(&self) -> Result<Option<u32>> {
        let file = self.record.data_dir.join("PG_VERSION");
        if fs::symlink_metadata(&file).is_err() {
            return Ok(None);
        }
        // Reading one small file (not through a link, from an owner keel accepts) starts
        // nothing: no identity check here, which `cluster` makes before anything runs.
        let run_as = server_user()?;
        let mut text = String::new();
        open_owned(&file, Kind::File, &allowed_owners(run_as.as_ref()))?
            .take(64)
            .read_to_string(&mut text)
            .map_err(io_err("read", &file))?;
        // "17", or "9.6" before PostgreSQL 10.
        let major = text.trim().split('.').next().and_then(|m| m.parse().ok());
        major.map(Some).ok_or_else(|| ClusterError::UnsafePath {
            path: file.clone(),
            reason: format!("it holds {:?}, not a PostgreSQL version", text.trim()),
        })
    }

    /// The server binaries for this data directory: those of the major that made it, or for a
    /// new one those of `want` (default: the newest found).
    fn binaries(&self, want: Option<u32>) -> Result<ServerBinaries> {
        let Some(made_by) = self.made_by()? else {
            return ServerBinaries::find_major(want);
        };
        if let Some(want) = want.filter(|w| *w != made_by) {
            return Err(ClusterError::DevDbMajor {
                data_dir: self.record.data_dir.clone(),
                made_by,
                want,
            });
        }
        let why = || {
            Some(format!(
                "the dev database in {} was made by it",
                self.record.data_dir.display()
            ))
        };
        ServerBinaries::find_major(Some(made_by)).map_err(|e| match e {
            ClusterError::MajorNotFound { want, found, .. } => ClusterError::MajorNotFound {
                want,
                found,
                why: why(),
            },
            ClusterError::BinDirMajor {
                dir, found, want, ..
            } => ClusterError::BinDirMajor {
                dir,
                found,
                want,
                why: why(),
            },
            other => other,
        })
    }

    /// Creates the cluster if needed and starts it if stopped; does nothing when it runs.
    ///
    /// Every path is checked before anything is written or started: an existing one must be
    /// of the right kind, not a symbolic link, and owned by keel's user (`.keel/`, the
    /// record) or by it or the server's user (the data, socket and log).
    pub fn start(&self) -> Result<ClusterStatus> {
        self.start_major(None)
    }

    /// [`DevDb::start`] with PostgreSQL `major` (`keel dev-db start --pg MAJOR`): a new data
    /// directory is made by that major; an existing one must have been
    /// ([`ClusterError::DevDbMajor`]). `None`: the major that made it, or the newest found.
    pub fn start_major(&self, major: Option<u32>) -> Result<ClusterStatus> {
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

        // Which server runs it is settled before anything is written: a refused `--pg` or a
        // missing major leaves no trace.
        let cluster = self.cluster_of(major)?;
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
}
