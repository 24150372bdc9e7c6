//! The run lock: a session-level advisory lock taken by polling.
//!
//! Never `pg_advisory_lock()`: a session blocked inside it holds a snapshot,
//! and a `CREATE INDEX CONCURRENTLY` run by the lock holder waits for every
//! such snapshot to go away, so both would wait forever.
//!
//! A session lock is only a lock when every statement of the run reaches the
//! same server session. Behind a transaction-pooling proxy (pgbouncer's
//! `pool_mode = transaction`, and the like), each transaction may run on
//! another server connection: the lock stays on one of them, held for
//! nobody, and the run goes on unlocked. So once the lock is taken, keel
//! checks two things, and refuses to go on if either fails:
//! - a second transaction runs in the same backend, which holds the lock
//!   (a pooler that moves the connection to another server session);
//! - a second connection cannot take the lock ([`check_excludes`]). Through
//!   a pooler that reuses the most recently used server connection, as
//!   pgbouncer does by default, the second connection's transaction runs in
//!   the very session that holds the lock, where a session advisory lock is
//!   re-entrant: it succeeds.

use super::connect::Endpoint;
use super::DbError;
use postgres::Client;
use std::time::{Duration, Instant};

/// The lock key for a history schema: FNV-1a of its name, so two projects
/// with different history schemas in one database do not block each other.
pub fn key(schema: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in "keel:".bytes().chain(schema.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as i64
}

/// Who holds the lock, from `pg_locks` and `pg_stat_activity`.
#[derive(Debug, Clone)]
pub struct Holder {
    pub pid: i32,
    pub user: Option<String>,
    pub application: Option<String>,
    pub client: Option<String>,
    pub since: Option<String>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {}", self.pid)?;
        if let Some(u) = &self.user {
            write!(f, ", user {u}")?;
        }
        if let Some(a) = self.application.as_deref().filter(|a| !a.is_empty()) {
            write!(f, ", application {a}")?;
        }
        write!(
            f,
            ", client {}",
            self.client.as_deref().unwrap_or("local socket")
        )?;
        if let Some(s) = &self.since {
            write!(f, ", since {s}")?;
        }
        Ok(())
    }
}

/// The lock was not free before the timeout.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("timed out after {waited:?} waiting for the migration lock{}", holder.as_ref().map(|h| format!(" held by {h}")).unwrap_or_default())]
    Timeout {
        waited: Duration,
        holder: Option<Holder>,
    },
    #[error("the migration lock is not a lock on this connection: {reason}; a transaction-pooling proxy (such as pgbouncer with pool_mode = transaction) runs each transaction in another server session, so a session lock protects nothing")]
    NotOneSession { reason: String },
    /// A signal (or the caller) stopped the wait ([`crate::interrupt`]).
    #[error("stopped by {} after {waited:.1?} waiting for the migration lock{}; nothing was changed", crate::interrupt::signal_name(*signal), holder.as_ref().map(|h| format!(" held by {h}")).unwrap_or_default())]
    Interrupted {
        signal: i32,
        waited: Duration,
        holder: Option<Box<Holder>>,
    },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl LockError {
    pub fn hint(&self) -> Option<String> {
        match self {
            LockError::NotOneSession { .. } => Some(
                "connect keel directly to PostgreSQL, or through a session-pooling port (pgbouncer pool_mode = session)".into(),
            ),
            LockError::Timeout { .. } => Some(
                "another keel is running against this database; wait for it, or raise --lock-timeout".into(),
            ),
            LockError::Db(e) => e.hint(),
            LockError::Interrupted { .. } => None,
        }
    }
}

/// Whether the lock taken in backend `took_in` is held by one session: the
/// second transaction ran in backend `checked_in`, which `holds` the lock or
/// not.
pub fn check_one_session(took_in: i32, checked_in: i32, holds: bool) -> Result<(), LockError> {
    if took_in != checked_in {
        return Err(LockError::NotOneSession {
            reason: format!(
                "two transactions of one connection ran in two server sessions (backend pid {took_in}, then {checked_in})"
            ),
        });
    }
    if !holds {
        return Err(LockError::NotOneSession {
            reason: format!(
                "backend pid {took_in} took the lock but did not hold it in the next transaction"
            ),
        });
    }
    Ok(())
}

