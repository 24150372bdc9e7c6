//! Finding the server binaries: `initdb`, `pg_ctl` and `postgres`, all from one directory
//! ([`ServerBinaries`]).

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
        find_binaries(&Search::from_env())
    }

    /// The server binaries of PostgreSQL `major`, or with `None` those of the newest major
    /// found: `keel dev-db start --pg MAJOR`.
    ///
    /// `$KEEL_PG_BINDIR`, when set, is the only candidate (and an error if it holds another
    /// major). Otherwise every place [`ServerBinaries::find`] looks is searched, plus the cache
    /// that `scripts/pg-binaries` fills (`$KEEL_PG_CACHE`, else `/var/cache/keel/pg` as root
    /// and `~/.cache/keel/pg` otherwise). Each candidate's major is what its own
    /// `postgres --version` says.
    pub fn find_major(major: Option<u32>) -> Result<ServerBinaries> {
        find_major_in(&Search::from_env(), major)
    }

    /// The major version of these binaries, from `postgres --version`
    /// ("postgres (PostgreSQL) 17.10" is 17).
    pub fn major(&self) -> Result<u32> {
        let out = Command::new(&self.postgres)
            .arg("--version")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_err(|source| ClusterError::Spawn {
                command: format!("`{} --version`", self.postgres.display()),
                source,
            })?;
        let text = String::from_utf8_lossy(&out.stdout);
        parse_major(&text).ok_or_else(|| ClusterError::Command {
            command: format!("`{} --version`", self.postgres.display()),
            status: out.status.to_string(),
            output: format!("not a PostgreSQL version: {}", text.trim()),
        })
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

/// Where the binaries are looked for, passed in so the search can be tested.
struct Search<'a> {
    /// `$KEEL_PG_BINDIR`.
    env_bindir: Option<PathBuf>,
    /// `pg_config --bindir`, asked only when needed.
    pg_config: &'a dyn Fn() -> Option<PathBuf>,
    /// `/usr/lib/postgresql`.
    versions_root: PathBuf,
    /// `$PATH`.
    path_var: Option<std::ffi::OsString>,
    /// The `scripts/pg-binaries` cache, if there is one.
    cache: Option<PathBuf>,
}

impl Search<'static> {
    fn from_env() -> Search<'static> {
        Search {
            env_bindir: std::env::var_os(BINDIR_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            pg_config: &pg_config_bindir,
            versions_root: PathBuf::from(DEBIAN_VERSIONS_ROOT),
            path_var: std::env::var_os("PATH"),
            cache: cache_root(),
        }
    }
}

/// `$KEEL_PG_BINDIR`'s binaries, or why that directory does not hold them.
fn env_binaries(dir: &Path) -> Result<ServerBinaries> {
    let bins = ServerBinaries::assume_in(dir);
    let missing = [
        ("initdb", &bins.initdb),
        ("pg_ctl", &bins.pg_ctl),
        ("postgres", &bins.postgres),
    ]
    .into_iter()
    .find(|(_, p)| !is_executable(p));
    match missing {
        None => Ok(bins),
        Some((missing, _)) => Err(ClusterError::BadBinDir {
            dir: dir.to_path_buf(),
            missing,
        }),
    }
}

/// [`ServerBinaries::find`]: `$KEEL_PG_BINDIR`, else the first candidate.
fn find_binaries(search: &Search) -> Result<ServerBinaries> {
    if let Some(dir) = &search.env_bindir {
        return env_binaries(dir);
    }
    let mut tried = vec![format!("${BINDIR_ENV}: not set")];
    match candidates(search, &mut tried).into_iter().next() {
        Some(found) => Ok(found.bins),
        None => Err(ClusterError::BinariesNotFound { tried }),
    }
}

