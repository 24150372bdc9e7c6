//! `keel verify`: every migration proved reversible on a scratch database.
//!
//! For each migration in order: snapshot the catalog (S0), apply its up
//! with the policy stage (S1), apply its down (S2, compared with S0), apply
//! the up again (S3, compared with S1). The first migration whose down does
//! not restore the schema stops verification with the difference. An
//! irreversible migration is applied and not checked.
//!
//! Steps run through [`crate::db::run::execute`] exactly as `upgrade` and
//! `downgrade` run them (one-step plans, history rows, the RLS stage in the
//! same transaction), so what is verified is what production will run.

pub mod diff;
pub mod snapshot;

pub use crate::db::scratch;

use crate::db::run::{self, Progress, RunError, Settings};
use crate::db::{Connection, DbError};
use crate::plan::{Direction, Plan, Step};
use crate::policies::declared::Declared;
use crate::policies::model::TableName;
use crate::policies::stage::Stage;
use crate::project::{Migration, Project, Version};
use diff::{CatalogChange, Diff, Note};
use postgres::Client;
use snapshot::{Kind, Snapshot};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Which step of the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The first up.
    Up,
    Down,
    /// The up after the down.
    UpAgain,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Up => "up",
            Phase::Down => "down",
            Phase::UpAgain => "up again",
        }
    }
}

/// How a migration passed.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Down restored the schema, and up again gave the same schema.
    Reversible { notes: Vec<Note> },
    /// Applied, not checked (`-- keel:irreversible`).
    Irreversible,
}

/// A migration that passed.
#[derive(Debug, Clone)]
pub struct Checked<'a> {
    pub migration: &'a Migration,
    pub verdict: Verdict,
    pub elapsed: Duration,
}

/// Why verification stopped at a migration.
#[derive(Debug)]
pub enum Problem {
    /// A step failed (its error carries the diagnostic).
    Step { phase: Phase, error: RunError },
    /// After `phase` (down, or up again) the schema is not what it was.
    NotRestored { phase: Phase, diff: Diff },
    /// Reading the catalog failed.
    Snapshot(DbError),
}

impl Problem {
    /// `after down, the schema differs from before up`, ...
    pub fn summary(&self) -> String {
        match self {
            Problem::Step { phase, .. } => format!("its {} failed", phase_file(*phase)),
            Problem::NotRestored {
                phase: Phase::Down, ..
            } => "after down, the schema differs from before up".into(),
            Problem::NotRestored { .. } => {
                "after down and up again, the schema differs from after the first up".into()
            }
            Problem::Snapshot(e) => format!("reading the catalog failed: {e}"),
        }
    }
}

fn phase_file(p: Phase) -> &'static str {
    match p {
        Phase::Up => "up",
        Phase::Down => "down",
        Phase::UpAgain => "up (applied again after its down)",
    }
}

/// The migration verification stopped at.
#[derive(Debug)]
pub struct Stopped<'a> {
    pub migration: &'a Migration,
    pub problem: Problem,
    pub elapsed: Duration,
}

/// Everything verification found.
#[derive(Debug)]
pub struct Report<'a> {
    /// The migrations that passed, in order.
    pub checked: Vec<Checked<'a>>,
    /// Where it stopped, if it did.
    pub stopped: Option<Stopped<'a>>,
}

impl Report<'_> {
    pub fn reversible(&self) -> usize {
        self.checked
            .iter()
            .filter(|c| matches!(c.verdict, Verdict::Reversible { .. }))
            .count()
    }

    pub fn irreversible(&self) -> usize {
        self.checked.len() - self.reversible()
    }
}

/// What verification works with.
pub struct Verifier<'a> {
    pub project: &'a Project,
    pub declared: &'a Declared,
    /// keel's history schema (left out of snapshots).
    pub schema: &'a str,
}

/// Runs no progress reporting: the verifier reports per migration.
struct Silent;
impl Progress for Silent {
    fn step_done(&mut self, _step: &Step<'_>, _elapsed: Duration) {}
}

impl<'a> Verifier<'a> {
    /// Verifies every migration on `client`, a connection to an empty
    /// database whose history schema exists. `on_checked` is told about each
    /// migration as it passes.
    pub fn run(
        &self,
        client: &mut impl Connection<Client = Client>,
        on_checked: &mut dyn FnMut(&Checked<'a>),
    ) -> Report<'a> {
        let mut applied: BTreeSet<Version> = BTreeSet::new();
        let mut report = Report {
            checked: Vec::new(),
            stopped: None,
        };
        for m in &self.project.migrations {
            let started = Instant::now();
            match self.check(client, m, &mut applied) {
                Ok(verdict) => {
                    let c = Checked {
                        migration: m,
                        verdict,
                        elapsed: started.elapsed(),
                    };
                    on_checked(&c);
                    report.checked.push(c);
                }
                Err(problem) => {
                    report.stopped = Some(Stopped {
                        migration: m,
                        problem,
                        elapsed: started.elapsed(),
                    });
                    break;
                }
            }
        }
        report
    }

