//! TLS for connections, with libpq's `sslmode` and `sslrootcert` meanings,
//! on rustls and its `ring` provider: pure Rust, linked in, so keel needs no
//! system OpenSSL and maps no crypto library at start (that alone cost every
//! run, even `keel --version`, more resident memory than the rest of keel).
//!
//! What is trusted follows libpq's `initialize_SSL` (fe-secure-openssl.c):
//! - the root certificate file is `sslrootcert`, or `~/.postgresql/root.crt`
//!   when it is not set;
//! - `sslrootcert=system` trusts the system's roots (rustls-native-certs,
//!   which honours `SSL_CERT_FILE`/`SSL_CERT_DIR` as OpenSSL does), and only
//!   with `verify-full` (checked in [`Settings::new`], as fe-connect.c does);
//! - when the root file exists, the chain is checked in every mode that uses
//!   TLS (so `require` behaves as `verify-ca`), and its certificates are the
//!   only trusted roots: the system's are never added to them;
//! - when it does not exist, `verify-ca`/`verify-full` fail ("root
//!   certificate file ... does not exist") and the other modes encrypt
//!   without checking the certificate.
//!
//! The host name is checked only by `verify-full`.
//!
//! The client certificate is libpq's too: `sslcert` and `sslkey`, else
//! `~/.postgresql/postgresql.crt` and `postgresql.key`; a certificate file that does not
//! exist means none is offered, and a key must be a regular file nobody else may read
//! ([`client_certificate`]).
//!
//! rustls only knows full verification, so the weaker checks have their own
//! verifiers: [`AnyCertificate`] accepts any certificate but still checks the
//! handshake signatures (the connection is encrypted to whoever holds the key
//! of the certificate shown); [`TrustedChain`] is webpki's verification with
//! or without the name check. Both trusted-chain modes also take a server
//! certificate that is itself one of the trusted roots, even if it is marked
//! as a CA: that is how PostgreSQL's documentation makes a self-signed server
//! certificate (`openssl req -x509`, whose default marks it a CA), and
//! OpenSSL trusts it; webpki on its own refuses a CA at the end of a chain.

use postgres::tls::{MakeTlsConnect, TlsConnect};
use postgres::Socket;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::ResolvesClientCert;
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error, OtherError, RootCertStore,
    SignatureScheme,
};
use std::future::Future;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn parse(text: &str) -> Option<SslMode> {
        Some(match text {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// `verify-ca` or `verify-full`: a root certificate is mandatory.
    fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

/// Where the trusted roots come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// `sslrootcert=<file>`, or the default `~/.postgresql/root.crt`.
    File(PathBuf),
    /// `sslrootcert=system`.
    System,
    /// No `sslrootcert` and no home directory to find the default in.
    NoHome,
}

/// The client certificate a connection offers, as libpq's `initialize_SSL` finds it: named,
/// not yet read (the files are read at connect time, as the root file is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCert {
    /// `sslcertmode=disable`, or no `sslcert` and no home directory to find the default in.
    None,
    /// `sslcert` (default `~/.postgresql/postgresql.crt`; a file that does not exist means no
    /// certificate) and its key, `sslkey` (default `~/.postgresql/postgresql.key`; `None` when
    /// neither is there to name).
    Files { cert: PathBuf, key: Option<PathBuf> },
}

/// libpq's `sslcertmode`: whether a client certificate is offered, and whether the server must
/// have asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertMode {
    Disable,
    Allow,
    Require,
}

impl CertMode {
    pub fn parse(text: &str) -> Option<CertMode> {
        Some(match text {
            "disable" => CertMode::Disable,
            "allow" => CertMode::Allow,
            "require" => CertMode::Require,
            _ => return None,
        })
    }
}

/// The TLS settings of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub mode: SslMode,
    pub roots: Roots,
    pub client: ClientCert,
    /// `sslcertmode=require`: a connection whose server did not ask for the certificate, or
    /// let the client in without one, is refused ([`Connector::required_certificate`]).
    pub cert_required: bool,
}

