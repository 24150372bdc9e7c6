//! Certificate checking in detail, against a TLS-only server, as a table of
//! libpq's sslmodes by server certificate: one issued by a private CA, one by
//! a "public" CA known only to the system store, and a self-signed one marked
//! as a CA. Each row is what libpq does with the same settings.
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests query and print freely

mod common;

use common::Keel;
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

/// `out.crt`/`out.key` for `/CN={cn}`, issued by `ca`, with the X.509 extensions `ext`.
fn issue(dir: &Path, ca: &str, out: &str, cn: &str, ext: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            &format!("{out}.key"),
            "-out",
            &format!("{out}.csr"),
        ],
    );
    let ext_file = format!("{out}.ext");
    std::fs::write(dir.join(&ext_file), ext).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{out}.csr"),
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &ext_file,
            "-out",
            &format!("{out}.crt"),
        ],
    );
}

/// `out.crt`/`out.key`, issued by `ca`, for localhost and 127.0.0.1 (a server certificate).
fn leaf(dir: &Path, ca: &str, out: &str) {
    issue(
        dir,
        ca,
        out,
        "localhost",
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
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

/// Restarts `cluster` on 127.0.0.1:`port` with TLS on and `server.crt`/`server.key` from
/// `certs` as its certificate, with `extra` settings besides.
fn restart_with_tls(
    cluster: &Cluster,
    certs: &Path,
    server: &str,
    port: &str,
    extra: &[(&str, &str)],
) {
    cluster.stop().unwrap();
    let files = install(certs, server, cluster.data_dir());
    let mut settings = vec![
        ("listen_addresses", "127.0.0.1"),
        ("port", port),
        ("ssl", "on"),
    ];
    settings.extend(files.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    settings.extend_from_slice(extra);
    cluster
        .start_with(&settings)
        .expect("server with TLS starts");
}

/// One row of the table: which server certificate is installed, the host
/// part of the URL, the TLS parameters, extra environment, and libpq's
/// outcome (exit status and a key phrase of the message, if refused).
struct Row {
    server: &'static str,
    host: &'static str,
    params: &'static str,
    env: &'static [(&'static str, &'static str)],
    code: i32,
    phrase: &'static str,
}

const fn row(
    server: &'static str,
    host: &'static str,
    params: &'static str,
    env: &'static [(&'static str, &'static str)],
    code: i32,
    phrase: &'static str,
) -> Row {
    Row {
        server,
        host,
        params,
        env,
        code,
        phrase,
    }
}

// A name the certificates do not hold, while keel connects to 127.0.0.1.
const ELSEWHERE: &str = "elsewhere.invalid?hostaddr=127.0.0.1";
// `~/.postgresql/root.crt` holds the private CA / another CA.
const HOME_CA: &[(&str, &str)] = &[("HOME", "home-ca")];
const HOME_OTHER: &[(&str, &str)] = &[("HOME", "home-other")];
const NO_ENV: &[(&str, &str)] = &[];

/// libpq's documented outcomes (libpq "SSL Support", table "SSL Mode
/// Descriptions", and `initialize_SSL` in fe-secure-openssl.c). Servers:
/// `leaf` is issued by the private CA `ca.crt`; `publeaf` by a CA that is
/// only in the "system" store (`SSL_CERT_FILE`); `pinned` is self-signed and
/// marked as a CA. The server accepts TLS connections only.
const TABLE: &[Row] = &[
    row(
        "leaf",
        "localhost",
        "sslmode=disable",
        NO_ENV,
        1,
        "no encryption",
    ),
    // allow: plaintext first, TLS when the server refuses it.
    row("leaf", "localhost", "sslmode=allow", NO_ENV, 0, ""),
    row("leaf", "localhost", "sslmode=prefer", NO_ENV, 0, ""),
    row("leaf", "localhost", "sslmode=require", NO_ENV, 0, ""),
    // sslcertmode=require: this server asks for no client certificate.
    row(
        "leaf",
        "localhost",
        "sslmode=require&sslcertmode=require",
        NO_ENV,
        1,
        "server did not request an SSL certificate",
    ),
    // prefer and allow check the chain too when the root file exists; prefer
    // then retries without TLS, which this server refuses.
    row(
        "leaf",
        "localhost",
        "sslmode=prefer",
        HOME_OTHER,
        1,
        "certificate verify failed",
    ),
    row(
        "leaf",
        "localhost",
        "sslmode=allow&sslrootcert=other.crt",
        NO_ENV,
        1,
        "certificate verify failed",
    ),
    row("leaf", "localhost", "sslmode=prefer", HOME_CA, 0, ""),
    // require with a root certificate file checks the chain, like verify-ca.
    row(
        "leaf",
        "localhost",
        "sslmode=require&sslrootcert=other.crt",
        NO_ENV,
        1,
        "certificate verify failed",
    ),
    row(
        "leaf",
        ELSEWHERE,
        "sslmode=require&sslrootcert=ca.crt",
        NO_ENV,
        0,
        "",
    ),
    row(
        "leaf",
        "localhost",
        "sslmode=require",
        HOME_OTHER,
        1,
        "certificate verify failed",
    ),
    // A root file that does not exist leaves require unverified (stat() fails).
    row(
        "leaf",
        "localhost",
        "sslmode=require&sslrootcert=missing.crt",
        NO_ENV,
        0,
        "",
    ),
    row(
        "leaf",
        "localhost",
        "sslmode=require&sslrootcert=garbage.crt",
        NO_ENV,
        1,
        "could not read root certificate file",
    ),
    row(
        "leaf",
        "localhost",
        "sslmode=verify-ca",
        NO_ENV,
        1,
        "root certificate file",
    ),
    row(
        "leaf",
        "localhost",
        "sslmode=verify-full&sslrootcert=missing.crt",
        NO_ENV,
        1,
        "missing.crt\" does not exist",
    ),
    row(
        "leaf",
        ELSEWHERE,
        "sslmode=verify-ca&sslrootcert=ca.crt",
        NO_ENV,
        0,
        "",
    ),
    row(
        "leaf",
        "localhost",
        "sslmode=verify-ca&sslrootcert=other.crt",
        NO_ENV,
        1,
        "certificate verify failed",
    ),
    row(
        "leaf",
        "localhost",
        "sslmode=verify-full&sslrootcert=ca.crt",
        NO_ENV,
        0,
        "",
    ),
    row(
        "leaf",
        "127.0.0.1",
        "sslmode=verify-full&sslrootcert=ca.crt",
        NO_ENV,
        0,
        "",
    ),
    row(
        "leaf",
        ELSEWHERE,
        "sslmode=verify-full&sslrootcert=ca.crt",
        NO_ENV,
        1,
        "does not match host name \"elsewhere.invalid\"",
    ),
    row(
        "leaf",
        "localhost",
        "sslmode=verify-full&sslrootcert=other.crt",
        NO_ENV,
        1,
        "certificate verify failed",
    ),
    row("leaf", "localhost", "sslmode=verify-full", HOME_CA, 0, ""),
    row(
        "leaf",
        "localhost",
        "sslrootcert=system",
        NO_ENV,
        1,
        "certificate verify failed",
    ),
    // The URL's settings win; PG* variables fill only what it leaves unset.
    row(
        "leaf",
        "localhost",
        "sslmode=verify-full&sslrootcert=ca.crt",
        &[("PGSSLMODE", "disable")],
        0,
        "",
    ),
    row(
        "leaf",
        "localhost",
        "sslmode=verify-full&sslrootcert=ca.crt",
        &[("PGSSLROOTCERT", "other.crt")],
        0,
        "",
    ),
    row(
        "leaf",
        "localhost",
        "sslrootcert=ca.crt",
        &[("PGSSLMODE", "verify-full")],
        0,
        "",
    ),
    row(
        "leaf",
        ELSEWHERE,
        "sslrootcert=ca.crt",
        &[("PGSSLMODE", "verify-full")],
        1,
        "does not match host name",
    ),
    row("publeaf", "localhost", "sslmode=require", NO_ENV, 0, ""),
    // The system's roots are trusted only with sslrootcert=system.
    row(
        "publeaf",
        "localhost",
        "sslmode=verify-ca",
        NO_ENV,
        1,
        "root certificate file",
    ),
    row(
        "publeaf",
        ELSEWHERE,
        "sslmode=verify-ca&sslrootcert=ca.crt",
        NO_ENV,
        1,
        "certificate verify failed",
    ),
    row(
        "publeaf",
        "localhost",
        "sslmode=verify-full&sslrootcert=ca.crt",
        NO_ENV,
        1,
        "certificate verify failed",
    ),
    row(
        "publeaf",
        "localhost",
        "sslmode=verify-full",
        HOME_CA,
        1,
        "certificate verify failed",
    ),
    row("publeaf", "localhost", "sslrootcert=system", NO_ENV, 0, ""),
    row(
        "publeaf",
        "localhost",
        "sslmode=verify-full&sslrootcert=system",
        NO_ENV,
        0,
        "",
    ),
    row(
        "publeaf",
        ELSEWHERE,
        "sslrootcert=system",
        NO_ENV,
        1,
        "does not match host name",
    ),
    row(
        "publeaf",
        "localhost",
        "sslmode=verify-ca&sslrootcert=system",
        NO_ENV,
        2,
        "weak sslmode \"verify-ca\" may not be used with sslrootcert=system",
    ),
    row(
        "publeaf",
        "localhost",
        "sslmode=require&sslrootcert=system",
        NO_ENV,
        2,
        "weak sslmode \"require\"",
    ),
    row(
        "publeaf",
        "localhost",
        "sslrootcert=system",
        &[("PGSSLMODE", "prefer")],
        2,
        "weak sslmode \"prefer\"",
    ),
    // A self-signed certificate marked as a CA, trusted as itself.
    row(
        "pinned",
        "localhost",
        "sslmode=verify-full&sslrootcert=pinned.crt",
        NO_ENV,
        0,
        "",
    ),
    row(
        "pinned",
        "localhost",
        "sslmode=verify-ca&sslrootcert=pinned.crt",
        NO_ENV,
        0,
        "",
    ),
    row(
        "pinned",
        ELSEWHERE,
        "sslmode=verify-ca&sslrootcert=pinned.crt",
        NO_ENV,
        0,
        "",
    ),
    row(
        "pinned",
        ELSEWHERE,
        "sslmode=verify-full&sslrootcert=pinned.crt",
        NO_ENV,
        1,
        "does not match host name",
    ),
    row(
        "pinned",
        "127.0.0.1",
        "sslmode=verify-full&sslrootcert=pinned.crt",
        NO_ENV,
        1,
        "does not match host name \"127.0.0.1\"",
    ),
    row(
        "pinned",
        "localhost",
        "sslmode=verify-full&sslrootcert=ca.crt",
        NO_ENV,
        1,
        "certificate verify failed",
    ),
    row(
        "pinned",
        "localhost",
        "sslmode=require&sslrootcert=pinned.crt",
        NO_ENV,
        0,
        "",
    ),
    row(
        "pinned",
        "localhost",
        "sslmode=require&sslrootcert=ca.crt",
        NO_ENV,
        1,
        "certificate verify failed",
    ),
    row(
        "pinned",
        "localhost",
        "sslrootcert=system",
        &[("SSL_CERT_FILE", "pinned.crt")],
        0,
        "",
    ),
];

#[test]
fn sslmode_by_certificate_table_follows_libpq() {
    let certs = tempfile::tempdir().unwrap();
    let dir = certs.path();
    self_signed(dir, "ca", "DNS:keel-test-ca");
    self_signed(dir, "other", "DNS:keel-other-ca");
    self_signed(dir, "public", "DNS:keel-public-ca");
    self_signed(dir, "pinned", "DNS:localhost");
    leaf(dir, "ca", "leaf");
    leaf(dir, "public", "publeaf");
    std::fs::write(dir.join("garbage.crt"), "not a certificate\n").unwrap();
    std::fs::create_dir(dir.join("empty-cert-dir")).unwrap();
    for (home, ca) in [
        ("home", None),
        ("home-ca", Some("ca")),
        ("home-other", Some("other")),
    ] {
        let pg = dir.join(home).join(".postgresql");
        std::fs::create_dir_all(&pg).unwrap();
        if let Some(ca) = ca {
            std::fs::copy(dir.join(format!("{ca}.crt")), pg.join("root.crt")).unwrap();
        }
    }

    let cluster = Cluster::throwaway().expect("throwaway cluster");
    let mut c =
        postgres::Client::connect(&cluster.connection_string("postgres"), postgres::NoTls).unwrap();
    c.batch_execute("CREATE ROLE tls_user LOGIN PASSWORD 'Tls-Secret-9'")
        .unwrap();
    drop(c);
    common::hba_first(&cluster, "hostssl all tls_user 127.0.0.1/32 scram-sha-256");
    let port = common::free_port().to_string();
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(project.path().join("sql/up")).unwrap();

    let mut failures = Vec::new();
    for server in ["leaf", "publeaf", "pinned"] {
        restart_with_tls(&cluster, dir, server, &port, &[]);
        for r in TABLE.iter().filter(|r| r.server == server) {
            let (host, more) = r.host.split_once('?').unwrap_or((r.host, ""));
            // Certificate file names are relative to the certificate folder.
            let params = r
                .params
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some(("sslrootcert", f)) if f != "system" => {
                        format!("sslrootcert={}", dir.join(f).display())
                    }
                    _ => kv.to_string(),
                })
                .collect::<Vec<_>>()
                .join("&");
            let url = format!(
                "postgresql://tls_user:Tls-Secret-9@{host}:{port}/postgres?{params}&{more}"
            );
            let mut keel = Keel::new(project.path())
                .env("HOME", dir.join("home"))
                .env("SSL_CERT_FILE", dir.join("public.crt"))
                .env("SSL_CERT_DIR", dir.join("empty-cert-dir"));
            for (k, v) in r.env {
                let v = match *k {
                    "HOME" | "SSL_CERT_FILE" | "PGSSLROOTCERT" => dir.join(v).display().to_string(),
                    _ => v.to_string(),
                };
                keel = keel.env(k, v);
            }
            let out = keel.url(Some(&url)).args(["history"]).run();
            let text = out.all();
            assert!(!text.contains("Tls-Secret-9"), "password printed: {text}");
            let ok = out.code == Some(r.code) && text.contains(r.phrase);
            if !ok {
                failures.push(format!(
                    "server {server}, host {}, {} {:?}: expected exit {} with {:?}, got {:?}:\n{text}",
                    r.host, r.params, r.env, r.code, r.phrase, out.code
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows differ from libpq:\n{}",
        failures.len(),
        TABLE.len(),
        failures.join("\n")
    );
}

/// `out.crt`/`out.key`, issued by `ca` for the role `cn` (a client certificate).
fn client_leaf(dir: &Path, ca: &str, out: &str, cn: &str) {
    issue(
        dir,
        ca,
        out,
        cn,
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    );
}

/// A row of the client certificate table: extra URL parameters, the `HOME` folder, extra
/// environment, the exit status, and a phrase of the output.
type CertRow<'a> = (String, &'a str, Vec<(&'a str, String)>, i32, String);

/// Client certificates as libpq offers them (`initialize_SSL` in fe-secure-openssl.c):
/// `sslcert`/`sslkey` (or `PGSSLCERT`/`PGSSLKEY`), else `~/.postgresql/postgresql.crt` and
/// `postgresql.key`; no certificate file means none offered; a certificate without its key, a
/// key others may read, or a file that is no certificate or key is an error naming the file;
/// `sslcertmode=disable` offers none. The server authenticates the role by certificate only
/// (`cert` in pg_hba.conf).
#[test]
fn client_certificates_are_offered_as_libpq_offers_them() {
    use std::os::unix::fs::PermissionsExt;
    let certs = tempfile::tempdir().unwrap();
    let dir = certs.path();
    self_signed(dir, "ca", "DNS:keel-test-ca");
    self_signed(dir, "other", "DNS:keel-other-ca");
    leaf(dir, "ca", "leaf");
    client_leaf(dir, "ca", "client", "cert_user");
    client_leaf(dir, "other", "stranger", "cert_user");
    std::fs::write(dir.join("garbage.crt"), "not a certificate\n").unwrap();
    openssl(
        dir,
        &[
            "pkcs8",
            "-topk8",
            "-in",
            "client.key",
            "-out",
            "encrypted.key",
            "-passout",
            "pass:Key-Secret-7",
            "-v2",
            "aes-256-cbc",
        ],
    );
    for f in ["client.key", "stranger.key", "encrypted.key"] {
        std::fs::set_permissions(dir.join(f), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    std::fs::copy(dir.join("client.key"), dir.join("open.key")).unwrap();
    std::fs::set_permissions(dir.join("open.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let pg = dir.join("home-client/.postgresql");
    std::fs::create_dir_all(&pg).unwrap();
    std::fs::copy(dir.join("client.crt"), pg.join("postgresql.crt")).unwrap();
    std::fs::copy(dir.join("client.key"), pg.join("postgresql.key")).unwrap();
    std::fs::set_permissions(
        pg.join("postgresql.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("home")).unwrap();

    let cluster = Cluster::throwaway().expect("throwaway cluster");
    let data = cluster.data_dir().to_path_buf();
    let mut c =
        postgres::Client::connect(&cluster.connection_string("postgres"), postgres::NoTls).unwrap();
    c.batch_execute(
        "CREATE ROLE cert_user LOGIN; CREATE ROLE pw_user LOGIN PASSWORD 'Pw-Secret-3'",
    )
    .unwrap();
    drop(c);
    common::hba_first(&cluster, "hostssl all cert_user 127.0.0.1/32 cert");
    common::hba_first(&cluster, "hostssl all pw_user 127.0.0.1/32 scram-sha-256");
    let ca = install(dir, "ca", &data)[0].1.clone();
    let port = common::free_port().to_string();
    restart_with_tls(&cluster, dir, "leaf", &port, &[("ssl_ca_file", &ca)]);
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(project.path().join("sql/up")).unwrap();

    let file = |name: &str| dir.join(name).display().to_string();
    let rows: Vec<CertRow> = vec![
        (
            format!(
                "sslcert={}&sslkey={}",
                file("client.crt"),
                file("client.key")
            ),
            "home",
            vec![],
            0,
            String::new(),
        ),
        (String::new(), "home-client", vec![], 0, String::new()),
        (
            String::new(),
            "home",
            vec![
                ("PGSSLCERT", file("client.crt")),
                ("PGSSLKEY", file("client.key")),
            ],
            0,
            String::new(),
        ),
        // Nothing to offer: the server asks for a certificate and refuses.
        (
            String::new(),
            "home",
            vec![],
            1,
            "connection requires a valid client certificate".into(),
        ),
        (
            format!("sslcert={}", file("missing.crt")),
            "home",
            vec![],
            1,
            "connection requires a valid client certificate".into(),
        ),
        (
            "sslcertmode=disable".into(),
            "home-client",
            vec![],
            1,
            "connection requires a valid client certificate".into(),
        ),
        // A certificate the server's CA did not issue.
        (
            format!(
                "sslcert={}&sslkey={}",
                file("stranger.crt"),
                file("stranger.key")
            ),
            "home",
            vec![],
            1,
            String::new(),
        ),
        (
            format!(
                "sslcert={}&sslkey={}",
                file("client.crt"),
                file("missing.key")
            ),
            "home",
            vec![],
            1,
            format!(
                "certificate present, but not private key file \"{}\"",
                file("missing.key")
            ),
        ),
        (
            format!("sslcert={}&sslkey={}", file("client.crt"), file("open.key")),
            "home",
            vec![],
            1,
            format!(
                "private key file \"{}\" has group or world access",
                file("open.key")
            ),
        ),
        (
            format!(
                "sslcert={}&sslkey={}",
                file("garbage.crt"),
                file("client.key")
            ),
            "home",
            vec![],
            1,
            format!(
                "could not read certificate file \"{}\"",
                file("garbage.crt")
            ),
        ),
        (
            format!(
                "sslcert={}&sslkey={}",
                file("client.crt"),
                file("encrypted.key")
            ),
            "home",
            vec![],
            1,
            format!(
                "could not load private key file \"{}\"",
                file("encrypted.key")
            ),
        ),
        (
            format!(
                "sslcert={}&sslkey={}",
                file("client.crt"),
                file("stranger.key")
            ),
            "home",
            vec![],
            1,
            format!(
                "certificate does not match private key file \"{}\"",
                file("stranger.key")
            ),
        ),
        // sslcertmode=require: this server asks every client for a certificate (it has a CA
        // file), and lets pw_user in by password alone.
        (
            "sslcertmode=require".into(),
            "home-client",
            vec![],
            0,
            String::new(),
        ),
        (
            "sslcertmode=require&user=pw_user&password=Pw-Secret-3".into(),
            "home",
            vec![],
            1,
            "server accepted connection without a valid SSL certificate".into(),
        ),
        (
            "sslcertmode=require&user=pw_user&password=Pw-Secret-3".into(),
            "home-client",
            vec![],
            0,
            String::new(),
        ),
    ];
    let mut failures = Vec::new();
    for (params, home, env, code, phrase) in &rows {
        let url = format!(
            "postgresql://cert_user@localhost:{port}/postgres?sslmode=require&sslpassword=Key-Secret-7&{params}"
        );
        let mut keel = Keel::new(project.path()).env("HOME", dir.join(home));
        for (k, v) in env {
            keel = keel.env(k, v);
        }
        let out = keel.url(Some(&url)).args(["history"]).run();
        let text = out.all();
        assert!(
            !text.contains("Key-Secret-7") && !text.contains("Pw-Secret-3"),
            "password printed: {text}"
        );
        if out.code != Some(*code) || !text.contains(phrase.as_str()) {
            failures.push(format!(
                "{params} HOME={home} {env:?}: expected exit {code} with {phrase:?}, got {:?}:\n{text}",
                out.code
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows differ from libpq:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}
