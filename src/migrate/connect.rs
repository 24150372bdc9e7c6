//! Opening the session a run works in, and taking the run lock.

use super::{Error, Event, Sink};
use crate::config::Config;
use crate::interrupt::Interrupt;
use crate::session::{Session, SessionError};
use std::time::Duration;

/// Opens a session; configuration problems are usage errors.
pub fn open(
    config: &Config,
    database_url: Option<&str>,
    sink: &mut dyn Sink,
) -> Result<Session, Error> {
    let session = Session::open(database_url, &config.history_schema)?;
    note_dev_db(&session, sink);
    Ok(session)
}

/// Opens a session when a database is configured; `None` when none is (a
/// malformed URL is still an error).
pub fn open_optional(
    config: &Config,
    database_url: Option<&str>,
    sink: &mut dyn Sink,
) -> Result<Option<Session>, Error> {
    match Session::open(database_url, &config.history_schema) {
        Ok(s) => {
            note_dev_db(&s, sink);
            Ok(Some(s))
        }
        Err(SessionError::Connect(crate::db::connect::ConnectError::NotConfigured)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Opens a session and takes the run lock, telling the sink who holds it
/// while waiting. `lock_timeout` overrides the configured one.
pub fn locked(
    config: &Config,
    database_url: Option<&str>,
    lock_timeout: Option<Duration>,
    interrupt: Option<&Interrupt>,
    sink: &mut dyn Sink,
) -> Result<Session, Error> {
    let mut session = open(config, database_url, sink)?;
    if let Some(i) = interrupt {
        session.watch(i);
    }
    let timeout = lock_timeout.unwrap_or(config.lock_timeout);
    session.lock(timeout, |holder| sink.event(Event::WaitingForLock(holder)))?;
    Ok(session)
}

fn note_dev_db(session: &Session, sink: &mut dyn Sink) {
    if session.target.source == crate::db::connect::Source::DevDb {
        sink.event(Event::UsingDevDb);
    }
}

/// The database a command works on, under the run lock: the project's
/// settings, the URL (`None`: the `PG*` variables or the dev database), a
/// lock timeout overriding the configured one, and what may stop the run from outside.
#[derive(Debug, Clone)]
pub struct Database {
    pub config: Config,
    pub database_url: Option<String>,
    pub lock_timeout: Option<Duration>,
    /// Triggering it cancels the run's statement and rolls back what is not committed
    /// ([`crate::interrupt`]); `None`: only ending the process stops the run.
    pub interrupt: Option<Interrupt>,
}

impl Database {
    /// [`locked`] on this database.
    pub fn locked(&self, sink: &mut dyn Sink) -> Result<Session, Error> {
        locked(
            &self.config,
            self.database_url.as_deref(),
            self.lock_timeout,
            self.interrupt.as_ref(),
            sink,
        )
    }
}