/// A TLS setting that cannot work, or a root certificate file that cannot be
/// used. Messages are libpq's where libpq has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    #[error("weak sslmode \"{0}\" may not be used with sslrootcert=system (use \"verify-full\")")]
    WeakWithSystem(&'static str),
    #[error("root certificate file \"{}\" does not exist", .0.display())]
    MissingRoot(PathBuf),
    #[error("could not get home directory to locate root certificate file")]
    NoHome,
    #[error("could not read root certificate file \"{}\": {message}", .path.display())]
    BadRoot { path: PathBuf, message: String },
    #[error("sslrootcert=system, but the system's store holds no usable root certificate")]
    NoSystemRoots,
    #[error("could not open certificate file \"{}\": {message}", .path.display())]
    OpenCert { path: PathBuf, message: String },
    #[error("could not read certificate file \"{}\": {message}", .path.display())]
    BadCert { path: PathBuf, message: String },
    #[error("certificate present, but not private key file \"{}\"", .0.display())]
    MissingKey(PathBuf),
    #[error("certificate present, but no private key file to go with it")]
    NoKey,
    #[error("private key file \"{}\" is not a regular file", .0.display())]
    KeyNotAFile(PathBuf),
    #[error("private key file \"{}\" has group or world access; file must have permissions u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root", .0.display())]
    KeyTooOpen(PathBuf),
    #[error("could not load private key file \"{}\": {message}", .path.display())]
    BadKey { path: PathBuf, message: String },
    #[error("certificate does not match private key file \"{}\"", .0.display())]
    KeyMismatch(PathBuf),
    #[error("server did not request an SSL certificate")]
    CertNotRequested,
    #[error("server accepted connection without a valid SSL certificate")]
    CertNotSent,
    #[error("cannot set up TLS: {0}")]
    Setup(String),
}

impl TlsError {
    pub fn hint(&self) -> String {
        match self {
            TlsError::WeakWithSystem(_) => "the system's roots trust any publicly certified host, so libpq allows them only with sslmode=verify-full (the default with sslrootcert=system)".into(),
            TlsError::MissingRoot(_) | TlsError::NoHome => "either provide the file (sslrootcert=/path/to/ca.crt), use the system's trusted roots with sslrootcert=system, or change sslmode to require or prefer to disable server certificate verification".into(),
            TlsError::BadRoot { .. } => "sslrootcert names a PEM file of one or more CA certificates".into(),
            TlsError::NoSystemRoots => "install the system's CA certificates (ca-certificates), or point SSL_CERT_FILE at a PEM bundle".into(),
            TlsError::OpenCert { .. } | TlsError::BadCert { .. } => "sslcert (default ~/.postgresql/postgresql.crt) names a PEM file: the client certificate, then any intermediate certificates; remove the file to offer none".into(),
            TlsError::MissingKey(_) | TlsError::NoKey => "give the certificate's key with sslkey (default ~/.postgresql/postgresql.key), or sslcertmode=disable to offer no certificate".into(),
            TlsError::KeyNotAFile(_) => "sslkey names the PEM file of the certificate's private key".into(),
            TlsError::KeyTooOpen(path) => format!("chmod 600 {}", path.display()),
            TlsError::BadKey { .. } => "sslkey names an unencrypted PEM private key (PKCS#8, PKCS#1 or SEC1); keel cannot decrypt one protected by sslpassword: `openssl pkey -in KEY -out KEY.plain` decrypts a copy".into(),
            TlsError::KeyMismatch(_) => "sslcert and sslkey must be the two halves of one certificate".into(),
            TlsError::CertNotRequested | TlsError::CertNotSent => "sslcertmode=require insists that the server authenticates keel by its certificate: give one with sslcert and sslkey, connect to a server that asks for it, or use sslcertmode=allow".into(),
            TlsError::Setup(_) => "this is a bug in keel; please report it".into(),
        }
    }
}