/// A held lock; released by [`Lock::release`] or when the session ends.
#[derive(Debug)]
pub struct Lock {
    key: i64,
    /// How long acquiring took.
    pub waited: Duration,
    /// Who held it while we waited, if anyone did.
    pub waited_for: Option<Holder>,
    /// The server's end of the connection is the address keel dialled, so
    /// no proxy can share the session holding the lock with anyone else.
    pub direct: bool,
}

impl Lock {
    /// Polls `pg_try_advisory_lock` until it succeeds or `timeout` passes.
    /// `on_wait` is called once with the holder when waiting starts.
    ///
    /// `dialled` is where the connection was made; when the server's own end
    /// of it is that very place, no proxy stands in between and
    /// [`Lock::direct`] is set. `stopped` is asked before each attempt: a signal it returns
    /// ends the wait.
    pub fn acquire(
        client: &mut Client,
        schema: &str,
        dialled: Option<&Endpoint>,
        timeout: Duration,
        mut on_wait: impl FnMut(&Holder),
        stopped: impl Fn() -> Option<i32>,
    ) -> Result<Lock, LockError> {
        let key = key(schema);
        let start = Instant::now();
        let mut waited_for: Option<Holder> = None;
        let mut delay = Duration::from_millis(20);
        loop {
            if let Some(signal) = stopped() {
                return Err(LockError::Interrupted {
                    signal,
                    waited: start.elapsed(),
                    holder: waited_for.map(Box::new),
                });
            }
            // The server's end of the connection comes in the same round trip: on a direct
            // connection (the common case) taking the lock then costs nothing more.
            let row = client.query_one(
                "SELECT pg_try_advisory_lock($1), pg_backend_pid(),
                            host(inet_server_addr()), inet_server_port(),
                            current_setting('port')::int,
                            CASE WHEN pg_has_role('pg_read_all_settings', 'USAGE')
                                 THEN current_setting('unix_socket_directories') END",
                &[&key],
            );
            let row = match (row, stopped()) {
                (Ok(row), _) => row,
                // The cancel request reached this query.
                (Err(_), Some(signal)) => {
                    return Err(LockError::Interrupted {
                        signal,
                        waited: start.elapsed(),
                        holder: waited_for.map(Box::new),
                    })
                }
                (Err(e), None) => {
                    return Err(DbError::query("taking the migration lock", &e).into())
                }
            };
            let got: bool = row.get(0);
            if got {
                let server_addr = row
                    .get::<_, Option<String>>(2)
                    .and_then(|a| a.parse::<std::net::IpAddr>().ok());
                // Only superusers and members of pg_read_all_settings may read the socket
                // directories; for anyone else they are unknown (NULL), which proves nothing,
                // and the session is checked the other way.
                let socket_dirs: Option<String> = row.get(5);
                let direct = dialled.is_some_and(|d| {
                    d.is_server_end(
                        server_addr,
                        row.get(3),
                        row.get(4),
                        socket_dirs.as_deref().unwrap_or_default(),
                    )
                });
                // Nothing stands between keel and this server, so the session that took the
                // lock is the connection's only session. Otherwise a proxy may hand the next
                // transaction to another session: check that it still holds the lock.
                if !direct {
                    if let Err(e) = same_session(client, key, row.get(1)) {
                        // Best effort: through a pooler this may reach another
                        // session; the server drops the lock with its session.
                        let _ = client.query_one("SELECT pg_advisory_unlock($1)", &[&key]);
                        return Err(e);
                    }
                }
                return Ok(Lock {
                    key,
                    waited: start.elapsed(),
                    waited_for,
                    direct,
                });
            }
            if waited_for.is_none() {
                if let Some(h) = holder(client, key)? {
                    on_wait(&h);
                    waited_for = Some(h);
                }
            }
            if start.elapsed() >= timeout {
                let holder = holder(client, key)?.or(waited_for);
                return Err(LockError::Timeout {
                    waited: start.elapsed(),
                    holder,
                });
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(250));
        }
    }

