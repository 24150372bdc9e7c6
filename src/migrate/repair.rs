//! `repair VERSION`: accept the current files of an applied version (an
//! intended edit), or clear a dirty mark after fixing things by hand. Logged.
//!
//! A DBA who edits an applied file by hand rarely reseals it, and `seal`
//! refuses an applied version. So repair takes the edit as it is: the
//! version's files may be unsealed, and repair seals them in the same step
//! as it records them. Any other problem in the folder still refuses.

use super::guard::changed_during_run;
use super::{load_accepting_edits, Database, Error, Sink};
use crate::db::history::{self, Event, NewVersion};
use crate::plan::Direction;
use crate::project::{FileKind, Seal, SqlText, Version};
use std::path::{Path, PathBuf};

/// What to repair.
#[derive(Debug, Clone)]
pub struct RepairRequest {
    pub database: Database,
    /// The applied version, as the user wrote it.
    pub version: String,
    /// A dirty version was undone by hand, not finished: a dirty up is recorded as not
    /// applied, a dirty down as still applied.
    pub undone: bool,
}

/// What repair changed.
#[derive(Debug)]
pub struct RepairReport {
    /// `0003_name`.
    pub id: String,
    /// `0003`.
    pub digits: String,
    /// One entry per recorded fact that changed (checksums, dirty mark).
    pub changes: Vec<String>,
    /// Files whose checksum line was rewritten.
    pub sealed: Vec<PathBuf>,
}

pub fn repair(req: &RepairRequest, sink: &mut dyn Sink) -> Result<RepairReport, Error> {
    let layout = crate::project::scan(&req.database.config.dir)?;
    let wanted = Version::parse(&req.version);
    // The layout moves into the load, so the version's paths are copied out.
    let unsealed: Vec<PathBuf> = layout
        .pairs
        .iter()
        .filter(|p| Some(&p.version) == wanted.as_ref())
        .flat_map(|p| [FileKind::Up, FileKind::Down].map(|kind| p.path(&layout.dir, kind)))
        .collect();
    let accept: Vec<&Path> = unsealed.iter().map(PathBuf::as_path).collect();
    let (project, _) = load_accepting_edits(layout, &accept, sink)?;
    let unknown = || {
        Error::usage(
            format!("Can't locate revision identified by '{}'", req.version),
            Some(crate::plan::nearby_versions(&project, &req.version)),
        )
    };
    let version = wanted.ok_or_else(unknown)?;
    let m = project.find(&version).ok_or_else(unknown)?;
    let mut session = req.database.locked(sink)?;
    let applied = session.applied(false, &project)?;
    let Some(rec) = applied.iter().find(|r| r.version == version) else {
        return Err(Error::failed(
            format!(
                "version {} is not applied; there is nothing to repair",
                m.id()
            ),
            Some("edit and `keel seal` a pending migration instead".to_string()),
        ));
    };
    let schema = req.database.config.history_schema.as_str();
    let (up_text, down_text) = m.read_texts().map_err(|d| changed_during_run(&d, sink))?;
    let up = m.up.checksum.to_string();
    let down = m.down.checksum.to_string();
    let mut changes = Vec::new();
    if *rec.name != *m.name {
        changes.push(format!("name {} → {}", rec.name, m.name));
    }
    if rec.up_checksum != up {
        changes.push(format!("up {} → {}", rec.up_checksum, up));
    }
    if rec.down_checksum != down {
        changes.push(format!("down {} → {}", rec.down_checksum, down));
    }
    if req.undone && !rec.dirty {
        return Err(Error::usage(
            format!(
                "version {} is not dirty: --undone is for a version a run left dirty",
                m.id()
            ),
            Some(format!(
                "`keel repair {}` accepts its current files",
                version.number()
            )),
        ));
    }
    let direction = rec.dirty_direction.unwrap_or(Direction::Up);
    // Finished up or undone down: applied. Finished down or undone up: not applied.
    let gone = rec.dirty && ((direction == Direction::Down) != req.undone);
    if rec.dirty {
        changes.push(format!(
            "cleared dirty mark ({direction}{}): {}",
            if req.undone { ", undone by hand" } else { "" },
            if gone {
                "recorded as not applied"
            } else {
                "recorded as applied"
            }
        ));
    }
    // Where the database is after the repair, for the event log.
    let before = applied.iter().map(|a| a.version).max();
    let after = if gone {
        applied
            .iter()
            .map(|a| a.version)
            .filter(|v| *v != version)
            .max()
    } else {
        before
    };
    let row = NewVersion::of(m, &up_text, &down_text, None, false);
    // Files whose checksum line does not match their body get it rewritten
    // (only that line), after the database accepted the row and before it
    // commits: a failed write rolls the record back.
    let to_seal: Vec<&SqlText> = [&up_text, &down_text]
        .into_iter()
        .filter(|f| f.facts.seal != Seal::Sealed)
        .collect();
    let sealed = session.transaction(|tx| -> Result<_, Error> {
        if gone {
            history::delete(tx, schema, &[&m.version])?;
        } else {
            history::accept_files(tx, schema, &row)?;
        }
        let mut event_detail = changes.clone();
        event_detail.extend(
            to_seal
                .iter()
                .map(|f| format!("sealed {}", f.path.display())),
        );
        history::log_event(
            tx,
            schema,
            &Event {
                command: "repair",
                target: Some(&req.version),
                from: before.as_ref(),
                to: after.as_ref(),
                outcome: "ok",
                detail: Some(if event_detail.is_empty() {
                    "no change".into()
                } else {
                    event_detail.join("; ")
                }),
                ..Event::default()
            },
        )?;
        // Files are sealed after the database took the row and before it
        // commits: a failed write returns an error, which rolls the record back. A
        // failed commit leaves sealed files whose bodies are unchanged, and
        // running repair again records them.
        let mut sealed = Vec::new();
        for f in &to_seal {
            crate::safe_fs::replace(&f.path, crate::header::seal(&f.text).as_bytes(), None)
                .map_err(|e| {
                    Error::failed(format!("cannot write `{}`: {e}", f.path.display()), None)
                })?;
            sealed.push(f.path.clone());
        }
        Ok(sealed)
    })?;
    session.unlock()?;
    Ok(RepairReport {
        id: m.id(),
        digits: m.version.digits(),
        changes,
        sealed,
    })
}