impl Settings {
    /// Checks `sslmode`/`sslrootcert` as libpq's `connectOptions2` does.
    /// `mode` is `None` when neither the URL nor `PGSSLMODE` set it: libpq's
    /// default is `prefer`, or `verify-full` with `sslrootcert=system`. No client
    /// certificate is offered; [`Settings::offering`] names one.
    pub fn new(
        mode: Option<SslMode>,
        root: Option<&str>,
        home: Option<&Path>,
    ) -> Result<Settings, TlsError> {
        let roots = match root {
            Some("system") => Roots::System,
            Some(path) => Roots::File(PathBuf::from(path)),
            None => match home {
                Some(h) => Roots::File(h.join(".postgresql/root.crt")),
                None => Roots::NoHome,
            },
        };
        let mode = match (mode, &roots) {
            (None, Roots::System) => SslMode::VerifyFull,
            (None, _) => SslMode::Prefer,
            (Some(m), _) => m,
        };
        if roots == Roots::System && mode != SslMode::VerifyFull {
            return Err(TlsError::WeakWithSystem(mode.name()));
        }
        Ok(Settings {
            mode,
            roots,
            client: ClientCert::None,
            cert_required: false,
        })
    }

    /// These settings offering the client certificate libpq would: `cert` and `key` are
    /// `sslcert` and `sslkey` (empty means not given), the defaults under `home` otherwise;
    /// none with `sslcertmode=disable`.
    pub fn offering(
        mut self,
        mode: CertMode,
        cert: Option<&str>,
        key: Option<&str>,
        home: Option<&Path>,
    ) -> Settings {
        let given = |v: Option<&str>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
        let default = |name: &str| home.map(|h| h.join(".postgresql").join(name));
        self.cert_required = mode == CertMode::Require;
        self.client = match given(cert).or_else(|| default("postgresql.crt")) {
            Some(cert) if mode != CertMode::Disable => ClientCert::Files {
                cert,
                key: given(key).or_else(|| default("postgresql.key")),
            },
            _ => ClientCert::None,
        };
        self
    }
}

/// A connector for these settings. The root file is read here, before connecting; the
/// client certificate and its key only once the server has agreed to TLS, as libpq's
/// `initialize_SSL` reads them: a server without TLS never makes keel read a key it will not
/// use (a user's `~/.postgresql/postgresql.key` may be encrypted, or meant for another server).
pub fn connector(settings: &Settings) -> Result<Connector, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let trusted = match &settings.roots {
        Roots::System => {
            // A system store with some unreadable or unparsable certificates
            // is still worth using: take whatever loaded.
            let certs = rustls_native_certs::load_native_certs().certs;
            Some(certs)
        }
        // libpq: stat() the file; if it is not there, verify-* fail and the
        // other modes go on without checking the certificate.
        Roots::File(path) if path.exists() => Some(read_root_cert(path)?),
        Roots::File(path) if settings.mode.verifies() => {
            return Err(TlsError::MissingRoot(path.clone()))
        }
        Roots::NoHome if settings.mode.verifies() => return Err(TlsError::NoHome),
        Roots::File(_) | Roots::NoHome => None,
    };
    let verifier: Arc<dyn ServerCertVerifier> = match trusted {
        None => Arc::new(AnyCertificate(provider.clone())),
        Some(certs) => {
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(certs.iter().cloned());
            if roots.is_empty() {
                return Err(TlsError::NoSystemRoots);
            }
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| TlsError::Setup(e.to_string()))?;
            Arc::new(TrustedChain {
                webpki,
                check_name: settings.mode == SslMode::VerifyFull,
                pinned: certs,
            })
        }
    };
    Ok(Connector {
        provider,
        verifier,
        client: settings.client.clone(),
        offer: Arc::default(),
    })
}

