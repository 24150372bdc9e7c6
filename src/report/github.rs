//! GitHub Actions workflow commands, so findings show up on the pull request.

use crate::diagnostic::{Diagnostic, Severity};

/// `::error file=...,line=...,col=...,title=...::message`
pub fn annotation(d: &Diagnostic) -> String {
    let level = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "notice",
    };
    let mut props = Vec::new();
    if let Some(p) = &d.path {
        props.push(format!(
            "file={}",
            escape_property(&p.display().to_string())
        ));
    }
    if let Some(l) = d.line {
        props.push(format!("line={l}"));
    }
    if let Some(c) = d.column {
        props.push(format!("col={c}"));
    }
    props.push(format!("title=keel {}", d.code));
    let mut message = d.message.clone();
    if let Some(h) = &d.hint {
        message.push_str("\nhint: ");
        message.push_str(h);
    }
    format!("::{level} {}::{}", props.join(","), escape_data(&message))
}

// Workflow-command escaping as GitHub's toolkit does it, after keel's own escaping of control
// characters (the message may come from a hostile file or server).
fn escape_data(s: &str) -> String {
    super::printable::printable(s, false)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::codes;
    use std::path::Path;

    #[test]
    fn renders_annotation() {
        let mut d = Diagnostic::error(codes::CHECKSUM_MISMATCH, "checksum mismatch")
            .with_path(Path::new("sql/up/0001_a.sql"))
            .with_hint("run keel seal");
        d.line = Some(1);
        d.column = Some(1);
        assert_eq!(
            annotation(&d),
            "::error file=sql/up/0001_a.sql,line=1,col=1,title=keel checksum-mismatch::checksum mismatch%0Ahint: run keel seal"
        );
    }
}
