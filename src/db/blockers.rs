//! Who kept a migration waiting ([`Blocker`]): read after a statement gave up on a lock, so
//! the message can name the session to look at instead of only saying "lock timeout".
//!
//! The wait is over by the time keel asks (the statement was cancelled), so
//! `pg_blocking_pids` no longer knows. What is still there is the blocker itself: a session
//! holding a lock on a table the statement names ([`crate::sql::relations`]). When the
//! statement names none keel can read, the sessions whose transaction is older than the wait
//! and that hold any table lock in this database are the candidates.

use super::{Connection, DbError, Inside};
use postgres::GenericClient;
use std::fmt;
use std::time::Duration;

/// A session that held a lock a migration waited for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    pub pid: i32,
    pub user: String,
    pub application: String,
    /// `pg_stat_activity.state`: `active`, `idle in transaction`, ...
    pub state: String,
    /// When its transaction (or, outside one, its connection) started, `YYYY-MM-DD HH:MM:SS`.
    pub since: String,
    /// The tables it holds locks on, with the strongest mode, `public.items (AccessShareLock)`.
    pub holding: String,
    /// The first 200 characters of its current or last query.
    pub query: String,
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {} (user {}", self.pid, self.user)?;
        if !self.application.is_empty() {
            write!(f, ", application {}", self.application)?;
        }
        write!(f, ", {} since {}", self.state, self.since)?;
        if !self.holding.is_empty() {
            write!(f, ", holding {}", self.holding)?;
        }
        let query: String = self.query.split_whitespace().collect::<Vec<_>>().join(" ");
        write!(f, "): {query}")
    }
}

/// The sessions holding locks on `relations` (as a statement names them), or with none given
/// or none found, those whose transaction began more than `waited` ago holding any table lock.
pub fn blockers<C: Connection>(
    conn: &mut C,
    relations: &[String],
    waited: Duration,
) -> Result<Vec<Blocker>, DbError> {
    let client = conn.client(Inside(()));
    // Names that no longer resolve (a table the statement was creating) are skipped.
    let sql = "
        SELECT a.pid, coalesce(a.usename::text, ''), coalesce(a.application_name, ''),
               coalesce(a.state, ''),
               to_char(coalesce(a.xact_start, a.backend_start), 'YYYY-MM-DD HH24:MI:SS'),
               string_agg(DISTINCT l.relation::regclass::text || ' (' || l.mode || ')', ', '),
               left(coalesce(a.query, ''), 200)
          FROM pg_locks l
          JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.granted
           AND l.locktype = 'relation'
           AND l.pid <> pg_backend_pid()
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND CASE WHEN $1::text[] = '{}' THEN
                     a.xact_start < clock_timestamp() - make_interval(secs => $2)
                    ELSE l.relation IN (SELECT to_regclass(r) FROM unnest($1::text[]) r) END
         GROUP BY a.pid, a.usename, a.application_name, a.state, a.xact_start, a.backend_start,
                  a.query
         ORDER BY coalesce(a.xact_start, a.backend_start), a.pid
         LIMIT 5";
    let secs = waited.as_secs_f64();
    let read = |client: &mut C::Client, names: &[String]| {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        client
            .query(sql, &[&names, &secs])
            .map_err(|e| DbError::query("finding the session that held the lock", &e))
    };
    let mut rows = read(client, relations)?;
    if rows.is_empty() && !relations.is_empty() {
        rows = read(client, &[])?;
    }
    Ok(rows
        .iter()
        .map(|r| Blocker {
            pid: r.get(0),
            user: r.get(1),
            application: r.get(2),
            state: r.get(3),
            since: r.get(4),
            holding: r.get::<_, Option<String>>(5).unwrap_or_default(),
            query: r.get(6),
        })
        .collect())
}

/// Whether a failed statement may succeed if its transaction is run again: it waited too long
/// for a lock (`55P03`, `lock_timeout`) or was chosen to break a deadlock (`40P01`).
pub fn is_lock_failure(sqlstate: &str) -> bool {
    matches!(sqlstate, "55P03" | "40P01")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocker_reads_as_one_line() {
        let b = Blocker {
            pid: 42,
            user: "app".into(),
            application: "psql".into(),
            state: "idle in transaction".into(),
            since: "2026-12-03 12:00:01".into(),
            holding: "items (AccessShareLock)".into(),
            query: "SELECT *\n  FROM items".into(),
        };
        assert_eq!(
            b.to_string(),
            "pid 42 (user app, application psql, idle in transaction since 2026-12-03 12:00:01, holding items (AccessShareLock)): SELECT * FROM items"
        );
        assert!(is_lock_failure("55P03") && is_lock_failure("40P01"));
        assert!(!is_lock_failure("42P01"));
    }
}
