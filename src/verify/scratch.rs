//! The scratch database `keel verify` works in: created on the configured
//! database's server and always dropped, also when verification fails, a
//! step returns early or the program panics (the guard drops it).

use crate::db::connect::Target;
use crate::db::DbError;
use postgres::Client;
use std::hash::{BuildHasher, Hasher};

/// A scratch database created by keel; dropped by [`Scratch::drop_now`] or,
/// failing that, when the guard goes out of scope.
pub struct Scratch {
    /// The connection to the configured database that created it.
    admin: Client,
    name: String,
    target: Target,
    dropped: bool,
}

/// Why the scratch database could not be created.
#[derive(Debug, thiserror::Error)]
#[error("cannot create the scratch database {name}: {message}")]
pub struct CreateError {
    pub name: String,
    pub message: String,
    /// SQLSTATE 42501: the role may not create databases.
    pub not_allowed: bool,
}

/// `keel_verify_<pid>_<8 random hex digits>`.
pub fn fresh_name() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!(
        "keel_verify_{}_{:08x}",
        std::process::id(),
        h.finish() as u32
    )
}

impl Scratch {
    /// Creates a new, empty database next to `base` (from `template0`, so
    /// nothing added to `template1` leaks in) over `admin`, a connection to
    /// the configured database, which the guard keeps to drop it.
    pub fn create(mut admin: Client, base: &Target) -> Result<Scratch, CreateError> {
        let name = fresh_name();
        if let Err(e) = admin.batch_execute(&format!("CREATE DATABASE {name} TEMPLATE template0")) {
            return Err(CreateError {
                message: crate::db::connect::error_text(&e),
                not_allowed: e.code() == Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
                name,
            });
        }
        let mut target = base.clone();
        target.config.dbname(&name);
        Ok(Scratch {
            admin,
            name,
            target,
            dropped: false,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where to connect to the scratch database.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Drops the database now, disconnecting whoever is still connected to
    /// it. Close your own connections to it first.
    pub fn drop_now(mut self) -> Result<(), DbError> {
        self.dropped = true;
        drop_database(&mut self.admin, &self.name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.dropped {
            self.dropped = true;
            let _ = drop_database(&mut self.admin, &self.name);
        }
    }
}

fn drop_database(admin: &mut Client, name: &str) -> Result<(), DbError> {
    // WITH (FORCE) (PostgreSQL 13+) ends sessions still connected to it.
    match admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")) {
        Ok(()) => Ok(()),
        Err(e) if e.code() == Some(&postgres::error::SqlState::SYNTAX_ERROR) => admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .map_err(|e| DbError::query(&format!("dropping the scratch database {name}"), &e)),
        Err(e) => Err(DbError::query(
            &format!("dropping the scratch database {name}"),
            &e,
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_plain_identifiers_and_differ() {
        let a = super::fresh_name();
        let b = super::fresh_name();
        assert_ne!(a, b);
        assert!(a.starts_with(&format!("keel_verify_{}_", std::process::id())));
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'));
        assert!(a.len() <= 63);
    }
}
