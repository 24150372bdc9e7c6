//! Connection settings as libpq reads them: `.pgpass` (permissions, one
//! password per host) and settings given by URL against the `PG*` variables.
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)] // tests query and print freely

mod common;

use common::Keel;
use keel::db::cluster::Cluster;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const PASSWORD: &str = "Pgpass-Secret-4";

/// A server on 127.0.0.1 that wants a password from `pw_user`.
fn password_server() -> (Cluster, u16) {
    let cluster = Cluster::throwaway().expect("throwaway cluster");
    let mut c =
        postgres::Client::connect(&cluster.connection_string("postgres"), postgres::NoTls).unwrap();
    c.batch_execute(&format!("CREATE ROLE pw_user LOGIN PASSWORD '{PASSWORD}'"))
        .unwrap();
    drop(c);
    common::hba_first(&cluster, "host all pw_user 127.0.0.1/32 scram-sha-256");
    let port = common::restart_on_loopback(&cluster, &[]);
    (cluster, port)
}

/// `keel history` with `url` and `PGPASSFILE=pgpass`: exit status and output.
fn history(project: &Path, url: &str, pgpass: &Path) -> (Option<i32>, String) {
    let out = Keel::new(project)
        .env("PGPASSFILE", pgpass)
        .url(Some(url))
        .args(["history"])
        .run();
    let text = out.all();
    assert!(!text.contains(PASSWORD), "password printed: {text}");
    (out.code, text)
}

