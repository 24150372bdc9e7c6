//! `keel.toml`: optional settings. Precedence, lowest first: built-in
//! defaults, `keel.toml`, environment variables, command-line flags.

use crate::diagnostic::{codes, Code};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file's name, looked up in the current directory.
pub const FILE_NAME: &str = "keel.toml";

/// Settings as written in `keel.toml`. Unknown keys are refused: a typo must
/// not be silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub dir: Option<PathBuf>,
    pub history_schema: Option<String>,
    /// Seconds to wait for another runner's lock.
    pub lock_timeout: Option<u64>,
    /// How long a migration's statement may wait for a table lock (PostgreSQL's duration text).
    pub ddl_lock_timeout: Option<String>,
    /// Attempts after the first when a migration's transaction waited too long for a lock.
    pub ddl_lock_retries: Option<u32>,
    /// PostgreSQL's `statement_timeout` for migrations (duration text); unset by default.
    pub statement_timeout: Option<String>,
    #[serde(default)]
    pub policies: PoliciesConfig,
    /// `[fleet]`, read by `keel fleet` alone (`crate::fleet::Fleet::load`).
    pub fleet: Option<toml::Value>,
    #[serde(default)]
    pub safety: SafetyFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoliciesConfig {
    pub tenant_columns: Option<Vec<String>>,
    pub test_roles: Option<Vec<String>>,
}

/// `[safety]` as written: the rule ids are checked after reading, so that
/// an unknown one can be named with the list of valid ones.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetyFile {
    pub threshold_rows: Option<u64>,
    #[serde(default)]
    pub rules: std::collections::BTreeMap<String, RuleLevel>,
}

/// A safety rule's level in `[safety.rules]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleLevel {
    Error,
    Warning,
    Off,
}

/// The safety lint's settings (`[safety]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetyConfig {
    /// Online, a lock finding on a table with at most this many rows
    /// (estimated) is a note.
    pub threshold_rows: u64,
    /// Rules whose level is set, overriding the default.
    pub rules: Vec<(Code, RuleLevel)>,
}

impl Default for SafetyConfig {
    fn default() -> Self {
        SafetyConfig {
            threshold_rows: 10_000,
            rules: Vec::new(),
        }
    }
}

impl SafetyConfig {
    /// The level `keel.toml` sets for `rule`, if it sets one.
    pub fn level(&self, rule: Code) -> Option<RuleLevel> {
        self.rules.iter().find(|(r, _)| *r == rule).map(|(_, l)| *l)
    }

    fn from_file(file: SafetyFile) -> Result<SafetyConfig, ConfigError> {
        let mut config = SafetyConfig::default();
        if let Some(t) = file.threshold_rows {
            config.threshold_rows = t;
        }
        for (id, level) in file.rules {
            let Some(rule) = codes::SAFETY_RULES.iter().find(|c| c.as_str() == id) else {
                let ids: Vec<&str> = codes::SAFETY_RULES.iter().map(|c| c.as_str()).collect();
                return Err(ConfigError::Value {
                    name: "[safety.rules]".into(),
                    message: format!("unknown rule `{id}`; the rules are: {}", ids.join(", ")),
                });
            };
            config.rules.push((*rule, level));
        }
        Ok(config)
    }
}

/// The settings in force.
#[derive(Debug, Clone)]
pub struct Config {
    pub dir: PathBuf,
    pub history_schema: String,
    pub lock_timeout: Duration,
    /// What a migration's transaction may wait for and how often it is retried.
    pub ddl: DdlSettings,
    pub tenant_columns: Vec<String>,
    pub test_roles: Vec<String>,
    pub safety: SafetyConfig,
}

/// How long a migration may wait for the locks its statements take, and what happens then:
/// `SET LOCAL lock_timeout` (and `statement_timeout`) in every transaction of a run, and
/// [`DdlSettings::retries`] more attempts of a transaction that hit it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DdlSettings {
    /// PostgreSQL's duration text (`5s`, `500ms`; `0` waits forever), passed through.
    pub lock_timeout: String,
    /// Attempts after the first.
    pub retries: u32,
    /// PostgreSQL's duration text, or `None` to leave the server's setting alone.
    pub statement_timeout: Option<String>,
}

impl Default for DdlSettings {
    fn default() -> Self {
        DdlSettings {
            lock_timeout: "5s".into(),
            retries: 5,
            statement_timeout: None,
        }
    }
}

