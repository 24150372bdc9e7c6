//! The command line: a file per command or family of commands (`upgrade.rs`
//! holds `upgrade` and `downgrade`, `status.rs` holds `current` and
//! `history`), each turning its arguments into calls of the library, and
//! `shared.rs` for what they share. `main.rs` only parses and maps the outcome to an
//! exit status.

mod adopt;
mod check;
mod completions;
mod dev_db;
mod fleet;
mod import;
mod init;
mod inspect;
mod lint;
mod policies;
pub mod refused;
mod repair;
mod revision;
mod seal;
pub mod shared;
mod signals;
pub mod stamp;
mod status;
pub mod upgrade;
mod verify;

use crate::config::{Config, ConfigError, Overrides};
use crate::report::{ColorChoice, Format, Reporter};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// `0.1.0 (commit 1a2b3c4d5e6f)` when built from a git checkout (build.rs).
const VERSION: &str = env!("KEEL_VERSION_TEXT");

/// keel: PostgreSQL migrations in pure SQL.
#[derive(Debug, Parser)]
#[command(name = "keel", version = VERSION, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Migrations folder [default: sql, or `dir` in keel.toml, or $KEEL_DIR]
    #[arg(long, global = true, value_name = "PATH")]
    pub dir: Option<PathBuf>,
    /// Database URL [default: $DATABASE_URL, then the libpq PG* variables, then this folder's keel dev-db]
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// When to use colour (NO_COLOR and non-terminal output turn it off under auto)
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Output format
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Print only errors
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the migrations folders and a commented keel.toml (never overwrites)
    Init(init::InitArgs),
    /// Create a new up/down pair with the next version, sealed
    Revision(revision::RevisionArgs),
    /// Turn another tool's migrations into sealed pairs (sqlx, dbmate, flyway, ...)
    Import(import::ImportArgs),
    /// Record what another tool applied (its history table) as applied, running nothing
    Adopt(adopt::AdoptArgs),
    /// Rewrite the checksum of files whose body changed
    Seal(seal::SealArgs),
    /// Validate every file: headers, checksums, statements
    Check(check::CheckArgs),
    /// Show the newest version on disk
    Heads,
    /// Show one migration with its SQL
    Show(inspect::ShowArgs),
    /// Apply migrations up to TARGET (default: head)
    Upgrade(upgrade::UpgradeArgs),
    /// Revert migrations down to TARGET (-1, -N, a version, base)
    Downgrade(upgrade::DowngradeArgs),
    /// The database's version, and whether it is at head
    Current,
    /// Every version, applied or pending
    History(status::HistoryArgs),
    /// Record TARGET as applied without running SQL (adopt an existing database)
    Stamp(stamp::StampArgs),
    /// Accept the current files of an applied version, or clear a dirty mark
    Repair(repair::RepairArgs),
    /// Prove every migration reversible on a scratch database
    Verify(verify::VerifyArgs),
    /// The Row Level Security stage: apply, status, lint, test
    #[command(subcommand)]
    Policies(policies::PoliciesCommand),
    /// A local PostgreSQL for development, under .keel/
    #[command(subcommand, name = "dev-db")]
    DevDb(dev_db::DevDbCommand),
    /// One plan on many databases: status, check, upgrade, downgrade, policies apply
    Fleet(fleet::FleetArgs),
    /// Print a shell completion script: bash, zsh, fish, powershell
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff)
    Man,
}

/// Why a command did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// Bad arguments or configuration: exit status 2.
    Usage {
        message: String,
        hint: Option<String>,
    },
    /// The work failed: exit status 1.
    Failed {
        message: String,
        hint: Option<String>,
    },
    /// The problems were already reported (e.g. `check` diagnostics): exit 1.
    Reported,
    /// A signal stopped the run: exit status 128 + its number.
    Interrupted { message: String, signal: i32 },
}

impl Failure {
    pub fn usage(message: impl Into<String>, hint: impl Into<Option<String>>) -> Failure {
        Failure::Usage {
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn failed(message: impl Into<String>, hint: impl Into<Option<String>>) -> Failure {
        Failure::Failed {
            message: message.into(),
            hint: hint.into(),
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::usage(
            e.to_string(),
            Some("see the Configuration section of the README".to_string()),
        )
    }
}

impl From<crate::project::ProjectError> for Failure {
    fn from(e: crate::project::ProjectError) -> Self {
        let hint = e.hint().to_string();
        Failure::usage(e.to_string(), Some(hint))
    }
}

/// What every command gets: settings and the reporter.
pub struct Context {
    pub config: Config,
    pub reporter: Reporter,
    pub database_url: Option<String>,
}

/// Runs the parsed command line; the exit status follows from the result.
pub fn run(cli: Cli) -> (Reporter, Result<(), Failure>) {
    let reporter = Reporter::new(cli.global.format, cli.global.color, cli.global.quiet);
    let overrides = Overrides {
        dir: cli.global.dir.clone(),
        ..Overrides::default()
    };
    // `init`, `completions` and `man` do not depend on the settings, and
    // `init` must be able to say what is wrong with an existing keel.toml.
    let needs_config = !matches!(
        cli.command,
        Command::Init(_) | Command::Completions(_) | Command::Man
    );
    let config = match Config::load(std::path::Path::new("."), &overrides) {
        Ok(c) => c,
        Err(e) if needs_config => return (reporter, Err(e.into())),
        Err(_) => Config {
            dir: overrides
                .dir
                .clone()
                .unwrap_or_else(|| Config::default().dir),
            ..Config::default()
        },
    };
    let ctx = Context {
        config,
        reporter: reporter.clone(),
        database_url: cli.global.database_url.clone(),
    };
    let result = match cli.command {
        Command::Init(a) => init::run(&ctx, a),
        Command::Revision(a) => revision::run(&ctx, a),
        Command::Import(a) => import::run(&ctx, a),
        Command::Adopt(a) => adopt::run(&ctx, a),
        Command::Seal(a) => seal::run(&ctx, a),
        Command::Check(a) => check::run(&ctx, a),
        Command::Heads => inspect::heads(&ctx),
        Command::Show(a) => inspect::show(&ctx, a),
        Command::Upgrade(a) => upgrade::upgrade(&ctx, a),
        Command::Downgrade(a) => upgrade::downgrade(&ctx, a),
        Command::Current => status::current(&ctx),
        Command::History(a) => status::history(&ctx, a),
        Command::Stamp(a) => stamp::stamp(&ctx, a),
        Command::Repair(a) => repair::run(&ctx, a),
        Command::DevDb(c) => dev_db::run(&ctx, c),
        Command::Fleet(a) => fleet::run(&ctx, a),
        Command::Completions(a) => completions::completions(&ctx, a),
        Command::Man => completions::man(&ctx),
        Command::Policies(c) => policies::run(&ctx, c),
        Command::Verify(a) => verify::run(&ctx, a),
    };
    // A statement of keel's own cancelled by Ctrl-C fails like any other: the exit status still
    // says that a signal stopped the command.
    let result = match (result, signals::received()) {
        (Err(Failure::Failed { message, .. }), Some(signal)) => {
            Err(Failure::Interrupted { message, signal })
        }
        (result, _) => result,
    };
    (reporter, result)
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
