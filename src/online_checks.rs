//! The checks `keel check` runs against a database, beyond the files
//! themselves: applied files edited since they ran (classified by
//! [`crate::drift`]), applied versions without files, out-of-order and
//! pending versions, a dirty database, and indexes left INVALID; and the
//! safety lint of the pending migrations, with the size of their tables.

use crate::config::SafetyConfig;
use crate::db::DbError;
use crate::diagnostic::{codes, Diagnostic};
use crate::drift::{classify, Edit};
use crate::history_model::AppliedVersion;
use crate::project::SqlText;
use crate::project::{Migration, Project};
use crate::session::Session;
use crate::sql::check::CheckedFile;

/// Everything `keel check` reports about the database against the files:
/// edited applied files, applied versions without files, out-of-order
/// pending versions, a dirty database, pending migrations, and indexes left
/// INVALID by a failed `CREATE INDEX CONCURRENTLY`.
///
/// `applied` is the history read without its SQL; the recorded SQL, which only an edited file
/// needs (to tell a cosmetic edit from a semantic one), is read only when a checksum differs.
pub fn database_diagnostics(
    session: &mut Session,
    project: &Project,
    applied: &[AppliedVersion],
    require_up_to_date: bool,
) -> Result<Vec<Diagnostic>, DbError> {
    let mut out = Vec::new();
    let edited = applied.iter().any(|a| {
        project.find(&a.version).is_some_and(|m| {
            !m.up.checksum.matches(&a.up_checksum) || !m.down.checksum.matches(&a.down_checksum)
        })
    });
    let with_sql;
    let applied = if edited {
        with_sql = session.applied(true, project)?;
        &with_sql[..]
    } else {
        applied
    };
    for a in applied {
        let Some(m) = project.find(&a.version) else {
            out.push(
                Diagnostic::error(
                    codes::APPLIED_FILE_MISSING,
                    project.missing_applied(&a.version, &a.name),
                )
                .with_hint("restore the files from version control (the applied SQL is recorded: `keel history --verbose`)"),
            );
            continue;
        };
        if *m.name != *a.name {
            out.push(
                Diagnostic::warning(
                    codes::APPLIED_FILE_RENAMED,
                    format!(
                        "version {} was applied as {}_{}; its files are now named {}",
                        a.version,
                        a.version,
                        a.name,
                        m.id()
                    ),
                )
                .with_path(&m.path(crate::project::FileKind::Up))
                .with_hint(format!(
                    "rename the files back, or record the new name with `keel repair {}`",
                    m.version.number()
                )),
            );
        }
        for (file, recorded_sum, recorded_sql) in [
            (m.up_file(), &a.up_checksum, &a.up_sql),
            (m.down_file(), &a.down_checksum, &a.down_sql),
        ] {
            if file.facts.checksum.matches(recorded_sum) {
                continue;
            }
            let file = match file.read() {
                Ok(text) => text,
                Err(d) => {
                    out.push(*d);
                    continue;
                }
            };
            let path = file.path.display().to_string();
            let d = match classify(recorded_sql, file.body(), &path) {
                Edit::Cosmetic => Diagnostic::error(
                    codes::APPLIED_FILE_CHANGED,
                    "applied migration was edited after it ran (cosmetic: comments and whitespace only)",
                ),
                Edit::Semantic { diff } => Diagnostic::error(
                    codes::APPLIED_FILE_CHANGED,
                    "applied migration was edited after it ran (semantic: its SQL changed)",
                )
                .with_note(diff.trim_end().to_string()),
            };
            out.push(d.with_path(&file.path).with_hint(format!(
                "restore the file as it was applied, or accept the edit with `keel repair {}`",
                m.version.number()
            )));
        }
    }
    if let Some(d) = applied.iter().find(|a| a.dirty) {
        out.push(
            Diagnostic::error(
                codes::DIRTY,
                format!(
                    "the database is dirty: {}_{} ({}, outside a transaction) did not finish (statement {})",
                    d.version,
                    d.name,
                    d.dirty_direction.unwrap_or(crate::plan::Direction::Up),
                    d.dirty_statement.unwrap_or(0)
                ),
            )
            .with_hint({
                let down = d.dirty_direction == Some(crate::plan::Direction::Down);
                format!(
                    "finish the rest by hand and run `keel repair {v}` (it is then recorded as {}), or undo what ran and run `keel repair {v} --undone` (recorded as {})",
                    if down { "reverted" } else { "applied" },
                    if down { "still applied" } else { "not applied" },
                    v = d.version.number()
                )
            }),
        );
    }
    let current = applied.iter().map(|a| &a.version).max();
    let done: std::collections::BTreeSet<&crate::project::Version> =
        applied.iter().map(|a| &a.version).collect();
    let pending: Vec<&Migration> = project
        .migrations
        .iter()
        .filter(|m| !done.contains(&m.version))
        .collect();
    for m in &pending {
        if current.is_some_and(|c| &m.version < c) {
            out.push(
                Diagnostic::error(
                    codes::OUT_OF_ORDER,
                    format!(
                        "{} is not applied but the newer version {} is",
                        m.id(),
                        current.map(|c| c.to_string()).unwrap_or_default()
                    ),
                )
                .with_path(&m.path(crate::project::FileKind::Up))
                .with_hint(crate::plan::out_of_order_hint(project, Some(&m.version))),
            );
        }
    }
    if !pending.is_empty() {
        let list: Vec<String> = pending.iter().take(5).map(|m| m.id()).collect();
        let more = if pending.len() > 5 { ", ..." } else { "" };
        let message = format!(
            "{} pending: {}{more}",
            crate::report::count(pending.len(), "migration"),
            list.join(", ")
        );
        out.push(if require_up_to_date {
            Diagnostic::error(
                codes::NOT_UP_TO_DATE,
                format!("Target database is not up to date. {message}"),
            )
            .with_hint("run `keel upgrade head`")
        } else {
            Diagnostic::warning(codes::PENDING, message).with_hint("run `keel upgrade head`")
        });
    }
    for name in crate::db::catalog::invalid_indexes(session)? {
        out.push(
            Diagnostic::error(
                codes::INVALID_INDEX,
                format!("index {name} is INVALID (left by a failed CREATE INDEX CONCURRENTLY)"),
            )
            .with_hint(format!(
                "run `DROP INDEX CONCURRENTLY {name};`, then create it again"
            )),
        );
    }
    Ok(out)
}

/// The safety lint online: the pending up files (`applied` are only read
/// for the schema they leave), each lock finding judged by the size of its
/// table, read in one query. `texts` and `checked` are in
/// [`Project::files`] order.
pub fn safety_diagnostics(
    session: &mut Session,
    project: &Project,
    texts: &[SqlText],
    checked: &[CheckedFile],
    applied: &[AppliedVersion],
    config: &SafetyConfig,
) -> Result<Vec<Diagnostic>, DbError> {
    let inputs = crate::safety::inputs(project, texts, checked, |v| {
        !applied.iter().any(|a| a.version == *v)
    });
    let lint = crate::safety::lint(&inputs, config);
    let live = crate::safety::Live {
        sizes: crate::db::table_size::sizes(session, &lint.targets())?,
    };
    Ok(crate::safety::resolve(lint, Some(&live), config))
}