/// [`ServerBinaries::find_major`].
fn find_major_in(search: &Search, want: Option<u32>) -> Result<ServerBinaries> {
    if let Some(dir) = &search.env_bindir {
        let bins = env_binaries(dir)?;
        return match want {
            Some(want) => match bins.major()? {
                found if found == want => Ok(bins),
                found => Err(ClusterError::BinDirMajor {
                    dir: dir.clone(),
                    found,
                    want,
                    why: None,
                }),
            },
            None => Ok(bins),
        };
    }
    let mut tried = vec![format!("${BINDIR_ENV}: not set")];
    // Each candidate's major: what its path says (`/usr/lib/postgresql/17/bin`, the cache's
    // `17.10.0-beta.17`), else its `postgres --version` (a process each, 5 to 15 ms, so only
    // where the path says nothing). A program that does not say its version is no server.
    // Each candidate's major: what its path says (`/usr/lib/postgresql/17/bin`, the cache's
    // `17.10.0-beta.17`), else its `postgres --version` (a process each, 5 to 15 ms, so only
    // where the path says nothing). A program that does not say its version is no server.
    let mut found: Vec<Found> = candidates(search, &mut tried)
        .into_iter()
        .filter_map(|c| match c.major {
            Some(major) => Some(Found {
                major,
                asked: false,
                bins: c.bins,
            }),
            None => Some(Found {
                major: c.bins.major().ok()?,
                asked: true,
                bins: c.bins,
            }),
        })
        .collect();
    // The chosen one is asked for its version after all, unless it already was, in case its
    // path misleads.
    let confirmed = |f: &Found| f.asked || f.bins.major().ok() == Some(f.major);
    match want {
        // The newest; among equals, the first in search order.
        None => {
            while let Some(i) = (0..found.len()).rev().max_by_key(|&i| found[i].major) {
                let f = found.remove(i);
                if confirmed(&f) {
                    return Ok(f.bins);
                }
            }
            Err(ClusterError::BinariesNotFound { tried })
        }
        Some(want) => {
            if let Some(i) = found.iter().position(|f| f.major == want && confirmed(f)) {
                return Ok(found.swap_remove(i).bins);
            }
            Err(ClusterError::MajorNotFound {
                want,
                why: None,
                found: found
                    .into_iter()
                    .map(|f| (f.major, f.bins.bindir))
                    .collect(),
            })
        }
    }
}

/// A candidate with its major, and whether that came from asking `postgres --version`.
struct Found {
    major: u32,
    asked: bool,
    bins: ServerBinaries,
}

/// Every directory holding all three programs, in search order, each once: `pg_config
/// --bindir` (client-only installs have `pg_config` without the server), the
/// `/usr/lib/postgresql/<version>/bin` directories newest first (Debian and Ubuntu keep the
/// server off `PATH`), each `initdb` on `PATH`, then the cache, newest first. What did not
/// qualify is added to `tried`.
fn candidates(search: &Search, tried: &mut Vec<String>) -> Vec<Candidate> {
    let mut found: Vec<Candidate> = Vec::new();
    // One server reached by several ways (`/usr/local/bin` holding links to the programs in
    // `/usr/lib/postgresql/15/bin`) is listed once: the real `postgres` file is the key.
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut add = |bins: ServerBinaries, major: Option<u32>| {
        let key = fs::canonicalize(&bins.postgres).unwrap_or_else(|_| bins.postgres.clone());
        if !seen.contains(&key) {
            seen.push(key);
            found.push(Candidate { bins, major });
        }
    };

    match (search.pg_config)() {
        Some(dir) => match ServerBinaries::in_dir(&dir) {
            Some(bins) => add(bins, None),
            None => tried.push(format!(
                "`pg_config --bindir`: {} has no initdb, pg_ctl and postgres",
                dir.display()
            )),
        },
        None => tried.push("`pg_config --bindir`: no pg_config on PATH".into()),
    }

    let versioned = versioned_bindirs(&search.versions_root);
    let mut any = false;
    for (major, dir) in &versioned {
        if let Some(bins) = ServerBinaries::in_dir(dir) {
            any = true;
            add(bins, *major);
        }
    }
    if !any {
        tried.push(format!(
            "{}/<version>/bin: {}",
            search.versions_root.display(),
            if versioned.is_empty() {
                "none"
            } else {
                "none with initdb, pg_ctl and postgres"
            }
        ));
    }

    let mut on_path = false;
    for dir in search
        .path_var
        .as_deref()
        .map(std::env::split_paths)
        .into_iter()
        .flatten()
    {
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
            on_path = true;
            add(bins, None);
        }
    }
    if !on_path {
        tried.push("PATH: no initdb with pg_ctl and postgres beside it".into());
    }

    match &search.cache {
        Some(cache) => {
            let cached = cached_bindirs(cache);
            if cached.is_empty() {
                tried.push(format!(
                    "{}: no PostgreSQL fetched there (scripts/pg-binaries)",
                    cache.display()
                ));
            }
            for (major, bins) in cached {
                add(bins, major);
            }
        }
        None => tried.push("the scripts/pg-binaries cache: none".into()),
    }
    found
}

/// A directory holding the three programs, and the major its path names, if it names one.
struct Candidate {
    bins: ServerBinaries,
    major: Option<u32>,
}

/// The cache `scripts/pg-binaries` fills: `$KEEL_PG_CACHE`, else `/var/cache/keel/pg` as root
/// (the server runs as `postgres`, who cannot enter root's home), else
/// `$XDG_CACHE_HOME/keel/pg` or `~/.cache/keel/pg`.
fn cache_root() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var(CACHE_ENV) {
        return Some(PathBuf::from(dir));
    }
    if crate::safe_fs::effective_uid() == 0 {
        return Some(PathBuf::from("/var/cache/keel/pg"));
    }
    var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("keel/pg"))
}

