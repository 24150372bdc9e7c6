//! A connection to the target database with keel's run lock and history:
//! the steps every database command shares.

use crate::db::connect::{ConnectError, Target};
use crate::db::history::{self, AppliedVersion};
use crate::db::lock::{Holder, Lock, LockError};
use crate::db::server_parse::{self, ServerVerdict};
use crate::db::server_version::{self, ServerVersion};
use crate::db::DbError;
use crate::diagnostic::Diagnostic;
use crate::project::{Project, SqlText, Version};
use crate::sql::check::{CheckedFile, Parse};
use postgres::{Client, Transaction};
use std::ops::Range;
use std::time::Duration;

/// Why a session could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// An open connection.
pub struct Session {
    client: Client,
    pub target: Target,
    pub schema: String,
    /// Where the connection was dialled.
    endpoint: crate::db::connect::Endpoint,
    lock: Option<Lock>,
    /// The server's version, once something asked for it.
    server: Option<ServerVersion>,
    /// The history schema was ensured current under the lock: reads need not look its tables
    /// up first.
    history_current: bool,
    /// The interrupt that may cancel this session's statements, while it watches.
    watch: Option<crate::interrupt::Watch>,
}

impl super::Connection for Session {
    type Client = Client;
    fn client(&mut self, _: super::Inside) -> &mut Client {
        &mut self.client
    }
}

impl Session {
    /// Runs `f` in a transaction: commits when it returns `Ok`, rolls back
    /// when it returns `Err`.
    pub fn transaction<T, E: From<DbError>>(
        &mut self,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut tx = self
            .client
            .transaction()
            .map_err(|e| DbError::query("starting the transaction", &e))?;
        let value = f(&mut tx)?;
        tx.commit().map_err(|e| DbError::query("committing", &e))?;
        Ok(value)
    }

    /// Connects (no lock, nothing written).
    pub fn open(database_url: Option<&str>, schema: &str) -> Result<Session, SessionError> {
        let target = Target::resolve(database_url)?;
        let (client, endpoint) = target.connect_to()?;
        Ok(Session {
            client,
            endpoint,
            target,
            schema: schema.to_string(),
            lock: None,
            server: None,
            history_current: false,
            watch: None,
        })
    }

    /// Lets `interrupt` stop this session: cancel its running statement, and stop waiting for
    /// the run lock ([`crate::interrupt`]).
    pub fn watch(&mut self, interrupt: &crate::interrupt::Interrupt) {
        self.watch = Some(interrupt.watch(self.target.canceller(&self.client)));
    }

    /// The signal that stopped this session's run, if one did.
    pub fn interrupted(&self) -> Option<i32> {
        self.watch.as_ref().and_then(|w| w.signal())
    }

    /// Takes the run lock (polling) and makes sure the history schema is
    /// current. Returns who held the lock if we had to wait.
    pub fn lock(
        &mut self,
        timeout: Duration,
        on_wait: impl FnMut(&Holder),
    ) -> Result<&Lock, SessionError> {
        end_with_client(&mut self.client)?;
        let watch = &self.watch;
        let lock = Lock::acquire(
            &mut self.client,
            &self.schema,
            Some(&self.endpoint),
            timeout,
            on_wait,
            || watch.as_ref().and_then(|w| w.signal()),
        )?;
        // Unless the server's end of the connection is where keel dialled (no
        // proxy in between), a second connection must be kept out. If none
        // can be opened (a full server), the check in `acquire` is all there
        // is.
        let other = (!lock.direct).then(|| self.target.connect().ok()).flatten();
        if let Some(mut other) = other {
            let excluded =
                crate::db::lock::check_excludes(&mut other, crate::db::lock::key(&self.schema));
            drop(other);
            if let Err(e) = excluded {
                let _ = lock.release(&mut self.client);
                return Err(e.into());
            }
        }
        self.lock = Some(lock);
        history::ensure(&mut self.client, &self.schema)?;
        self.history_current = true;
        Ok(self.lock.as_ref().expect("just set"))
    }

    /// The connection alone, for a `db/` guard that keeps it (the lock, if
    /// any, goes with it).
    pub(super) fn into_client(self) -> Client {
        self.client
    }

    /// How long taking the lock took, and who held it meanwhile.
    pub fn lock_wait(&self) -> (Option<Duration>, Option<String>) {
        match &self.lock {
            Some(l) => (Some(l.waited), l.waited_for.as_ref().map(|h| h.to_string())),
            None => (None, None),
        }
    }

    /// Releases the run lock (also released when the connection closes).
    pub fn unlock(&mut self) -> Result<(), DbError> {
        // What was ensured under the lock is no longer ours to assume.
        self.history_current = false;
        match self.lock.take() {
            Some(l) => l.release(&mut self.client),
            None => Ok(()),
        }
    }

    /// The server's version: asked once per session, on first need, so that every decision
    /// that depends on it goes through here.
    pub fn server_version(&mut self) -> Result<ServerVersion, DbError> {
        if let Some(v) = self.server {
            return Ok(v);
        }
        let v = server_version::read(&mut self.client)?;
        self.server = Some(v);
        Ok(v)
    }

