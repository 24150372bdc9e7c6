use clap::Parser;
use keel::cli::{self, Cli, Failure};
use std::process::ExitCode;

fn main() -> ExitCode {
    return_large_blocks_to_the_system();
    // On a thread whose stack keel chooses: the SQL it reads may nest deeply
    // (see `keel::parallel::STACK_SIZE`).
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = Cli::try_parse_from(&args).unwrap_or_else(|e| cli::refused::exit(e, &args));
    let (reporter, result) = keel::parallel::with_large_stack(|| cli::run(cli));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Reported) => ExitCode::from(1),
        Err(Failure::Failed { message, hint }) => {
            reporter.error(&message, hint.as_deref());
            ExitCode::from(1)
        }
        Err(Failure::Usage { message, hint }) => {
            reporter.error(&message, hint.as_deref());
            ExitCode::from(2)
        }
        Err(Failure::Interrupted { message, signal }) => {
            reporter.error(&message, None);
            // 128 + the signal's number, as a shell reports a process a signal ended.
            ExitCode::from(u8::try_from(128 + signal).unwrap_or(1))
        }
    }
}

/// glibc serves blocks of 128 KiB and more with their own mapping, returned
/// to the system when freed, but raises that threshold to the largest block
/// freed so far: after the first large list is dropped, later ones come from
/// the heap and stay resident once freed. Fixing the threshold keeps a run's
/// peak memory what it holds at once, so that it stays flat in the number of
/// migrations (the benchmark's W5).
fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called first in
    // main, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