/// Checks a duration for a PostgreSQL setting: a number, optionally with one of the server's
/// units (`us`, `ms`, `s`, `min`, `h`, `d`; none means milliseconds). The text reaches the
/// server as a literal, so nothing else may pass.
pub fn validate_duration(name: &str, value: &str) -> Result<(), ConfigError> {
    let v = value.trim();
    let digits = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (number, unit) = v.split_at(digits);
    let number_ok = !number.is_empty()
        && number.chars().filter(|c| *c == '.').count() <= 1
        && number.chars().any(|c| c.is_ascii_digit());
    let ms_per_unit = match unit.trim_start() {
        "us" => Some(0.001),
        "" | "ms" => Some(1.0),
        "s" => Some(1_000.0),
        "min" => Some(60_000.0),
        "h" => Some(3_600_000.0),
        "d" => Some(86_400_000.0),
        _ => None,
    };
    if let (true, Some(per)) = (number_ok, ms_per_unit) {
        // The server's timeouts are milliseconds in an int: a larger value is refused by `SET`
        // at run time, after the run has started; say so now.
        let ms = number.parse::<f64>().unwrap_or(f64::INFINITY) * per;
        if ms > f64::from(i32::MAX) {
            return Err(ConfigError::Value {
                name: name.into(),
                message: format!(
                    "`{value}` is more than PostgreSQL allows ({}ms, about 24 days; `0` for no limit)",
                    i32::MAX
                ),
            });
        }
        Ok(())
    } else {
        Err(ConfigError::Value {
            name: name.into(),
            message: format!(
                "`{value}` is not a PostgreSQL duration (a number with us, ms, s, min, h or d: `5s`, `500ms`; `0` for no limit)"
            ),
        })
    }
}

/// The migrations folder when nothing else is said.
pub const DEFAULT_DIR: &str = "sql";

impl Default for Config {
    fn default() -> Self {
        Config {
            dir: PathBuf::from(DEFAULT_DIR),
            history_schema: "keel".into(),
            lock_timeout: Duration::from_secs(60),
            ddl: DdlSettings::default(),
            tenant_columns: vec!["tenant_id".into()],
            test_roles: vec!["authenticated".into(), "anon".into()],
            safety: SafetyConfig::default(),
        }
    }
}

/// `path:line:column` of a TOML mistake, where TOML knows the place (a missing key it does
/// not): a DBA goes to the line rather than reading the file for it.
pub fn toml_location(path: &Path, text: &str, e: &toml::de::Error) -> String {
    location(path, text, e.span())
}

/// `path:line:column` of byte `span.start` in `text`, or `path` alone.
pub fn location(path: &Path, text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(span) => {
            let p = crate::diagnostic::Position::of(text, span.start);
            format!("{}:{}:{}", path.display(), p.line, p.column)
        }
        None => path.display().to_string(),
    }
}

/// A configuration mistake (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read `{}`: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid `{location}`: {message}")]
    Parse {
        /// `path:line:column` (see [`toml_location`]).
        location: String,
        message: String,
    },
    #[error("invalid {name}: {message}")]
    Value { name: String, message: String },
}

/// The largest `keel.toml` keel reads; a real one is a few hundred bytes.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// Command-line values that override the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub dir: Option<PathBuf>,
    pub lock_timeout: Option<u64>,
}

/// Whether `dir`, the `dir` of the `keel.toml` in `root`, stays inside `root`: relative,
/// without `..`, and (when it exists) not a link that resolves elsewhere.
fn inside_project(root: &Path, dir: &Path) -> Result<(), String> {
    use std::path::Component;
    let leaves = || {
        format!(
            "`{}` leads out of the project (the folder of keel.toml); give a folder inside it, or pass --dir or KEEL_DIR to use another",
            dir.display()
        )
    };
    if dir
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(leaves());
    }
    let full = root.join(dir);
    if let (Ok(real), Ok(project)) = (std::fs::canonicalize(&full), std::fs::canonicalize(root)) {
        if !real.starts_with(&project) {
            return Err(leaves());
        }
    }
    Ok(())
}

impl Config {
    /// Reads `keel.toml` from `root` if it exists and applies the environment
    /// (`KEEL_DIR`, `KEEL_HISTORY_SCHEMA`, `KEEL_LOCK_TIMEOUT`) and `overrides`.
    pub fn load(root: &Path, overrides: &Overrides) -> Result<Config, ConfigError> {
        Config::load_with(root, overrides, &env)
    }

