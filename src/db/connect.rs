//! Finding the database and connecting to it, like psql does:
//! `--database-url`, then `$DATABASE_URL`, then libpq's `PG*` variables and
//! `~/.pgpass`. Nothing here ever prints a password.

use postgres::config::{Host, SslMode};
use postgres::{Client, Config, NoTls};
use std::path::PathBuf;
use std::str::FromStr;

/// Where the connection settings came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    DatabaseUrl,
    PgEnv,
}

/// Resolved connection settings.
#[derive(Clone)]
pub struct Target {
    pub config: Config,
    pub source: Source,
}

impl std::fmt::Debug for Target {
    // Config's own Debug redacts the password; keep ours just as careful.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({})", self.describe())
    }
}

/// Why no connection could be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("no database configured")]
    NotConfigured,
    #[error("invalid database URL ({source_name}): {message}")]
    BadUrl {
        source_name: &'static str,
        message: String,
    },
    #[error("cannot connect to PostgreSQL ({target}): {message}")]
    Connect { target: String, message: String },
}

impl ConnectError {
    pub fn hint(&self) -> String {
        match self {
            ConnectError::NotConfigured => "pass `--database-url postgresql://user@host/db`, set DATABASE_URL or the PG* variables, or start a local database with `keel dev-db start` and use `keel dev-db url`".into(),
            ConnectError::BadUrl { .. } => "the URL looks like `postgresql://user:password@host:5432/dbname?sslmode=prefer` or `host=/run/postgresql dbname=app`".into(),
            ConnectError::Connect { message, .. } if message.contains("password authentication failed") => {
                "check the user name and password (PGPASSWORD, ~/.pgpass or the URL)".into()
            }
            ConnectError::Connect { .. } => "check that the server is running and accepts connections there".into(),
        }
    }

    /// Missing or malformed settings are configuration errors (exit 2); a
    /// server that cannot be reached is a failure (exit 1).
    pub fn is_configuration(&self) -> bool {
        !matches!(self, ConnectError::Connect { .. })
    }
}

impl Target {
    /// Resolves the settings. `flag` is `--database-url`.
    pub fn resolve(flag: Option<&str>) -> Result<Target, ConnectError> {
        let (text, source, name) = if let Some(u) = flag.filter(|u| !u.is_empty()) {
            (Some(u.to_string()), Source::Flag, "--database-url")
        } else if let Some(u) = env("DATABASE_URL") {
            (Some(u), Source::DatabaseUrl, "DATABASE_URL")
        } else {
            (None, Source::PgEnv, "PG* variables")
        };
        let mut config = match text {
            Some(t) => parse(&t).map_err(|message| ConnectError::BadUrl {
                source_name: name,
                message,
            })?,
            None => {
                if !["PGHOST", "PGDATABASE", "PGPORT", "PGUSER", "PGHOSTADDR"]
                    .iter()
                    .any(|v| env(v).is_some())
                {
                    return Err(ConnectError::NotConfigured);
                }
                Config::new()
            }
        };
        apply_pg_env(&mut config).map_err(|message| ConnectError::BadUrl {
            source_name: name,
            message,
        })?;
        config.application_name("keel");
        if config.get_password().is_none() {
            if let Some(p) = pgpass(&config) {
                config.password(p);
            }
        }
        Ok(Target { config, source })
    }

    /// `host=... port=... user=... dbname=...`, never the password.
    pub fn describe(&self) -> String {
        let c = &self.config;
        let host = c
            .get_hosts()
            .first()
            .map(host_text)
            .unwrap_or_else(|| "localhost".into());
        let port = c.get_ports().first().copied().unwrap_or(5432);
        format!(
            "host={host} port={port} user={} dbname={}",
            c.get_user().unwrap_or("?"),
            c.get_dbname().unwrap_or("?")
        )
    }

    /// Opens a connection.
    pub fn connect(&self) -> Result<Client, ConnectError> {
        self.config
            .connect(NoTls)
            .map_err(|e| ConnectError::Connect {
                target: self.describe(),
                message: error_text(&e),
            })
    }
}

/// A postgres error's text without its "db error: " wrapping.
pub fn error_text(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.message().to_string();
    }
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        source = inner.source();
    }
    s
}

