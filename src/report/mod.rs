//! The only place that prints: human text (with colour when wanted), JSON,
//! and GitHub Actions annotations. The print macros are denied everywhere
//! else (clippy.toml).
#![allow(clippy::disallowed_macros)]

mod github;
pub mod json;
pub mod live;
mod printable;
pub mod spinner;
mod text;
pub mod warning;

use crate::diagnostic::Diagnostic;
use serde::Serialize;
use std::io::{IsTerminal, Write};

pub use text::render_diagnostic;

/// `text` (from a file, the server or another session) with its control characters escaped,
/// for a line that keel colours around it: the line's own escaping keeps colour sequences when
/// colour is on, so a name printed next to keel's colours is escaped first.
pub fn plain(text: &str) -> String {
    printable::printable(text, false).into_owned()
}

/// `1 migration`, `3 migrations`: a count with its noun (one that takes an `s`), so that no
/// message says `1 targets`.
pub fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// Where output goes and how it looks.
#[derive(Debug, Clone)]
pub struct Reporter {
    pub format: Format,
    pub color: bool,
    pub quiet: bool,
    /// Under `GITHUB_ACTIONS=true`, diagnostics also become `::error` lines.
    pub github: bool,
}

impl Reporter {
    /// Decides colour once: `always`/`never` win; `auto` means colour only
    /// when stderr is a terminal and `NO_COLOR` is unset (no-color.org).
    pub fn new(format: Format, color: ColorChoice, quiet: bool) -> Reporter {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => !no_color && std::io::stderr().is_terminal(),
        };
        colored::control::set_override(color);
        Reporter {
            format,
            color,
            quiet,
            github: std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
        }
    }

    pub fn json_output(&self) -> bool {
        self.format == Format::Json
    }

    /// Prints findings: rendered with source and caret on stderr in text
    /// mode; in JSON mode the caller includes them in its document.
    pub fn diagnostics(&self, diagnostics: &[Diagnostic]) {
        if self.github {
            // In JSON mode stdout carries one JSON document; the runner
            // reads workflow commands from stderr as well.
            let mut out: Box<dyn Write> = if self.format == Format::Json {
                Box::new(std::io::stderr().lock())
            } else {
                Box::new(std::io::stdout().lock())
            };
            for d in diagnostics {
                let _ = writeln!(out, "{}", github::annotation(d));
            }
        }
        if self.format == Format::Text {
            let mut err = std::io::stderr().lock();
            for d in diagnostics {
                if self.quiet && !d.is_error() {
                    continue;
                }
                // Its fields were escaped before keel coloured it.
                let text = render_diagnostic(d, self.color);
                let _ = writeln!(err, "{}", self.safe(&text, self.color));
            }
        }
    }

    /// An error that ends the command: `error: ...` and `hint: ...` on stderr
    /// (in JSON mode, an object on stdout as well so scripts see it).
    pub fn error(&self, message: &str, hint: Option<&str>) {
        if self.format == Format::Json {
            self.json(&json::Error {
                error: message,
                hint,
            });
        }
        let mut err = std::io::stderr().lock();
        // Its message and hint were escaped before keel coloured the labels.
        let text = text::error_line(message, hint, self.color);
        let _ = writeln!(err, "{}", self.safe(&text, self.color));
    }

    /// A line of the command's result on stdout (text mode only), every control character
    /// escaped.
    pub fn line(&self, line: impl AsRef<str>) {
        if self.format == Format::Text {
            let _ = writeln!(
                std::io::stdout().lock(),
                "{}",
                self.safe(line.as_ref(), false)
            );
        }
    }

    /// [`Reporter::line`] for a line keel coloured itself: colour sequences stay when colour is
    /// on, so every text in it from elsewhere must have gone through [`plain`] first.
    pub fn coloured_line(&self, line: impl AsRef<str>) {
        if self.format == Format::Text {
            let _ = writeln!(
                std::io::stdout().lock(),
                "{}",
                self.safe(line.as_ref(), self.color)
            );
        }
    }

    /// Progress and notes on stderr (text mode, not quiet), every control character escaped.
    pub fn note(&self, line: impl AsRef<str>) {
        if self.format == Format::Text && !self.quiet {
            let _ = writeln!(
                std::io::stderr().lock(),
                "{}",
                self.safe(line.as_ref(), false)
            );
        }
    }

    /// Something the user should know about while a command goes on (text mode, shown even
    /// with `--quiet`): `warning: ...` on stderr.
    pub fn warning(&self, line: impl AsRef<str>) {
        if self.format == Format::Text {
            let label = if self.color {
                use colored::Colorize;
                "warning".yellow().bold().to_string()
            } else {
                "warning".to_string()
            };
            let text = format!("{label}: {}", plain(line.as_ref()));
            let _ = writeln!(std::io::stderr().lock(), "{}", self.safe(&text, self.color));
        }
    }

    /// A JSON document (or JSON line) of [`json`] on stdout, with its keys
    /// sorted at every level: it goes through [`serde_json::Value`], whose
    /// maps are ordered, as keel's documents always have.
    pub fn json<T: Serialize>(&self, value: &T) {
        let mut out = std::io::stdout().lock();
        match serde_json::to_value(value).and_then(|v| serde_json::to_string(&v)) {
            Ok(s) => {
                let _ = writeln!(out, "{s}");
            }
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "error: cannot render JSON: {e}");
            }
        }
    }

    /// Raw text on stdout (e.g. `--sql`, `show`): on a terminal with its control characters
    /// escaped ([`printable`](printable::printable)); into a file or a pipe exactly as given,
    /// because there the SQL must stay the SQL (`upgrade --sql > plan.sql`).
    pub fn raw(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let text = if out.is_terminal() {
            printable::printable(text, false)
        } else {
            std::borrow::Cow::Borrowed(text)
        };
        let _ = out.write_all(text.as_bytes());
    }

    /// Text for the terminal or the log: control characters escaped (colour sequences kept
    /// with `keep_colour`, for text keel coloured after escaping what came from elsewhere) and,
    /// under GitHub Actions, no line read as a workflow command.
    fn safe<'t>(&self, text: &'t str, keep_colour: bool) -> std::borrow::Cow<'t, str> {
        let text = printable::printable(text, keep_colour);
        if !self.github {
            return text;
        }
        match printable::guard(&text) {
            std::borrow::Cow::Borrowed(_) => text,
            std::borrow::Cow::Owned(fenced) => std::borrow::Cow::Owned(fenced),
        }
    }
}
