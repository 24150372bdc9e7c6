//! The cluster itself: one data directory and one server ([`Cluster`]), created with
//! `initdb`, started and stopped with `pg_ctl`, serving only a private Unix socket.

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::binaries::ServerBinaries;
use super::command::{render_command, run, server_command, shell_quote, tail, LOG_TAIL_LINES};
use super::error::{io_err, ClusterError, Result};
use super::os_user::{
    allowed_owners, check_reachable, ensure_dir, give_handle_to, open_owned, server_user, Kind,
    OsUser,
};
use super::reaper::Throwaway;
use super::url::{connection_string, connection_url};

/// The role every cluster is created with; `initdb -U` makes it the superuser.
pub const SUPERUSER: &str = "postgres";

/// The database that exists in every fresh cluster.
pub const DEFAULT_DB: &str = "postgres";

/// `sun_path` is 108 bytes on Linux including the trailing NUL, and PostgreSQL refuses socket
/// paths that do not fit.
const MAX_SOCKET_PATH: usize = 107;

/// Seconds `pg_ctl -w` waits for the server to start or stop.
const PG_CTL_TIMEOUT_SECS: &str = "60";

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
pub(super) fn effective_socket_dir(socket_dir: &Path, port: u16, data_dir: &Path) -> PathBuf {
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

pub(super) fn absolute(path: &Path) -> Result<PathBuf> {
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
    pub(super) bins: ServerBinaries,
    pub(super) data_dir: PathBuf,
    pub(super) socket_dir: PathBuf,
    pub(super) log_file: PathBuf,
    pub(super) port: u16,
    pub(super) run_as: Option<OsUser>,
    pub(super) throwaway: Option<Throwaway>,
}

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

    pub(super) fn from_spec(
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

    pub(super) fn init_data_dir(&self) -> Result<()> {
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
    /// which is the right trade for test and development databases. Shared buffers stay at what
    /// initdb chose (128 MB where the machine allows): with a database per tenant, each
    /// database's catalogs take their own pages, and at 32 MB a hundred of them no longer fit,
    /// so that every new connection read its catalogs from the operating system again.
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
             -c full_page_writes=off -c max_connections=200",
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

    pub(super) fn stop_with(&self, mode: &str) -> Result<()> {
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

pub(super) fn hash64(bytes: &[u8]) -> u64 {
    let digest = Sha256::digest(bytes);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
