//! `keel current` and `keel history`: where the database is.

use super::shared::{db_failure, open};
use super::{Context, Failure};
use crate::db::history::AppliedVersion;
use crate::project::{FileKind, Version};
use crate::report::json;
use crate::report::plain;
use colored::Colorize;

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Add when, by whom, from where, how long, checksums and message
    #[arg(long, short)]
    pub verbose: bool,
    /// Only versions in FROM:TO (either side may be empty)
    #[arg(short = 'r', long = "rev-range", value_name = "FROM:TO")]
    pub range: Option<String>,
}

/// `keel current`: the names on disk and one summary row are enough.
pub fn current(ctx: &Context) -> Result<(), Failure> {
    let layout = crate::project::scan(&ctx.config.dir)?;
    let mut session = open(ctx)?;
    let summary = session.summary().map_err(db_failure)?;
    let head = layout.head();
    let newest = summary.as_ref().and_then(|s| s.newest.as_ref());
    // Written as on disk (`0003`, not `3`).
    let on_disk = |v: &Version| {
        layout.pairs.iter().find(|p| p.version == *v).map_or_else(
            || Version::with_width(v.number(), head.map_or(4, |h| h.version.width())),
            |p| p.version,
        )
    };
    let cur = newest.map(|(v, name)| (on_disk(v), name.clone()));
    let at_head = match (&cur, head) {
        (Some((c, _)), Some(h)) => *c == h.version,
        (None, None) => true,
        _ => false,
    };
    let dirty_version = summary
        .as_ref()
        .and_then(|s| s.dirty.as_ref())
        .map(|(v, name)| (on_disk(v), name.clone()));
    let dirty = dirty_version.is_some();
    let applied_count = summary.as_ref().map_or(0, |s| s.count);
    let r = &ctx.reporter;
    if r.json_output() {
        r.json(&json::Current {
            version: cur.as_ref().map(|(v, _)| v.digits()),
            name: cur.as_ref().map(|(_, n)| n.as_str()),
            head: head.map(|h| h.version.digits()),
            at_head,
            dirty: dirty_version.as_ref().map(|(v, _)| v.digits()),
        });
        return Ok(());
    }
    match &cur {
        None => r.line(format!(
            "base (nothing applied){}",
            if at_head { " (head)" } else { "" }
        )),
        Some((v, name)) => r.line(format!(
            "{v}_{name}{}{}",
            if at_head { " (head)" } else { "" },
            if dirty { " (dirty)" } else { "" }
        )),
    }
    if !at_head {
        let pending = (layout.pairs.len() as i64 - applied_count).max(0);
        if pending > 0 {
            r.note(format!(
                "{pending} pending; head is {}",
                head.map(|h| format!("{}_{}", h.version, h.name))
                    .unwrap_or_else(|| "base".into())
            ));
        }
    }
    if let Some((v, name)) = dirty_version {
        r.note(format!(
            "dirty: {v}_{name} did not finish; see `keel check`"
        ));
    }
    Ok(())
}

fn in_range(v: &Version, range: &Option<(Option<Version>, Option<Version>)>) -> bool {
    match range {
        None => true,
        Some((from, to)) => {
            from.as_ref().is_none_or(|f| v >= f) && to.as_ref().is_none_or(|t| v <= t)
        }
    }
}

