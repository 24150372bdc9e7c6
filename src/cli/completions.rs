//! `keel completions SHELL` and `keel man`: generated from the command-line
//! definition itself, so they never fall behind it.

use super::{Cli, Context, Failure};
use clap::CommandFactory;

/// The shells `keel completions` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

impl From<Shell> for clap_complete::Shell {
    fn from(s: Shell) -> Self {
        match s {
            Shell::Bash => clap_complete::Shell::Bash,
            Shell::Zsh => clap_complete::Shell::Zsh,
            Shell::Fish => clap_complete::Shell::Fish,
            Shell::Powershell => clap_complete::Shell::PowerShell,
        }
    }
}

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Install, for example:
  bash:        keel completions bash > ~/.local/share/bash-completion/completions/keel
  zsh:         keel completions zsh > ~/.zfunc/_keel   (with fpath+=~/.zfunc before compinit)
  fish:        keel completions fish > ~/.config/fish/completions/keel.fish
  powershell:  keel completions powershell >> $PROFILE")]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints the completion script for one shell.
pub fn completions(ctx: &Context, args: CompletionsArgs) -> Result<(), Failure> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(
        clap_complete::Shell::from(args.shell),
        &mut cmd,
        "keel",
        &mut out,
    );
    print(ctx, out, "the completion script")
}

/// Prints the man page (roff), e.g. `keel man > /usr/local/share/man/man1/keel.1`.
pub fn man(ctx: &Context) -> Result<(), Failure> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| Failure::failed(format!("cannot render the man page: {e}"), None))?;
    // The page opens with its title, as man pages do; clap_mangen puts the
    // definition of the apostrophe string first, which works anywhere
    // before its first use.
    let text = String::from_utf8_lossy(&out).into_owned();
    let mut lines: Vec<&str> = text.lines().collect();
    if let Some(i) = lines.iter().position(|l| l.starts_with(".TH ")) {
        let title = lines.remove(i);
        lines.insert(0, title);
    }
    print(ctx, (lines.join("\n") + "\n").into_bytes(), "the man page")
}

fn print(ctx: &Context, out: Vec<u8>, what: &str) -> Result<(), Failure> {
    let text = String::from_utf8(out)
        .map_err(|e| Failure::failed(format!("{what} is not UTF-8: {e}"), None))?;
    ctx.reporter.raw(&text);
    Ok(())
}
