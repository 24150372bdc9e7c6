//! TLS for connections, with libpq's `sslmode` meanings, on rustls and its
//! `ring` provider: pure Rust, linked in, so keel needs no system OpenSSL and
//! maps no crypto library at start (that alone cost every run, even
//! `keel --version`, more resident memory than the rest of keel).
//!
//! rustls only knows full verification, so the weaker modes have their own
//! verifiers:
//! - `prefer`/`require` ([`AnyCertificate`]) accept any certificate, as libpq
//!   does without a root certificate, but still check the handshake
//!   signatures: the connection is encrypted to whoever holds the key of the
//!   certificate shown.
//! - `verify-ca` ([`TrustedChain`] without the name check) wants a chain to a
//!   trusted root but not the host name in the certificate.
//!
//! All checking modes also take a server certificate that is itself one of
//! the `sslrootcert` certificates, even if it is marked as a CA. That is how
//! PostgreSQL's documentation makes a self-signed server certificate
//! (`openssl req -x509`, whose default marks it a CA), and libpq trusts it;
//! webpki on its own refuses a CA certificate at the end of a chain.
//!
//! The system's roots are loaded only for `verify-ca` and `verify-full`, and
//! only when a TLS connection is made: the other modes never need them.

use super::connect::Verify;
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
use std::path::Path;
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

/// A connector for `verify`, trusting the certificates in `root_cert` (PEM)
/// besides the system's. Errors are messages for the user.
pub fn connector(verify: Verify, root_cert: Option<&Path>) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let extra = match root_cert {
        Some(path) => read_root_cert(path)?,
        None => Vec::new(),
    };
    let verifier: Arc<dyn ServerCertVerifier> = match verify {
        Verify::None => Arc::new(AnyCertificate(provider.clone())),
        Verify::Ca | Verify::Full => {
            let mut roots = RootCertStore::empty();
            // A system store with some unreadable or unparsable certificates
            // is still worth using: take whatever loaded.
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            for cert in &extra {
                // Checked by read_root_cert already.
                let _ = roots.add(cert.clone());
            }
            if roots.is_empty() {
                return Err(
                    "cannot set up TLS: no trusted root certificates (none in the system store and no sslrootcert)"
                        .into(),
                );
            }
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| format!("cannot set up TLS: {e}"))?;
            Arc::new(TrustedChain {
                webpki,
                check_name: verify == Verify::Full,
                pinned: extra,
            })
        }
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Every certificate in the PEM file `path`; at least one, each one usable
/// as a trusted root.
fn read_root_cert(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = std::fs::read(path)
        .map_err(|e| format!("cannot read sslrootcert `{}`: {e}", path.display()))?;
    let not_pem = |e: &dyn std::fmt::Display| {
        format!(
            "sslrootcert `{}` is not a PEM certificate: {e}",
            path.display()
        )
    };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| not_pem(&e))?;
    if certs.is_empty() {
        return Err(not_pem(&"no certificate found"));
    }
    let mut check = RootCertStore::empty();
    for cert in &certs {
        check.add(cert.clone()).map_err(|e| not_pem(&e))?;
    }
    Ok(certs)
}

/// `prefer` and `require`: any certificate, but a genuine handshake with it.
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

/// `verify-ca` and `verify-full`: webpki's verification, minus the host name
/// for `verify-ca`, plus the `sslrootcert` certificates taken as they are.
#[derive(Debug)]
struct TrustedChain {
    webpki: Arc<WebPkiServerVerifier>,
    check_name: bool,
    /// The `sslrootcert` certificates.
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
    fn sslrootcert_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.crt");
        let e = read_root_cert(&missing).unwrap_err();
        assert!(e.starts_with("cannot read sslrootcert `"), "{e}");
        assert!(e.contains("missing.crt"), "{e}");
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
            let e = read_root_cert(&path).unwrap_err();
            assert!(
                e.contains(&format!("{name}` is not a PEM certificate: ")),
                "{e}"
            );
        }
    }

    #[test]
    fn require_needs_no_roots() {
        assert!(connector(Verify::None, None).is_ok());
    }
}