fn write_pgpass(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn pgpass_is_read_as_libpq_reads_it() {
    let (_cluster, port) = password_server();
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(project.path().join("sql/up")).unwrap();
    let pgpass = project.path().join("pgpass");
    let url = format!("postgresql://pw_user@127.0.0.1:{port}/postgres");

    // The first matching line wins; `*` and `\:` as libpq.
    write_pgpass(
        &pgpass,
        &format!(
            "# comment\n127.0.0.1:{port}:other_db:pw_user:wrong\n\
             127.0.0.1:*:*:pw_user:{PASSWORD}\n*:*:*:*:wrong-too\n"
        ),
        0o600,
    );
    let (code, out) = history(project.path(), &url, &pgpass);
    assert_eq!(code, Some(0), "{out}");

    // Group- or world-readable: ignored, with libpq's warning.
    write_pgpass(&pgpass, &format!("*:*:*:pw_user:{PASSWORD}\n"), 0o640);
    let (code, out) = history(project.path(), &url, &pgpass);
    assert_eq!(code, Some(1), "an open password file is ignored: {out}");
    assert!(
        out.contains(&format!(
            "warning: password file \"{}\" has group or world access; permissions should be u=rw (0600) or less",
            pgpass.display()
        )),
        "{out}"
    );
}

#[test]
fn a_hosts_password_is_never_sent_to_another_host() {
    let (_cluster, port) = password_server();
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(project.path().join("sql/up")).unwrap();
    let pgpass = project.path().join("pgpass");
    // The first host refuses connections, so keel goes on to the second.
    let dead = common::free_port();
    let url = format!("postgresql://pw_user@127.0.0.2:{dead},127.0.0.1:{port}/postgres");

    // Only the first host has a password: the second host gets none.
    write_pgpass(&pgpass, &format!("127.0.0.2:*:*:*:{PASSWORD}\n"), 0o600);
    let (code, out) = history(project.path(), &url, &pgpass);
    assert_eq!(
        code,
        Some(1),
        "127.0.0.2's password was sent to 127.0.0.1: {out}"
    );

    // Each host its own line.
    write_pgpass(
        &pgpass,
        &format!("127.0.0.2:*:*:*:not-this-one\n127.0.0.1:{port}:*:*:{PASSWORD}\n"),
        0o600,
    );
    let (code, out) = history(project.path(), &url, &pgpass);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn url_settings_win_over_pg_variables() {
    let (_cluster, port) = password_server();
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(project.path().join("sql/up")).unwrap();
    let pgpass = project.path().join("pgpass");
    write_pgpass(&pgpass, "*:*:*:*:wrong\n", 0o600);
    // The server has no TLS: only the URL's sslmode=disable connects.
    let url = format!(
        "postgresql://pw_user:{PASSWORD}@127.0.0.1:{port}/postgres?sslmode=disable&connect_timeout=10"
    );
    // PG* variables keel reads, each pointing somewhere else.
    let out = Keel::new(project.path())
        .env("PGHOST", "/nonexistent")
        .env("PGPORT", "1")
        .env("PGUSER", "nobody")
        .env("PGDATABASE", "nothing")
        .env("PGPASSWORD", "wrong")
        .env("PGPASSFILE", &pgpass)
        .env("PGCONNECT_TIMEOUT", "2")
        .env("PGSSLMODE", "require")
        .env("PGSSLROOTCERT", "/nonexistent/root.crt")
        .url(Some(&url))
        .args(["history"])
        .run();
    let text = out.all();
    assert_eq!(out.code, Some(0), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
}

/// `--database-url ""` (a `"$TENANT_URL"` that is not set) names no database: it is refused,
/// never read as "use DATABASE_URL" (nor the PG* variables, nor the dev database).
#[test]
fn an_empty_database_url_is_refused_not_replaced_by_the_environment() {
    let elsewhere = common::fresh_db();
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(project.path().join("sql/up")).unwrap();
    for empty in ["", "  "] {
        let out = Keel::new(project.path())
            .env("DATABASE_URL", elsewhere.url())
            .url(Some(empty))
            .args(["history"])
            .run();
        let text = out.all();
        assert_eq!(out.code, Some(2), "{text}");
        assert!(
            text.contains("invalid database URL (--database-url): it is empty")
                && text.contains("leave the option out to use DATABASE_URL"),
            "{text}"
        );
    }
}

/// A listener that accepts connections and never answers: a host that hangs after TCP.
fn black_hole() -> (std::net::TcpListener, u16) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// `connect_timeout` bounds the whole attempt on a host, as in libpq, not only the TCP connect:
/// a host that accepts and never answers fails with "timeout expired", and the next host of the
/// list is tried.
#[test]
fn connect_timeout_bounds_a_host_that_never_answers() {
    let (_cluster, port) = password_server();
    let (_hole, hole) = black_hole();
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(project.path().join("sql/up")).unwrap();
    let limit = std::time::Duration::from_secs(60);
    let alone = Keel::new(project.path())
        .url(Some(&format!(
            "host=127.0.0.1 port={hole} user=pw_user dbname=postgres connect_timeout=2"
        )))
        .args(["history"])
        .timeout(limit)
        .run();
    assert_eq!(alone.code, Some(1), "{alone}");
    assert!(alone.all().contains("timeout expired"), "{alone}");
    let listed = Keel::new(project.path())
        .url(Some(&format!(
            "host=127.0.0.1,127.0.0.1 port={hole},{port} user=pw_user password={PASSWORD} dbname=postgres connect_timeout=2 sslmode=disable"
        )))
        .args(["history"])
        .timeout(limit)
        .run();
    assert_eq!(
        listed.code,
        Some(0),
        "the second host was not tried: {listed}"
    );
}

/// Every spelling of `sslmode=require` that libpq reads makes keel insist on TLS: against a
/// server without TLS, each fails as psql does instead of connecting in the clear.
#[test]
fn sslmode_require_in_any_spelling_refuses_a_server_without_tls() {
    let (_cluster, port) = password_server();
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(project.path().join("sql/up")).unwrap();
    let base =
        format!("host=127.0.0.1 port={port} user=pw_user password={PASSWORD} dbname=postgres");
    for url in [
        format!("{base} sslmode = require"),
        format!("{base} sslmode ='require'"),
        format!("{base} sslmode=require application_name='nightly sslmode=disable run'"),
        format!("postgresql://pw_user:{PASSWORD}@127.0.0.1:{port}/postgres?ssl%6Dode=require"),
        format!("postgresql://pw_user:{PASSWORD}@127.0.0.1:{port}/postgres?ssl=true"),
    ] {
        let out = Keel::new(project.path())
            .url(Some(&url))
            .args(["history"])
            .run();
        assert_eq!(out.code, Some(1), "connected without TLS: {url}\n{out}");
        assert!(!out.all().contains(PASSWORD), "{out}");
    }
}

/// libpq reads the client certificate and key only once the server has agreed to TLS: against
/// a server without TLS, `sslmode=prefer` (the default) connects in the clear whatever
/// `~/.postgresql/` holds, a key others may read or an encrypted one included; against a server
/// with TLS, the same files are an error naming the key.
#[test]
fn a_server_without_tls_never_makes_keel_read_the_client_key() {
    let (_cluster, port) = password_server();
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(project.path().join("sql/up")).unwrap();
    let home = tempfile::tempdir().unwrap();
    let pg = home.path().join(".postgresql");
    std::fs::create_dir_all(&pg).unwrap();
    std::fs::write(pg.join("postgresql.crt"), "not a certificate\n").unwrap();
    write_pgpass(&pg.join("postgresql.key"), "not a key\n", 0o644);
    let url = format!("postgresql://pw_user:{PASSWORD}@127.0.0.1:{port}/postgres");
    let out = Keel::new(project.path())
        .env("HOME", home.path())
        .url(Some(&url))
        .args(["history"])
        .run();
    assert_eq!(out.code, Some(0), "{out}");
    assert!(!out.all().contains(PASSWORD), "{out}");

    // sslcertmode=require: a server in the clear asked for no certificate.
    let out = Keel::new(project.path())
        .env("HOME", home.path())
        .url(Some(&format!("{url}?sslcertmode=require")))
        .args(["history"])
        .run();
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.stderr
            .contains("server did not request an SSL certificate"),
        "{out}"
    );
}
