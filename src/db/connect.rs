//! Finding the database and connecting to it, like psql does:
//! `--database-url`, then `$DATABASE_URL`, then libpq's `PG*` variables and
//! `~/.pgpass`. The URL's settings always win; a `PG*` variable only fills a
//! setting the URL left unset (libpq's `conninfo_add_defaults`). Nothing here
//! ever prints a password.

use super::conninfo;
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
    "sslcert",
    "sslkey",
    "sslcertmode",
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
        let mut pairs = match text {
            Some(t) => conninfo::parse(&t).map_err(bad)?,
            None => {
                if ![
                    "PGHOST",
                    "PGDATABASE",
                    "PGPORT",
                    "PGUSER",
                    "PGHOSTADDR",
                    "PGSERVICE",
                ]
                .iter()
                .any(|v| env(v).is_some())
                {
                    return dev_db_target();
                }
                conninfo::Pairs::new()
            }
        };
        fill_from_env(&mut pairs, env);
        let (config, own) = settings(&pairs, env).map_err(bad)?;
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
        })?
        .offering(
            own.get("sslcertmode")
                .and_then(|m| tls::CertMode::parse(m.trim()))
                .unwrap_or(tls::CertMode::Allow),
            own.get("sslcert").map(String::as_str),
            own.get("sslkey").map(String::as_str),
            home.as_deref(),
        );
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
        let mut order: Vec<usize> = (0..count).collect();
        if c.get_load_balance_hosts() == postgres::config::LoadBalanceHosts::Random {
            shuffle(&mut order);
        }
        for i in order {
            let one = self.host_config(i);
            let target = describe(&one);
            let endpoint = Endpoint::of(&one);
            match self.connect_host_within_timeout(one) {
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

    /// [`Target::connect_host`] within `connect_timeout`, which in libpq bounds the whole
    /// attempt on a host (TCP, TLS, authentication), not only the TCP connect the postgres
    /// crate bounds: a server that accepts the connection and never answers would otherwise
    /// hold keel for ever, and the next host of a list would never be tried. The attempt runs
    /// on a thread of its own; one that does not finish in time is abandoned (its socket
    /// closes when it ends, or with the process).
    fn connect_host_within_timeout(&self, one: Config) -> Result<Client, Failure> {
        let Some(limit) = one.get_connect_timeout().copied() else {
            return self.connect_host(one);
        };
        let target = self.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("keel-connect".into())
            .spawn(move || {
                let _ = tx.send(target.connect_host(one));
            })
            .map_err(|e| Failure::Other(format!("cannot start a connection attempt: {e}")))?;
        rx.recv_timeout(limit)
            .unwrap_or_else(|_| Err(Failure::Other("timeout expired".into())))
    }

    /// One host, with libpq's sslmode rules: `allow` tries without TLS
    /// first and with it when the server refuses; `prefer` tries TLS first
    /// and, when the TLS handshake fails, again without (fe-connect.c,
    /// `PQconnectPoll`).
    fn connect_host(&self, mut one: Config) -> Result<Client, Failure> {
        let socket = one.get_hostaddrs().is_empty()
            && matches!(one.get_hosts().first(), Some(Host::Unix(_)));
        let mode = self.tls.mode;
        // In the clear, no server asked for a certificate: `sslcertmode=require` refuses the
        // connection once it is made, as libpq does when the server lets it in.
        let in_clear = |client: Client| {
            if self.tls.cert_required {
                return Err(Failure::Tls(TlsError::CertNotRequested));
            }
            Ok(client)
        };
        let plain = |one: &Config| in_clear(one.connect(NoTls)?);
        // TLS does not apply to Unix sockets.
        if socket || mode == SslMode::Disable {
            return plain(&one);
        }
        let with_tls = |one: &mut Config, ssl: postgres::config::SslMode| {
            let connector = tls::connector(&self.tls).map_err(Failure::Tls)?;
            one.ssl_mode(ssl);
            let client = one
                .connect(connector.clone())
                .map_err(|e| tls::setup_error(&e).map_or_else(|| Failure::from(e), Failure::Tls))?;
            if self.tls.cert_required {
                connector.required_certificate().map_err(Failure::Tls)?;
            }
            Ok(client)
        };
        match mode {
            SslMode::Allow => match one.connect(NoTls) {
                Ok(c) => in_clear(c),
                Err(e) if e.as_db_error().is_some() => {
                    with_tls(&mut one, postgres::config::SslMode::Require)
                }
                Err(e) => Err(Failure::from(e)),
            },
            SslMode::Prefer => match with_tls(&mut one, postgres::config::SslMode::Prefer) {
                Err(Failure::Other(m)) if m.starts_with(TLS_FAILURE) => {
                    one.ssl_mode(postgres::config::SslMode::Disable);
                    // Both failures, as libpq reports them.
                    plain(&one).map_err(|f| match f {
                        Failure::Other(e) => Failure::Other(format!("{m}; then without TLS: {e}")),
                        tls => tls,
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
    let mut config = conninfo::parse(&status.url)
        .and_then(|pairs| settings(&pairs, &|_| None))
        .map(|(config, _)| config)
        .map_err(|message| ConnectError::BadUrl {
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
            client: tls::ClientCert::None,
            cert_required: false,
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
    let pairs = conninfo::parse(text).map_err(UrlProblem::Invalid)?;
    let (_, own) = settings(&pairs, &|_| None).map_err(UrlProblem::Invalid)?;
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

/// Fills what the URL left unset from libpq's variables (`conninfo_add_defaults`): a variable
/// never overrides the URL. `PGREQUIRESSL=1` is libpq's old spelling of `PGSSLMODE=require`.
fn fill_from_env(pairs: &mut conninfo::Pairs, env: &dyn Fn(&str) -> Option<String>) {
    for (key, var) in conninfo::KEYWORDS {
        if let Some(var) = var {
            if !pairs.contains_key(key) {
                if let Some(v) = env(var) {
                    pairs.insert(key, v);
                }
            }
        }
    }
    if !pairs.contains_key("sslmode") {
        if let Some(v) = env("PGREQUIRESSL") {
            pairs.insert("sslmode", conninfo::sslmode_of_requiressl(&v).into());
        }
    }
}

/// What the settings mean for keel: the postgres crate's `Config`, and the options keel reads
/// itself ([`OWN_OPTIONS`]). A libpq setting keel cannot honour is an error naming it, never
/// ignored: ignored, `sslcrl` would accept a revoked certificate, `service` or
/// `target_session_attrs=primary` another server, `require_auth` a weaker authentication.
fn settings(
    pairs: &conninfo::Pairs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Config, HashMap<String, String>), String> {
    let get = |k: &str| pairs.get(k).map(String::as_str);
    for (key, value) in pairs {
        if let Some(why) = unsupported(key, value) {
            return Err(why);
        }
    }
    let mut c = Config::new();
    let hosts: Vec<&str> = get("host")
        .map(|h| h.split(',').collect())
        .unwrap_or_default();
    let addrs: Vec<&str> = get("hostaddr")
        .filter(|a| !a.is_empty())
        .map(|a| a.split(',').collect())
        .unwrap_or_default();
    if !hosts.is_empty() && !addrs.is_empty() && hosts.len() != addrs.len() {
        return Err(format!(
            "could not match {} host names to {} hostaddr values",
            hosts.len(),
            addrs.len()
        ));
    }
    for h in &hosts {
        match h.trim() {
            // An empty entry is libpq's default: the Unix socket.
            "" => default_host(&mut c),
            h if h.starts_with('/') => {
                c.host_path(h);
            }
            h => {
                c.host(h);
            }
        }
    }
    for a in &addrs {
        let ip = IpAddr::from_str(a.trim())
            .map_err(|_| format!("could not parse network address \"{a}\""))?;
        c.hostaddr(ip);
    }
    if hosts.is_empty() && addrs.is_empty() {
        default_host(&mut c);
    }
    let count = hosts.len().max(addrs.len()).max(1);
    if let Some(p) = get("port").filter(|p| !p.is_empty()) {
        let ports: Vec<&str> = p.split(',').collect();
        if ports.len() > 1 && ports.len() != count {
            return Err(format!(
                "could not match {} port numbers to {count} hosts",
                ports.len()
            ));
        }
        for part in ports {
            let port = match part.trim() {
                "" => 5432,
                n => n
                    .parse::<u16>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("invalid port number: \"{part}\""))?,
            };
            c.port(port);
        }
    }
    let user = match get("user").filter(|u| !u.is_empty()) {
        Some(u) => u.to_string(),
        None => os_user(env),
    };
    c.user(&user);
    c.dbname(get("dbname").filter(|d| !d.is_empty()).unwrap_or(&user));
    // An empty password is none: the password file is asked, as libpq does.
    if let Some(p) = get("password").filter(|p| !p.is_empty()) {
        c.password(p);
    }
    if let Some(o) = get("options").filter(|o| !o.is_empty()) {
        c.options(o);
    }
    // keel is the fallback_application_name, as psql is psql's.
    let app = get("application_name")
        .filter(|a| !a.is_empty())
        .or(get("fallback_application_name").filter(|a| !a.is_empty()))
        .unwrap_or("keel");
    c.application_name(app);
    use postgres::config::{ChannelBinding, LoadBalanceHosts, SslNegotiation, TargetSessionAttrs};
    match get("target_session_attrs") {
        None | Some("any") => c.target_session_attrs(TargetSessionAttrs::Any),
        Some("read-write") => c.target_session_attrs(TargetSessionAttrs::ReadWrite),
        Some("read-only") => c.target_session_attrs(TargetSessionAttrs::ReadOnly),
        Some(v @ ("primary" | "standby" | "prefer-standby")) => {
            return Err(format!(
                "target_session_attrs={v} is not supported by keel; read-write and read-only are"
            ))
        }
        Some(v) => return Err(format!("invalid target_session_attrs value: \"{v}\"")),
    };
    match get("channel_binding") {
        None | Some("prefer") => c.channel_binding(ChannelBinding::Prefer),
        Some("disable") => c.channel_binding(ChannelBinding::Disable),
        Some("require") => c.channel_binding(ChannelBinding::Require),
        Some(v) => return Err(format!("invalid channel_binding value: \"{v}\"")),
    };
    match get("sslnegotiation") {
        None | Some("postgres") => c.ssl_negotiation(SslNegotiation::Postgres),
        Some("direct") => c.ssl_negotiation(SslNegotiation::Direct),
        Some(v) => return Err(format!("invalid sslnegotiation value: \"{v}\"")),
    };
    match get("load_balance_hosts") {
        None | Some("disable") => c.load_balance_hosts(LoadBalanceHosts::Disable),
        Some("random") => c.load_balance_hosts(LoadBalanceHosts::Random),
        Some(v) => return Err(format!("invalid load_balance_hosts value: \"{v}\"")),
    };
    let own: HashMap<String, String> = pairs
        .iter()
        .filter(|(k, _)| OWN_OPTIONS.contains(k))
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    apply_tcp_options(&mut c, &own)?;
    Ok((c, own))
}

/// `load_balance_hosts=random`: the hosts in a random order (Fisher-Yates, from the process's
/// random hash keys).
fn shuffle(order: &mut [usize]) {
    use std::hash::{BuildHasher, Hasher};
    let seed = std::collections::hash_map::RandomState::new();
    for i in (1..order.len()).rev() {
        let mut h = seed.build_hasher();
        h.write_usize(i);
        let j = (h.finish() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
}

/// libpq's default host: the Unix socket (where Debian puts it), or localhost without one.
fn default_host(c: &mut Config) {
    let sock = PathBuf::from(DEFAULT_SOCKET_DIR);
    if sock.exists() {
        c.host_path(sock);
    } else {
        c.host("localhost");
    }
}

/// libpq's default user: the name of the effective OS user (`pg_fe_getusername`), not `$USER`,
/// which `su` or a container may leave pointing at someone else.
fn os_user(env: &dyn Fn(&str) -> Option<String>) -> String {
    effective_user_name()
        .or_else(|| env("USER"))
        .unwrap_or_else(|| "postgres".into())
}

fn effective_user_name() -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: getpwuid_r writes into `pwd` and `buf`, both ours and sized as passed; the
    // name it points at lives in `buf`, read before `buf` is dropped.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(
            libc::geteuid(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        );
        if rc != 0 || found.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        std::ffi::CStr::from_ptr(pwd.pw_name)
            .to_str()
            .ok()
            .map(str::to_string)
    }
}

/// Why keel cannot honour `key=value`, a libpq setting, if it cannot. A setting that is a
/// check the client makes (a revocation list, `require_auth`, `requirepeer`) or that chooses
/// the server (`service`) is refused: ignored, it would weaken the connection or change where
/// it goes. Settings that only matter to something keel never does are accepted: GSSAPI
/// names without GSSAPI encryption, compression libpq itself no longer does, `sslpassword`
/// (only an encrypted key needs it, and [`tls`] refuses one by name), and `client_encoding`
/// (keel's files are UTF-8, and it always speaks UTF8). Client certificates are offered
/// ([`tls::ClientCert`]), and `sslcertmode=require` is checked once the server lets keel in.
fn unsupported(key: &str, value: &str) -> Option<String> {
    let v = value.trim();
    let refuse = |why: &str| {
        Some(format!(
            "connection option \"{key}\" is not supported by keel: {why}"
        ))
    };
    match key {
        "service" => Some(
            "connection services (service=, PGSERVICE) are not supported by keel: give the settings in the URL or the PG* variables".into(),
        ),
        "sslcertmode" if tls::CertMode::parse(v).is_none() => {
            Some(format!("invalid sslcertmode value: \"{v}\""))
        }
        "sslcrl" | "sslcrldir" => refuse("keel cannot check certificate revocation lists"),
        "sslkeylogfile" => refuse("keel does not write TLS key logs"),
        "sslsni" if v != "1" => refuse("keel always sends the host name (SNI)"),
        "requirepeer" => refuse("keel cannot check the server process's OS user"),
        "require_auth" => refuse("keel cannot restrict the server's authentication methods"),
        "ssl_min_protocol_version" if !matches!(v, "" | "TLSv1" | "TLSv1.1" | "TLSv1.2") => {
            refuse("keel accepts TLS 1.2 and 1.3")
        }
        "ssl_max_protocol_version" if !matches!(v, "" | "TLSv1.3") => {
            refuse("keel accepts TLS 1.2 and 1.3")
        }
        "min_protocol_version" | "max_protocol_version" if !matches!(v, "" | "3.0") => {
            refuse("keel speaks protocol 3.0")
        }
        "gssencmode" if v == "require" => refuse("keel has no GSSAPI encryption"),
        "gssencmode" if !matches!(v, "disable" | "prefer") => {
            Some(format!("invalid gssencmode value: \"{value}\""))
        }
        "replication" if !matches!(v, "" | "0" | "false" | "off" | "no") => {
            refuse("keel is not a replication client")
        }
        "scram_client_key" | "scram_server_key" | "oauth_issuer" | "oauth_client_id"
        | "oauth_client_secret" | "oauth_scope" => refuse("keel does not support this authentication"),
        _ => None,
    }
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

    fn parse(text: &str) -> Result<Config, String> {
        let pairs = conninfo::parse(text)?;
        settings(&pairs, &|_| None).map(|(c, _)| c)
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

    /// Every spelling of sslmode that libpq reads reaches keel's TLS settings: none of them
    /// can leave keel at the default `prefer` while the URL asks for more.
    #[test]
    fn sslmode_in_any_spelling_is_the_sslmode() {
        for text in [
            "host=h dbname=d sslmode = require",
            "host=h dbname=d sslmode ='require'",
            "host=h dbname=d sslmode= require",
            "postgresql://u@h/d?ssl%6Dode=require",
            "postgresql://u@h/d?ssl=true",
            "host=h requiressl=1",
            "host=h sslmode=require application_name='nightly sslmode=disable run'",
        ] {
            let t = resolve(Some(text), &[]).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(t.tls.mode, SslMode::Require, "{text}");
        }
        let t = resolve(
            Some("host=h sslmode=verify-full options='-c sslmode=disable -c work_mem=64MB'"),
            &[("HOME", "/home/u")],
        )
        .unwrap();
        assert_eq!(t.tls.mode, SslMode::VerifyFull);
        assert_eq!(
            t.config.get_options(),
            Some("-c sslmode=disable -c work_mem=64MB")
        );
        // A leading blank makes it no URL, as in libpq: an error, not a URL without its query.
        let e = resolve(Some(" postgresql://u@h/d?sslmode=require"), &[]).unwrap_err();
        assert!(e.to_string().contains("invalid connection option"), "{e}");
    }

    /// An `@` in the query is part of a value, never the end of the user name: keel goes to the
    /// host the URL names, and no part of the password becomes a host name.
    #[test]
    fn an_at_sign_after_the_host_is_no_user_name() {
        let t = resolve(
            Some("postgresql://localhost:54322/appdb?user=app@%2Ftmp%2Fsock:1"),
            &[],
        )
        .unwrap();
        assert_eq!(t.config.get_hosts(), &[Host::Tcp("localhost".into())]);
        assert_eq!(t.config.get_ports(), &[54322]);
        assert_eq!(t.config.get_user(), Some("app@/tmp/sock:1"));
        let t = resolve(
            Some("postgresql://127.0.0.1:54321/appdb?user=app&password=Sekr1t@TAILSECRET"),
            &[],
        )
        .unwrap();
        assert_eq!(t.config.get_hosts(), &[Host::Tcp("127.0.0.1".into())]);
        assert!(!t.describe().contains("TAILSECRET"));
    }

    /// What libpq refuses, keel refuses, naming the option; what keel cannot honour it refuses
    /// instead of ignoring.
    #[test]
    fn settings_libpq_refuses_or_keel_cannot_honour_are_errors() {
        for (text, vars, message) in [
            (
                Some(" = host=db.prod.example"),
                &[][..],
                "invalid connection option \"\"",
            ),
            (
                Some("host=/s port=1 dbname=d =junk"),
                &[],
                "invalid connection option \"\"",
            ),
            (
                Some("host=/s bogus=1"),
                &[],
                "invalid connection option \"bogus\"",
            ),
            (
                Some("postgresql://h/d?bogus=1"),
                &[],
                "invalid URI query parameter: \"bogus\"",
            ),
            (
                Some("host=a,b,c port=1,2"),
                &[],
                "could not match 2 port numbers to 3 hosts",
            ),
            (
                Some("host=a,b hostaddr=127.0.0.1"),
                &[],
                "could not match 2 host names to 1 hostaddr values",
            ),
            (Some("host=h service=prod"), &[], "connection services"),
            (None, &[("PGSERVICE", "prod")][..], "connection services"),
            (
                Some("host=h"),
                &[("PGSERVICE", "prod")],
                "connection services",
            ),
            (
                Some("host=h sslcrl=/c.pem"),
                &[],
                "\"sslcrl\" is not supported",
            ),
            (
                Some("host=h"),
                &[("PGSSLCRL", "/c.pem")],
                "\"sslcrl\" is not supported",
            ),
            (
                Some("host=h sslcertmode=sometimes"),
                &[],
                "invalid sslcertmode value: \"sometimes\"",
            ),
            (
                Some("host=h"),
                &[("PGGSSENCMODE", "require")],
                "\"gssencmode\" is not supported",
            ),
            (
                Some("host=h target_session_attrs=primary"),
                &[],
                "target_session_attrs=primary is not supported",
            ),
            (
                Some("host=h require_auth=scram-sha-256"),
                &[],
                "\"require_auth\" is not supported",
            ),
        ] {
            let e = resolve(text, vars).expect_err(&format!("{text:?} {vars:?}"));
            assert!(e.to_string().contains(message), "{text:?} {vars:?}: {e}");
        }
    }

    /// The variables libpq reads for the settings keel honours fill what the URL left unset.
    #[test]
    fn more_pg_variables_fill_what_is_unset() {
        let t = resolve(
            Some("host=h dbname=d user=u"),
            &[
                ("PGOPTIONS", "-c search_path=tenant1"),
                ("PGTARGETSESSIONATTRS", "read-write"),
                ("PGCHANNELBINDING", "require"),
                ("PGREQUIRESSL", "1"),
            ],
        )
        .unwrap();
        assert_eq!(t.config.get_options(), Some("-c search_path=tenant1"));
        assert_eq!(
            t.config.get_target_session_attrs(),
            postgres::config::TargetSessionAttrs::ReadWrite
        );
        assert_eq!(
            t.config.get_channel_binding(),
            postgres::config::ChannelBinding::Require
        );
        assert_eq!(t.tls.mode, SslMode::Require);
        // The default user is the effective OS user, not $USER.
        let t = resolve(Some("host=h"), &[("USER", "someone-else")]).unwrap();
        assert_eq!(t.config.get_user(), effective_user_name().as_deref());
        // An empty password is none (the password file is asked).
        let t = resolve(Some("postgresql://pp:@h/d"), &[]).unwrap();
        assert_eq!(t.config.get_password(), None);
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
