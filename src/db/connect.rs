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
    /// Nothing configured, but the project has a `keel dev-db` (the
    /// embedded default): it is used, and started if it was stopped.
    DevDb,
}

/// How much of the server's certificate to check (libpq's `sslmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// `disable`, `allow`, `prefer`, `require`: encrypt (when asked) but
    /// trust any certificate, as libpq does without a root certificate.
    None,
    /// `verify-ca`: the certificate chain must lead to a trusted root.
    Ca,
    /// `verify-full`: and the certificate must name the host.
    Full,
}

/// Resolved connection settings.
#[derive(Clone)]
pub struct Target {
    pub config: Config,
    pub source: Source,
    pub verify: Verify,
    /// `sslrootcert`: extra trusted roots (PEM), besides the system's.
    pub root_cert: Option<PathBuf>,
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
    /// The local dev database could not be used (nor started).
    #[error("cannot use the local dev database (.keel): {message}")]
    DevDb { message: String, hint: String },
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
            ConnectError::DevDb { hint, .. } => hint.clone(),
        }
    }

    /// Missing or malformed settings are configuration errors (exit 2); a
    /// server that cannot be reached is a failure (exit 1).
    pub fn is_configuration(&self) -> bool {
        !matches!(
            self,
            ConnectError::Connect { .. } | ConnectError::DevDb { .. }
        )
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
        let mut verify = Verify::None;
        let mut root_cert = None;
        let mut config = match text {
            Some(t) => {
                // libpq options the postgres crate does not parse itself.
                let (t, mode, root) = take_tls_options(&t);
                root_cert = root.map(PathBuf::from);
                let mut c = parse(&t).map_err(|message| ConnectError::BadUrl {
                    source_name: name,
                    message,
                })?;
                if let Some(m) = mode {
                    verify = apply_sslmode(&mut c, &m).map_err(|message| ConnectError::BadUrl {
                        source_name: name,
                        message,
                    })?;
                }
                c
            }
            None => {
                if !["PGHOST", "PGDATABASE", "PGPORT", "PGUSER", "PGHOSTADDR"]
                    .iter()
                    .any(|v| env(v).is_some())
                {
                    return dev_db_target();
                }
                Config::new()
            }
        };
        let env_verify = apply_pg_env(&mut config).map_err(|message| ConnectError::BadUrl {
            source_name: name,
            message,
        })?;
        if verify == Verify::None {
            verify = env_verify;
        }
        if root_cert.is_none() {
            root_cert = env("PGSSLROOTCERT").map(PathBuf::from);
        }
        config.application_name("keel");
        if config.get_password().is_none() {
            if let Some(p) = pgpass(&config) {
                config.password(p);
            }
        }
        Ok(Target {
            config,
            source,
            verify,
            root_cert,
        })
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

    /// Opens a connection, with TLS unless `sslmode=disable`.
    pub fn connect(&self) -> Result<Client, ConnectError> {
        let fail = |message: String| ConnectError::Connect {
            target: self.describe(),
            message,
        };
        let plain_socket = self
            .config
            .get_hosts()
            .iter()
            .all(|h| matches!(h, Host::Unix(_)));
        if self.config.get_ssl_mode() == SslMode::Disable || plain_socket {
            // TLS does not apply to Unix sockets.
            return self.config.connect(NoTls).map_err(|e| fail(error_text(&e)));
        }
        // Built only here, when TLS is used: loading the system's roots is
        // work the other connections do not need.
        let connector =
            super::tls::connector(self.verify, self.root_cert.as_deref()).map_err(fail)?;
        self.config
            .connect(connector)
            .map_err(|e| fail(error_text(&e)))
    }
}

