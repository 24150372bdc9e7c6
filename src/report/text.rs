//! Human-readable diagnostics: `error[code]: message`, the file position,
//! the source line with a caret, and a hint.

use super::printable::printable;
use crate::diagnostic::{Diagnostic, Severity};
use annotate_snippets::{Level, Renderer, Snippet};
use colored::Colorize;

/// Renders one diagnostic (no trailing newline).
pub fn render_diagnostic(d: &Diagnostic, color: bool) -> String {
    let level = match d.severity {
        Severity::Error => Level::Error,
        Severity::Warning => Level::Warning,
        Severity::Note => Level::Note,
    };
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    // Every text here may come from a hostile file or server: its control characters are
    // escaped before keel adds its own colours.
    let plain = |s: &str| printable(s, false).into_owned();
    let location = d.location().map(|l| plain(&l));
    let title = match (&d.snippet, &location) {
        // Without a source line to show, the path goes into the title.
        (None, Some(loc)) => format!("{loc}: {}", plain(&d.message)),
        _ => plain(&d.message),
    };
    let path = d
        .path
        .as_ref()
        .map(|p| plain(&p.display().to_string()))
        .unwrap_or_default();
    let mut message = level.title(&title).id(d.code.as_str());
    // A window cut out of a long line: annotate-snippets would count the
    // column in the window, so the location line is written here instead.
    let own_origin = match (&d.snippet, &location) {
        (Some(s), Some(loc)) if s.cut => Some(loc.clone()),
        _ => None,
    };
    let shown = d.snippet.as_ref().map(|s| {
        // The caret moves with the escapes before and inside it.
        let (text, span) = (&s.line_text, s.span.clone());
        let start = plain(text.get(..span.start).unwrap_or(text)).len();
        let end = start + plain(text.get(span.clone()).unwrap_or_default()).len();
        (plain(text), start..end)
    });
    if let (Some((text, span)), Some(line)) = (&shown, d.line) {
        let mut source = Snippet::source(text)
            .line_start(line)
            .fold(false)
            .annotation(level.span(span.clone()));
        if own_origin.is_none() {
            source = source.origin(&path);
        }
        message = message.snippet(source);
    }
    let notes: Vec<String> = d.notes.iter().map(|n| plain(n)).collect();
    for note in &notes {
        message = message.footer(Level::Note.title(note));
    }
    let hint = plain(d.hint.as_deref().unwrap_or_default());
    if !hint.is_empty() {
        message = message.footer(Level::Help.title(&hint));
    }
    let mut out = renderer.render(message).to_string();
    if let (Some(loc), Some(line)) = (own_origin, d.line) {
        // As annotate-snippets writes it: `-->` after a gutter as wide as
        // the line number, on the line after the title.
        let arrow = if color {
            "-->".bright_blue().bold().to_string()
        } else {
            "-->".to_string()
        };
        let gutter = " ".repeat(line.to_string().len());
        let at = out.find('\n').map_or(out.len(), |i| i + 1);
        out.insert_str(at, &format!("{gutter}{arrow} {loc}\n"));
    }
    out
}

/// `error: message` and `hint: ...` for errors that end a command.
pub fn error_line(message: &str, hint: Option<&str>, color: bool) -> String {
    let label = if color {
        "error".red().bold().to_string()
    } else {
        "error".to_string()
    };
    let mut out = format!("{label}: {}", printable(message, false));
    if let Some(h) = hint.map(|h| printable(h, false)) {
        let label = if color {
            "hint".cyan().bold().to_string()
        } else {
            "hint".to_string()
        };
        out.push_str(&format!("\n{label}: {h}"));
    }
    out
}
