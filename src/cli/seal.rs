//! `keel seal [VERSION...]`: rewrite the checksum line of edited files.

use super::{Context, Failure};
use crate::header;
use crate::project::{Seal, SqlText, Version};
use crate::report::json;

#[derive(Debug, clap::Args)]
pub struct SealArgs {
    /// Versions to seal [default: every file whose body changed]
    pub versions: Vec<String>,
}

pub fn run(ctx: &Context, args: SealArgs) -> Result<(), Failure> {
    let loaded = crate::project::load(&ctx.config.dir)?;
    let project = &loaded.project;
    let texts = loaded.migration_texts();
    let mut files: Vec<&SqlText> = Vec::new();
    if args.versions.is_empty() {
        files.extend(texts);
        // Policy files carry a checksum only if their author wants one.
        files.extend(
            loaded
                .policy_texts()
                .iter()
                .chain(loaded.policy_test_texts())
                .filter(|f| f.facts.seal != Seal::Missing),
        );
    } else {
        for v in &args.versions {
            let version = Version::parse(v).ok_or_else(|| {
                Failure::usage(
                    format!("`{v}` is not a version"),
                    Some("give version numbers, e.g. `keel seal 3`".to_string()),
                )
            })?;
            let i = project.position(&version).ok_or_else(|| {
                Failure::usage(
                    format!("Can't locate revision identified by '{v}'"),
                    Some(super::inspect::known_versions(project)),
                )
            })?;
            files.extend(&texts[2 * i..2 * i + 2]);
        }
    }
    let changed: Vec<&SqlText> = files
        .into_iter()
        .filter(|f| f.facts.seal != Seal::Sealed)
        .collect();
    refuse_applied(ctx, project, &changed)?;
    let mut sealed = Vec::new();
    for f in changed {
        let text = header::seal(&f.text);
        write_atomically(&f.path, &text)?;
        sealed.push(f.path.display().to_string());
    }
    let r = &ctx.reporter;
    if r.json_output() {
        r.json(&json::Seal { sealed: &sealed });
    } else if sealed.is_empty() {
        r.line("nothing to seal: every checksum matches its body");
    } else {
        for p in &sealed {
            r.line(format!("sealed {p}"));
        }
    }
    Ok(())
}

/// Sealing an applied version would hide an edit of what already ran: with a
/// database configured, such versions are refused (`keel repair` is the
/// deliberate way). Without one there is nothing to compare against.
fn refuse_applied(
    ctx: &Context,
    project: &crate::project::Project,
    changed: &[&SqlText],
) -> Result<(), Failure> {
    let versions: Vec<&crate::project::Migration> = project
        .migrations
        .iter()
        .filter(|m| changed.iter().any(|f| f.path == m.path(f.kind)))
        .collect();
    if versions.is_empty() {
        return Ok(());
    }
    let mut session = match super::shared::open_optional(ctx) {
        Ok(Some(s)) => s,
        Ok(None) => return Ok(()),
        Err(Failure::Usage { message, hint }) => return Err(Failure::Usage { message, hint }),
        Err(_) => {
            ctx.reporter
                .note("warning: cannot reach the database to check which versions are applied; sealing anyway");
            return Ok(());
        }
    };
    let applied = session
        .applied(false, project)
        .map_err(super::shared::db_failure)?;
    let hit: Vec<String> = versions
        .iter()
        .filter(|m| applied.iter().any(|a| a.version == m.version))
        .map(|m| m.id())
        .collect();
    if hit.is_empty() {
        return Ok(());
    }
    Err(Failure::failed(
        format!(
            "refusing to seal {}: {}",
            crate::report::count(hit.len(), "applied migration"),
            hit.join(", ")
        ),
        Some(format!(
            "an applied migration already ran as it was; restore the file, or accept the edit with `keel repair {}`",
            versions
                .iter()
                .find(|m| hit.contains(&m.id()))
                .map(|m| m.version.number().to_string())
                .unwrap_or_default()
        )),
    ))
}

/// Writes through a temporary file and a rename, so an interrupted seal
/// never leaves a half-written migration. The temporary file has an
/// unpredictable name and is created new, so a planted file or symbolic link
/// in the folder cannot redirect the write.
pub fn write_atomically(path: &std::path::Path, text: &str) -> Result<(), Failure> {
    crate::safe_fs::replace(path, text.as_bytes(), None)
        .map_err(|e| Failure::failed(format!("cannot write `{}`: {e}", path.display()), None))
}
