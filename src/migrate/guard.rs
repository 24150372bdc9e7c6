//! What refuses a run before anything executes: a dirty database, or an
//! applied file changed in substance since it ran.

use super::{Error, Event, Sink};
use crate::db::history::AppliedVersion;
use crate::db::run;
use crate::diagnostic::Diagnostic;
use crate::drift::{self, Edit};
use crate::plan::Direction;
use crate::project::{Migration, Project};
use crate::session::Session;

/// Refuses to run on a dirty database, naming the statement it stopped at.
pub fn refuse_dirty(applied: &[AppliedVersion], project: &Project) -> Result<(), Error> {
    let Some(d) = applied.iter().find(|a| a.dirty) else {
        return Ok(());
    };
    let file = project.find(&d.version).and_then(|m| {
        let f = if d.dirty_direction == Some(Direction::Down) {
            m.down_file()
        } else {
            m.up_file()
        };
        f.read().ok()
    });
    let location = match (file, d.dirty_statement) {
        (Some(f), Some(n)) if n > 0 => {
            let stmts = run::statements(&f);
            let line = stmts
                .get(n as usize - 1)
                .map(|r| crate::diagnostic::Position::of(&f.text, r.start).line);
            format!(
                "; it stopped at statement {n}{}",
                line.map(|l| format!(" ({}:{l})", f.path.display()))
                    .unwrap_or_default()
            )
        }
        _ => String::new(),
    };
    Err(Error::failed(
        format!(
            "the database is dirty: {}_{} ({}, outside a transaction) did not finish{location}",
            d.version,
            d.name,
            d.dirty_direction.unwrap_or(Direction::Up),
        ),
        Some(format!(
            "look at what that statement left behind: finish the rest by hand and run `keel repair {v}` (it is then recorded as {done}), or undo what ran and run `keel repair {v} --undone` (recorded as {undone})",
            v = d.version.number(),
            done = if d.dirty_direction == Some(Direction::Down) { "reverted" } else { "applied" },
            undone = if d.dirty_direction == Some(Direction::Down) { "still applied" } else { "not applied" },
        )),
    ))
}

/// What refuses a run, and the script `--sql` prints for it, before anything executes: a dirty
/// database, an applied version with no files (going up), an applied file changed in substance.
pub(super) fn refuse_unsafe_state(
    session: &mut Session,
    project: &Project,
    applied: &[AppliedVersion],
    direction: Direction,
    sink: &mut dyn Sink,
) -> Result<(), Error> {
    refuse_dirty(applied, project)?;
    if direction == Direction::Up {
        refuse_missing(applied, project)?;
    }
    refuse_drift(session, project, applied, sink)
}

/// Refuses to upgrade when an applied version has no files: the checkout is older than the
/// database, or the migration was deleted. Saying "nothing to do", or applying newer files on top
/// of a change nobody can read here, would hide it (`keel check` reports it as an error too).
fn refuse_missing(applied: &[AppliedVersion], project: &Project) -> Result<(), Error> {
    let mut missing = applied
        .iter()
        .filter(|a| project.find(&a.version).is_none());
    let Some(first) = missing.next() else {
        return Ok(());
    };
    let more = match missing.count() {
        0 => String::new(),
        n => format!(" (and {} more)", crate::report::count(n, "version")),
    };
    Err(Error::failed(
        format!(
            "{}{more}",
            project.missing_applied(&first.version, &first.name)
        ),
        Some(
            "these files are older than the database, or the migration was deleted: check out \
             the files that have it (`keel history --verbose` prints the SQL that ran); to take \
             it out of the database, run `keel downgrade` from a checkout that has it"
                .into(),
        ),
    ))
}

/// Refuses to run when an applied file was changed in substance since it
/// ran (cosmetic edits pass).
pub(super) fn refuse_drift(
    session: &mut Session,
    project: &Project,
    applied: &[AppliedVersion],
    sink: &mut dyn Sink,
) -> Result<(), Error> {
    let changed: Vec<&Migration> = applied
        .iter()
        .filter_map(|a| {
            project
                .find(&a.version)
                .filter(|m| !m.up.checksum.matches(&a.up_checksum))
        })
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    let recorded = session.applied(true, project)?;
    for m in changed {
        let Some(a) = recorded.iter().find(|a| a.version == m.version) else {
            continue;
        };
        let up = m
            .up_file()
            .read()
            .map_err(|d| changed_during_run(&d, sink))?;
        if let Edit::Semantic { .. } =
            drift::classify(&a.up_sql, up.body(), &up.path.display().to_string())
        {
            return Err(Error::failed(
                format!(
                    "applied migration `{}` was changed after it ran",
                    up.path.display()
                ),
                Some(format!(
                    "`keel check` shows the difference; restore the file, or accept the edit with `keel repair {}`",
                    m.version.number()
                )),
            ));
        }
    }
    Ok(())
}

/// A migration file that could not be read again after it was checked, or
/// was edited in between.
pub(super) fn changed_during_run(d: &Diagnostic, sink: &mut dyn Sink) -> Error {
    sink.event(Event::Diagnostics(std::slice::from_ref(d)));
    Error::failed("nothing was applied", None)
}
