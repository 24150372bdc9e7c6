//! Which PostgreSQL a session talks to ([`ServerVersion`]), read once per session
//! ([`crate::db::session::Session::server_version`]) and only when something needs it.
//!
//! keel's catalog SQL is written to be right on every supported major (13 to 18): where the
//! catalog changed, the query reads it in a form every major shares (18's `contype = 'n'` NOT
//! NULL rows are left out by a predicate that holds nothing on older majors). What does differ
//! by version is what keel says: a statement the server's parser rejects is reported with the
//! server's version, since "not valid here" often means "needs a newer PostgreSQL".

use super::{Connection, DbError, Inside};
use postgres::GenericClient;
use std::fmt;

/// `server_version_num`: 150014 is 15.14, 180004 is 18.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServerVersion(u32);

impl ServerVersion {
    /// From `server_version_num`.
    pub fn from_num(num: u32) -> ServerVersion {
        ServerVersion(num)
    }

    /// The major version: 15 for 15.14.
    pub fn major(self) -> u32 {
        self.0 / 10_000
    }

    /// The minor release: 14 for 15.14.
    pub fn minor(self) -> u32 {
        self.0 % 10_000
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgreSQL {}.{}", self.major(), self.minor())
    }
}

/// Asks the server (one round trip).
pub fn read(conn: &mut impl Connection) -> Result<ServerVersion, DbError> {
    let context = "reading the server's version";
    let row = conn
        .client(Inside(()))
        .query_one("SELECT current_setting('server_version_num')::int4", &[])
        .map_err(|e| DbError::query(context, &e))?;
    let num: i32 = row.get(0);
    u32::try_from(num)
        .map(ServerVersion)
        .map_err(|_| DbError::Other(format!("{context}: server_version_num is {num}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_as_major_and_minor() {
        let v = ServerVersion::from_num(150014);
        assert_eq!((v.major(), v.minor()), (15, 14));
        assert_eq!(v.to_string(), "PostgreSQL 15.14");
        assert!(ServerVersion::from_num(180004) > ServerVersion::from_num(170010));
    }
}