pub fn history(ctx: &Context, a: HistoryArgs) -> Result<(), Failure> {
    let loaded = crate::project::load(&ctx.config.dir)?;
    let project = &loaded.project;
    // The message is in the header, read with the text.
    let message = |v: &Version| {
        let i = project.position(v)?;
        loaded.migration_texts()[2 * i].header.message()
    };
    let range = match &a.range {
        None => None,
        Some(text) => {
            let (f, t) = text.split_once(':').ok_or_else(|| {
                Failure::usage(
                    format!("`{text}` is not a range"),
                    Some("write FROM:TO, e.g. `-r 3:7` or `-r 5:`".to_string()),
                )
            })?;
            let parse = |s: &str| -> Result<Option<Version>, Failure> {
                if s.is_empty() || s == "base" {
                    return Ok(None);
                }
                if s == "head" {
                    return Ok(project.head().map(|m| m.version));
                }
                // A version not on disk names nothing (as a target would not).
                Version::parse(s)
                    .filter(|v| project.find(v).is_some())
                    .map(Some)
                    .ok_or_else(|| {
                        Failure::usage(
                            format!("Can't locate revision identified by '{s}'"),
                            Some(crate::plan::nearby_versions(project, s)),
                        )
                    })
            };
            let (from, to) = (parse(f)?, parse(t)?);
            if let (Some(a), Some(b)) = (&from, &to) {
                if a > b {
                    return Err(Failure::usage(
                        format!("`{text}` runs backwards: {a} comes after {b}"),
                        Some(format!("write the older version first: `-r {b}:{a}`")),
                    ));
                }
            }
            Some((from, to))
        }
    };
    // History works without a database too: then everything is "unknown".
    let applied: Option<Vec<AppliedVersion>> = match super::shared::open_optional(ctx)? {
        Some(mut s) => Some(s.applied(false, project).map_err(db_failure)?),
        None => None,
    };
    // Every version on disk or applied, newest first (as Alembic lists).
    let mut versions: Vec<Version> = project.migrations.iter().map(|m| m.version).collect();
    if let Some(ap) = &applied {
        versions.extend(ap.iter().map(|a| a.version));
    }
    versions.sort();
    versions.dedup();
    versions.reverse();
    let head = project.head().map(|m| m.version);
    let r = &ctx.reporter;
    let mut rows = Vec::new();
    for v in versions.iter().filter(|v| in_range(v, &range)) {
        let m = project.find(v);
        let ap = applied
            .as_ref()
            .and_then(|ap| ap.iter().find(|a| &a.version == v));
        let name = m
            .map(|m| m.name.to_string())
            .or_else(|| ap.map(|a| a.name.clone()))
            .unwrap_or_default();
        let state = match (&applied, ap, m) {
            (None, _, _) => "unknown",
            (_, Some(a), _) if a.dirty => "dirty",
            (_, Some(_), None) => "applied, no file",
            (_, Some(a), Some(m)) if !m.up.checksum.matches(&a.up_checksum) => "applied, changed",
            (_, Some(_), Some(_)) => "applied",
            (_, None, _) => "pending",
        };
        if r.json_output() {
            let row = json::HistoryRow {
                version: v.digits(),
                name,
                state,
                head: head.as_ref() == Some(v),
                message: message(v),
                applied: ap,
                up_checksum: m.map(|m| m.up.checksum.to_string()),
                down_checksum: m.map(|m| m.down.checksum.to_string()),
            };
            rows.push(row);
            continue;
        }
        let head_mark = if head.as_ref() == Some(v) {
            " (head)"
        } else {
            ""
        };
        let state_text = match state {
            "applied" => state.green().to_string(),
            "pending" => state.yellow().to_string(),
            "unknown" => state.to_string(),
            _ => state.red().to_string(),
        };
        r.coloured_line(format!("{v}_{}{head_mark}  {state_text}", plain(&name)));
        if a.verbose {
            if let Some(msg) = message(v) {
                r.line(format!("    message:   {}", plain(msg)));
            }
            if let Some(a) = ap {
                r.line(plain(&format!(
                    "    applied:   {} by {}{}",
                    a.applied_at,
                    a.applied_by,
                    a.client_host
                        .as_deref()
                        .map(|h| format!(" from {h}"))
                        .unwrap_or_default()
                )));
                if let Some(ms) = a.duration_ms {
                    r.line(format!("    took:      {ms:.1} ms"));
                }
                r.line(format!("    keel:      {}", a.keel_version));
                r.line(format!("    up:        {}", a.up_checksum));
                r.line(format!("    down:      {}", a.down_checksum));
            } else if let Some(m) = m {
                r.line(format!("    up:        {}", m.up.checksum));
                r.line(format!("    down:      {}", m.down.checksum));
            }
            if let Some(m) = m {
                r.line(format!(
                    "    files:     {}, {}",
                    m.path(FileKind::Up).display(),
                    m.path(FileKind::Down).display()
                ));
            }
        }
    }
    if r.json_output() {
        r.json(&rows);
    } else if applied.is_none() {
        r.note("no database configured: applied/pending state unknown");
    }
    Ok(())
}