    /// Releases the lock.
    pub fn release(self, client: &mut Client) -> Result<(), DbError> {
        client
            .query_one("SELECT pg_advisory_unlock($1)", &[&self.key])
            .map_err(|e| DbError::query("releasing the migration lock", &e))?;
        Ok(())
    }
}

/// Whether `other`, a second connection to the same database, is kept out
/// of the lock `key` this process holds. On PostgreSQL itself it is (another
/// session); through a transaction pooler it may land in our own session.
pub fn check_excludes(other: &mut Client, key: i64) -> Result<(), LockError> {
    let could: bool = other
        .query_one(
            "SELECT CASE WHEN pg_try_advisory_lock($1) THEN pg_advisory_unlock($1) ELSE false END",
            &[&key],
        )
        .map_err(|e| DbError::query("checking the migration lock", &e))?
        .get(0);
    if could {
        return Err(LockError::NotOneSession {
            reason: "a second connection could take the lock this one holds".into(),
        });
    }
    Ok(())
}

/// Checks, in a transaction of its own, that the lock taken in backend
/// `took_in` is held by the backend this connection reaches now.
fn same_session(client: &mut Client, key: i64, took_in: i32) -> Result<(), LockError> {
    let (hi, lo) = halves(key);
    let row = client
        .query_one(
            "SELECT pg_backend_pid(), EXISTS (
                 SELECT 1 FROM pg_locks
                 WHERE locktype = 'advisory' AND granted AND objsubid = 1
                   AND pid = pg_backend_pid()
                   AND classid::bigint = $1 AND objid::bigint = $2)",
            &[&hi, &lo],
        )
        .map_err(|e| DbError::query("checking the migration lock", &e))?;
    check_one_session(took_in, row.get(0), row.get(1))
}

/// A bigint advisory key as `pg_locks` stores it: classid (high half) and
/// objid (low half), with objsubid 1.
fn halves(key: i64) -> (i64, i64) {
    (i64::from((key >> 32) as u32), i64::from(key as u32))
}

/// The session holding the advisory lock `key`, if any.
fn holder(client: &mut Client, key: i64) -> Result<Option<Holder>, DbError> {
    let (hi, lo) = halves(key);
    let row = client
        .query_opt(
            "SELECT a.pid, a.usename::text, a.application_name, a.client_addr::text,
                    to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ')
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
               AND l.classid::bigint = $1 AND l.objid::bigint = $2
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             LIMIT 1",
            &[&hi, &lo],
        )
        .map_err(|e| DbError::query("finding the lock holder", &e))?;
    Ok(row.map(|r| Holder {
        pid: r.get(0),
        user: r.get(1),
        application: r.get(2),
        client: r.get(3),
        since: r.get(4),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_that_changes_sessions_is_refused() {
        assert!(check_one_session(41, 41, true).is_ok());
        let e = check_one_session(41, 42, true).unwrap_err();
        assert!(
            e.to_string()
                .contains("two server sessions (backend pid 41, then 42)"),
            "{e}"
        );
        assert!(e.to_string().contains("transaction-pooling proxy"), "{e}");
        assert!(e
            .hint()
            .unwrap()
            .contains("connect keel directly to PostgreSQL"));
        let e = check_one_session(41, 41, false).unwrap_err();
        assert!(e.to_string().contains("did not hold it"), "{e}");
    }

    #[test]
    fn key_halves_round_trip() {
        for key in [0i64, 1, -1, i64::MIN, i64::MAX, key("keel")] {
            let (hi, lo) = halves(key);
            assert_eq!(((hi as u64) << 32 | lo as u64) as i64, key);
        }
    }
}