    fn check(
        &self,
        client: &mut impl Connection<Client = Client>,
        m: &'a Migration,
        applied: &mut BTreeSet<Version>,
    ) -> Result<Verdict, Problem> {
        if m.irreversible() {
            self.step(client, m, Direction::Up, applied)
                .map_err(|error| Problem::Step {
                    phase: Phase::Up,
                    error,
                })?;
            return Ok(Verdict::Irreversible);
        }
        let s0 = self.snap(client)?;
        self.step(client, m, Direction::Up, applied)
            .map_err(|error| Problem::Step {
                phase: Phase::Up,
                error,
            })?;
        let s1 = self.snap(client)?;
        self.step(client, m, Direction::Down, applied)
            .map_err(|error| Problem::Step {
                phase: Phase::Down,
                error,
            })?;
        let s2 = self.snap(client)?;
        let mut down = diff::diff(&s0, &s2);
        down.excuse(|c| fail_closed(c, self.declared));
        if !down.is_clean() {
            return Err(Problem::NotRestored {
                phase: Phase::Down,
                diff: down,
            });
        }
        self.step(client, m, Direction::Up, applied)
            .map_err(|error| Problem::Step {
                phase: Phase::UpAgain,
                error,
            })?;
        let s3 = self.snap(client)?;
        let again = diff::diff(&s1, &s3);
        if !again.is_clean() {
            return Err(Problem::NotRestored {
                phase: Phase::UpAgain,
                diff: again,
            });
        }
        let mut notes = down.notes;
        notes.extend(again.notes);
        Ok(Verdict::Reversible { notes })
    }

    fn snap(&self, client: &mut impl Connection<Client = Client>) -> Result<Snapshot, Problem> {
        snapshot::take(client, self.schema).map_err(Problem::Snapshot)
    }

    /// Applies or reverts `m` alone, as `upgrade`/`downgrade` would, with
    /// the policy stage; updates `applied` when it succeeds.
    fn step(
        &self,
        client: &mut impl Connection<Client = Client>,
        m: &'a Migration,
        direction: Direction,
        applied: &mut BTreeSet<Version>,
    ) -> Result<(), RunError> {
        let mut after = applied.clone();
        match direction {
            Direction::Up => after.insert(m.version),
            Direction::Down => after.remove(&m.version),
        };
        let plan = Plan {
            from: applied.iter().next_back().cloned(),
            to: after.iter().next_back().cloned(),
            steps: vec![Step {
                direction,
                migration: m,
            }],
        };
        let target = m.version.to_string();
        // Nobody else uses the scratch database: its locks are never held by others.
        let ddl = crate::config::DdlSettings::default();
        let settings = Settings {
            schema: self.schema,
            per_migration: false,
            command: "verify",
            target: &target,
            waited: None,
            waited_for: None,
            ddl: &ddl,
            // verify ends on a signal by dropping its scratch database (db::scratch).
            interrupt: None,
        };
        let mut stage = Stage::new(self.declared, self.schema, direction == Direction::Down);
        run::execute(client, &plan, applied, &settings, &mut Silent, &mut stage)?;
        *applied = after;
        Ok(())
    }
}

/// The RLS stage keeps a table's row level security on after its policy
/// file stops applying (fail closed, SPEC 5): not the down migration's
/// doing, so only a note.
fn fail_closed(c: &CatalogChange, declared: &Declared) -> Option<String> {
    let key = c.key();
    if key.kind != Kind::RowLevelSecurity {
        return None;
    }
    let (schema, name) = key.name.split_once('.')?;
    let table = TableName {
        schema: schema.to_string(),
        name: name.to_string(),
    };
    if !declared.tables.contains_key(&table) {
        return None;
    }
    let was = c.before().unwrap_or("");
    let now = c.after()?;
    // Only flags turned on and left on count; one turned off is a change.
    let gained_only = was
        .split(", ")
        .filter(|f| !f.is_empty())
        .all(|f| now.contains(f));
    gained_only.then(|| {
        format!(
            "is {now} after down (was {}): the policy stage keeps a declared table's row level security on (fail closed)",
            if was.is_empty() { "off" } else { was }
        )
    })
}

/// The files verification runs: every up file, and every down file but those
/// of irreversible migrations.
pub fn files_run(project: &Project) -> Vec<crate::project::SqlFile> {
    project
        .migrations
        .iter()
        .flat_map(|m| {
            let down = (!m.irreversible()).then(|| m.down_file());
            std::iter::once(m.up_file()).chain(down)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::snapshot::{CatalogEntry, Key};

    fn declared_items() -> Declared {
        let mut d = Declared::default();
        let table = TableName {
            schema: "public".into(),
            name: "items".into(),
        };
        d.tables.insert(
            table.clone(),
            crate::policies::declared::TableDecl {
                table,
                enable: true,
                force: true,
                policies: Vec::new(),
                path: "sql/policies/items.sql".into(),
                text: "".into(),
                span: 0..0,
                requires: None,
            },
        );
        d
    }

    fn rls(name: &str, before: Option<&str>, after: Option<&str>) -> CatalogChange {
        let key = Key {
            kind: Kind::RowLevelSecurity,
            name: name.into(),
        };
        let e = |s: &str| CatalogEntry {
            definition: s.into(),
            note: None,
        };
        match (before, after) {
            (None, Some(a)) => CatalogChange::Added { key, after: e(a) },
            (Some(b), None) => CatalogChange::Removed { key, before: e(b) },
            (Some(b), Some(a)) => CatalogChange::Changed {
                key,
                before: e(b),
                after: e(a),
            },
            (None, None) => unreachable!(),
        }
    }

    #[test]
    fn rls_left_on_for_a_declared_table_is_excused() {
        let d = declared_items();
        assert!(fail_closed(&rls("public.items", None, Some("enabled, forced")), &d).is_some());
        assert!(fail_closed(
            &rls("public.items", Some("enabled"), Some("enabled, forced")),
            &d
        )
        .is_some());
    }

    #[test]
    fn rls_changes_that_are_not_the_stage_s_are_differences() {
        let d = declared_items();
        // Not a declared table.
        assert!(fail_closed(&rls("public.other", None, Some("enabled")), &d).is_none());
        // Turned off.
        assert!(fail_closed(&rls("public.items", Some("enabled"), None), &d).is_none());
        assert!(fail_closed(
            &rls("public.items", Some("enabled, forced"), Some("enabled")),
            &d
        )
        .is_none());
    }
}
