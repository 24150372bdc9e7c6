//! `keel repair VERSION`: accept the current files of an applied version (an
//! intended edit), or clear a dirty mark after fixing things by hand. Logged.

use super::run::{db_failure, load_for_run, locked, RunFlags};
use super::{Context, Failure};
use crate::db::history::{self, Event, NewVersion};
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
    let (project, _) = load_for_run(ctx)?;
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
    // A dirty `down` that was finished by hand means the version is gone.
    let finished_down = rec.dirty && rec.dirty_direction.as_deref() == Some("down");
    let detail = changes.join("; ");
    let result = (|| -> Result<(), crate::db::DbError> {
        let mut tx = session
            .client
            .transaction()
            .map_err(|e| crate::db::DbError::query("starting the transaction", &e))?;
        if finished_down {
            history::delete(&mut tx, &schema, &[&m.version])?;
        } else {
            history::accept_files(&mut tx, &schema, &row)?;
        }
        history::log_event(
            &mut tx,
            &schema,
            &Event {
                command: "repair",
                target: Some(&a.rev),
                from: Some(&m.version),
                to: Some(&m.version),
                outcome: "ok",
                detail: Some(if detail.is_empty() {
                    "no change".into()
                } else {
                    detail.clone()
                }),
                ..Event::default()
            },
        )?;
        tx.commit()
            .map_err(|e| crate::db::DbError::query("committing", &e))
    })();
    result.map_err(db_failure)?;
    session.unlock().map_err(db_failure)?;
    let r = &ctx.reporter;
    if r.json_output() {
        r.json(&serde_json::json!({"version": m.version.digits, "changes": changes}));
    } else if changes.is_empty() {
        r.line(format!(
            "{}: the recorded files already match; nothing to repair",
            m.id()
        ));
    } else {
        r.line(format!("repaired {}: {}", m.id(), detail));
    }
    Ok(())
}