/// What [`connector`] makes: the server's certificate check, and the client certificate still
/// to read. For the postgres crate, a `MakeTlsConnect` whose handshake reads the certificate
/// first.
#[derive(Clone)]
pub struct Connector {
    provider: Arc<CryptoProvider>,
    verifier: Arc<dyn ServerCertVerifier>,
    client: ClientCert,
    /// What became of the certificate in the handshake, shared with its clones.
    offer: Arc<OfferReport>,
}

/// Whether the server asked for a client certificate, and whether one was sent: libpq's
/// `ssl_cert_requested` and `ssl_cert_sent`.
#[derive(Debug, Default)]
struct OfferReport {
    requested: AtomicBool,
    sent: AtomicBool,
}

/// The client certificate, handed to rustls when the server asks for one, noting that it
/// asked.
#[derive(Debug)]
struct Offering {
    key: Option<Arc<CertifiedKey>>,
    report: Arc<OfferReport>,
}

impl ResolvesClientCert for Offering {
    fn resolve(
        &self,
        _issuers: &[&[u8]],
        _schemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.report.requested.store(true, Ordering::SeqCst);
        if self.key.is_some() {
            self.report.sent.store(true, Ordering::SeqCst);
        }
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        self.key.is_some()
    }
}

impl Connector {
    /// With `sslcertmode=require`, once the server let the client in: refused unless the
    /// server asked for a certificate and keel sent one (libpq's `check_expected_areq`). A
    /// connection made without TLS was asked for none.
    pub fn required_certificate(&self) -> Result<(), TlsError> {
        if !self.offer.requested.load(Ordering::SeqCst) {
            Err(TlsError::CertNotRequested)
        } else if !self.offer.sent.load(Ordering::SeqCst) {
            Err(TlsError::CertNotSent)
        } else {
            Ok(())
        }
    }

    /// The rustls configuration, the client certificate read now.
    fn config(&self) -> Result<ClientConfig, TlsError> {
        let client = client_certificate(&self.client)?;
        let builder = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Setup(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(self.verifier.clone());
        let key = match client {
            None => None,
            Some(offered) => Some(Arc::new(
                CertifiedKey::from_der(offered.chain, offered.key, &self.provider).map_err(
                    |e| match e {
                        Error::InconsistentKeys(_) => TlsError::KeyMismatch(offered.key_path),
                        e => TlsError::BadKey {
                            path: offered.key_path,
                            message: e.to_string(),
                        },
                    },
                )?,
            )),
        };
        Ok(builder.with_client_cert_resolver(Arc::new(Offering {
            key,
            report: self.offer.clone(),
        })))
    }
}

impl MakeTlsConnect<Socket> for Connector {
    type Stream = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream;
    type TlsConnect = Handshake;
    type Error = TlsError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Handshake, TlsError> {
        Ok(Handshake {
            connector: self.clone(),
            domain: domain.to_string(),
        })
    }
}

/// The handshake with one server, started once it agreed to TLS.
pub struct Handshake {
    connector: Connector,
    domain: String,
}

impl TlsConnect<Socket> for Handshake {
    type Stream = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Stream, Self::Error>> + Send>>;

    fn connect(self, stream: Socket) -> Self::Future {
        Box::pin(async move {
            let mut rustls = MakeRustlsConnect::new(self.connector.config()?);
            let tls = MakeTlsConnect::<Socket>::make_tls_connect(&mut rustls, &self.domain)?;
            Ok(tls.connect(stream).await?)
        })
    }
}

/// The [`TlsError`] a handshake stopped at before it began (a client certificate or key that
/// cannot be used), if that is why `e` failed.
pub fn setup_error(e: &postgres::Error) -> Option<TlsError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(inner) = source {
        if let Some(t) = inner.downcast_ref::<TlsError>() {
            return Some(t.clone());
        }
        source = inner.source();
    }
    None
}

/// A client certificate read from its files.
struct Offered {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// Where the key came from, for the error when it does not match the certificate.
    key_path: PathBuf,
}