    /// The applied versions; empty when keel never ran here. Versions are
    /// written as the files on disk write them (`0003`, not `3`).
    pub fn applied(
        &mut self,
        with_sql: bool,
        project: &Project,
    ) -> Result<Vec<AppliedVersion>, DbError> {
        if !self.history_current && !history::exists(&mut self.client, &self.schema)? {
            return Ok(Vec::new());
        }
        let mut applied = history::applied(&mut self.client, &self.schema, with_sql)?;
        for a in &mut applied {
            a.version = as_on_disk(project, a.version);
        }
        Ok(applied)
    }

    /// Each applied version's checksums and dirty flag in one round trip
    /// ([`history::recorded`]), versions written as on disk; empty when keel never ran here.
    pub fn recorded(&mut self, project: &Project) -> Result<Vec<history::Recorded>, DbError> {
        let mut rows = history::recorded(&mut self.client, &self.schema)?.unwrap_or_default();
        for r in &mut rows {
            r.version = as_on_disk(project, r.version);
        }
        Ok(rows)
    }

    /// The digest of the applied versions and their checksums, from the summary row; `None`
    /// when this history has none (see [`history::checksum_digest`]).
    pub fn checksum_digest(&mut self) -> Result<Option<history::ChecksumDigest>, DbError> {
        history::checksum_digest(&mut self.client, &self.schema)
    }

    /// The one-row summary of the applied versions; `None` when keel never
    /// ran here.
    pub fn summary(&mut self) -> Result<Option<history::Summary>, DbError> {
        history::summary(&mut self.client, &self.schema, self.history_current)
    }

    /// Asks the server's parser about every statement sqlparser rejected in
    /// `checked` (paired with their files). Accepted statements lose their
    /// `unvalidated` warning; real syntax errors become errors. Returns how
    /// many statements the server validated.
    pub fn server_validate(
        &mut self,
        files: &[&SqlText],
        checked: &mut [CheckedFile],
    ) -> Result<usize, DbError> {
        let mut items: Vec<(&SqlText, Range<usize>)> = Vec::new();
        // Per item: its file, and the index of its `unvalidated` warning.
        let mut origin: Vec<(usize, Option<usize>)> = Vec::new();
        for (fi, (file, c)) in files.iter().zip(checked.iter()).enumerate() {
            for s in &c.statements {
                if let Parse::Rejected { .. } = &s.parse {
                    items.push((file, s.text.clone()));
                    origin.push((fi, s.unvalidated));
                }
            }
        }
        if items.is_empty() {
            return Ok(0);
        }
        let server = self.server_version()?;
        let verdicts = server_parse::check(&mut self.client, server, &items)?;
        let mut accepted = 0;
        // The warnings the verdicts settle, removed in one pass per file
        // (not one pass per verdict: a file may have thousands).
        let mut settled: Vec<Vec<bool>> = checked
            .iter()
            .map(|c| vec![false; c.diagnostics.len()])
            .collect();
        let mut found: Vec<Vec<Diagnostic>> = vec![Vec::new(); checked.len()];
        for ((fi, warning), verdict) in origin.into_iter().zip(verdicts) {
            match verdict {
                ServerVerdict::Accepted => accepted += 1,
                ServerVerdict::Rejected(diag) => found[fi].push(diag),
                ServerVerdict::Unchecked => continue,
            }
            if let Some(w) = warning {
                settled[fi][w] = true;
            }
        }
        for ((c, settled), found) in checked.iter_mut().zip(settled).zip(found) {
            let mut i = 0;
            c.diagnostics.retain(|_| {
                i += 1;
                !settled[i - 1]
            });
            c.diagnostics.extend(found);
        }
        Ok(accepted)
    }
}

/// Asks the server to end this session's statement when keel is gone.
///
/// A backend notices a closed connection only when it next reads from or writes to it: a keel
/// killed in the middle of a ten-minute `ALTER TABLE` (Ctrl-C, a CI runner's SIGTERM or
/// SIGKILL, the OOM killer) would leave the statement running to its end, holding the run lock
/// and its table locks, before the transaction rolls back. With `client_connection_check_interval`
/// (PostgreSQL 14 and later) the server checks the connection every second while a statement
/// runs, and cancels the statement when the connection is closed. A value already set (the
/// URL's `options`, the role's settings) is kept; PostgreSQL 13, which has no such setting, is
/// left as it is (`current_setting(.., true)` is NULL there, so `set_config` is never called).
fn end_with_client(client: &mut Client) -> Result<(), DbError> {
    client
        .batch_execute(
            "SELECT set_config('client_connection_check_interval', '1s', false) \
             WHERE current_setting('client_connection_check_interval', true) = '0'",
        )
        .map_err(|e| DbError::query("asking the server to end a run whose client is gone", &e))
}

/// A recorded version written as on disk (`0003`, not `3`); one with no file, at the width of
/// the project's versions.
fn as_on_disk(project: &Project, v: Version) -> Version {
    match project.find(&v) {
        Some(m) => m.version,
        None => Version::with_width(v.number(), project.version_width()),
    }
}
