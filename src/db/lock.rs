//! The run lock: a session-level advisory lock taken by polling.
//!
//! Never `pg_advisory_lock()`: a session blocked inside it holds a snapshot,
//! and a `CREATE INDEX CONCURRENTLY` run by the lock holder waits for every
//! such snapshot to go away, so both would wait forever.

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
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A held lock; released by [`Lock::release`] or when the session ends.
#[derive(Debug)]
pub struct Lock {
    key: i64,
    /// How long acquiring took.
    pub waited: Duration,
    /// Who held it while we waited, if anyone did.
    pub waited_for: Option<Holder>,
}

impl Lock {
    /// Polls `pg_try_advisory_lock` until it succeeds or `timeout` passes.
    /// `on_wait` is called once with the holder when waiting starts.
    pub fn acquire(
        client: &mut Client,
        schema: &str,
        timeout: Duration,
        mut on_wait: impl FnMut(&Holder),
    ) -> Result<Lock, LockError> {
        let key = key(schema);
        let start = Instant::now();
        let mut waited_for: Option<Holder> = None;
        let mut delay = Duration::from_millis(20);
        loop {
            let got: bool = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .map_err(|e| DbError::query("taking the migration lock", &e))?
                .get(0);
            if got {
                return Ok(Lock {
                    key,
                    waited: start.elapsed(),
                    waited_for,
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

/// The session holding the advisory lock `key`, if any.
fn holder(client: &mut Client, key: i64) -> Result<Option<Holder>, DbError> {
    // A bigint advisory key is stored as classid (high half) and objid (low
    // half) with objsubid 1.
    let hi = (key >> 32) as u32;
    let lo = key as u32;
    let row = client
        .query_opt(
            "SELECT a.pid, a.usename::text, a.application_name, a.client_addr::text,
                    to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ')
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
               AND l.classid::bigint = $1 AND l.objid::bigint = $2
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             LIMIT 1",
            &[&i64::from(hi), &i64::from(lo)],
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
