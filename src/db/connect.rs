//! Finding the database and connecting to it, like psql does:
//! `--database-url`, then `$DATABASE_URL`, then libpq's `PG*` variables and
//! `~/.pgpass`. The URL's settings always win; a `PG*` variable only fills a
//! setting the URL left unset (libpq's `conninfo_add_defaults`). Nothing here
//! ever prints a password.

use super::pgpass;
use super::tls::{self, SslMode, TlsError};
use postgres::config::Host;
use postgres::{Client, Config, NoTls};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

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

/// Resolved connection settings.
#[derive(Clone)]
pub struct Target {
    /// Every host; the password only when given (URL or `PGPASSWORD`):
    /// a password from the password file is looked up per host at connect
    /// time.
    pub config: Config,
    pub source: Source,
    pub tls: tls::Settings,
    /// The password file (`passfile`, `PGPASSFILE`, `~/.pgpass`).
    pub passfile: Option<PathBuf>,
}

impl std::fmt::Debug for Target {
    // Config's own Debug redacts the password; keep ours just as careful.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({})", self.describe())
    }
}

/// Where a connection was dialled: a Unix socket (its directory and the
/// port in its name), or a TCP host (by address, or by name) and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix { dir: PathBuf, port: u16 },
    Tcp { host: TcpHost, port: u16 },
}

/// A TCP host as given: an address (`hostaddr`, or a numeric host) or a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpHost {
    Addr(std::net::IpAddr),
    Name(String),
}

impl Endpoint {
    /// The endpoint of a one-host configuration (see `Target::host_config`).
    fn of(one: &Config) -> Endpoint {
        let port = one.get_ports().first().copied().unwrap_or(5432);
        if let Some(addr) = one.get_hostaddrs().first() {
            return Endpoint::Tcp {
                host: TcpHost::Addr(*addr),
                port,
            };
        }
        match one.get_hosts().first() {
            Some(Host::Unix(dir)) => Endpoint::Unix {
                dir: dir.clone(),
                port,
            },
            Some(Host::Tcp(name)) => Endpoint::Tcp {
                host: name
                    .parse()
                    .map_or_else(|_| TcpHost::Name(name.clone()), TcpHost::Addr),
                port,
            },
            // libpq's default: the socket directory PostgreSQL was built with.
            None => Endpoint::Unix {
                dir: PathBuf::from("/var/run/postgresql"),
                port,
            },
        }
    }

    /// Whether the server's own end of the connection, as it reports it, is
    /// the place this endpoint dialled: then no proxy stands in between.
    /// `server_addr`/`server_port` are `inet_server_addr()`/`inet_server_port()`
    /// (NULL over a Unix socket); `port` and `socket_dirs` are the server's
    /// `port` and `unix_socket_directories` settings (empty when the role may not read them).
    /// Only a certain answer
    /// is `true`: a name that resolves elsewhere, a NAT or a container's port
    /// mapping all say `false`, and the caller checks another way.
    pub fn is_server_end(
        &self,
        server_addr: Option<std::net::IpAddr>,
        server_port: Option<i32>,
        port: i32,
        socket_dirs: &str,
    ) -> bool {
        match self {
            Endpoint::Unix { dir, port: ours } => {
                server_addr.is_none()
                    && i32::from(*ours) == port
                    && socket_dirs
                        .split(',')
                        .map(str::trim)
                        .any(|d| !d.is_empty() && Path::new(d) == dir.as_path())
            }
            Endpoint::Tcp { host, port: ours } => {
                let Some(addr) = server_addr else {
                    return false;
                };
                if server_port != Some(i32::from(*ours)) {
                    return false;
                }
                match host {
                    TcpHost::Addr(a) => *a == addr,
                    TcpHost::Name(name) => {
                        use std::net::ToSocketAddrs;
                        // Every address the name has must be the server's:
                        // a name shared by a proxy and the server proves nothing.
                        let resolved: Vec<std::net::IpAddr> = (name.as_str(), *ours)
                            .to_socket_addrs()
                            .map(|it| it.map(|sa| sa.ip()).collect())
                            .unwrap_or_default();
                        !resolved.is_empty() && resolved.iter().all(|a| *a == addr)
                    }
                }
            }
        }
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
    #[error("invalid TLS settings ({source_name}): {error}")]
    BadTls {
        source_name: &'static str,
        error: TlsError,
    },
    #[error("cannot connect to PostgreSQL ({target}): {error}")]
    Tls { target: String, error: TlsError },
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
            ConnectError::BadUrl { .. } => "the URL looks like `postgresql://user:password@host:5432/dbname?sslmode=verify-full` or `host=/run/postgresql dbname=app`".into(),
            ConnectError::BadTls { error, .. } | ConnectError::Tls { error, .. } => error.hint(),
            ConnectError::Connect { message, .. } if message.contains("password authentication failed") || message.contains("password missing") => {
                "check the user name and password (PGPASSWORD, ~/.pgpass or the URL)".into()
            }
            ConnectError::Connect { message, .. } if message.contains("does not match host name") => {
                "verify-full checks that the certificate names the host you connect to: connect by a name the certificate holds (hostaddr= can give the address)".into()
            }
            ConnectError::Connect { message, .. } if message.contains("certificate verify failed") => {
                "the server's certificate must be issued by a certificate in sslrootcert (default ~/.postgresql/root.crt); use sslrootcert=system for a publicly certified server".into()
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
            ConnectError::Connect { .. } | ConnectError::DevDb { .. } | ConnectError::Tls { .. }
        )
    }
}