fn host_text(h: &Host) -> String {
    match h {
        Host::Tcp(s) => s.clone(),
        Host::Unix(p) => p.display().to_string(),
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Parses a URL or a `key=value` string. libpq's `verify-ca`/`verify-full`
/// are refused with a clear message rather than silently downgraded.
fn parse(text: &str) -> Result<Config, String> {
    if text.contains("sslmode=verify-") {
        return Err("unsupported sslmode (keel supports disable, prefer and require)".to_string());
    }
    Config::from_str(text).map_err(|e| {
        let msg = e.to_string();
        // The parser's message may quote the input, which may hold a password.
        if msg.contains("sslmode") {
            "unsupported sslmode (keel supports disable, prefer and require)".to_string()
        } else {
            msg.split(':').next().unwrap_or("malformed").to_string()
        }
    })
}

/// Fills what the URL left out from the libpq variables, and the libpq
/// defaults (the OS user name; the database named like the user).
fn apply_pg_env(c: &mut Config) -> Result<(), String> {
    if c.get_hosts().is_empty() {
        match env("PGHOST") {
            Some(h) => {
                for part in h.split(',') {
                    c.host(part);
                }
            }
            None => {
                // libpq's default is the Unix socket; Debian puts it here.
                let sock = PathBuf::from("/var/run/postgresql");
                if sock.exists() {
                    c.host_path(sock);
                } else {
                    c.host("localhost");
                }
            }
        }
    }
    if c.get_ports().is_empty() {
        if let Some(p) = env("PGPORT") {
            c.port(
                p.parse()
                    .map_err(|_| format!("PGPORT `{p}` is not a port number"))?,
            );
        }
    }
    if c.get_user().is_none() {
        let user = env("PGUSER")
            .or_else(|| env("USER"))
            .unwrap_or_else(|| "postgres".into());
        c.user(&user);
    }
    if c.get_dbname().is_none() {
        let db =
            env("PGDATABASE").unwrap_or_else(|| c.get_user().unwrap_or("postgres").to_string());
        c.dbname(&db);
    }
    if c.get_password().is_none() {
        if let Some(p) = env("PGPASSWORD") {
            c.password(p);
        }
    }
    if let Some(mode) = env("PGSSLMODE") {
        c.ssl_mode(match mode.as_str() {
            "disable" | "allow" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            other => {
                return Err(format!(
                    "PGSSLMODE `{other}` is not supported (disable, prefer, require)"
                ))
            }
        });
    }
    Ok(())
}

/// The password for this connection from `$PGPASSFILE` or `~/.pgpass`
/// (`host:port:db:user:password`, `*` matches anything, `\` escapes).
fn pgpass(c: &Config) -> Option<String> {
    let path = env("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".pgpass")))?;
    let text = std::fs::read_to_string(path).ok()?;
    let host = c.get_hosts().first().map(|h| match h {
        // libpq matches socket connections as "localhost".
        Host::Unix(_) => "localhost".to_string(),
        Host::Tcp(s) => s.clone(),
    })?;
    let port = c.get_ports().first().copied().unwrap_or(5432).to_string();
    let db = c.get_dbname().unwrap_or_default();
    let user = c.get_user().unwrap_or_default();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass(line);
        if fields.len() != 5 {
            continue;
        }
        let ok = |f: &str, v: &str| f == "*" || f == v;
        if ok(&fields[0], &host)
            && ok(&fields[1], &port)
            && ok(&fields[2], db)
            && ok(&fields[3], user)
        {
            return Some(fields[4].clone());
        }
    }
    None
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => {
                if let (Some(n), Some(f)) = (chars.next(), fields.last_mut()) {
                    f.push(n);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            _ => {
                if let Some(f) = fields.last_mut() {
                    f.push(ch)
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_never_shows_the_password() {
        let t = Target {
            config: parse("postgresql://app:s3cret@db.example:6543/prod").unwrap(),
            source: Source::Flag,
        };
        let d = t.describe();
        assert_eq!(d, "host=db.example port=6543 user=app dbname=prod");
        assert!(!format!("{t:?}").contains("s3cret"));
    }

    #[test]
    fn socket_urls() {
        let c = parse("postgresql:///app?host=%2Ftmp%2Fsock&port=5433").unwrap();
        assert_eq!(c.get_hosts(), &[Host::Unix("/tmp/sock".into())]);
        assert_eq!(c.get_ports(), &[5433]);
        let c = parse("host=/tmp/sock dbname=app").unwrap();
        assert_eq!(c.get_dbname(), Some("app"));
    }

    #[test]
    fn bad_url_message_hides_input() {
        let e = parse("postgresql://u:pw@h/db?sslmode=verify-full").unwrap_err();
        assert!(!e.contains("pw"), "{e}");
    }

    #[test]
    fn pgpass_lines() {
        assert_eq!(
            split_pgpass(r"h:5432:*:u:p\:w"),
            ["h", "5432", "*", "u", "p:w"]
        );
    }
}
