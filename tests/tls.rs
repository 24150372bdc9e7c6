//! TLS connections: keel talks to a server that requires TLS, with libpq's
//! sslmode semantics (`require` encrypts, `verify-full` checks the
//! certificate against `sslrootcert`).
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests query and print freely

mod common;

use common::Keel;
use keel::db::cluster::Cluster;
use std::path::Path;
use std::process::Command as Process;

/// A self-signed certificate for `localhost`, readable by the server user.
fn make_cert(dir: &Path) {
    let status = Process::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .arg("-keyout")
        .arg(dir.join("server.key"))
        .arg("-out")
        .arg(dir.join("server.crt"))
        .output()
        .expect("openssl runs");
    assert!(
        status.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

fn chown_to_server_user(paths: &[&Path], data_dir: &Path) {
    use std::os::unix::fs::{chown, MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(data_dir).unwrap();
    for p in paths {
        chown(p, Some(meta.uid()), Some(meta.gid())).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[test]
fn tls_modes_against_a_server_that_requires_tls() {
    let cluster = Cluster::throwaway().expect("throwaway cluster");
    let data = cluster.data_dir().to_path_buf();
    make_cert(&data);
    let crt = data.join("server.crt");
    let key = data.join("server.key");
    // A copy of the certificate the client can read as its trusted root.
    let certs = tempfile::tempdir().unwrap();
    std::fs::copy(&crt, certs.path().join("root.crt")).unwrap();
    chown_to_server_user(&[&crt, &key], &data);
    // Password auth over TCP, TLS only (hostssl), no plain TCP.
    let mut c =
        postgres::Client::connect(&cluster.connection_string("postgres"), postgres::NoTls).unwrap();
    c.batch_execute("CREATE ROLE tls_user LOGIN PASSWORD 'Tls-Secret-9'")
        .unwrap();
    drop(c);
    common::hba_first(&cluster, "hostssl all tls_user 127.0.0.1/32 scram-sha-256");
    let port = common::restart_on_loopback(
        &cluster,
        &[
            ("ssl", "on"),
            ("ssl_cert_file", crt.to_str().unwrap()),
            ("ssl_key_file", key.to_str().unwrap()),
        ],
    );

    let project = tempfile::tempdir().unwrap();
    let run = |url: &str| {
        let out = Keel::new(project.path())
            .url(Some(url))
            .args(["history"])
            .run();
        (out.code, out.all())
    };
    std::fs::create_dir_all(project.path().join("sql/up")).unwrap();
    let base = format!("postgresql://tls_user:Tls-Secret-9@localhost:{port}/postgres");

    let (code, out) = run(&format!("{base}?sslmode=require"));
    assert_eq!(code, Some(0), "require connects: {out}");

    let (code, out) = run(&format!("{base}?sslmode=disable"));
    assert_eq!(code, Some(1), "no plain TCP is allowed: {out}");
    assert!(!out.contains("Tls-Secret-9"), "{out}");

    let (code, out) = run(&format!("{base}?sslmode=verify-full"));
    assert_eq!(
        code,
        Some(1),
        "an unknown self-signed certificate is refused: {out}"
    );
    assert!(out.contains("host=localhost"), "{out}");

    let root = certs.path().join("root.crt");
    let (code, out) = run(&format!(
        "{base}?sslmode=verify-full&sslrootcert={}",
        root.display()
    ));
    assert_eq!(
        code,
        Some(0),
        "verify-full with the right root connects: {out}"
    );

    let wrong_host = format!(
        "postgresql://tls_user:Tls-Secret-9@127.0.0.1:{port}/postgres?sslmode=verify-full&sslrootcert={}",
        root.display()
    );
    let (code, out) = run(&wrong_host);
    assert_eq!(code, Some(1), "verify-full checks the host name: {out}");

    let (code, out) = run(&format!(
        "postgresql://tls_user:wrong@localhost:{port}/postgres?sslmode=require"
    ));
    assert_eq!(code, Some(1), "wrong password fails: {out}");
    assert!(out.contains("password authentication failed"), "{out}");
    assert!(!out.contains("wrong@"), "{out}");
}
