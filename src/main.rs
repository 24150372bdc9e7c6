use clap::Parser;
use keel::cli::{self, Cli, Failure};
use std::process::ExitCode;

fn main() -> ExitCode {
    let (reporter, result) = cli::run(Cli::parse());
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
