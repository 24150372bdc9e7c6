//! Finding the server binaries: `initdb`, `pg_ctl` and `postgres`, all from one directory
//! ([`ServerBinaries`]).

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::error::{ClusterError, Result};

/// The environment variable that names the directory holding `initdb`, `pg_ctl` and `postgres`.
pub const BINDIR_ENV: &str = "KEEL_PG_BINDIR";

/// Where Debian and Ubuntu install one `<version>/bin` per PostgreSQL major version.
const DEBIAN_VERSIONS_ROOT: &str = "/usr/lib/postgresql";

/// The three PostgreSQL server programs keel runs, all from one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerBinaries {
    pub(super) bindir: PathBuf,
    pub(super) initdb: PathBuf,
    pub(super) pg_ctl: PathBuf,
    pub(super) postgres: PathBuf,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

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
}
