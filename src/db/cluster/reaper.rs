//! Throwaway clusters, as the integration tests use them ([`Cluster::throwaway`]): a fresh
//! directory under the system temp dir, and a watchdog that stops the server and deletes the
//! directory if the process dies without dropping the cluster.

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use super::binaries::ServerBinaries;
use super::command::render_command;
use super::dev_db::{DEV_PORT_BASE, DEV_PORT_SPAN};
use super::error::{io_err, ClusterError, Result};
use super::os_user::{check_reachable, give_to, server_user, OsUser};
use super::server::{absolute, hash64, Cluster, ClusterSpec};

/// What a throwaway cluster must clean up.
#[derive(Debug)]
pub(super) struct Throwaway {
    pub(super) root: PathBuf,
    /// The watchdog; its stdin is a pipe whose write end only this process holds.
    pub(super) reaper: Option<Child>,
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
    /// A new cluster in a fresh directory under the system temp dir, initialized and started.
    ///
    /// It is stopped and deleted when dropped. If the process dies without dropping it (a
    /// `static`, a panic that aborts, SIGKILL), a detached watchdog notices within
    /// milliseconds, stops the server and deletes the directory.
    pub fn throwaway() -> Result<Cluster> {
        Self::throwaway_with(ServerBinaries::find()?)
    }

    /// [`Cluster::throwaway`] from the server binaries `bins` (another major than the one
    /// found, say).
    pub fn throwaway_with(bins: ServerBinaries) -> Result<Cluster> {
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
