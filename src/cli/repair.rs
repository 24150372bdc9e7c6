//! `keel repair VERSION`: accept the current files of an applied version (an
//! intended edit), or clear a dirty mark after fixing things by hand. Logged.
//!
//! A DBA who edits an applied file by hand rarely reseals it, and `keel seal`
//! refuses an applied version. So repair takes the edit as it is: the
//! version's files may be unsealed, and repair seals them in the same step
//! as it records them. Any other problem in the folder still refuses.

use std::path::{Path, PathBuf};

use super::run::{db_failure, load_accepting_edits, locked, RunFlags};
use super::{Context, Failure};
use crate::db::history::{self, Event, NewVersion};
use crate::db::DbError;
use crate::project::Version;

#[derive(Debug, clap::Args)]
pub struct RepairArgs {
    /// The applied version whose files to accept
    #[arg(value_name = "VERSION")]
    pub rev: String,
    #[command(flatten)]
    pub run: RunFlags,
}

pub fn run(ctx: &Context, a: RepairArgs) -> Result<(), Failure> {
    let layout = crate::project::scan(&ctx.config.dir)?;
    let wanted = Version::parse(&a.rev);
    // The layout moves into the load, so the version's paths are copied out.
    let unsealed: Vec<PathBuf> = layout
        .pairs
        .iter()
        .filter(|p| Some(&p.version) == wanted.as_ref())
        .flat_map(|p| [&p.up, &p.down])
        .filter_map(|listed| listed.as_ref().ok().cloned())
        .collect();
    let accept: Vec<&Path> = unsealed.iter().map(PathBuf::as_path).collect();
    let (project, _) = load_accepting_edits(ctx, layout, &accept)?;
    let version = Version::parse(&a.rev).ok_or_else(|| {
        Failure::usage(
            format!("Can't locate revision identified by '{}'", a.rev),
            Some(crate::plan::nearby_versions(&project, &a.rev)),
        )
    })?;
    let m = project.find(&version).ok_or_else(|| {
        Failure::usage(
            format!("Can't locate revision identified by '{}'", a.rev),
            Some(crate::plan::nearby_versions(&project, &a.rev)),
        )
    })?;
    let mut session = locked(ctx, &a.run)?;
    let applied = session.applied(false, &project).map_err(db_failure)?;
    let Some(rec) = applied.iter().find(|r| r.version == version) else {
        return Err(Failure::failed(
            format!(
                "version {} is not applied; there is nothing to repair",
                m.id()
            ),
            Some("edit and `keel seal` a pending migration instead".to_string()),
        ));
    };
    let schema = ctx.config.history_schema.clone();
    let up = m.up.actual_checksum().to_string();
    let down = m.down.actual_checksum().to_string();
    let mut changes = Vec::new();
    if rec.up_checksum != up {
        changes.push(format!("up {} → {}", rec.up_checksum, up));
    }
    if rec.down_checksum != down {
        changes.push(format!("down {} → {}", rec.down_checksum, down));
    }
    if rec.dirty {
        changes.push(format!(
            "cleared dirty mark ({})",
            rec.dirty_direction.as_deref().unwrap_or("up")
        ));
    }
    let row = NewVersion::of(m, None, false);
    // Files whose checksum line does not match their body get it rewritten
    // (only that line), after the database accepted the row and before it
    // commits: a failed write rolls the record back.
    let to_seal: Vec<&crate::project::SqlFile> = [&m.up, &m.down]
        .into_iter()
        .filter(|f| f.header.checksum() != Some(f.actual_checksum()))
        .collect();
    // A dirty `down` that was finished by hand means the version is gone.
    let finished_down = rec.dirty && rec.dirty_direction.as_deref() == Some("down");
    let detail = changes.join("; ");
    let q = |what: &'static str| move |e: postgres::Error| db_failure(DbError::query(what, &e));
    let mut tx = session
        .client
        .transaction()
        .map_err(q("starting the transaction"))?;
    if finished_down {
        history::delete(&mut tx, &schema, &[&m.version]).map_err(db_failure)?;
    } else {
        history::accept_files(&mut tx, &schema, &row).map_err(db_failure)?;
    }
    let mut event_detail = changes.clone();
    event_detail.extend(
        to_seal
            .iter()
            .map(|f| format!("sealed {}", f.path.display())),
    );
    history::log_event(
        &mut tx,
        &schema,
        &Event {
            command: "repair",
            target: Some(&a.rev),
            from: Some(&m.version),
            to: Some(&m.version),
            outcome: "ok",
            detail: Some(if event_detail.is_empty() {
                "no change".into()
            } else {
                event_detail.join("; ")
            }),
            ..Event::default()
        },
    )
    .map_err(db_failure)?;
    // Files are sealed after the database took the row and before it
    // commits: a failed write drops `tx`, which rolls the record back. A
    // failed commit leaves sealed files whose bodies are unchanged, and
    // running repair again records them.
    let mut sealed = Vec::new();
    for f in &to_seal {
        super::seal::write_atomically(&f.path, &crate::header::seal(&f.text))?;
        sealed.push(f.path.display().to_string());
    }
    tx.commit().map_err(q("committing"))?;
    session.unlock().map_err(db_failure)?;
    let r = &ctx.reporter;
    if r.json_output() {
        r.json(
            &serde_json::json!({"version": m.version.digits, "changes": changes, "sealed": sealed}),
        );
        return Ok(());
    }
    for p in &sealed {
        r.line(format!("sealed {p}"));
    }
    if changes.is_empty() {
        r.line(format!(
            "{}: the recorded files already match; nothing to repair",
            m.id()
        ));
    } else {
        r.line(format!("repaired {}: {}", m.id(), detail));
    }
    Ok(())
}
