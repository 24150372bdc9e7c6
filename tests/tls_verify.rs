//! Certificate checking in detail, against a TLS-only server: a server
//! certificate issued by a private CA (`verify-ca` ignores the host name,
//! `verify-full` takes an IP address in the certificate), then a self-signed
//! one marked as a CA, trusted because it is itself the `sslrootcert`.

mod common;

use assert_cmd::Command;
use keel::db::cluster::Cluster;
use std::path::Path;
use std::process::Command as Process;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Process::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed certificate (openssl marks it a CA) named `name`.
fn self_signed(dir: &Path, name: &str, san: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            &format!("subjectAltName={san}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
        ],
    );
}

/// `leaf.crt`/`leaf.key`, issued by `ca`, for localhost and 127.0.0.1.
fn leaf(dir: &Path, ca: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
        ],
    );
    std::fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "leaf.ext",
            "-out",
            "leaf.crt",
        ],
    );
}

/// Copies `name.crt`/`name.key` into the data directory, owned by the
/// server's user, and returns the two settings for them.
fn install(certs: &Path, name: &str, data: &Path) -> [(String, String); 2] {
    use std::os::unix::fs::{chown, MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(data).unwrap();
    let mut out = Vec::new();
    for (ext, setting) in [("crt", "ssl_cert_file"), ("key", "ssl_key_file")] {
        let to = data.join(format!("{name}.{ext}"));
        std::fs::copy(certs.join(format!("{name}.{ext}")), &to).unwrap();
        chown(&to, Some(meta.uid()), Some(meta.gid())).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
        out.push((setting.to_string(), to.display().to_string()));
    }
    out.try_into().unwrap()
}

#[test]
fn certificate_checks_follow_libpq() {
    let certs = tempfile::tempdir().unwrap();
    let dir = certs.path();
    self_signed(dir, "ca", "DNS:keel-test-ca");
    self_signed(dir, "other", "DNS:keel-other-ca");
    self_signed(dir, "pinned", "DNS:localhost");
    leaf(dir, "ca");
    std::fs::write(dir.join("garbage.crt"), "not a certificate\n").unwrap();

    let cluster = Cluster::throwaway().expect("throwaway cluster");
    let data = cluster.data_dir().to_path_buf();
    let mut c =
        postgres::Client::connect(&cluster.connection_string("postgres"), postgres::NoTls).unwrap();
    c.batch_execute("CREATE ROLE tls_user LOGIN PASSWORD 'Tls-Secret-9'")
        .unwrap();
    drop(c);
    let hba = data.join("pg_hba.conf");
    let text = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(
        &hba,
        format!("hostssl all tls_user 127.0.0.1/32 scram-sha-256\n{text}"),
    )
    .unwrap();
    let port = common::free_port().to_string();
    let start = |name: &str| {
        cluster.stop().unwrap();
        let files = install(dir, name, &data);
        let mut settings = vec![
            ("listen_addresses", "127.0.0.1"),
            ("port", port.as_str()),
            ("ssl", "on"),
        ];
        settings.extend(files.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cluster
            .start_with(&settings)
            .expect("server with TLS starts");
    };

    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(project.path().join("sql/up")).unwrap();
    // `host` may carry more parameters: `name?hostaddr=...`.
    let run = |host: &str, mode: &str, root: Option<&str>| {
        let (host, more) = host.split_once('?').unwrap_or((host, ""));
        let mut url = format!(
            "postgresql://tls_user:Tls-Secret-9@{host}:{port}/postgres?sslmode={mode}&{more}"
        );
        if let Some(r) = root {
            url.push_str(&format!("&sslrootcert={}", dir.join(r).display()));
        }
        let out = Command::cargo_bin("keel")
            .unwrap()
            .current_dir(project.path())
            .env_remove("DATABASE_URL")
            .env_remove("PGSSLMODE")
            .env_remove("PGSSLROOTCERT")
            .args(["--color", "never", "--database-url", &url, "history"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(!text.contains("Tls-Secret-9"), "{text}");
        (out.status.code(), text)
    };
    // A name the certificate does not hold, while keel connects to 127.0.0.1.
    let elsewhere = "elsewhere.invalid?hostaddr=127.0.0.1";

    start("leaf");
    for (host, mode, root, code) in [
        ("localhost", "verify-full", Some("ca.crt"), 0),
        ("127.0.0.1", "verify-full", Some("ca.crt"), 0),
        ("localhost", "verify-full", Some("other.crt"), 1),
        ("localhost", "verify-ca", Some("other.crt"), 1),
        ("localhost", "verify-ca", None, 1),
        ("localhost", "require", Some("other.crt"), 0),
        ("127.0.0.1", "prefer", None, 0),
    ] {
        let (got, out) = run(host, mode, root);
        assert_eq!(got, Some(code), "{host} {mode} {root:?}: {out}");
    }
    // verify-ca does not look at the name; verify-full does.
    let (code, out) = run(elsewhere, "verify-ca", Some("ca.crt"));
    assert_eq!(code, Some(0), "verify-ca, another name: {out}");
    let (code, out) = run(elsewhere, "verify-full", Some("ca.crt"));
    assert_eq!(code, Some(1), "verify-full, another name: {out}");
    assert!(out.contains("not valid for name"), "{out}");

    let (code, out) = run("localhost", "verify-full", Some("missing.crt"));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("cannot read sslrootcert"), "{out}");
    let (code, out) = run("localhost", "require", Some("garbage.crt"));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("is not a PEM certificate"), "{out}");

    // A self-signed server certificate marked as a CA, given as sslrootcert.
    start("pinned");
    for (host, mode, root, code) in [
        ("localhost", "verify-full", Some("pinned.crt"), 0),
        ("localhost", "verify-ca", Some("pinned.crt"), 0),
        (elsewhere, "verify-ca", Some("pinned.crt"), 0),
        (elsewhere, "verify-full", Some("pinned.crt"), 1),
        ("127.0.0.1", "verify-full", Some("pinned.crt"), 1),
        ("localhost", "verify-full", Some("ca.crt"), 1),
    ] {
        let (got, out) = run(host, mode, root);
        assert_eq!(got, Some(code), "{host} {mode} {root:?}: {out}");
    }
}
