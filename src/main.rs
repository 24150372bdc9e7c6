use clap::Parser;
use keel::cli::{self, Cli, Failure};
use std::process::ExitCode;

fn main() -> ExitCode {
    // On a thread whose stack keel chooses: the SQL it reads may nest deeply
    // (see `keel::parallel::STACK_SIZE`).
    let cli = Cli::parse();
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
    }
}
