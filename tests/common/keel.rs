//! Running the built `keel` binary from a test: one command builder ([`Keel`]) and one result
//! ([`Run`]), and [`copy_dir`] for the fixture projects it runs in.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long one keel invocation may take before the test gives up on it.
pub const KEEL_TIMEOUT: Duration = Duration::from_secs(120);

/// Variables that could point keel at some other database or change what it does or prints;
/// every keel started by these tests runs without them (and without any other `PG*` variable).
/// `tests/harness.rs` checks that every `KEEL_*` and `PG*` name in `src/` is here or in
/// [`PASSED_ENV`].
pub const AMBIENT_ENV: &[&str] = &[
    "DATABASE_URL",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICE",
    "PGSSLMODE",
    "PGSSLROOTCERT",
    "PGAPPNAME",
    "PGCONNECT_TIMEOUT",
    "PGOPTIONS",
    "PGTARGETSESSIONATTRS",
    "PGCHANNELBINDING",
    "PGLOADBALANCEHOSTS",
    "PGCLIENTENCODING",
    "PGREQUIRESSL",
    "PGSSLNEGOTIATION",
    "PGSSLCOMPRESSION",
    "PGSSLCERT",
    "PGSSLKEY",
    "PGSSLCERTMODE",
    "PGSSLKEYLOGFILE",
    "PGSSLCRL",
    "PGSSLCRLDIR",
    "PGSSLSNI",
    "PGREQUIREPEER",
    "PGREQUIREAUTH",
    "PGSSLMINPROTOCOLVERSION",
    "PGSSLMAXPROTOCOLVERSION",
    "PGMINPROTOCOLVERSION",
    "PGMAXPROTOCOLVERSION",
    "PGGSSENCMODE",
    "PGKRBSRVNAME",
    "PGGSSLIB",
    "PGGSSDELEGATION",
    "KEEL_DIR",
    "KEEL_HISTORY_SCHEMA",
    "KEEL_LOCK_TIMEOUT",
    "KEEL_DDL_LOCK_TIMEOUT",
    "KEEL_DDL_LOCK_RETRIES",
    "KEEL_STATEMENT_TIMEOUT",
    "GITHUB_ACTIONS",
    "NO_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
];

/// Variables keel reads that a test's keel keeps from the test's own environment.
///
/// `KEEL_PYTHON` is the Python `keel import alembic` runs Alembic in.
///
/// `KEEL_PG_BINDIR` says where the server programs are: the tests' own clusters find them with
/// it (`keel::db::cluster::ServerBinaries::find`), and the keel they start needs the same ones
/// for `verify`'s scratch cluster and `dev-db` (see [`suite_bindir`]). `KEEL_PG_CACHE` is where
/// `scripts/pg-binaries` keeps other majors.
pub const PASSED_ENV: &[&str] = &["KEEL_PG_BINDIR", "KEEL_PG_CACHE", "KEEL_PYTHON"];

/// The server programs this suite runs: `KEEL_PG_BINDIR`'s, or what the usual search finds.
/// Every keel a test starts gets them as its `KEEL_PG_BINDIR`, so `dev-db` (whose default is the
/// newest major found, the `scripts/pg-binaries` cache included) runs the suite's server too.
pub fn suite_bindir() -> &'static Path {
    static BINDIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BINDIR.get_or_init(|| {
        keel::db::cluster::ServerBinaries::find()
            .unwrap_or_else(|e| panic!("the tests need PostgreSQL server binaries:\n{e}"))
            .bindir()
            .to_path_buf()
    })
}

/// Removes [`AMBIENT_ENV`] and every other `PG*` variable from what `cmd` inherits.
pub fn without_ambient_env(cmd: &mut Command) -> &mut Command {
    for var in AMBIENT_ENV {
        cmd.env_remove(var);
    }
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PG") {
            cmd.env_remove(&name);
        }
    }
    cmd
}

/// The binary under test.
pub fn keel_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_keel"))
}

/// One keel invocation being put together: `keel --color never [--database-url URL] ARGS` in a
/// directory, without [`AMBIENT_ENV`] or any other `PG*` variable.
pub struct Keel {
    cmd: Command,
    url: Option<String>,
    args: Vec<String>,
    timeout: Duration,
}

impl Keel {
    /// keel in `dir`.
    pub fn new(dir: &Path) -> Keel {
        Keel::from_command(Command::new(keel_bin()), dir)
    }

    /// keel in `dir`, started through `program` (`taskset`, `setpriv`) with `args` before
    /// keel's path.
    pub fn via(program: &str, args: &[&str], dir: &Path) -> Keel {
        let mut cmd = Command::new(program);
        cmd.args(args).arg(keel_bin());
        Keel::from_command(cmd, dir)
    }

