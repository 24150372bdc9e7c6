//! File operations on paths that a cloned repository controls (`.keel/`, the migrations
//! folder): a committed symbolic link, FIFO or device must never make keel write, chown, read
//! or wait on something outside the project.
//!
//! - Existing files keel owns are opened with `O_NOFOLLOW` and checked on the opened
//!   descriptor (`fstat`), so the file checked is the file used.
//! - New files are created with `O_CREAT|O_EXCL|O_NOFOLLOW` and mode 0600: `O_EXCL` fails on
//!   any existing name, a dangling symbolic link included (open(2)).
//! - A file is replaced by writing a temporary file with an unpredictable name in the same
//!   folder (created as above, by `tempfile`) and renaming it over the old one; rename(2)
//!   replaces a symbolic link itself, never its target.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The mode of every file keel creates for itself.
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// keel's effective uid: the owner its own files must have.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid(2) cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() }
}

/// Opens an existing file for reading without following a symbolic link in its last component
/// (`ELOOP` when it is one; see [`is_symlink_error`]) and without blocking on a FIFO or device.
pub fn open_nofollow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// Opens an existing file for appending, like [`open_nofollow`].
pub fn open_append_nofollow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// Opens an existing directory without following a symbolic link, so that its owner and mode
/// can be checked and changed through the descriptor (`fstat`, `fchmod`, `fchown`).
pub fn open_dir_nofollow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY)
        .open(path)
}

/// Opens a file for reading without blocking: a FIFO with no writer, or a device, opens at
/// once, so the caller can refuse it after `fstat` instead of hanging in `open` or `read`.
/// Symbolic links are followed (the caller has checked where they lead).
pub fn open_nonblocking(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

/// Creates a new file that belongs to the repository (a migration), with the permissions an
/// editor would give it (0666 less the umask); an existing name, even a dangling symbolic
/// link, is an `AlreadyExists` error, as for [`create_new_private`].
pub fn create_new_shared(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o666)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Creates a new file with mode 0600; an existing name, even a dangling symbolic link, is an
/// `AlreadyExists` error.
pub fn create_new_private(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// The bytes of the regular file at `path` (a symbolic link is followed), read without blocking:
/// a FIFO, socket or device is an `InvalidInput` error ("it is not a regular file") found by
/// `fstat` on the opened descriptor, and a file over `max` bytes is an `InvalidData` error.
pub fn read_regular(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    read_opened(open_nonblocking(path)?, max)
}

/// [`read_regular`] without following a symbolic link in the last component of `path`
/// (`ELOOP`, see [`is_symlink_error`]): for a folder someone else wrote, where an entry
/// listed as a plain file may have been swapped for a link since.
pub fn read_regular_nofollow(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    read_opened(open_nofollow(path)?, max)
}

/// The bytes of an opened file, checked on its descriptor: a regular file of at most `max`
/// bytes, bounded even if it grows while it is read.
fn read_opened(file: File, max: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is not a regular file",
        ));
    }
    let too_large = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("it is larger than {max} bytes"),
        )
    };
    if meta.len() > max {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_large());
    }
    Ok(bytes)
}

/// True for the error `O_NOFOLLOW` gives on a symbolic link (`ELOOP`; `EMLINK` on FreeBSD).
pub fn is_symlink_error(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ELOOP | libc::EMLINK))
}

/// Replaces `path` with `bytes` in one step: readers see the old file or the new one, never a
/// half-written one, and a planted file or link at any predictable temporary name changes
/// nothing. The new file gets `mode`, or the old file's permissions when `mode` is `None`
/// (0600 when there was no old file).
pub fn replace(path: &Path, bytes: &[u8], mode: Option<u32>) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "keel".to_string(), |n| n.to_string_lossy().into_owned());
    // A leading dot: keel ignores dot-files in its folders, so a temporary file left behind
    // by a crash is never taken for a migration.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".keel-tmp")
        .permissions(std::fs::Permissions::from_mode(PRIVATE_FILE_MODE))
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    let permissions = match mode {
        Some(m) => Some(std::fs::Permissions::from_mode(m)),
        None => std::fs::metadata(path).ok().map(|m| m.permissions()),
    };
    if let Some(p) = permissions {
        tmp.as_file().set_permissions(p)?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn create_new_refuses_a_dangling_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path().join("target"), &link).unwrap();
        let e = create_new_private(&link).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert!(!dir.path().join("target").exists());
    }

    #[test]
    fn read_nofollow_refuses_a_symlink_and_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "abc").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert_eq!(read_regular_nofollow(&file, 3).unwrap(), b"abc");
        assert!(is_symlink_error(
            &read_regular_nofollow(&link, 3).unwrap_err()
        ));
        assert_eq!(
            read_regular_nofollow(&file, 2).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(
            read_regular_nofollow(&fifo, 3).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn open_nofollow_refuses_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(open_nofollow(&file).is_ok());
        assert!(is_symlink_error(&open_nofollow(&link).unwrap_err()));
        assert!(is_symlink_error(&open_append_nofollow(&link).unwrap_err()));
    }

    #[test]
    fn replace_swaps_a_symlink_for_a_file_and_keeps_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, "precious").unwrap();
        let path = dir.path().join("f");
        std::os::unix::fs::symlink(&outside, &path).unwrap();
        replace(&path, b"new", Some(0o600)).unwrap();
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious");
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(meta.mode() & 0o777, 0o600);

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        replace(&path, b"newer", None).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "newer");
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o640);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
