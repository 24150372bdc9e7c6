//! The scratch database `keel verify` works in: created on the configured
//! database's server and always dropped, also when verification fails, a
//! step returns early, the program panics (the guard drops it), or keel is
//! stopped with Ctrl-C (SIGINT) or SIGTERM (a signal thread drops it, then
//! ends the process).
//!
//! A verify killed outright (SIGKILL, a lost machine) cannot drop its
//! database: the next verify on the same server drops every
//! `keel_verify_*` database no session uses ([`drop_stale`]).

use crate::db::connect::Target;
use crate::db::DbError;
use crate::sql::ident::quote_ident;
use postgres::Client;
use postgres::GenericClient;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// What every scratch database's name starts with.
pub const PREFIX: &str = "keel_verify_";

/// The `application_name` a verify's connection to the configured database
/// carries while its scratch database exists, so another verify sees that
/// the database is in use even before (or between) connections to it.
fn owner_tag(name: &str) -> String {
    format!("keel verify {name}")
}

/// The connection to the configured database, shared with the signal
/// thread, and the scratch database to drop (set before it is created,
/// cleared once it is dropped).
struct Admin {
    client: Client,
    pending: Option<String>,
}

fn lock(admin: &Mutex<Admin>) -> MutexGuard<'_, Admin> {
    // A panic while holding it leaves the connection as usable as before.
    admin.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the signal thread did, told to the caller's reporter before keel
/// exits.
#[derive(Debug)]
pub enum Interrupted {
    /// The scratch database named was dropped.
    Dropped(String),
    /// There was none to drop (already dropped, or never created).
    NothingToDrop,
    /// Dropping it failed: it is left on the server.
    NotDropped { name: String, error: DbError },
}

/// Reports an [`Interrupted`] (the library does not print).
pub type OnInterrupt = Box<dyn Fn(&Interrupted) + Send>;

/// Set by the signal thread: the process is ending, whatever the main
/// thread sees next (its connection to the scratch database is cut) is not
/// worth reporting.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// A scratch database created by keel; dropped by [`Scratch::drop_now`] or,
/// failing that, when the guard goes out of scope, or on SIGINT/SIGTERM.
pub struct Scratch {
    /// The connection to the configured database that created it.
    admin: Arc<Mutex<Admin>>,
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
    format!("{PREFIX}{}_{:08x}", std::process::id(), h.finish() as u32)
}

/// Drops the `keel_verify_*` databases left by verifies that could not
/// drop their own (killed with SIGKILL, machine lost), over `admin`, a
/// connection to the configured database. Returns the names dropped.
///
/// A database is left alone when any session is connected to it or a
/// verify's connection carries its owner tag ([`owner_tag`]): datname and
/// application_name of `pg_stat_activity` are shown to every role
/// (`pg_stat_get_activity` in PostgreSQL's `pgstatfuncs.c`). The DROP has
/// no `FORCE`, so a session that connects in between makes it fail rather
/// than be ended; that database, and one this role may not drop, is kept
/// for a later run.
pub fn drop_stale(admin: &mut impl super::Connection) -> Result<Vec<String>, DbError> {
    let admin = super::client(admin);
    let rows = admin
        .query(
            "SELECT d.datname::text FROM pg_database d
              WHERE starts_with(d.datname, $1)
                AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                                 WHERE a.datname = d.datname
                                    OR a.application_name = 'keel verify ' || d.datname)
              ORDER BY 1",
            &[&PREFIX],
        )
        .map_err(|e| DbError::query("listing stale scratch databases", &e))?;
    let mut dropped = Vec::new();
    for row in rows {
        let name: String = row.get(0);
        let sql = format!("DROP DATABASE IF EXISTS {}", quote_ident(&name));
        if admin.batch_execute(&sql).is_ok() {
            dropped.push(name);
        }
    }
    Ok(dropped)
}

impl Scratch {
    /// Creates a new, empty database next to `base` (from `template0`, so
    /// nothing added to `template1` leaks in) over `admin`, a connection to
    /// the configured database, which the guard keeps to drop it. From here
    /// on SIGINT and SIGTERM drop it and keel exits, after `on_interrupt`
    /// has reported it.
    pub fn create(
        admin: super::session::Session,
        base: &Target,
        on_interrupt: OnInterrupt,
    ) -> Result<Scratch, CreateError> {
        let name = fresh_name();
        let admin = Arc::new(Mutex::new(Admin {
            client: admin.into_client(),
            pending: None,
        }));
        // Best effort: without the handler a signal ends keel as before, and
        // the next verify drops the database.
        let _ = on_signal(Arc::clone(&admin), on_interrupt);
        let created = {
            // The signal thread waits for the lock: a signal during CREATE
            // DATABASE drops the database once it exists.
            let mut a = lock(&admin);
            a.pending = Some(name.clone());
            let tag = format!("SET application_name = '{}'", owner_tag(&name));
            let create = format!("CREATE DATABASE {} TEMPLATE template0", quote_ident(&name));
            let result = a
                .client
                .batch_execute(&tag)
                .and_then(|()| a.client.batch_execute(&create));
            if result.is_err() {
                a.pending = None;
            }
            result
        };
        if let Err(e) = created {
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
        drop_pending(&mut lock(&self.admin))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.dropped {
            self.dropped = true;
            let _ = drop_pending(&mut lock(&self.admin));
        }
    }
}

/// Drops the database `admin` is responsible for, if any.
fn drop_pending(admin: &mut Admin) -> Result<(), DbError> {
    let Some(name) = admin.pending.clone() else {
        return Ok(());
    };
    drop_database(&mut admin.client, &name)?;
    admin.pending = None;
    Ok(())
}

fn drop_database(admin: &mut Client, name: &str) -> Result<(), DbError> {
    let name = quote_ident(name);
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

/// Starts the thread that, on the first SIGINT or SIGTERM, drops the
/// pending scratch database and exits with 128 + the signal's number (the
/// shell's convention for a process ended by a signal). A second signal
/// while the drop is stuck (a server that stopped answering) ends keel at
/// once.
///
/// signal-hook runs the real handler (async-signal-safe: it only writes to
/// a pipe) and hands the signal to this ordinary thread, where taking a
/// lock and talking to the server are allowed.
fn on_signal(admin: Arc<Mutex<Admin>>, on_interrupt: OnInterrupt) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let armed = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        // Registered first, so that it sees `armed` before the iterator's
        // handler runs (signal-hook runs actions in registration order).
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&armed))?;
    }
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("keel-verify-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                armed.store(true, Ordering::SeqCst);
                INTERRUPTED.store(true, Ordering::SeqCst);
                let mut a = lock(&admin);
                let what = match (a.pending.clone(), drop_pending(&mut a)) {
                    (Some(name), Ok(())) => Interrupted::Dropped(name),
                    (Some(name), Err(error)) => Interrupted::NotDropped { name, error },
                    (None, _) => Interrupted::NothingToDrop,
                };
                on_interrupt(&what);
                std::process::exit(128 + sig);
            }
        })?;
    Ok(())
}

/// When a signal is ending keel, waits for the signal thread to exit the
/// process instead of reporting what the interruption caused (the scratch
/// connection cut by the drop).
pub fn wait_if_interrupted() {
    if INTERRUPTED.load(Ordering::SeqCst) {
        loop {
            std::thread::park();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_plain_identifiers_and_differ() {
        let a = super::fresh_name();
        let b = super::fresh_name();
        assert_ne!(a, b);
        assert!(a.starts_with(&format!("{}{}_", super::PREFIX, std::process::id())));
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'));
        assert!(a.len() <= 63);
    }
}
