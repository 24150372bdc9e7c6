//! Running the server programs: as the right OS user, with a clean environment, and with
//! failures reported as the command line a user could paste into a shell.

use std::ffi::OsStr;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::error::{ClusterError, Result};
use super::os_user::OsUser;

/// How much of the server log a failed start shows.
pub(super) const LOG_TAIL_LINES: usize = 30;
const LOG_TAIL_BYTES: u64 = 16 * 1024;

/// A command for a server program, run as `run_as` when given.
pub(super) fn server_command(program: &Path, run_as: Option<&OsUser>) -> Command {
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
pub(super) fn render_command(cmd: &Command, run_as: Option<&OsUser>) -> String {
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
pub(super) fn run(cmd: &mut Command, run_as: Option<&OsUser>) -> Result<Output> {
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
pub(super) fn shell_quote(word: impl AsRef<OsStr>) -> String {
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

/// The last lines of a file, for error messages; empty if it cannot be read.
pub(super) fn tail(path: &Path, lines: usize) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

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
