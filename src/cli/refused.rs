//! A command line clap refused (an unknown option, a missing argument). Clap prints its own
//! error and exits with status 2; when the command line asks for `--format json`, the `error`
//! document comes first on stdout, as for every other exit status 2: a caller reading JSON gets
//! one instead of an empty stdout.

use crate::report::{json, ColorChoice, Format, Reporter};
use std::ffi::OsString;

/// Reports `e` and ends the process.
pub fn exit(e: clap::Error, args: &[OsString]) -> ! {
    use clap::error::ErrorKind;
    let shown = matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if !shown && asks_for_json(args) {
        let text = e.render().to_string();
        let (error, hint) = error_and_hint(&text);
        Reporter::new(Format::Json, ColorChoice::Never, false).json(&json::Error {
            error: &error,
            hint: hint.as_deref(),
        });
    }
    e.exit()
}

/// True when `args` hold `--format json` (or `--format=json`) before a `--`.
fn asks_for_json(args: &[OsString]) -> bool {
    let mut words = args.iter().map(|a| a.to_str().unwrap_or(""));
    while let Some(w) = words.next() {
        match w {
            "--" => return false,
            "--format=json" => return true,
            "--format" if words.next() == Some("json") => return true,
            _ => {}
        }
    }
    false
}

/// Clap's plain text (`error: ...`, then perhaps `  tip: ...`, then `Usage: ...`) as the
/// error document's two fields: the first line, and the tips or else the usage.
fn error_and_hint(text: &str) -> (String, Option<String>) {
    let mut lines = text.lines().map(str::trim);
    let error = lines
        .next()
        .unwrap_or_default()
        .trim_start_matches("error:")
        .trim()
        .to_string();
    let rest: Vec<&str> = lines.collect();
    let tips: Vec<&str> = rest
        .iter()
        .filter_map(|l| l.strip_prefix("tip:").map(str::trim))
        .collect();
    let hint = if tips.is_empty() {
        rest.iter()
            .find_map(|l| l.strip_prefix("Usage:"))
            .map(|u| format!("usage: {}; `--help` says more", u.trim()))
    } else {
        Some(tips.join("; "))
    };
    (error, hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn json_is_asked_for_in_either_spelling_and_not_after_a_double_dash() {
        assert!(asks_for_json(&args(&[
            "keel", "upgrade", "--format", "json"
        ])));
        assert!(asks_for_json(&args(&["keel", "--format=json", "status"])));
        assert!(!asks_for_json(&args(&["keel", "--format", "text", "json"])));
        assert!(!asks_for_json(&args(&[
            "keel",
            "revision",
            "--",
            "--format=json"
        ])));
    }

    #[test]
    fn the_first_line_is_the_error_and_the_tip_or_usage_the_hint() {
        let text = "error: unexpected argument '--bogus' found\n\n  tip: to pass '--bogus' as a value, use '-- --bogus'\n\nUsage: keel upgrade [OPTIONS] [TARGET]\n\nFor more information, try '--help'.\n";
        assert_eq!(
            error_and_hint(text),
            (
                "unexpected argument '--bogus' found".to_string(),
                Some("to pass '--bogus' as a value, use '-- --bogus'".to_string())
            )
        );
        let text = "error: the following required arguments were not provided:\n  <VERSION>\n\nUsage: keel repair <VERSION>\n";
        assert_eq!(
            error_and_hint(text).1.as_deref(),
            Some("usage: keel repair <VERSION>; `--help` says more")
        );
    }
}
