//! Stopping runs from outside: Ctrl-C, a CI runner's or an orchestrator's SIGTERM, or a caller
//! of the library that gives up.
//!
//! Killing keel is not enough: a backend keeps executing its statement until it next talks to
//! its client, holding the run lock and the migration's table locks meanwhile. An [`Interrupt`]
//! does what psql does on Ctrl-C: [`Interrupt::trigger`] marks the runs as stopped and asks the
//! server to cancel the statement each watched session is running (PostgreSQL's cancel request,
//! on a connection of its own). The statement fails at once, the run rolls back what it had not
//! committed and says where the database is; a run between two statements stops before the next
//! one, and one waiting for the run lock stops waiting.

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Cancels the statement running on one session (a no-op when none runs).
pub type Cancel = Box<dyn Fn() + Send + Sync>;

/// A stop request shared by the runs it watches. Cloning it shares it.
#[derive(Clone, Default)]
pub struct Interrupt(Arc<Shared>);

#[derive(Default)]
struct Shared {
    /// The signal number that stopped the runs (a caller without one uses
    /// [`Interrupt::BY_CALLER`]); 0 while nothing did.
    signal: AtomicI32,
    next: AtomicU64,
    watched: Mutex<Vec<(u64, Cancel)>>,
}

impl std::fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interrupt")
            .field("signal", &self.signal())
            .finish_non_exhaustive()
    }
}

impl Interrupt {
    /// What [`Interrupt::signal`] says when a caller, not a signal, stopped the runs.
    pub const BY_CALLER: i32 = -1;

    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Stops every watched run: no new statement starts, and the running ones are cancelled.
    /// `signal` is the signal's number, or [`Interrupt::BY_CALLER`]. Returns how many sessions
    /// were watched: with none, nothing is running that could be left behind.
    ///
    /// It talks to the servers, so it must not run in a signal handler: call it from an ordinary
    /// thread (signal-hook's iterator hands signals to one).
    pub fn trigger(&self, signal: i32) -> usize {
        // First the flag, then the cancel: a statement that starts after the cancel went out
        // sees the flag and does not run.
        let _ = self
            .0
            .signal
            .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
        let watched = self.watched();
        for (_, cancel) in watched.iter() {
            cancel();
        }
        watched.len()
    }

    /// The signal that stopped the runs, if one did.
    pub fn signal(&self) -> Option<i32> {
        match self.0.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// Watches a session until the returned [`Watch`] is dropped: [`Interrupt::trigger`] calls
    /// `cancel` meanwhile.
    pub fn watch(&self, cancel: Cancel) -> Watch {
        let id = self.0.next.fetch_add(1, Ordering::Relaxed);
        self.watched().push((id, cancel));
        Watch {
            interrupt: self.clone(),
            id,
        }
    }

    fn watched(&self) -> MutexGuard<'_, Vec<(u64, Cancel)>> {
        // A cancel that panicked cannot leave the list half-changed: keep using it.
        self.0.watched.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A session being watched by an [`Interrupt`]; dropping it stops the watch.
pub struct Watch {
    interrupt: Interrupt,
    id: u64,
}

impl Watch {
    /// The signal that stopped the runs, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.interrupt.signal()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.interrupt.watched().retain(|(id, _)| *id != self.id);
    }
}

/// `SIGINT`, `SIGTERM`, or the number; "the caller" for [`Interrupt::BY_CALLER`].
pub fn signal_name(signal: i32) -> String {
    match signal {
        Interrupt::BY_CALLER => "the caller".into(),
        2 => "SIGINT".into(),
        15 => "SIGTERM".into(),
        1 => "SIGHUP".into(),
        n => format!("signal {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn trigger_cancels_each_watched_session_once_and_keeps_the_first_signal() {
        let i = Interrupt::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = |c: &Arc<AtomicUsize>| -> Cancel {
            let c = Arc::clone(c);
            Box::new(move || {
                c.fetch_add(1, Ordering::SeqCst);
            })
        };
        let a = i.watch(counter(&calls));
        let b = i.watch(counter(&calls));
        assert_eq!(i.signal(), None);
        assert_eq!(i.trigger(2), 2);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        drop(a);
        assert_eq!(i.trigger(15), 1, "a dropped watch is not cancelled");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(b.signal(), Some(2), "the first signal is the one reported");
        drop(b);
        assert_eq!(i.trigger(2), 0);
    }
}
