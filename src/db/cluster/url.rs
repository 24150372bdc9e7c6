//! Connection strings and URLs for a cluster's Unix socket.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::server::SUPERUSER;

/// `host=<socket dir> port=<port> user=postgres dbname=<db>`, quoted where libpq needs it.
pub fn connection_string(socket_dir: &Path, port: u16, dbname: &str) -> String {
    format!(
        "host={} port={port} user={SUPERUSER} dbname={}",
        conninfo_quote(&socket_dir.to_string_lossy()),
        conninfo_quote(dbname)
    )
}

/// `postgresql:///<db>?host=<socket dir>&port=<port>&user=postgres`, percent-encoded. This is
/// the form users copy; it has no password because the socket uses `trust` authentication.
pub fn connection_url(socket_dir: &Path, port: u16, dbname: &str) -> String {
    format!(
        "postgresql:///{}?host={}&port={port}&user={SUPERUSER}",
        percent_encode(dbname.as_bytes()),
        percent_encode(socket_dir.as_os_str().as_bytes())
    )
}

fn conninfo_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '\\');
    if plain {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\\', r"\\").replace('\'', r"\'"))
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_percent_encodes_the_socket_dir_and_has_no_password() {
        let url = connection_url(Path::new("/tmp/keel x/run"), 25432, "app");
        assert_eq!(
            url,
            "postgresql:///app?host=%2Ftmp%2Fkeel%20x%2Frun&port=25432&user=postgres"
        );
    }

    #[test]
    fn connection_string_quotes_only_when_needed() {
        assert_eq!(
            connection_string(Path::new("/tmp/run"), 5432, "postgres"),
            "host=/tmp/run port=5432 user=postgres dbname=postgres"
        );
        assert_eq!(
            connection_string(Path::new("/tmp/a b'c"), 5432, "db"),
            r"host='/tmp/a b\'c' port=5432 user=postgres dbname=db"
        );
    }
}