/// The certificate chain and key to offer, read as libpq's `initialize_SSL` reads them: no
/// certificate file, no certificate; a certificate file needs its key, a regular file that
/// nobody else may read.
fn client_certificate(client: &ClientCert) -> Result<Option<Offered>, TlsError> {
    let ClientCert::Files { cert, key } = client else {
        return Ok(None);
    };
    let pem = match std::fs::read(cert) {
        Ok(pem) => pem,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            return Ok(None)
        }
        Err(e) => {
            return Err(TlsError::OpenCert {
                path: cert.clone(),
                message: e.to_string(),
            })
        }
    };
    let chain = pem_certificates(&pem).map_err(|message| TlsError::BadCert {
        path: cert.clone(),
        message,
    })?;
    let key = key.clone().ok_or(TlsError::NoKey)?;
    let meta = std::fs::metadata(&key).map_err(|e| match e.kind() {
        ErrorKind::NotFound => TlsError::MissingKey(key.clone()),
        _ => TlsError::BadKey {
            path: key.clone(),
            message: e.to_string(),
        },
    })?;
    if !meta.is_file() {
        return Err(TlsError::KeyNotAFile(key));
    }
    if key_too_open(&meta) {
        return Err(TlsError::KeyTooOpen(key));
    }
    let bad_key = |message: String| TlsError::BadKey {
        path: key.clone(),
        message,
    };
    let text = std::fs::read(&key).map_err(|e| bad_key(e.to_string()))?;
    if text.windows(b"ENCRYPTED".len()).any(|w| w == b"ENCRYPTED") {
        return Err(bad_key("the key is encrypted (sslpassword)".into()));
    }
    let der = PrivateKeyDer::from_pem_slice(&text)
        .map_err(|e| bad_key(format!("not a PEM private key: {e}")))?;
    Ok(Some(Offered {
        chain,
        key: der,
        key_path: key,
    }))
}

/// libpq's check of the key file's permissions: owned by the current user, no access for the
/// group or others; owned by root (a key a system service provides), the group may read it.
fn key_too_open(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    let mode = meta.mode();
    (meta.uid() == euid && mode & 0o077 != 0) || (meta.uid() == 0 && mode & 0o037 != 0)
}

/// Every certificate in the PEM file `path`; at least one, each one usable
/// as a trusted root.
fn read_root_cert(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bad = |message: String| TlsError::BadRoot {
        path: path.to_path_buf(),
        message,
    };
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs = pem_certificates(&pem).map_err(bad)?;
    let mut check = RootCertStore::empty();
    for cert in &certs {
        check
            .add(cert.clone())
            .map_err(|e| bad(format!("not a usable certificate: {e}")))?;
    }
    Ok(certs)
}

/// The certificates of a PEM file, at least one; the error says why there are none.
fn pem_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM certificate: {e}"))?;
    if certs.is_empty() {
        return Err("no PEM certificate found".into());
    }
    Ok(certs)
}

/// A handshake's certificate error in libpq's words (fe-secure-common.c,
/// `pq_verify_peer_name_matches_certificate`; OpenSSL's "certificate verify
/// failed"), or `None` when `e` is not one.
pub fn certificate_error(e: &Error) -> Option<String> {
    let Error::InvalidCertificate(c) = e else {
        return None;
    };
    Some(match c {
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => {
            let names: Vec<String> = presented.iter().map(|p| presented_name(p)).collect();
            let first = names.first().cloned().unwrap_or_default();
            let others = match names.len() {
                0 | 1 => String::new(),
                2 => " (and 1 other name)".to_string(),
                n => format!(" (and {} other names)", n - 1),
            };
            format!(
                "server certificate for \"{first}\"{others} does not match host name \"{}\"",
                expected.to_str()
            )
        }
        CertificateError::NotValidForName => {
            "server certificate does not match the host name".to_string()
        }
        other => format!("SSL error: certificate verify failed ({})", describe(other)),
    })
}

