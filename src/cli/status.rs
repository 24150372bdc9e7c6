//! `keel current` and `keel history`: where the database is.

use super::run::{db_failure, open};
use super::{Context, Failure};
use crate::db::history::AppliedVersion;
use crate::project::{Migration, Version};
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

pub fn current(ctx: &Context) -> Result<(), Failure> {
    let loaded = crate::project::load(&ctx.config.dir)?;
    let project = loaded.project;
    let mut session = open(ctx)?;
    let applied = session.applied(false, &project).map_err(db_failure)?;
    let cur = applied.last();
    let head = project.head();
    let at_head = match (cur, head) {
        (Some(c), Some(h)) => c.version == h.version,
        (None, None) => true,
        _ => false,
    };
    let dirty = applied.iter().find(|a| a.dirty);
    let r = &ctx.reporter;
    if r.json_output() {
        r.json(&serde_json::json!({
            "version": cur.map(|c| c.version.digits.clone()),
            "name": cur.map(|c| c.name.clone()),
            "head": head.map(|h| h.version.digits.clone()),
            "at_head": at_head,
            "dirty": dirty.map(|d| d.version.digits.clone()),
        }));
        return Ok(());
    }
    match cur {
        None => r.line(format!(
            "base (nothing applied){}",
            if at_head { " (head)" } else { "" }
        )),
        Some(c) => r.line(format!(
            "{}_{}{}{}",
            c.version,
            c.name,
            if at_head { " (head)" } else { "" },
            if c.dirty { " (dirty)" } else { "" }
        )),
    }
    if !at_head {
        let pending = project
            .migrations
            .iter()
            .filter(|m| !applied.iter().any(|a| a.version == m.version))
            .count();
        if pending > 0 {
            r.note(format!(
                "{pending} pending; head is {}",
                head.map(Migration::id).unwrap_or_else(|| "base".into())
            ));
        }
    }
    if let Some(d) = dirty {
        r.note(format!(
            "dirty: {}_{} did not finish; see `keel check`",
            d.version, d.name
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
    let project = loaded.project;
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
                    return Ok(project.head().map(|m| m.version.clone()));
                }
                Version::parse(s).map(Some).ok_or_else(|| {
                    Failure::usage(
                        format!("Can't locate revision identified by '{s}'"),
                        Some(crate::plan::nearby_versions(&project, s)),
                    )
                })
            };
            Some((parse(f)?, parse(t)?))
        }
    };
    // History works without a database too: then everything is "unknown".
    let applied: Option<Vec<AppliedVersion>> = match super::run::open_optional(ctx)? {
        Some(mut s) => Some(s.applied(false, &project).map_err(db_failure)?),
        None => None,
    };
    // Every version on disk or applied, newest first (as Alembic lists).
    let mut versions: Vec<Version> = project
        .migrations
        .iter()
        .map(|m| m.version.clone())
        .collect();
    if let Some(ap) = &applied {
        versions.extend(ap.iter().map(|a| a.version.clone()));
    }
    versions.sort();
    versions.dedup();
    versions.reverse();
    let head = project.head().map(|m| m.version.clone());
    let r = &ctx.reporter;
    let mut rows = Vec::new();
    for v in versions.iter().filter(|v| in_range(v, &range)) {
        let m = project.find(v);
        let ap = applied
            .as_ref()
            .and_then(|ap| ap.iter().find(|a| &a.version == v));
        let name = m
            .map(|m| m.name.clone())
            .or_else(|| ap.map(|a| a.name.clone()))
            .unwrap_or_default();
        let state = match (&applied, ap, m) {
            (None, _, _) => "unknown",
            (_, Some(a), _) if a.dirty => "dirty",
            (_, Some(_), None) => "applied, no file",
            (_, Some(a), Some(m)) if a.up_checksum != m.up.actual_checksum().to_string() => {
                "applied, changed"
            }
            (_, Some(_), Some(_)) => "applied",
            (_, None, _) => "pending",
        };
        if r.json_output() {
            rows.push(serde_json::json!({
                "version": v.digits, "name": name, "state": state,
                "head": head.as_ref() == Some(v),
                "message": m.and_then(|m| m.up.header.message()),
                "applied": ap,
                "up_checksum": m.map(|m| m.up.actual_checksum().to_string()),
                "down_checksum": m.map(|m| m.down.actual_checksum().to_string()),
            }));
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
        r.line(format!("{v}_{name}{head_mark}  {state_text}"));
        if a.verbose {
            if let Some(msg) = m.and_then(|m| m.up.header.message()) {
                r.line(format!("    message:   {msg}"));
            }
            if let Some(a) = ap {
                r.line(format!(
                    "    applied:   {} by {}{}",
                    a.applied_at,
                    a.applied_by,
                    a.client_host
                        .as_deref()
                        .map(|h| format!(" from {h}"))
                        .unwrap_or_default()
                ));
                if let Some(ms) = a.duration_ms {
                    r.line(format!("    took:      {ms:.1} ms"));
                }
                r.line(format!("    keel:      {}", a.keel_version));
                r.line(format!("    up:        {}", a.up_checksum));
                r.line(format!("    down:      {}", a.down_checksum));
            } else if let Some(m) = m {
                r.line(format!("    up:        {}", m.up.actual_checksum()));
                r.line(format!("    down:      {}", m.down.actual_checksum()));
            }
            if let Some(m) = m {
                r.line(format!(
                    "    files:     {}, {}",
                    m.up.path.display(),
                    m.down.path.display()
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
