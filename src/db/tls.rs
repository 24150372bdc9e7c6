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
//! rustls only knows full verification, so the weaker checks have their own
//! verifiers: [`AnyCertificate`] accepts any certificate but still checks the
//! handshake signatures (the connection is encrypted to whoever holds the key
//! of the certificate shown); [`TrustedChain`] is webpki's verification with
//! or without the name check. Both trusted-chain modes also take a server
//! certificate that is itself one of the trusted roots, even if it is marked
//! as a CA: that is how PostgreSQL's documentation makes a self-signed server
//! certificate (`openssl req -x509`, whose default marks it a CA), and
//! OpenSSL trusts it; webpki on its own refuses a CA at the end of a chain.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error, OtherError, RootCertStore,
    SignatureScheme,
};
use std::path::{Path, PathBuf};
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

/// The TLS settings of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub mode: SslMode,
    pub roots: Roots,
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
            TlsError::Setup(_) => "this is a bug in keel; please report it".into(),
        }
    }
}

impl Settings {
    /// Checks `sslmode`/`sslrootcert` as libpq's `connectOptions2` does.
    /// `mode` is `None` when neither the URL nor `PGSSLMODE` set it: libpq's
    /// default is `prefer`, or `verify-full` with `sslrootcert=system`.
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
        Ok(Settings { mode, roots })
    }
}

/// A connector for these settings. The root file is read here, at connect
/// time, as libpq reads it.
pub fn connector(settings: &Settings) -> Result<MakeRustlsConnect, TlsError> {
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
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Every certificate in the PEM file `path`; at least one, each one usable
/// as a trusted root.
fn read_root_cert(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bad = |message: String| TlsError::BadRoot {
        path: path.to_path_buf(),
        message,
    };
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not a PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(bad("no PEM certificate found".into()));
    }
    let mut check = RootCertStore::empty();
    for cert in &certs {
        check
            .add(cert.clone())
            .map_err(|e| bad(format!("not a usable certificate: {e}")))?;
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