/// libpq options keel reads itself: the postgres crate does not know them,
/// or gives them other meanings (its `tcp_user_timeout` is in seconds,
/// libpq's in milliseconds).
const OWN_OPTIONS: &[&str] = &[
    "sslmode",
    "sslrootcert",
    "passfile",
    "connect_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
];

/// keel's TCP defaults, so that a run whose server vanishes fails in minutes
/// rather than after the kernel's two hours of keepalive idle time: a probe
/// after 60 s of silence, every 10 s, and at most 120 s for sent data (or
/// probes) to go unacknowledged (Linux `TCP_USER_TIMEOUT`, which then also
/// ends the keepalive probing).
const KEEPALIVES_IDLE: Duration = Duration::from_secs(60);
const KEEPALIVES_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVES_COUNT: u32 = 6;
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(120);

/// libpq's default socket directory in Debian's build (`DEFAULT_PGSOCKET_DIR`).
const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

impl Target {
    /// Resolves the settings. `flag` is `--database-url`.
    pub fn resolve(flag: Option<&str>) -> Result<Target, ConnectError> {
        Self::resolve_with(flag, &env)
    }

    fn resolve_with(
        flag: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Target, ConnectError> {
        // A URL given empty (`--database-url "$TENANT_URL"` with the variable unset) names no
        // database: refused, never read as "none given", which would reach whatever
        // DATABASE_URL, the PG* variables or the dev database point at.
        let (text, source, name) = if let Some(u) = flag {
            if is_blank(u) {
                return Err(ConnectError::BadUrl {
                    source_name: "--database-url",
                    message: "it is empty; give a URL, or leave the option out to use DATABASE_URL, the PG* variables or the dev database".into(),
                });
            }
            (Some(u.to_string()), Source::Flag, "--database-url")
        } else if let Some(u) = env("DATABASE_URL") {
            (Some(u), Source::DatabaseUrl, "DATABASE_URL")
        } else {
            (None, Source::PgEnv, "PG* variables")
        };
        let bad = |message: String| ConnectError::BadUrl {
            source_name: name,
            message,
        };
        let (mut config, mut own) = match text {
            Some(t) => {
                let (rest, own) = take_own_options(&t);
                (parse(&rest).map_err(bad)?, own)
            }
            None => {
                if !["PGHOST", "PGDATABASE", "PGPORT", "PGUSER", "PGHOSTADDR"]
                    .iter()
                    .any(|v| env(v).is_some())
                {
                    return dev_db_target();
                }
                (Config::new(), HashMap::new())
            }
        };
        apply_pg_env(&mut config, &mut own, env).map_err(bad)?;
        apply_tcp_options(&mut config, &own).map_err(bad)?;
        let home = env("HOME").map(PathBuf::from);
        let mode = sslmode(&own).map_err(bad)?;
        let tls = tls::Settings::new(
            mode,
            // An empty value is given (no variable fills it) but means the
            // default file, as libpq's initialize_SSL reads it.
            own.get("sslrootcert")
                .map(String::as_str)
                .filter(|r| !r.is_empty()),
            home.as_deref(),
        )
        .map_err(|error| ConnectError::BadTls {
            source_name: name,
            error,
        })?;
        let passfile = own
            .get("passfile")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(|| home.map(|h| h.join(".pgpass")));
        Ok(Target {
            config,
            source,
            tls,
            passfile,
        })
    }

    /// `host=... port=... user=... dbname=...`, never the password.
    pub fn describe(&self) -> String {
        describe(&self.config)
    }

    /// Opens a connection: each host in turn, as libpq does, each with its
    /// own password from the password file.
    pub fn connect(&self) -> Result<Client, ConnectError> {
        self.connect_to().map(|(client, _)| client)
    }

    /// A way to cancel the statement running on `client`, a connection made from these
    /// settings, as libpq's `PQcancel` does: a new connection to the same server that carries
    /// only the session's cancel key (no password). It goes over TLS when these settings allow
    /// TLS and in the clear when that fails, since the server takes a cancel request either
    /// way; the TLS setup is built only when a cancel is sent.
    pub fn canceller(&self, client: &Client) -> crate::interrupt::Cancel {
        let token = client.cancel_token();
        let tls = self.tls.clone();
        Box::new(move || {
            if tls.mode != SslMode::Disable {
                if let Ok(connector) = tls::connector(&tls) {
                    if token.cancel_query(connector).is_ok() {
                        return;
                    }
                }
            }
            let _ = token.cancel_query(NoTls);
        })
    }

    /// [`Target::connect`], saying which host of the list answered.
    pub fn connect_to(&self) -> Result<(Client, Endpoint), ConnectError> {
        let c = &self.config;
        let count = c.get_hosts().len().max(c.get_hostaddrs().len()).max(1);
        let mut failures = Vec::new();
        for i in 0..count {
            let one = self.host_config(i);
            let target = describe(&one);
            let endpoint = Endpoint::of(&one);
            match self.connect_host(one) {
                Ok(client) => return Ok((client, endpoint)),
                Err(Failure::Tls(error)) => return Err(ConnectError::Tls { target, error }),
                Err(Failure::Other(message)) => failures.push((target, message)),
            }
        }
        let (target, message) = match failures.len() {
            1 => failures.remove(0),
            _ => (
                self.describe(),
                failures
                    .iter()
                    .map(|(t, m)| format!("{t}: {m}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        };
        Err(ConnectError::Connect { target, message })
    }

    /// The settings for host `i` alone (libpq pairs the i-th host, hostaddr
    /// and port; a single port applies to every host).
    fn host_config(&self, i: usize) -> Config {
        let c = &self.config;
        let mut one = Config::new();
        if let Some(h) = c.get_hosts().get(i) {
            match h {
                Host::Tcp(name) => one.host(name),
                Host::Unix(path) => one.host_path(path),
            };
        }
        if let Some(a) = c.get_hostaddrs().get(i) {
            one.hostaddr(*a);
        }
        let ports = c.get_ports();
        if let Some(p) = ports.get(i).or(ports.first()) {
            one.port(*p);
        }
        if let Some(u) = c.get_user() {
            one.user(u);
        }
        if let Some(d) = c.get_dbname() {
            one.dbname(d);
        }
        if let Some(o) = c.get_options() {
            one.options(o);
        }
        if let Some(a) = c.get_application_name() {
            one.application_name(a);
        }
        if let Some(t) = c.get_connect_timeout() {
            one.connect_timeout(*t);
        }
        if let Some(t) = c.get_tcp_user_timeout() {
            one.tcp_user_timeout(*t);
        }
        one.keepalives(c.get_keepalives())
            .keepalives_idle(c.get_keepalives_idle());
        if let Some(t) = c.get_keepalives_interval() {
            one.keepalives_interval(t);
        }
        if let Some(n) = c.get_keepalives_retries() {
            one.keepalives_retries(n);
        }
        one.target_session_attrs(c.get_target_session_attrs())
            .channel_binding(c.get_channel_binding())
            .ssl_negotiation(c.get_ssl_negotiation());
        match c.get_password() {
            Some(p) => {
                one.password(p);
            }
            None => {
                if let Some(p) = self.passfile.as_deref().and_then(|f| {
                    pgpass::lookup(
                        f,
                        &pgpass_host(&one),
                        &one.get_ports().first().copied().unwrap_or(5432).to_string(),
                        one.get_dbname().unwrap_or_default(),
                        one.get_user().unwrap_or_default(),
                    )
                }) {
                    one.password(p);
                }
            }
        }
        one
    }

    /// One host, with libpq's sslmode rules: `allow` tries without TLS
    /// first and with it when the server refuses; `prefer` tries TLS first
    /// and, when the TLS handshake fails, again without (fe-connect.c,
    /// `PQconnectPoll`).
    fn connect_host(&self, mut one: Config) -> Result<Client, Failure> {
        let socket = one.get_hostaddrs().is_empty()
            && matches!(one.get_hosts().first(), Some(Host::Unix(_)));
        let mode = self.tls.mode;
        // TLS does not apply to Unix sockets.
        if socket || mode == SslMode::Disable {
            return one.connect(NoTls).map_err(Failure::from);
        }
        let with_tls = |one: &mut Config, ssl: postgres::config::SslMode| {
            let connector = tls::connector(&self.tls).map_err(Failure::Tls)?;
            one.ssl_mode(ssl);
            one.connect(connector).map_err(Failure::from)
        };
        match mode {
            SslMode::Allow => match one.connect(NoTls) {
                Ok(c) => Ok(c),
                Err(e) if e.as_db_error().is_some() => {
                    with_tls(&mut one, postgres::config::SslMode::Require)
                }
                Err(e) => Err(Failure::from(e)),
            },
            SslMode::Prefer => match with_tls(&mut one, postgres::config::SslMode::Prefer) {
                Err(Failure::Other(m)) if m.starts_with(TLS_FAILURE) => {
                    one.ssl_mode(postgres::config::SslMode::Disable);
                    // Both failures, as libpq reports them.
                    one.connect(NoTls).map_err(|e| {
                        Failure::Other(format!("{m}; then without TLS: {}", error_text(&e)))
                    })
                }
                other => other,
            },
            _ => with_tls(&mut one, postgres::config::SslMode::Require),
        }
    }
}

/// How one host failed: a TLS setting that cannot work stops at once.
enum Failure {
    Tls(TlsError),
    Other(String),
}

impl From<postgres::Error> for Failure {
    fn from(e: postgres::Error) -> Failure {
        Failure::Other(error_text(&e))
    }
}

/// How [`error_text`] starts the message of a failed TLS handshake.
const TLS_FAILURE: &str = "SSL error: ";

/// The host name the password file is matched on (libpq's
/// `passwordFromFile`): the host, else the hostaddr; the default socket
/// directory, or nothing at all, is `localhost`.
fn pgpass_host(one: &Config) -> String {
    match one.get_hosts().first() {
        Some(Host::Tcp(name)) if !name.is_empty() => name.clone(),
        Some(Host::Unix(path)) if path != Path::new(DEFAULT_SOCKET_DIR) => {
            path.display().to_string()
        }
        Some(Host::Unix(_)) => "localhost".into(),
        _ => match one.get_hostaddrs().first() {
            Some(a) => a.to_string(),
            None => "localhost".into(),
        },
    }
}

/// `host=... port=... user=... dbname=...` of the first host, never the
/// password.
fn describe(c: &Config) -> String {
    let host = c
        .get_hosts()
        .first()
        .map(host_text)
        .or_else(|| c.get_hostaddrs().first().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".into());
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!(
        "host={host} port={port} user={} dbname={}",
        c.get_user().unwrap_or("?"),
        c.get_dbname().unwrap_or("?")
    )
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
        // A Unix socket: TLS does not apply.
        tls: tls::Settings {
            mode: SslMode::Disable,
            roots: tls::Roots::NoHome,
        },
        passfile: None,
    })
}

/// A postgres error's text without its "db error: " wrapping; a failed TLS
/// handshake in libpq's words.
pub fn error_text(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.message().to_string();
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(inner) = source {
        // tokio-rustls wraps rustls' error in an io::Error, whose source()
        // skips it.
        let tls = inner.downcast_ref::<rustls::Error>().or_else(|| {
            inner
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|r| r.downcast_ref::<rustls::Error>())
        });
        if let Some(t) = tls {
            return match tls::certificate_error(t) {
                Some(m) => format!("{TLS_FAILURE}{m}"),
                None => format!("{TLS_FAILURE}{t}"),
            };
        }
        source = inner.source();
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

/// A URL that is empty or only blanks names no database. Wherever one is given, it is
/// refused: read as "none given", it would reach whatever DATABASE_URL, the PG* variables or
/// the dev database point at.
pub fn is_blank(url: &str) -> bool {
    url.trim().is_empty()
}

/// Why a given URL cannot name a database ([`check_url`]).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlProblem {
    #[error("it is empty")]
    Empty,
    /// The reason, which never quotes the URL.
    #[error("{0}")]
    Invalid(String),
}

/// Whether `text` can name a database, read as [`Target::resolve`] reads a given URL but
/// without the environment. A fleet checks each target's URL when it loads, so that a mistake
/// stops the run before any database is touched.
pub fn check_url(text: &str) -> Result<(), UrlProblem> {
    if is_blank(text) {
        return Err(UrlProblem::Empty);
    }
    let (rest, own) = take_own_options(text);
    let mut config = parse(&rest).map_err(UrlProblem::Invalid)?;
    apply_tcp_options(&mut config, &own).map_err(UrlProblem::Invalid)?;
    sslmode(&own).map(|_| ()).map_err(UrlProblem::Invalid)
}

/// The `sslmode` option, if given.
fn sslmode(own: &HashMap<String, String>) -> Result<Option<SslMode>, String> {
    match own.get("sslmode") {
        Some(m) => SslMode::parse(m).map(Some).ok_or_else(|| {
            format!(
                "sslmode `{m}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
            )
        }),
        None => Ok(None),
    }
}

/// Takes the options in [`OWN_OPTIONS`] out of a URL or `key=value` string;
/// the rest goes to the postgres crate's parser.
fn take_own_options(text: &str) -> (String, HashMap<String, String>) {
    let mut own = HashMap::new();
    let url = text.starts_with("postgres://") || text.starts_with("postgresql://");
    let mut keep = |kv: &str| -> bool {
        match kv.split_once('=') {
            Some((k, v)) if OWN_OPTIONS.contains(&k) => {
                let v = if url {
                    percent_decode(v)
                } else {
                    v.trim_matches('\'').to_string()
                };
                own.insert(k.to_string(), v);
                false
            }
            _ => true,
        }
    };
    let rebuilt = if url {
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
    (rebuilt, own)
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

fn parse(text: &str) -> Result<Config, String> {
    Config::from_str(text).map_err(|e| {
        // The parser's message may quote the input, which may hold a password.
        e.to_string()
            .split(':')
            .next()
            .unwrap_or("malformed")
            .to_string()
    })
}

/// Fills what the URL left unset from the libpq variables, then libpq's
/// defaults (the OS user name; the database named like the user; the
/// default socket). A variable never overrides the URL.
fn apply_pg_env(
    c: &mut Config,
    own: &mut HashMap<String, String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), String> {
    if c.get_hosts().is_empty() {
        if let Some(h) = env("PGHOST") {
            for part in h.split(',') {
                if part.starts_with('/') {
                    c.host_path(part);
                } else {
                    c.host(part);
                }
            }
        }
    }
    if c.get_hostaddrs().is_empty() {
        if let Some(a) = env("PGHOSTADDR") {
            for part in a.split(',') {
                let ip = IpAddr::from_str(part.trim())
                    .map_err(|_| format!("PGHOSTADDR `{part}` is not an IP address"))?;
                c.hostaddr(ip);
            }
        }
    }
    if c.get_hosts().is_empty() && c.get_hostaddrs().is_empty() {
        // libpq's default is the Unix socket; Debian puts it here.
        let sock = PathBuf::from(DEFAULT_SOCKET_DIR);
        if sock.exists() {
            c.host_path(sock);
        } else {
            c.host("localhost");
        }
    }
    if c.get_ports().is_empty() {
        if let Some(p) = env("PGPORT") {
            for part in p.split(',') {
                c.port(
                    part.trim()
                        .parse()
                        .map_err(|_| format!("PGPORT `{p}` is not a port number"))?,
                );
            }
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
    if c.get_application_name().is_none() {
        // keel is the fallback_application_name, as psql is psql's.
        let name = env("PGAPPNAME").unwrap_or_else(|| "keel".into());
        c.application_name(&name);
    }
    for (key, var) in [
        ("sslmode", "PGSSLMODE"),
        ("sslrootcert", "PGSSLROOTCERT"),
        ("passfile", "PGPASSFILE"),
        ("connect_timeout", "PGCONNECT_TIMEOUT"),
    ] {
        if !own.contains_key(key) {
            if let Some(v) = env(var) {
                own.insert(key.to_string(), v);
            }
        }
    }
    Ok(())
}

/// libpq's integer options: surrounding spaces allowed, nothing else
/// (`parse_int_param` in fe-connect.c).
fn int_option(own: &HashMap<String, String>, key: &str) -> Result<Option<i64>, String> {
    match own.get(key) {
        None => Ok(None),
        Some(v) => {
            v.trim().parse::<i64>().map(Some).map_err(|_| {
                format!("invalid integer value \"{v}\" for connection option \"{key}\"")
            })
        }
    }
}

/// `connect_timeout` (seconds; 0 or less waits forever, less than 2 is 2,
/// per host, as libpq), the keepalives (seconds, libpq's names) and
/// `tcp_user_timeout` (milliseconds), with keel's defaults where unset. A
/// value of 0 or less leaves the system's setting.
fn apply_tcp_options(c: &mut Config, own: &HashMap<String, String>) -> Result<(), String> {
    if let Some(t) = int_option(own, "connect_timeout")? {
        if t > 0 {
            c.connect_timeout(Duration::from_secs(t.max(2) as u64));
        }
    }
    let keepalives = int_option(own, "keepalives")?.unwrap_or(1) != 0;
    c.keepalives(keepalives);
    let secs = |v: Option<i64>, default: Duration| match v {
        None => Some(default),
        Some(s) if s > 0 => Some(Duration::from_secs(s as u64)),
        Some(_) => None,
    };
    if let Some(d) = secs(int_option(own, "keepalives_idle")?, KEEPALIVES_IDLE) {
        c.keepalives_idle(d);
    }
    if let Some(d) = secs(int_option(own, "keepalives_interval")?, KEEPALIVES_INTERVAL) {
        c.keepalives_interval(d);
    }
    match int_option(own, "keepalives_count")? {
        None => {
            c.keepalives_retries(KEEPALIVES_COUNT);
        }
        Some(n) if n > 0 => {
            c.keepalives_retries(u32::try_from(n).unwrap_or(u32::MAX));
        }
        Some(_) => {}
    }
    match int_option(own, "tcp_user_timeout")? {
        None => {
            c.tcp_user_timeout(TCP_USER_TIMEOUT);
        }
        Some(ms) if ms > 0 => {
            c.tcp_user_timeout(Duration::from_millis(ms as u64));
        }
        Some(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_url_refuses_what_would_not_name_one_database_and_never_quotes_it() {
        for ok in [
            "postgresql:///tenant",
            "postgres://u:pw@db.example:5433/t?sslmode=require&connect_timeout=5",
            "host=/run/postgresql dbname=t",
        ] {
            assert_eq!(check_url(ok), Ok(()), "{ok}");
        }
        for (bad, says) in [
            ("", "it is empty"),
            ("   ", "it is empty"),
            ("postgresql://u:s3cret@h:notaport/t", "invalid"),
            (
                "postgresql://u:s3cret@h/t?sslmode=sometimes",
                "sslmode `sometimes`",
            ),
            (
                "postgresql://u:s3cret@h/t?keepalives_count=x",
                "keepalives_count",
            ),
        ] {
            let e = check_url(bad).unwrap_err().to_string();
            assert!(e.contains(says) && !e.contains("s3cret"), "{bad}: {e}");
        }
    }

    /// Only a server whose own end of the connection is the place dialled
    /// proves there is no proxy; anything else falls back to the second
    /// connection check.
    #[test]
    fn the_server_end_proves_a_direct_connection_only_when_certain() {
        let unix = Endpoint::Unix {
            dir: PathBuf::from("/run/pg"),
            port: 5432,
        };
        assert!(unix.is_server_end(None, None, 5432, "/run/pg, /tmp"));
        assert!(
            !unix.is_server_end(None, None, 6432, "/run/pg"),
            "another port"
        );
        assert!(
            !unix.is_server_end(None, None, 5432, "/tmp"),
            "another directory"
        );
        assert!(
            !unix.is_server_end(None, None, 5432, ""),
            "directories the role may not read"
        );
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(
            !unix.is_server_end(Some(lo), Some(5432), 5432, "/run/pg"),
            "the server was reached over TCP: a proxy on our socket"
        );
        let tcp = Endpoint::Tcp {
            host: TcpHost::Addr(lo),
            port: 6432,
        };
        assert!(tcp.is_server_end(Some(lo), Some(6432), 6432, ""));
        assert!(
            !tcp.is_server_end(Some(lo), Some(5432), 5432, ""),
            "a proxy on 6432 in front of a server on 5432"
        );
        assert!(
            !tcp.is_server_end(None, None, 6432, "/tmp"),
            "the server was reached over a socket"
        );
        let other: IpAddr = "10.0.0.5".parse().unwrap();
        assert!(
            !tcp.is_server_end(Some(other), Some(6432), 6432, ""),
            "NAT or another host"
        );
        let named = Endpoint::Tcp {
            host: TcpHost::Name("127.0.0.1".into()),
            port: 6432,
        };
        assert!(named.is_server_end(Some(lo), Some(6432), 6432, ""));
    }
    use std::os::unix::fs::PermissionsExt;

    fn resolve(url: Option<&str>, vars: &[(&str, &str)]) -> Result<Target, ConnectError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Target::resolve_with(url, &|n| vars.get(n).cloned())
    }

    #[test]
    fn describe_never_shows_the_password() {
        let t = resolve(Some("postgresql://app:s3cret@db.example:6543/prod"), &[]).unwrap();
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
    fn own_options_are_taken_out() {
        let (rest, own) = take_own_options(
            "postgresql://u@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x&tcp_user_timeout=500",
        );
        assert_eq!(rest, "postgresql://u@h/db?application_name=x");
        assert_eq!(own["sslmode"], "verify-full");
        assert_eq!(own["sslrootcert"], "/etc/ca.pem");
        assert_eq!(own["tcp_user_timeout"], "500");
        let (rest, own) = take_own_options("host=h dbname=d sslmode=require keepalives_count=3");
        assert_eq!(rest, "host=h dbname=d");
        assert_eq!(own["sslmode"], "require");
        assert_eq!(own["keepalives_count"], "3");
    }

    /// Every PG* variable keel reads fills only what the URL left unset.
    #[test]
    fn the_url_wins_over_every_pg_variable() {
        let vars = [
            ("PGHOST", "env-host"),
            ("PGHOSTADDR", "10.0.0.9"),
            ("PGPORT", "1111"),
            ("PGUSER", "env-user"),
            ("PGDATABASE", "env-db"),
            ("PGPASSWORD", "env-pass"),
            ("PGAPPNAME", "env-app"),
            ("PGSSLMODE", "disable"),
            ("PGSSLROOTCERT", "/env/root.crt"),
            ("PGPASSFILE", "/env/pgpass"),
            ("PGCONNECT_TIMEOUT", "99"),
            ("HOME", "/home/u"),
        ];
        let t = resolve(
            Some("postgresql://u:p@h:5432/db?hostaddr=10.0.0.1&application_name=a&sslmode=verify-full&sslrootcert=/ca.crt&passfile=/pw&connect_timeout=7"),
            &vars,
        )
        .unwrap();
        let c = &t.config;
        assert_eq!(c.get_hosts(), &[Host::Tcp("h".into())]);
        assert_eq!(c.get_hostaddrs(), &["10.0.0.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(c.get_ports(), &[5432]);
        assert_eq!(c.get_user(), Some("u"));
        assert_eq!(c.get_dbname(), Some("db"));
        assert_eq!(c.get_password(), Some(&b"p"[..]));
        assert_eq!(c.get_application_name(), Some("a"));
        assert_eq!(c.get_connect_timeout(), Some(&Duration::from_secs(7)));
        assert_eq!(t.tls.mode, SslMode::VerifyFull);
        assert_eq!(t.tls.roots, tls::Roots::File("/ca.crt".into()));
        assert_eq!(t.passfile.as_deref(), Some(Path::new("/pw")));

        // With nothing in the URL, the variables fill it all.
        let t = resolve(Some("postgresql://"), &vars).unwrap();
        let c = &t.config;
        assert_eq!(c.get_hosts(), &[Host::Tcp("env-host".into())]);
        assert_eq!(c.get_hostaddrs(), &["10.0.0.9".parse::<IpAddr>().unwrap()]);
        assert_eq!(c.get_ports(), &[1111]);
        assert_eq!(c.get_user(), Some("env-user"));
        assert_eq!(c.get_dbname(), Some("env-db"));
        assert_eq!(c.get_password(), Some(&b"env-pass"[..]));
        assert_eq!(c.get_application_name(), Some("env-app"));
        assert_eq!(c.get_connect_timeout(), Some(&Duration::from_secs(99)));
        assert_eq!(t.tls.mode, SslMode::Disable);
        assert_eq!(t.tls.roots, tls::Roots::File("/env/root.crt".into()));
        assert_eq!(t.passfile.as_deref(), Some(Path::new("/env/pgpass")));

        // Without either: libpq's defaults, and keel's name.
        let t = resolve(Some("postgresql://h/db"), &[("HOME", "/home/u")]).unwrap();
        assert_eq!(t.config.get_application_name(), Some("keel"));
        assert_eq!(t.tls.mode, SslMode::Prefer);
        assert_eq!(
            t.tls.roots,
            tls::Roots::File("/home/u/.postgresql/root.crt".into())
        );
        assert_eq!(t.passfile.as_deref(), Some(Path::new("/home/u/.pgpass")));
        // An empty value is given, so no variable fills it, and means the
        // default file, as in libpq.
        let t = resolve(
            Some("postgresql://h/db?sslrootcert=&sslmode=verify-full"),
            &[("HOME", "/home/u"), ("PGSSLROOTCERT", "/env/root.crt")],
        )
        .unwrap();
        assert_eq!(
            t.tls.roots,
            tls::Roots::File("/home/u/.postgresql/root.crt".into())
        );
    }

    #[test]
    fn sslrootcert_system_needs_verify_full() {
        let t = resolve(Some("postgresql://h/db?sslrootcert=system"), &[]).unwrap();
        assert_eq!(t.tls.mode, SslMode::VerifyFull);
        let e = resolve(
            Some("postgresql://h/db?sslrootcert=system"),
            &[("PGSSLMODE", "require")],
        )
        .unwrap_err();
        assert!(e.is_configuration());
        assert!(
            e.to_string()
                .contains("weak sslmode \"require\" may not be used with sslrootcert=system"),
            "{e}"
        );
    }

    #[test]
    fn timeouts_as_libpq() {
        let c = |q: &str| resolve(Some(&format!("postgresql://h/db?{q}")), &[]).map(|t| t.config);
        // Seconds; 1 is 2; 0 or less waits forever.
        assert_eq!(
            c("connect_timeout=1").unwrap().get_connect_timeout(),
            Some(&Duration::from_secs(2))
        );
        assert_eq!(c("connect_timeout=0").unwrap().get_connect_timeout(), None);
        assert_eq!(c("connect_timeout=-5").unwrap().get_connect_timeout(), None);
        let e = c("connect_timeout=soon").unwrap_err().to_string();
        assert!(
            e.contains("invalid integer value \"soon\" for connection option \"connect_timeout\""),
            "{e}"
        );
        // tcp_user_timeout is in milliseconds.
        let t =
            c("tcp_user_timeout=1500&keepalives_idle=5&keepalives_interval=2&keepalives_count=4")
                .unwrap();
        assert_eq!(t.get_tcp_user_timeout(), Some(&Duration::from_millis(1500)));
        assert_eq!(t.get_keepalives_idle(), Duration::from_secs(5));
        assert_eq!(t.get_keepalives_interval(), Some(Duration::from_secs(2)));
        assert_eq!(t.get_keepalives_retries(), Some(4));
        assert!(t.get_keepalives());
        assert!(!c("keepalives=0").unwrap().get_keepalives());
        // keel's defaults bound a dead connection.
        let d = c("").unwrap();
        assert_eq!(d.get_keepalives_idle(), KEEPALIVES_IDLE);
        assert_eq!(d.get_tcp_user_timeout(), Some(&TCP_USER_TIMEOUT));
        assert_eq!(
            c("keepalives_count=x").unwrap_err().to_string(),
            "invalid database URL (--database-url): invalid integer value \"x\" for connection option \"keepalives_count\""
        );
    }

    #[test]
    fn each_host_gets_its_own_password() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(&file, "a:5432:*:*:pass-a\nb:6000:*:*:pass-b\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let t = resolve(
            Some(&format!(
                "postgresql://u@a,b:6000,c/db?passfile={}",
                file.display()
            )),
            &[],
        )
        .unwrap();
        let pw = |i: usize| t.host_config(i).get_password().map(|p| p.to_vec());
        // One port per host: a's is the default 5432; c has no line.
        assert_eq!(pw(0), Some(b"pass-a".to_vec()));
        assert_eq!(pw(1), Some(b"pass-b".to_vec()));
        assert_eq!(pw(2), None);
    }
}
