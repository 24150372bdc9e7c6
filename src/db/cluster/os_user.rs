//! The OS user the server runs as, and the permissions of the paths it uses.
//!
//! PostgreSQL refuses to run as root. When keel runs as root (containers, CI), every server
//! command runs as the `postgres` OS user instead ([`server_user`]), every directory the server
//! writes is handed to that user first ([`ensure_dir`]), and paths that user cannot reach are
//! reported ([`check_reachable`]). Every existing path keel uses is opened without following a
//! symbolic link and checked to be of the right kind and owner ([`open_owned`]).

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::error::{io_err, ClusterError, Result};
use super::server::SUPERUSER;

/// An OS account, as far as keel needs one: to run the server as it and hand it directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OsUser {
    pub(super) name: String,
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) home: PathBuf,
}

/// The user to run server commands as: `None` to run them as ourselves, the `postgres` user when
/// we are root (the server exits at once if started as root).
pub(super) fn server_user() -> Result<Option<OsUser>> {
    if effective_uid() != Some(0) {
        return Ok(None);
    }
    lookup_user(SUPERUSER)
        .map(Some)
        .ok_or(ClusterError::NoServerUser)
}

pub(super) fn effective_uid() -> Option<u32> {
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
pub(super) fn check_reachable(path: &Path, user: Option<&OsUser>) -> Result<()> {
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

pub(super) fn is_reachable(path: &Path, user: Option<&OsUser>) -> bool {
    check_reachable(path, user).is_ok()
}

/// Creates `dir` (and missing parents) if needed, gives it `mode` and hands it to `owner`.
///
/// An existing directory must be a real directory owned by us or by `owner`: some of these live
/// in world-writable places (`/tmp`, `/var/tmp`), where another user could have planted a
/// symlink or a directory of their own to read the cluster's socket, and `.keel/` comes with
/// the repository. Mode and owner are changed through a descriptor opened with `O_NOFOLLOW`,
/// so a link swapped in after the check is never followed.
pub(super) fn ensure_dir(dir: &Path, mode: u32, owner: Option<&OsUser>) -> Result<()> {
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
pub(super) enum Kind {
    Dir,
    File,
}

/// keel's own uid, and the server user's when it differs.
pub(super) fn allowed_owners(server: Option<&OsUser>) -> Vec<u32> {
    let mut owners: Vec<u32> = effective_uid().into_iter().collect();
    owners.extend(server.map(|u| u.uid));
    owners
}

/// Opens `path` without following a symbolic link and checks, on the opened descriptor, that
/// it is a `kind` owned by one of `owners`.
pub(super) fn open_owned(path: &Path, kind: Kind, owners: &[u32]) -> Result<fs::File> {
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
pub(super) fn check_owned_if_present(path: &Path, kind: Kind, owners: &[u32]) -> Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("inspect", path)(e)),
        Ok(_) => open_owned(path, kind, owners).map(drop),
    }
}

/// Hands an opened file to `owner` (`fchown`: the descriptor, never a path that could have
/// become a link meanwhile).
pub(super) fn give_handle_to(file: &fs::File, path: &Path, owner: Option<&OsUser>) -> Result<()> {
    match owner {
        Some(user) => std::os::unix::fs::fchown(file, Some(user.uid), Some(user.gid))
            .map_err(io_err("change the owner of", path)),
        None => Ok(()),
    }
}

/// Hands `path` itself to `owner` (`lchown`: a symbolic link is changed, never its target).
pub(super) fn give_to(path: &Path, owner: Option<&OsUser>) -> Result<()> {
    match owner {
        Some(user) => std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid))
            .map_err(io_err("change the owner of", path)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(uid: u32, gid: u32) -> OsUser {
        OsUser {
            name: "postgres".into(),
            uid,
            gid,
            home: "/var/lib/postgresql".into(),
        }
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
}
