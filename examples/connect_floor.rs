//! The floor of the W10 `fleet status` row: keel's own connection (`Session::open`, what a
//! status opens) to each database of a list, `PARALLEL` at a time, asking nothing. No status of
//! many databases can cost less on the same machine: each database is a new server backend, and
//! on a small machine the server shares the cores with the client.
//!
//! Usage: `connect_floor PARALLEL FILE`, with a connection URL per line of FILE.
#![allow(clippy::disallowed_macros)] // a benchmark program reports its failures

use std::sync::atomic::{AtomicUsize, Ordering};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(parallel), Some(file)) = (args.get(1).and_then(|p| p.parse().ok()), args.get(2))
    else {
        eprintln!("usage: connect_floor PARALLEL FILE");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let urls: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..parallel {
            s.spawn(|| {
                while let Some(url) = urls.get(next.fetch_add(1, Ordering::SeqCst)) {
                    if let Err(e) = keel::db::session::Session::open(Some(url), "keel") {
                        panic!("{url}: {e}");
                    }
                }
            });
        }
    });
}
