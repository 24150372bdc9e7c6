//! Order-preserving parallel map over independent items (files, statements),
//! on every core. Items are handed out in small chunks, so one large item
//! does not leave the other cores idle behind it, and each result is written
//! straight into its place: the results are held once, not once per thread
//! and again in order (10,000 migrations felt it).

use std::sync::{Mutex, PoisonError};

/// The stack of every thread keel starts to read SQL, and of the thread
/// `main` runs on. A statement's tree may be [`crate::sql::parse::MAX_DEPTH`]
/// levels deep, and dropping, visiting or printing it recurses once per
/// level (a few hundred bytes each, more in a debug build); sqlparser's own
/// recursion adds to it. Only the pages a thread touches are ever resident,
/// so a large reservation costs nothing for ordinary SQL.
pub const STACK_SIZE: usize = 256 * 1024 * 1024;

/// `items.iter().map(f).collect()`, computed on all cores when there is
/// enough work to be worth a thread.
pub fn map<T: Sync, R: Send>(
    items: &[T],
    min_per_thread: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    map_owned(items.iter().collect(), min_per_thread, f)
}

/// `items.into_iter().map(f).collect()`, computed on all cores when there
/// is enough work to be worth a thread. Each item is moved into `f`, so what
/// it owns can move into the result instead of being copied.
pub fn map_owned<T: Send, R: Send>(
    items: Vec<T>,
    min_per_thread: usize,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    if threads_for(items.len(), min_per_thread) <= 1 {
        return items.into_iter().map(f).collect();
    }
    let mut inputs: Vec<Option<T>> = items.into_iter().map(Some).collect();
    map_mut(&mut inputs, min_per_thread, |item| {
        f(item.take().expect("every item is mapped once"))
    })
}

/// `items.iter_mut().map(f).collect()`, computed on all cores when there is
/// enough work to be worth a thread: `f` may fill each item in place.
pub fn map_mut<T: Send, R: Send>(
    items: &mut [T],
    min_per_thread: usize,
    f: impl Fn(&mut T) -> R + Sync,
) -> Vec<R> {
    let threads = threads_for(items.len(), min_per_thread);
    if threads <= 1 {
        return items.iter_mut().map(f).collect();
    }
    // Eight chunks per thread at least: enough to balance uneven items.
    let chunk = (items.len() / (threads * 8)).clamp(1, 64);
    let mut slots: Vec<Option<R>> = Vec::with_capacity(items.len());
    slots.resize_with(items.len(), || None);
    let work = Mutex::new(slots.chunks_mut(chunk).zip(items.chunks_mut(chunk)));
    std::thread::scope(|s| {
        for _ in 0..threads {
            std::thread::Builder::new()
                .stack_size(STACK_SIZE)
                .spawn_scoped(s, || loop {
                    let next = work.lock().unwrap_or_else(PoisonError::into_inner).next();
                    let Some((out, ins)) = next else { break };
                    for (slot, item) in out.iter_mut().zip(ins) {
                        *slot = Some(f(item));
                    }
                })
                .expect("cannot start a thread");
        }
    });
    slots
        .into_iter()
        .map(|r| r.expect("every item was mapped"))
        .collect()
}

fn threads_for(items: usize, min_per_thread: usize) -> usize {
    let wanted = items / min_per_thread.max(1);
    if wanted <= 1 {
        1
    } else {
        cores().min(wanted)
    }
}

/// Runs `f` on a new thread with a [`STACK_SIZE`] stack and returns its
/// result: for `main`, whose own stack is whatever `ulimit -s` says.
pub fn with_large_stack<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| {
        let thread = std::thread::Builder::new()
            .stack_size(STACK_SIZE)
            .spawn_scoped(s, f)
            .expect("cannot start a thread");
        match thread.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// The number of cores, asked once: on Linux the answer reads cgroup files,
/// too slow to repeat for every file of a project.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order() {
        let items: Vec<u32> = (0..1000).collect();
        let out = super::map(&items, 1, |x| x * 2);
        assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        assert!(super::map(&[] as &[u32], 1, |x| *x).is_empty());
    }
}