/// `DnsName("localhost")` or `IpAddress(127.0.0.1)` as `localhost`,
/// `127.0.0.1`.
fn presented_name(p: &str) -> String {
    let inner = p
        .split_once('(')
        .map(|(_, rest)| rest.trim_end_matches(')'))
        .unwrap_or(p);
    inner.trim_matches('"').to_string()
}

fn describe(e: &CertificateError) -> String {
    match e {
        CertificateError::UnknownIssuer => {
            "the server's certificate is not issued by a trusted root certificate".into()
        }
        CertificateError::Other(OtherError(inner))
            if matches!(
                inner.downcast_ref::<webpki::Error>(),
                Some(webpki::Error::CaUsedAsEndEntity)
            ) =>
        {
            "the server's certificate is a CA certificate that is not itself trusted".into()
        }
        other => format!("{other:?}"),
    }
}

/// No root certificate: any certificate, but a genuine handshake with it.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A root certificate file (or the system's roots): webpki's verification,
/// minus the host name unless `verify-full`, plus the trusted certificates
/// taken as they are.
#[derive(Debug)]
struct TrustedChain {
    webpki: Arc<WebPkiServerVerifier>,
    check_name: bool,
    /// The trusted root certificates.
    pinned: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for TrustedChain {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let err = match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        match &err {
            // webpki checks the name last, once the chain is good.
            Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            ) if !self.check_name => Ok(ServerCertVerified::assertion()),
            // webpki checks the validity dates before refusing a CA as the
            // server's certificate, so a pinned one is in its dates here.
            Error::InvalidCertificate(CertificateError::Other(OtherError(inner)))
                if matches!(
                    inner.downcast_ref::<webpki::Error>(),
                    Some(webpki::Error::CaUsedAsEndEntity)
                ) && self
                    .pinned
                    .iter()
                    .any(|c| c.as_ref() == end_entity.as_ref()) =>
            {
                if self.check_name {
                    let cert = ParsedCertificate::try_from(end_entity)?;
                    rustls::client::verify_server_name(&cert, server_name)?;
                }
                Ok(ServerCertVerified::assertion())
            }
            _ => Err(err),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [
            ("empty.crt", ""),
            ("text.crt", "not a certificate\n"),
            (
                "bad.crt",
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            ),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let e = read_root_cert(&path).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!(
                    "could not read root certificate file \"{}\": ",
                    path.display()
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn settings_follow_libpq() {
        let home = Path::new("/home/u");
        let s = Settings::new(None, None, Some(home)).unwrap();
        assert_eq!(s.mode, SslMode::Prefer);
        assert_eq!(s.roots, Roots::File(home.join(".postgresql/root.crt")));
        assert_eq!(
            Settings::new(None, Some("system"), None).unwrap().mode,
            SslMode::VerifyFull
        );
        for weak in ["disable", "allow", "prefer", "require", "verify-ca"] {
            let e = Settings::new(SslMode::parse(weak), Some("system"), None).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "weak sslmode \"{weak}\" may not be used with sslrootcert=system (use \"verify-full\")"
                )
            );
        }
        let s = Settings::new(Some(SslMode::VerifyCa), None, None).unwrap();
        assert_eq!(s.roots, Roots::NoHome);
        assert_eq!(connector(&s).err(), Some(TlsError::NoHome));
        let missing =
            Settings::new(Some(SslMode::VerifyFull), Some("/nonexistent/ca.crt"), None).unwrap();
        assert_eq!(
            connector(&missing).err().map(|e| e.to_string()),
            Some("root certificate file \"/nonexistent/ca.crt\" does not exist".into())
        );
        // Without a root file, require does not check the certificate.
        let require =
            Settings::new(Some(SslMode::Require), Some("/nonexistent/ca.crt"), None).unwrap();
        assert!(connector(&require).is_ok());
    }

    #[test]
    fn presented_names_are_plain() {
        assert_eq!(presented_name("DnsName(\"localhost\")"), "localhost");
        assert_eq!(presented_name("IpAddress(127.0.0.1)"), "127.0.0.1");
    }
}
