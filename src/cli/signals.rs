//! Ctrl-C and SIGTERM during a command that takes the run lock (`upgrade`, `downgrade`,
//! `stamp`, `repair`, `policies apply`, `adopt`): the first signal cancels the statement the
//! server is running and lets the run roll back and say where the database is
//! ([`crate::interrupt`]); keel then exits with 128 + the signal's number, the shell's
//! convention. Before any session is open there is nothing to roll back, and keel exits at
//! once. A second signal ends keel at once, whatever it is doing.

use crate::interrupt::Interrupt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

static STOP: OnceLock<Option<Interrupt>> = OnceLock::new();

/// The process's interrupt, its signal handlers installed on first use; `None` when they
/// could not be (the default action, ending keel, then stays).
pub fn interrupt() -> Option<Interrupt> {
    STOP.get_or_init(install).clone()
}

/// The signal that stopped this command's run, if one did.
pub fn received() -> Option<i32> {
    STOP.get()?.as_ref()?.signal()
}

fn install() -> Option<Interrupt> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let interrupt = Interrupt::new();
    let armed = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        // Registered first, so that it sees `armed` before the iterator's handler runs
        // (signal-hook runs actions in registration order): only a second signal exits here.
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&armed))
            .ok()?;
    }
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).ok()?;
    let stop = interrupt.clone();
    std::thread::Builder::new()
        .name("keel-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                armed.store(true, Ordering::SeqCst);
                // The cancel request is sent from this ordinary thread, not the handler.
                if stop.trigger(sig) == 0 {
                    std::process::exit(128 + sig);
                }
            }
        })
        .ok()?;
    Some(interrupt)
}
