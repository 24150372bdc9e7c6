//! `keel heads` and `keel show VERSION`: what is on disk.

use super::{Context, Failure};
use crate::project::{Project, Version};
use crate::report::json;

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The version to show (`head` for the newest)
    #[arg(value_name = "VERSION")]
    pub rev: String,
}

pub fn heads(ctx: &Context) -> Result<(), Failure> {
    let loaded = crate::project::load(&ctx.config.dir)?;
    let r = &ctx.reporter;
    match loaded.project.head() {
        Some(m) if r.json_output() => r.json(&Some(json::Head {
            version: m.version.digits(),
            name: &m.name,
        })),
        Some(m) => r.line(format!("{} (head)", m.id())),
        None if r.json_output() => r.json(&None::<json::Head>),
        None => r.note("no migrations yet: create one with `keel revision -m \"...\"`"),
    }
    Ok(())
}

pub fn show(ctx: &Context, args: ShowArgs) -> Result<(), Failure> {
    let loaded = crate::project::load(&ctx.config.dir)?;
    let project = &loaded.project;
    let m = if args.rev == "head" {
        project.head()
    } else {
        Version::parse(&args.rev).and_then(|v| project.find(&v))
    }
    .ok_or_else(|| {
        Failure::usage(
            format!("Can't locate revision identified by '{}'", args.rev),
            Some(known_versions(project)),
        )
    })?;
    let texts = &loaded.migration_texts()[2 * project.position(&m.version).unwrap_or(0)..];
    let (up, down) = (&texts[0], &texts[1]);
    let r = &ctx.reporter;
    if r.json_output() {
        r.json(&json::Show {
            version: m.version.digits(),
            name: &m.name,
            message: up.header.message(),
            transaction: m.up.transaction == crate::header::TransactionMode::On,
            irreversible: m.irreversible(),
            up: show_file(up),
            down: show_file(down),
        });
        return Ok(());
    }
    r.line(format!("Rev: {}", m.id()));
    if let Some(msg) = up.header.message() {
        r.line(format!("Message: {msg}"));
    }
    r.line(format!(
        "Transaction: {}",
        match m.up.transaction {
            crate::header::TransactionMode::On => "on",
            crate::header::TransactionMode::Off => "off",
        }
    ));
    for f in [up, down] {
        r.line(format!("\n-- {} ({})", f.path.display(), f.facts.checksum));
        if f.kind == crate::project::FileKind::Down && m.irreversible() {
            r.line("-- irreversible");
        } else {
            r.line(crate::header::normalize(f.body()));
        }
    }
    Ok(())
}

/// "known versions: 0001, 0002, ..." for unknown-target errors: the nearest
/// few, so a long history does not flood the terminal.
pub fn known_versions(project: &Project) -> String {
    let all: Vec<String> = project
        .migrations
        .iter()
        .map(|m| m.version.to_string())
        .collect();
    match all.len() {
        0 => "there are no migrations on disk".to_string(),
        n if n <= 8 => format!("known versions: {}", all.join(", ")),
        n => format!(
            "known versions: {}, ..., {} ({n} in all; `keel history` lists them)",
            all[..3].join(", "),
            all[n - 3..].join(", ")
        ),
    }
}

fn show_file(f: &crate::project::SqlText) -> json::ShowFile<'_> {
    json::ShowFile {
        path: &f.path,
        checksum: f.facts.checksum.to_string(),
        sql: crate::header::normalize(f.body()),
    }
}