/// The environment variable that names the `scripts/pg-binaries` cache.
pub const CACHE_ENV: &str = "KEEL_PG_CACHE";

/// `<cache>/<version>/native/bin` for every cached build, newest first. A cache another user
/// could write to is not used: keel would run whatever they put there.
fn cached_bindirs(cache: &Path) -> Vec<(Option<u32>, ServerBinaries)> {
    if !is_private_dir(cache) {
        return Vec::new();
    }
    let Ok(entries) = fs::read_dir(cache) else {
        return Vec::new();
    };
    let mut builds: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name();
            // "17.10.0-beta.17": the release is what comes before the first `-`.
            let release = name.to_str()?.split('-').next()?;
            Some((version_key(release)?, e.path()))
        })
        .filter(|(_, dir)| is_private_dir(dir))
        .collect();
    builds.sort_by(|a, b| b.0.cmp(&a.0));
    builds
        .into_iter()
        .filter_map(|(version, dir)| {
            let bins = ServerBinaries::in_dir(&dir.join("native/bin"))?;
            Some((version.first().copied(), bins))
        })
        .collect()
}

/// A real directory (not a link) owned by keel's user or root, that nobody else may write to.
fn is_private_dir(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::symlink_metadata(dir).is_ok_and(|m| {
        m.is_dir()
            && (m.uid() == 0 || m.uid() == crate::safe_fs::effective_uid())
            && m.mode() & 0o022 == 0
    })
}

