//! The versions on disk, remembered between runs. A no-op `upgrade` needs
//! only the set of versions in `up/` and `down/`; listing ten thousand
//! entries costs more than the rest of such a run, so the digest of that set
//! is kept in the user's cache folder, keyed on both folders' identity and
//! change times. Any entry added, removed or renamed changes a folder's
//! mtime and ctime; a listing is remembered only once both folders are
//! older than [`SETTLED`], so that a change made in the same clock tick as
//! the listing cannot hide behind an unchanged time stamp.
//!
//! The cache is an optimisation only: any problem reading or writing it
//! means a fresh listing.

use super::{scan, Layout, ProjectError, Version};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How old both folders must be before their listing is remembered.
const SETTLED: Duration = Duration::from_secs(2);

/// First line of a cache file; a different keel writes a different one.
const FORMAT: &str = concat!("keel listing 1 ", env!("CARGO_PKG_VERSION"));

/// What a no-op run needs from the migrations folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskVersions {
    /// [`super::digest::versions_digest`] of every version with both files.
    pub digest: String,
    /// The newest version, written as on disk.
    pub head: Option<Version>,
}

impl DiskVersions {
    pub fn of(layout: &Layout) -> DiskVersions {
        DiskVersions {
            digest: super::digest::versions_digest(layout.pairs.iter().map(|p| &p.version)),
            head: layout.head().map(|p| p.version),
        }
    }
}

/// The folder's versions from the cache, or a fresh listing.
pub enum Listing {
    Cached(DiskVersions),
    Scanned(Layout),
}

/// Lists `dir` unless the cache knows its versions; a clean fresh listing
/// is remembered for the next run.
pub fn list(dir: &Path) -> Result<Listing, ProjectError> {
    let file = cache_file(dir);
    let key = key(dir);
    if let (Some(file), Some(key)) = (&file, &key) {
        if let Some(v) = read(file, key) {
            return Ok(Listing::Cached(v));
        }
    }
    let layout = scan(dir)?;
    if let (Some(file), Some(key), false) = (&file, &key, layout.has_errors()) {
        if settled(dir) {
            write(file, key, &DiskVersions::of(&layout));
        }
    }
    Ok(Listing::Scanned(layout))
}

/// Where the listing of `dir` is kept: `$XDG_CACHE_HOME/keel/listings` (or
/// `~/.cache/...`), one file per folder, named by a hash of its path.
fn cache_file(dir: &Path) -> Option<PathBuf> {
    use sha2::{Digest, Sha256};
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    let canonical = std::fs::canonicalize(dir).ok()?;
    let hash = Sha256::digest(canonical.as_os_str().as_encoded_bytes());
    let name: String = hash[..16].iter().map(|b| format!("{b:02x}")).collect();
    Some(base.join("keel").join("listings").join(name))
}

/// The identity and change times of `up/` and `down/`, as one line.
#[cfg(unix)]
fn key(dir: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let mut out = String::new();
    for sub in ["up", "down"] {
        let m = std::fs::metadata(dir.join(sub)).ok()?;
        out.push_str(&format!(
            "{sub} {} {} {}.{} {}.{} ",
            m.dev(),
            m.ino(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec()
        ));
    }
    Some(out)
}

#[cfg(not(unix))]
fn key(_dir: &Path) -> Option<String> {
    None
}

/// True when both folders last changed more than [`SETTLED`] ago.
fn settled(dir: &Path) -> bool {
    let now = SystemTime::now();
    ["up", "down"].iter().all(|sub| {
        std::fs::metadata(dir.join(sub)).is_ok_and(|m| {
            [m.modified(), changed(&m)].into_iter().all(|t| {
                t.ok()
                    .and_then(|t| now.duration_since(t).ok())
                    .is_some_and(|age| age > SETTLED)
            })
        })
    })
}

#[cfg(unix)]
fn changed(m: &std::fs::Metadata) -> std::io::Result<SystemTime> {
    use std::os::unix::fs::MetadataExt;
    let secs = u64::try_from(m.ctime()).map_err(std::io::Error::other)?;
    let nanos = u32::try_from(m.ctime_nsec()).map_err(std::io::Error::other)?;
    Ok(SystemTime::UNIX_EPOCH + Duration::new(secs, nanos))
}

#[cfg(not(unix))]
fn changed(m: &std::fs::Metadata) -> std::io::Result<SystemTime> {
    m.modified()
}

fn read(file: &Path, key: &str) -> Option<DiskVersions> {
    let text = std::fs::read_to_string(file).ok()?;
    let mut lines = text.lines();
    if lines.next()? != FORMAT || lines.next()? != key {
        return None;
    }
    let digest = lines.next()?.to_string();
    let head = match lines.next()? {
        "-" => None,
        digits => Some(Version::parse(digits)?),
    };
    Some(DiskVersions { digest, head })
}

/// Writes the cache file whole (a temporary file renamed into place), or
/// not at all.
fn write(file: &Path, key: &str, v: &DiskVersions) {
    let Some(folder) = file.parent() else { return };
    if std::fs::create_dir_all(folder).is_err() {
        return;
    }
    let head = v
        .head
        .as_ref()
        .map_or_else(|| "-".to_string(), Version::digits);
    let text = format!("{FORMAT}\n{key}\n{}\n{head}\n", v.digest);
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, text).is_ok() && std::fs::rename(&tmp, file).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["up", "down"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
            std::fs::write(dir.path().join(sub).join("0001_a.sql"), "SELECT 1;\n").unwrap();
        }
        dir
    }

    #[test]
    fn remembered_only_while_the_folders_are_unchanged() {
        let dir = project();
        let cache = tempfile::tempdir().unwrap();
        let file = cache.path().join("listing");
        let k = key(dir.path()).unwrap();
        let layout = scan(dir.path()).unwrap();
        let v = DiskVersions::of(&layout);
        write(&file, &k, &v);
        assert_eq!(read(&file, &k), Some(v.clone()));
        assert_eq!(
            v.head.as_ref().map(|h| h.digits()),
            Some("0001".to_string())
        );
        // A new file changes the key: the cached listing no longer applies.
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(dir.path().join("up").join("0002_b.sql"), "SELECT 2;\n").unwrap();
        let k2 = key(dir.path()).unwrap();
        assert_ne!(k, k2);
        assert_eq!(read(&file, &k2), None);
        // A fresh folder is not settled yet: its listing would not be written.
        assert!(!settled(dir.path()));
    }

    #[test]
    fn a_damaged_cache_file_is_ignored() {
        let dir = project();
        let cache = tempfile::tempdir().unwrap();
        let file = cache.path().join("listing");
        let k = key(dir.path()).unwrap();
        std::fs::write(&file, format!("{FORMAT}\n{k}\n")).unwrap();
        assert_eq!(read(&file, &k), None);
        std::fs::write(&file, format!("{FORMAT}\n{k}\n1:2\nnot-a-version\n")).unwrap();
        assert_eq!(read(&file, &k), None);
    }
}