    /// [`Config::load`] without the environment: `keel.toml` and `overrides`
    /// only. For a process that runs for many projects or databases, whose
    /// own environment is not theirs.
    pub fn load_file(root: &Path, overrides: &Overrides) -> Result<Config, ConfigError> {
        Config::load_with(root, overrides, &|_| None)
    }

    /// [`Config::load`] reading the environment through `env`.
    pub fn load_with(
        root: &Path,
        overrides: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let path = root.join(FILE_NAME);
        // Never blocks on a FIFO nor reads a device: the file comes with the repository.
        let text = crate::safe_fs::read_regular(&path, MAX_FILE_BYTES).and_then(|bytes| {
            String::from_utf8(bytes)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        });
        let file = match text {
            Ok(text) => toml::from_str::<FileConfig>(&text).map_err(|e| ConfigError::Parse {
                location: toml_location(&path, &text, &e),
                message: e.message().to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileConfig::default(),
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        let mut config = Config::default();
        // The file comes with the repository, which someone else may write: its `dir` may not
        // lead out of the project (`--dir` and KEEL_DIR, which the user gives, may).
        let from_file = file.dir.is_some() && env("KEEL_DIR").is_none() && overrides.dir.is_none();
        if let Some(d) = file.dir.as_ref().filter(|_| from_file) {
            inside_project(root, d).map_err(|message| ConfigError::Value {
                name: format!("`dir` in {}", path.display()),
                message,
            })?;
        }
        if let Some(d) = file.dir {
            // Relative to the file's folder; `./sql` would show in every path.
            config.dir = if root == Path::new(".") {
                d
            } else {
                root.join(d)
            };
        }
        if let Some(s) = file.history_schema {
            config.history_schema = s;
        }
        if let Some(t) = file.lock_timeout {
            config.lock_timeout = Duration::from_secs(t);
        }
        if let Some(t) = file.ddl_lock_timeout {
            config.ddl.lock_timeout = t;
        }
        if let Some(n) = file.ddl_lock_retries {
            config.ddl.retries = n;
        }
        if let Some(t) = file.statement_timeout {
            config.ddl.statement_timeout = Some(t);
        }
        if let Some(c) = file.policies.tenant_columns {
            config.tenant_columns = c;
        }
        if let Some(r) = file.policies.test_roles {
            config.test_roles = r;
        }
        config.safety = SafetyConfig::from_file(file.safety)?;

        if let Some(d) = env("KEEL_DIR") {
            config.dir = PathBuf::from(d);
        }
        if let Some(s) = env("KEEL_HISTORY_SCHEMA") {
            config.history_schema = s;
        }
        if let Some(t) = env("KEEL_LOCK_TIMEOUT") {
            let secs = t.parse().map_err(|_| ConfigError::Value {
                name: "KEEL_LOCK_TIMEOUT".into(),
                message: format!("`{t}` is not a number of seconds"),
            })?;
            config.lock_timeout = Duration::from_secs(secs);
        }
        if let Some(t) = env("KEEL_DDL_LOCK_TIMEOUT") {
            config.ddl.lock_timeout = t;
        }
        if let Some(n) = env("KEEL_DDL_LOCK_RETRIES") {
            config.ddl.retries = n.parse().map_err(|_| ConfigError::Value {
                name: "KEEL_DDL_LOCK_RETRIES".into(),
                message: format!("`{n}` is not a number of attempts"),
            })?;
        }
        if let Some(t) = env("KEEL_STATEMENT_TIMEOUT") {
            config.ddl.statement_timeout = Some(t);
        }

        if let Some(d) = &overrides.dir {
            config.dir = d.clone();
        }
        if let Some(t) = overrides.lock_timeout {
            config.lock_timeout = Duration::from_secs(t);
        }
        validate_duration("ddl_lock_timeout", &config.ddl.lock_timeout)?;
        if let Some(t) = &config.ddl.statement_timeout {
            validate_duration("statement_timeout", t)?;
        }
        validate_identifier("history_schema", &config.history_schema)?;
        // PostgreSQL's own schemas: the pg_ prefix is reserved (keel's tables would fail there
        // mid-run), and pg_dump skips information_schema.
        let s = config.history_schema.as_str();
        if s.starts_with("pg_") || s == "information_schema" {
            return Err(ConfigError::Value {
                name: "history_schema".into(),
                message: format!("`{s}` is a schema of PostgreSQL's own; keel's history needs a schema of its own (the default is `keel`)"),
            });
        }
        Ok(config)
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The history schema is spliced into SQL, so it must be an identifier that
/// needs no quotes: lower-case, and not a word PostgreSQL reserves.
fn validate_identifier(name: &str, value: &str) -> Result<(), ConfigError> {
    if value.len() <= 63 && crate::sql::ident::is_bare(value) {
        Ok(())
    } else {
        Err(ConfigError::Value {
            name: name.into(),
            message: format!(
                "`{value}` must be a lowercase identifier (a-z, 0-9, _) that is not a reserved word"
            ),
        })
    }
}

/// The commented `keel.toml`: every setting at its default, each explained.
/// Only `dir` is set, and only when it is not the default; `None` when `dir`
/// is not UTF-8 (keel.toml can only name UTF-8 paths).
pub fn template(dir: &Path) -> Option<String> {
    let d = Config::default();
    let dir_line = if dir == Path::new(DEFAULT_DIR) {
        format!("# dir = {}", toml_string(DEFAULT_DIR))
    } else {
        let s = dir.to_str()?;
        format!("dir = {}", toml_string(s))
    };
    let list = |v: &[String]| {
        let items: Vec<String> = v.iter().map(|s| toml_string(s)).collect();
        format!("[{}]", items.join(", "))
    };
    Some(format!(
        "\
# keel.toml: settings for keel, the PostgreSQL migration runner.
#
# Every setting is optional: a commented line shows the default. Environment
# variables (KEEL_ and a setting's name in upper case, for the settings
# before [policies]) override this
# file, and command-line flags override both. Unknown keys are errors, so a
# typo is never silently ignored.

# The migrations folder, holding up/, down/ and policies/ (relative to this file).
{dir_line}

# The schema where keel keeps its bookkeeping (keel.versions, keel.events);
# a lowercase identifier.
# history_schema = {schema}

# Seconds to wait for another runner's lock before giving up.
# lock_timeout = {timeout}

# How long a migration's statement may wait for a table lock before its
# transaction is rolled back and retried (PostgreSQL's duration text: \"5s\",
# \"500ms\"; \"0\" waits forever). While keel waits, the application's queries on
# that table queue behind it: keep this short.
# ddl_lock_timeout = {ddl_timeout}

# Attempts after the first, with a growing pause (1 s doubling, at most 30 s).
# ddl_lock_retries = {ddl_retries}

# statement_timeout: a limit on each migration statement's run time, as
# duration text (\"15min\"). Unset by default: the server's own setting holds.

[policies]
# Column names that identify a tenant; the RLS linter expects policies on
# tables that have one.
# tenant_columns = {tenants}

# The roles that policy tests (policies/tests/*.sql) may assume.
# test_roles = {roles}

[safety]
# `keel check` with a database: a finding about a lock on a table of at most
# this many rows (estimated) is a note rather than an error.
# threshold_rows = {threshold}

[safety.rules]
# A rule's level by its id (docs/safety.md): \"error\", \"warning\" or \"off\",
# e.g. ban-drop-column=\"error\" on a line of its own.
",
        schema = toml_string(&d.history_schema),
        timeout = d.lock_timeout.as_secs(),
        ddl_timeout = toml_string(&d.ddl.lock_timeout),
        ddl_retries = d.ddl.retries,
        tenants = list(&d.tenant_columns),
        roles = list(&d.test_roles),
        threshold = d.safety.threshold_rows,
    ))
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_dir_from_keel_toml_stays_in_the_project_unless_the_user_says_otherwise() {
        use super::*;
        let tmp = tempfile::tempdir().unwrap();
        let project = tmp.path().join("p");
        std::fs::create_dir_all(project.join("sql")).unwrap();
        std::fs::create_dir_all(tmp.path().join("victim/sql")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("victim/sql"), project.join("linked")).unwrap();
        for (dir, ok) in [
            ("sql", true),
            ("./sql", true),
            ("db/migrations", true),
            ("../victim/sql", false),
            ("/etc", false),
            ("sql/../../victim/sql", false),
            ("linked", false),
        ] {
            std::fs::write(project.join("keel.toml"), format!("dir = \"{dir}\"\n")).unwrap();
            let loaded = Config::load_file(&project, &Overrides::default());
            assert_eq!(loaded.is_ok(), ok, "{dir}: {loaded:?}");
            if !ok {
                let e = loaded.unwrap_err().to_string();
                assert!(e.contains("leads out of the project"), "{e}");
                // --dir, given by the user, may go anywhere.
                let o = Overrides {
                    dir: Some(tmp.path().join("victim/sql")),
                    ..Overrides::default()
                };
                Config::load_file(&project, &o).unwrap();
            }
        }
    }

    use super::*;

    #[test]
    fn file_values_and_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE_NAME),
            "dir = \"db\"\nlock_timeout = 5\n[policies]\ntenant_columns = [\"household_id\"]\n",
        )
        .unwrap();
        let c = Config::load_file(dir.path(), &Overrides::default()).unwrap();
        assert_eq!(c.dir, dir.path().join("db"));
        assert_eq!(c.lock_timeout, Duration::from_secs(5));
        assert_eq!(c.tenant_columns, ["household_id"]);
        let c = Config::load_file(
            dir.path(),
            &Overrides {
                dir: Some("x".into()),
                lock_timeout: None,
            },
        )
        .unwrap();
        assert_eq!(c.dir, PathBuf::from("x"));

        std::fs::write(dir.path().join(FILE_NAME), "dir = \"db\"\n\ndri = \"db\"\n").unwrap();
        let e = Config::load_file(dir.path(), &Overrides::default()).unwrap_err();
        // Where TOML can place a mistake, the message says the line and column.
        assert!(
            e.to_string()
                .contains("keel.toml:3:1`: unknown field `dri`"),
            "{e}"
        );
    }

    #[test]
    fn ddl_settings_come_from_the_file_the_environment_and_the_flags() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE_NAME),
            "ddl_lock_timeout = \"500ms\"\nddl_lock_retries = 2\nstatement_timeout = \"1min\"\n",
        )
        .unwrap();
        let c = Config::load_file(dir.path(), &Overrides::default()).unwrap();
        assert_eq!(c.ddl.lock_timeout, "500ms");
        assert_eq!(c.ddl.retries, 2);
        assert_eq!(c.ddl.statement_timeout.as_deref(), Some("1min"));
        let env = |name: &str| match name {
            "KEEL_DDL_LOCK_TIMEOUT" => Some("2s".to_string()),
            "KEEL_DDL_LOCK_RETRIES" => Some("0".to_string()),
            _ => None,
        };
        let c = Config::load_with(dir.path(), &Overrides::default(), &env).unwrap();
        assert_eq!((c.ddl.lock_timeout.as_str(), c.ddl.retries), ("2s", 0));