/// The project's dev database when `.keel/dev-db.json` exists in the current
/// directory (started if stopped); otherwise nothing is configured.
fn dev_db_target() -> Result<Target, ConnectError> {
    // lstat, not stat: a record that is a symbolic link is refused by name (in
    // `DevDb::new`), not silently taken for "nothing configured".
    if std::fs::symlink_metadata(".keel/dev-db.json").is_err() {
        return Err(ConnectError::NotConfigured);
    }
    let unusable = |e: super::cluster::ClusterError| {
        let (message, hint) = e.message_and_hint();
        ConnectError::DevDb {
            message,
            hint: hint.unwrap_or_else(|| {
                "`keel dev-db status` shows where it is; set DATABASE_URL to use another database"
                    .into()
            }),
        }
    };
    let dev = super::cluster::DevDb::new(".").map_err(unusable)?;
    let status = dev.start().map_err(unusable)?;
    let mut config = parse(&status.url).map_err(|message| ConnectError::BadUrl {
        source_name: "the dev database record",
        message,
    })?;
    config.application_name("keel");
    Ok(Target {
        config,
        source: Source::DevDb,
        verify: Verify::None,
        root_cert: None,
    })
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
/// Takes `sslmode` and `sslrootcert` out of a URL or `key=value` string:
/// the postgres crate knows only some sslmodes and no root certificates.
fn take_tls_options(text: &str) -> (String, Option<String>, Option<String>) {
    let mut mode = None;
    let mut root = None;
    let mut keep = |kv: &str| -> bool {
        match kv.split_once('=') {
            Some(("sslmode", v)) => {
                mode = Some(v.to_string());
                false
            }
            Some(("sslrootcert", v)) => {
                root = Some(v.to_string());
                false
            }
            _ => true,
        }
    };
    let rebuilt = if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        match text.split_once('?') {
            None => text.to_string(),
            Some((base, query)) => {
                let rest: Vec<&str> = query.split('&').filter(|kv| keep(kv)).collect();
                if rest.is_empty() {
                    base.to_string()
                } else {
                    format!("{base}?{}", rest.join("&"))
                }
            }
        }
    } else {
        let rest: Vec<&str> = text.split_whitespace().filter(|kv| keep(kv)).collect();
        rest.join(" ")
    };
    (rebuilt, mode, root.map(|r| percent_decode(&r)))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Applies libpq's `sslmode` names.
fn apply_sslmode(c: &mut Config, mode: &str) -> Result<Verify, String> {
    let (ssl, verify) = match mode {
        "disable" | "allow" => (SslMode::Disable, Verify::None),
        "prefer" => (SslMode::Prefer, Verify::None),
        "require" => (SslMode::Require, Verify::None),
        "verify-ca" => (SslMode::Require, Verify::Ca),
        "verify-full" => (SslMode::Require, Verify::Full),
        other => {
            return Err(format!(
                "sslmode `{other}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
            ))
        }
    };
    c.ssl_mode(ssl);
    Ok(verify)
}

fn parse(text: &str) -> Result<Config, String> {
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
fn apply_pg_env(c: &mut Config) -> Result<Verify, String> {
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
    match env("PGSSLMODE") {
        Some(mode) => apply_sslmode(c, &mode),
        None => Ok(Verify::None),
    }
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
            verify: Verify::None,
            root_cert: None,
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
        let e = parse("postgresql://u:pw@h:notaport/db").unwrap_err();
        assert!(!e.contains("pw"), "{e}");
    }

    #[test]
    fn tls_options_are_taken_out() {
        let (rest, mode, root) = take_tls_options(
            "postgresql://u@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=5",
        );
        assert_eq!(rest, "postgresql://u@h/db?connect_timeout=5");
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/etc/ca.pem"));
        let (rest, mode, _) = take_tls_options("host=h dbname=d sslmode=require");
        assert_eq!(
            (rest.as_str(), mode.as_deref()),
            ("host=h dbname=d", Some("require"))
        );
        let mut c = Config::new();
        assert_eq!(apply_sslmode(&mut c, "verify-ca"), Ok(Verify::Ca));
        assert_eq!(c.get_ssl_mode(), SslMode::Require);
        assert!(apply_sslmode(&mut c, "bogus").is_err());
    }

    #[test]
    fn pgpass_lines() {
        assert_eq!(
            split_pgpass(r"h:5432:*:u:p\:w"),
            ["h", "5432", "*", "u", "p:w"]
        );
    }
}