/// The major in `postgres --version` output: "postgres (PostgreSQL) 17.10 (Debian ...)" is 17,
/// "... 9.6.24" is 9.
fn parse_major(text: &str) -> Option<u32> {
    let version = text
        .split("(PostgreSQL)")
        .nth(1)?
        .split_whitespace()
        .next()?;
    version
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
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

/// `<root>/<version>/bin` for every numeric version directory, newest first ("15" before "9.6"),
/// with the major the name gives.
fn versioned_bindirs(root: &Path) -> Vec<(Option<u32>, PathBuf)> {
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
    versions
        .into_iter()
        .map(|(version, dir)| (version.first().copied(), dir))
        .collect()
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
        let found = versioned_bindirs(dir.path());
        let names: Vec<_> = found
            .iter()
            .map(|(_, p)| p.parent().unwrap().file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["15", "10", "9.6"]);
    }

    fn fake_bindir(dir: &Path, programs: &[&str]) {
        fake_server(dir, programs, "15.3");
    }

    /// `programs` in `dir`; `postgres --version` says `version`.
    fn fake_server(dir: &Path, programs: &[&str], version: &str) {
        fs::create_dir_all(dir).unwrap();
        for p in programs {
            let path = dir.join(p);
            fs::write(
                &path,
                format!("#!/bin/sh\necho 'postgres (PostgreSQL) {version}'\n"),
            )
            .unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    fn search<'a>(
        env: Option<&Path>,
        pg_config: &'a dyn Fn() -> Option<PathBuf>,
        versions: &Path,
        path_var: Option<&Path>,
        cache: Option<&Path>,
    ) -> Search<'a> {
        Search {
            env_bindir: env.map(Path::to_path_buf),
            pg_config,
            versions_root: versions.to_path_buf(),
            path_var: path_var.map(|p| OsString::from(p.as_os_str())),
            cache: cache.map(Path::to_path_buf),
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
        let none = tmp.path().join("none");
        fake_bindir(&env_dir, &all);
        fake_bindir(&cfg_dir, &["pg_ctl"]); // a client-only pg_config
        fake_bindir(&versions.join("9.6/bin"), &all);
        fake_bindir(&versions.join("15/bin"), &all);
        fake_bindir(&path_dir, &all);
        let no_config = || None;
        let client_only = || Some(cfg_dir.clone());

        let found =
            find_binaries(&search(Some(&env_dir), &no_config, &versions, None, None)).unwrap();
        assert_eq!(found.bindir(), env_dir);

        let found = find_binaries(&search(None, &client_only, &versions, None, None)).unwrap();
        assert_eq!(found.bindir(), versions.join("15/bin"));

        let found = find_binaries(&search(None, &no_config, &none, Some(&path_dir), None)).unwrap();
        assert_eq!(found.initdb(), path_dir.join("initdb"));

        match find_binaries(&search(Some(&cfg_dir), &no_config, &versions, None, None)) {
            Err(ClusterError::BadBinDir { missing, .. }) => assert_eq!(missing, "initdb"),
            other => panic!("expected BadBinDir, got {other:?}"),
        }

        let err = find_binaries(&search(None, &client_only, &none, None, Some(&none)))
            .unwrap_err()
            .to_string();
        assert!(err.contains("apt-get install postgresql"), "{err}");
        assert!(err.contains("pg_config --bindir"), "{err}");
        assert!(err.contains("PATH"), "{err}");
        assert!(err.contains("scripts/pg-binaries"), "{err}");
    }

    #[test]
    fn a_major_is_found_wherever_it_is_and_the_default_is_the_newest() {
        let tmp = tempfile::tempdir().unwrap();
        let all = ["initdb", "pg_ctl", "postgres"];
        let versions = tmp.path().join("versions");
        let cache = tmp.path().join("cache");
        let path_dir = tmp.path().join("path");
        fake_server(
            &versions.join("15/bin"),
            &all,
            "15.14 (Debian 15.14-0+deb12u1)",
        );
        fake_server(&path_dir, &all, "16.2");
        fake_server(&cache.join("17.10.0-beta.17/native/bin"), &all, "17.10");
        fake_server(&cache.join("13.23.0-beta.16/native/bin"), &all, "13.23");
        let no_config = || None;
        let s = search(None, &no_config, &versions, Some(&path_dir), Some(&cache));

        let major_of = |want| find_major_in(&s, want).map(|b| b.major().unwrap());
        assert_eq!(major_of(None).unwrap(), 17);
        for major in [13, 15, 16, 17] {
            assert_eq!(major_of(Some(major)).unwrap(), major);
        }
        // `find` keeps its order: the system's server before the cache's.
        assert_eq!(find_binaries(&s).unwrap().major().unwrap(), 15);

        let err = find_major_in(&s, Some(18)).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, ClusterError::MajorNotFound { want: 18, .. }),
            "{err:?}"
        );
        for found in ["13 in", "15 in", "16 in", "17 in", "scripts/pg-binaries 18"] {
            assert!(text.contains(found), "{found}: {text}");
        }

        // $KEEL_PG_BINDIR is the choice when set, and must be the major asked for.
        let env = versions.join("15/bin");
        let s = search(
            Some(&env),
            &no_config,
            &versions,
            Some(&path_dir),
            Some(&cache),
        );
        assert_eq!(find_major_in(&s, None).unwrap().bindir(), env);
        match find_major_in(&s, Some(17)) {
            Err(ClusterError::BinDirMajor {
                found: 15,
                want: 17,
                ..
            }) => {}
            other => panic!("expected BinDirMajor, got {other:?}"),
        }
    }

    #[test]
    fn a_path_that_names_another_major_than_the_server_says_is_not_chosen_for_it() {
        let tmp = tempfile::tempdir().unwrap();
        let all = ["initdb", "pg_ctl", "postgres"];
        let versions = tmp.path().join("versions");
        let cache = tmp.path().join("cache");
        fake_server(&versions.join("15/bin"), &all, "15.14");
        fake_server(&cache.join("18.4.0-beta.17/native/bin"), &all, "16.2");
        let no_config = || None;
        let s = search(None, &no_config, &versions, None, Some(&cache));
        assert!(find_major_in(&s, Some(18)).is_err());
        assert_eq!(find_major_in(&s, None).unwrap().major().unwrap(), 15);
    }

    #[test]
    fn a_cache_others_can_write_to_is_not_searched() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("cache");
        fake_server(
            &cache.join("17.10.0-beta.17/native/bin"),
            &["initdb", "pg_ctl", "postgres"],
            "17.10",
        );
        fs::set_permissions(&cache, fs::Permissions::from_mode(0o777)).unwrap();
        let none = tmp.path().join("none");
        let no_config = || None;
        let s = search(None, &no_config, &none, None, Some(&cache));
        assert!(find_major_in(&s, Some(17)).is_err());
        fs::set_permissions(&cache, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_major_in(&s, Some(17)).unwrap().major().unwrap(), 17);
    }

    #[test]
    fn majors_are_read_from_the_version_line() {
        assert_eq!(parse_major("postgres (PostgreSQL) 17.10\n"), Some(17));
        assert_eq!(
            parse_major("postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"),
            Some(15)
        );
        assert_eq!(parse_major("postgres (PostgreSQL) 9.6.24"), Some(9));
        assert_eq!(parse_major("postgres (PostgreSQL) 18beta1"), Some(18));
        assert_eq!(parse_major("something else 17"), None);
    }

    #[test]
    fn path_entries_with_symlinks_resolve_to_the_real_bindir() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        fake_bindir(&real, &["initdb", "pg_ctl", "postgres"]);
        let links = tmp.path().join("links");
        fs::create_dir(&links).unwrap();
        std::os::unix::fs::symlink(real.join("initdb"), links.join("initdb")).unwrap();
        let no_config = || None;
        let found = find_binaries(&search(
            None,
            &no_config,
            &tmp.path().join("none"),
            Some(&links),
            None,
        ))
        .unwrap();
        assert_eq!(found.bindir(), fs::canonicalize(&real).unwrap());
    }
}