        for bad in ["5 seconds", "5s; DROP TABLE x", "'5s'", "", "1.2.3s", "s"] {
            let bad_env = |name: &str| (name == "KEEL_DDL_LOCK_TIMEOUT").then(|| bad.to_string());
            let e = Config::load_with(dir.path(), &Overrides::default(), &bad_env).unwrap_err();
            assert!(
                e.to_string().contains("not a PostgreSQL duration"),
                "{bad}: {e}"
            );
        }
        for good in [
            "0",
            "5s",
            "500ms",
            "1.5s",
            "2min",
            "1h",
            "100",
            " 3 s",
            "24d",
            "2147483647",
        ] {
            validate_duration("x", good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        // More than the server's int of milliseconds: refused here, not by SET mid-run.
        for too_long in [
            "25d",
            "2147483648",
            "99999999999999999999999999s",
            "9999999h",
        ] {
            let e = validate_duration("x", too_long).unwrap_err().to_string();
            assert!(e.contains("more than PostgreSQL allows"), "{too_long}: {e}");
        }
    }

    #[test]
    fn history_schema_must_need_no_quotes() {
        let dir = tempfile::tempdir().unwrap();
        for (value, ok) in [
            ("keel_history", true),
            ("policy", true),
            ("user", false),
            ("select", false),
            ("Keel", false),
        ] {
            std::fs::write(
                dir.path().join(FILE_NAME),
                format!("history_schema = \"{value}\"\n"),
            )
            .unwrap();
            let loaded = Config::load_file(dir.path(), &Overrides::default());
            assert_eq!(loaded.is_ok(), ok, "{value}");
        }
    }

    #[test]
    fn the_environment_is_read_only_when_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "lock_timeout = 5\n").unwrap();
        let env = |name: &str| match name {
            "KEEL_LOCK_TIMEOUT" => Some("7".to_string()),
            "KEEL_HISTORY_SCHEMA" => Some("elsewhere".to_string()),
            _ => None,
        };
        let c = Config::load_with(dir.path(), &Overrides::default(), &env).unwrap();
        assert_eq!(
            (c.lock_timeout, c.history_schema.as_str()),
            (Duration::from_secs(7), "elsewhere")
        );
        let bad = |name: &str| (name == "KEEL_LOCK_TIMEOUT").then(|| "soon".to_string());
        let e = Config::load_with(dir.path(), &Overrides::default(), &bad).unwrap_err();
        assert!(e.to_string().contains("KEEL_LOCK_TIMEOUT"), "{e}");
        // The file alone: what a process serving many projects wants.
        let c = Config::load_file(dir.path(), &Overrides::default()).unwrap();
        assert_eq!(
            (c.lock_timeout, c.history_schema.as_str()),
            (Duration::from_secs(5), "keel")
        );
    }

    fn load_text(text: &str) -> Config {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join(FILE_NAME), text).unwrap();
        // Relative to `root`, as keel.toml's own `dir` is.
        let mut c = Config::load_file(root.path(), &Overrides::default()).unwrap();
        if let Ok(rel) = c.dir.strip_prefix(root.path()) {
            c.dir = rel.to_path_buf();
        }
        c
    }

    fn same(a: &Config, b: &Config) {
        assert_eq!(a.dir, b.dir);
        assert_eq!(a.history_schema, b.history_schema);
        assert_eq!(a.lock_timeout, b.lock_timeout);
        assert_eq!(a.ddl, b.ddl);
        assert_eq!(a.tenant_columns, b.tenant_columns);
        assert_eq!(a.test_roles, b.test_roles);
        assert_eq!(a.safety, b.safety);
    }

    #[test]
    fn written_file_loads_as_the_defaults() {
        let text = template(Path::new("sql")).unwrap();
        same(&load_text(&text), &Config::default());
    }

    #[test]
    fn every_commented_setting_is_a_valid_key_at_its_default() {
        let text = template(Path::new("sql")).unwrap();
        // Uncomment the settings (`# key = value`), not the explanations.
        let uncommented: String = text
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if rest.contains(" = ") => rest.to_string(),
                _ => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        let keys = uncommented
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains(" = "))
            .count();
        assert_eq!(keys, 8, "{uncommented}");
        same(&load_text(&uncommented), &Config::default());
    }

    #[test]
    fn safety_settings_are_checked() {
        let c = load_text(
            "[safety]\nthreshold_rows = 500\n[safety.rules]\nban-drop-column = \"error\"\nprefer-identity = \"off\"\n",
        );
        assert_eq!(c.safety.threshold_rows, 500);
        assert_eq!(
            c.safety.level(codes::BAN_DROP_COLUMN),
            Some(RuleLevel::Error)
        );
        assert_eq!(c.safety.level(codes::PREFER_IDENTITY), Some(RuleLevel::Off));
        assert_eq!(c.safety.level(codes::BAN_DROP_TABLE), None);
        let dir = tempfile::tempdir().unwrap();
        for (text, says) in [
            (
                "[safety.rules]\nban-drop-colum = \"error\"\n",
                "unknown rule `ban-drop-colum`; the rules are: require-concurrent-index-creation,",
            ),
            (
                "[safety.rules]\nban-drop-column = \"fatal\"\n",
                "unknown variant `fatal`",
            ),
            ("[safety]\nthreshold = 5\n", "unknown field `threshold`"),
            ("[safety]\nthreshold_rows = -1\n", "expected u64"),
        ] {
            std::fs::write(dir.path().join(FILE_NAME), text).unwrap();
            let e = Config::load_file(dir.path(), &Overrides::default()).unwrap_err();
            assert!(e.to_string().contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn other_folder_is_written_uncommented_and_escaped() {
        let text = template(Path::new("db/mig \"x\"")).unwrap();
        assert!(text.lines().any(|l| l.starts_with("dir = ")), "{text}");
        let c = load_text(&text);
        assert_eq!(c.dir, PathBuf::from("db/mig \"x\""));
    }
}