    fn from_command(mut cmd: Command, dir: &Path) -> Keel {
        without_ambient_env(cmd.current_dir(dir));
        cmd.env("KEEL_PG_BINDIR", suite_bindir());
        Keel {
            cmd,
            url: None,
            args: Vec::new(),
            timeout: KEEL_TIMEOUT,
        }
    }

    /// `--database-url <url>` (before the other arguments), when given.
    pub fn url(mut self, url: Option<&str>) -> Keel {
        self.url = url.map(str::to_string);
        self
    }

    pub fn args<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> Keel {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    pub fn env(
        mut self,
        name: impl AsRef<std::ffi::OsStr>,
        value: impl AsRef<std::ffi::OsStr>,
    ) -> Keel {
        self.cmd.env(name, value);
        self
    }

    pub fn envs<K: AsRef<str>, V: AsRef<str>>(mut self, vars: &[(K, V)]) -> Keel {
        for (k, v) in vars {
            self.cmd.env(k.as_ref(), v.as_ref());
        }
        self
    }

    pub fn env_remove(mut self, name: &str) -> Keel {
        self.cmd.env_remove(name);
        self
    }

    /// Instead of [`KEEL_TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Keel {
        self.timeout = timeout;
        self
    }

    /// The arguments after `--color never`, as [`Run::args`] shows them.
    fn shown_args(&self) -> String {
        self.args.join(" ")
    }

    /// The finished command, to start in the background.
    pub fn command(mut self) -> Command {
        self.cmd.args(["--color", "never"]);
        if let Some(url) = &self.url {
            self.cmd.args(["--database-url", url]);
        }
        self.cmd.args(&self.args);
        self.cmd
    }

    /// Runs keel to completion (killed after the timeout), and asserts it did not panic.
    #[track_caller]
    pub fn run(self) -> Run {
        let args = self.shown_args();
        let timeout = self.timeout;
        let mut cmd = assert_cmd::Command::from_std(self.command());
        cmd.timeout(timeout);
        let started = Instant::now();
        let out = cmd.output().expect("run keel");
        let run = Run::of(args, out, started.elapsed());
        run.assert_no_panic();
        run
    }
}

#[track_caller]
fn utf8(bytes: Vec<u8>, stream: &str) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| {
        panic!(
            "{stream} is not UTF-8: {}",
            String::from_utf8_lossy(e.as_bytes())
        )
    })
}

/// One finished keel invocation.
#[derive(Debug)]
pub struct Run {
    /// What the run is shown as: the arguments after `--color never`.
    pub args: String,
    /// `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Run {
    /// The result of a finished process, shown as `args`; its output must be UTF-8.
    #[track_caller]
    pub fn of(args: String, out: std::process::Output, took: Duration) -> Run {
        Run {
            args,
            code: out.status.code(),
            stdout: utf8(out.stdout, "stdout"),
            stderr: utf8(out.stderr, "stderr"),
            took,
        }
    }

    /// Asserts the exit status, and that keel did not panic.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, Some(code), "unexpected exit status\n{self}");
        self.assert_no_panic()
    }

    /// Asserts keel did not panic (a panic is never an acceptable way to report anything).
    #[track_caller]
    pub fn assert_no_panic(&self) -> &Run {
        assert!(
            !self.stderr.contains("panicked")
                && !self.stderr.contains("RUST_BACKTRACE")
                && self.code != Some(101),
            "keel panicked\n{self}"
        );
        self
    }

    #[track_caller]
    pub fn assert_stderr_has(&self, needle: &str) -> &Run {
        self.assert_has("stderr", &self.stderr, needle)
    }

    #[track_caller]
    pub fn assert_stdout_has(&self, needle: &str) -> &Run {
        self.assert_has("stdout", &self.stdout, needle)
    }

    /// Asserts stdout or stderr contains `needle` (for messages whose stream does not matter).
    #[track_caller]
    pub fn assert_output_has(&self, needle: &str) -> &Run {
        self.assert_has("output", &self.all(), needle)
    }

    #[track_caller]
    fn assert_has(&self, what: &str, text: &str, needle: &str) -> &Run {
        assert!(
            text.contains(needle),
            "{what} should contain {needle:?}\n{self}"
        );
        self
    }

    /// stdout followed by stderr.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "--- keel {} (exit {:?})\n--- stdout:\n{}--- stderr:\n{}---",
            self.args, self.code, self.stdout, self.stderr
        )
    }
}

/// Copies the folder `from` (a fixture) to `to`, creating it.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}
