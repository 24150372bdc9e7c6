//! From (migrations on disk, versions applied, target) to the ordered steps
//! to run. Pure: no database, no printing, so every rule here is unit-tested.

use crate::history_model::AppliedVersion;
pub use crate::history_model::Direction;
use crate::project::{Migration, Project, Version};
use std::collections::BTreeSet;

/// Where to go: `head`, `base`, a version, `+N` or `-N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Head,
    Base,
    Version(Version),
    Relative(i64),
}

impl Target {
    pub fn parse(s: &str) -> Option<Target> {
        let s = s.trim();
        match s {
            "head" | "heads" => Some(Target::Head),
            "base" => Some(Target::Base),
            _ if s.starts_with('+') || s.starts_with('-') => {
                let n: i64 = s.parse().ok()?;
                (n != 0).then_some(Target::Relative(n))
            }
            _ => Version::parse(s).map(Target::Version),
        }
    }
}

/// One migration to apply or revert.
#[derive(Debug, Clone)]
pub struct Step<'a> {
    pub direction: Direction,
    pub migration: &'a Migration,
}

impl Step<'_> {
    /// The file this step runs: the up file going up, the down file going down.
    pub fn file(&self) -> crate::project::SqlFile {
        match self.direction {
            Direction::Up => self.migration.up_file(),
            Direction::Down => self.migration.down_file(),
        }
    }
}

/// The steps of a run and the versions before and after it.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    pub from: Option<Version>,
    pub to: Option<Version>,
    pub steps: Vec<Step<'a>>,
}

/// Why no plan can be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("Can't locate revision identified by '{given}'")]
    UnknownRevision { given: String },
    #[error("target {target} is below the current version {current}")]
    BelowCurrent { target: String, current: String },
    #[error("target {target} is above the current version {current}")]
    AboveCurrent { target: String, current: String },
    #[error("`{target}` is not a target for {command}")]
    WrongTarget {
        target: String,
        command: &'static str,
    },
    #[error("relative revision {given} goes beyond the {} available", crate::report::count(*.available, "migration"))]
    TooFar { given: String, available: usize },
    #[error("version {} is not applied but the newer version {current} is (out of order)", pending.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", "))]
    OutOfOrder {
        pending: Vec<Version>,
        current: String,
    },
    /// [`Project::missing_applied`] says which.
    #[error("{message}")]
    MissingFiles { message: String },
    #[error("migration {id} is irreversible: its down file says `-- keel:irreversible`")]
    Irreversible { id: String, path: String },
}

impl PlanError {
    pub fn hint(&self, project: &Project) -> String {
        match self {
            PlanError::UnknownRevision { given } => nearby_versions(project, given),
            PlanError::BelowCurrent { .. } => "use `keel downgrade` to go back".into(),
            PlanError::AboveCurrent { .. } => "use `keel upgrade` to go forward".into(),
            PlanError::WrongTarget { command, .. } => match *command {
                "upgrade" => "upgrade takes head, a version or +N".into(),
                "stamp" => "stamp takes head, base or a version".into(),
                _ => "downgrade takes base, a version or -N".into(),
            },
            PlanError::TooFar { .. } => "`keel history` shows what is applied and pending".into(),
            PlanError::OutOfOrder { pending, .. } => out_of_order_hint(project, pending.first()),
            PlanError::MissingFiles { .. } => "restore the files from version control; keel will not revert what it cannot read".into(),
            PlanError::Irreversible { path, .. } => format!("the down file `{path}` cannot undo this migration; downgrade to a later version, or restore from a backup"),
        }
    }
}

/// "known versions nearby: ..." for an unknown target: the versions closest
/// to the one asked for.
pub fn nearby_versions(project: &Project, given: &str) -> String {
    let all = &project.migrations;
    if all.is_empty() {
        return "there are no migrations on disk".into();
    }
    let wanted = given.trim_start_matches(['+', '-']).parse::<u128>().ok();
    let centre = wanted.map_or(all.len() - 1, |w| {
        all.partition_point(|m| m.version.number() < w)
            .min(all.len() - 1)
    });
    let lo = centre.saturating_sub(3);
    let hi = (centre + 3).min(all.len());
    let list: Vec<String> = all[lo..hi].iter().map(|m| m.id()).collect();
    let more = if all.len() > hi - lo {
        " (`keel history` lists all)"
    } else {
        ""
    };
    format!("known versions nearby: {}{more}", list.join(", "))
}

/// The newest applied version.
pub fn current(applied: &[AppliedVersion]) -> Option<Version> {
    applied.iter().map(|a| a.version).max()
}

/// Steps to apply to reach `target`.
pub fn upgrade<'a>(
    project: &'a Project,
    applied: &[AppliedVersion],
    target: &Target,
) -> Result<Plan<'a>, PlanError> {
    let done: BTreeSet<&Version> = applied.iter().map(|a| &a.version).collect();
    let from = current(applied);
    let pending: Vec<&Migration> = project
        .migrations
        .iter()
        .filter(|m| !done.contains(&m.version))
        .collect();
    if let Some(cur) = &from {
        let late: Vec<Version> = pending
            .iter()
            .filter(|m| &m.version < cur)
            .map(|m| m.version)
            .collect();
        if !late.is_empty() {
            return Err(PlanError::OutOfOrder {
                pending: late,
                current: cur.to_string(),
            });
        }
    }
    let chosen: Vec<&Migration> = match target {
        Target::Head => pending,
        Target::Version(v) => {
            if project.find(v).is_none() {
                return Err(PlanError::UnknownRevision {
                    given: v.to_string(),
                });
            }
            if let Some(cur) = &from {
                if v < cur {
                    return Err(PlanError::BelowCurrent {
                        target: v.to_string(),
                        current: cur.to_string(),
                    });
                }
            }
            pending.into_iter().filter(|m| &m.version <= v).collect()
        }
        Target::Relative(n) if *n > 0 => {
            let n = *n as usize;
            if n > pending.len() {
                return Err(PlanError::TooFar {
                    given: format!("+{n}"),
                    available: pending.len(),
                });
            }
            pending.into_iter().take(n).collect()
        }
        Target::Base | Target::Relative(_) => {
            return Err(PlanError::WrongTarget {
                target: target_text(target),
                command: "upgrade",
            })
        }
    };
    let to = chosen.last().map(|m| m.version).or(from);
    Ok(Plan {
        from,
        to,
        steps: chosen
            .into_iter()
            .map(|m| Step {
                direction: Direction::Up,
                migration: m,
            })
            .collect(),
    })
}

/// Steps to revert to reach `target`.
pub fn downgrade<'a>(
    project: &'a Project,
    applied: &[AppliedVersion],
    target: &Target,
) -> Result<Plan<'a>, PlanError> {
    let from = current(applied);
    let newest_first: Vec<&AppliedVersion> = applied.iter().rev().collect();
    let chosen: Vec<&AppliedVersion> = match target {
        Target::Base => newest_first,
        Target::Version(v) => {
            let known = project.find(v).is_some() || applied.iter().any(|a| &a.version == v);
            if !known {
                return Err(PlanError::UnknownRevision {
                    given: v.to_string(),
                });
            }
            if let Some(cur) = &from {
                if v > cur {
                    return Err(PlanError::AboveCurrent {
                        target: v.to_string(),
                        current: cur.to_string(),
                    });
                }
            }
            newest_first
                .into_iter()
                .filter(|a| &a.version > v)
                .collect()
        }
        Target::Relative(n) if *n < 0 => {
            let n = n.unsigned_abs() as usize;
            if n > newest_first.len() {
                return Err(PlanError::TooFar {
                    given: format!("-{n}"),
                    available: newest_first.len(),
                });
            }
            newest_first.into_iter().take(n).collect()
        }
        Target::Head | Target::Relative(_) => {
            return Err(PlanError::WrongTarget {
                target: target_text(target),
                command: "downgrade",
            })
        }
    };
    let mut steps = Vec::new();
    for a in &chosen {
        let m = project
            .find(&a.version)
            .ok_or_else(|| PlanError::MissingFiles {
                message: project.missing_applied(&a.version, &a.name),
            })?;
        if m.irreversible() {
            return Err(PlanError::Irreversible {
                id: m.id(),
                path: m.path(crate::project::FileKind::Down).display().to_string(),
            });
        }
        steps.push(Step {
            direction: Direction::Down,
            migration: m,
        });
    }
    let reverted: BTreeSet<&Version> = chosen.iter().map(|a| &a.version).collect();
    let to = applied
        .iter()
        .filter(|a| !reverted.contains(&a.version))
        .map(|a| a.version)
        .max();
    Ok(Plan { from, to, steps })
}

/// Versions to record for `stamp TARGET`: every version on disk up to the
/// target is marked applied, every applied version above it is forgotten.
pub fn stamp<'a>(
    project: &'a Project,
    applied: &[AppliedVersion],
    target: &Target,
) -> Result<(Vec<&'a Migration>, Vec<Version>), PlanError> {
    let limit: Option<Version> = match target {
        Target::Head => project.head().map(|m| m.version),
        Target::Base => None,
        Target::Version(v) => {
            if project.find(v).is_none() {
                return Err(PlanError::UnknownRevision {
                    given: v.to_string(),
                });
            }
            Some(*v)
        }
        Target::Relative(_) => {
            return Err(PlanError::WrongTarget {
                target: target_text(target),
                command: "stamp",
            })
        }
    };
    let done: BTreeSet<&Version> = applied.iter().map(|a| &a.version).collect();
    let add = project
        .migrations
        .iter()
        .filter(|m| limit.as_ref().is_some_and(|l| &m.version <= l) && !done.contains(&m.version))
        .collect();
    let remove = applied
        .iter()
        .filter(|a| limit.as_ref().is_none_or(|l| &a.version > l))
        .map(|a| a.version)
        .collect();
    Ok((add, remove))
}

fn target_text(t: &Target) -> String {
    match t {
        Target::Head => "head".into(),
        Target::Base => "base".into(),
        Target::Version(v) => v.to_string(),
        Target::Relative(n) if *n > 0 => format!("+{n}"),
        Target::Relative(n) => n.to_string(),
    }
}

/// How to run a version that is older than the newest applied one: renumber it above, or
/// revert to the version before it and upgrade again, which runs everything in order.
/// (`keel stamp` would not do: it records exactly the versions up to its target, and would
/// unrecord the newer ones.)
pub fn out_of_order_hint(project: &Project, pending: Option<&Version>) -> String {
    let before = pending.and_then(|p| {
        project
            .migrations
            .iter()
            .map(|m| m.version)
            .filter(|v| v < p)
            .max()
    });
    let back = match before {
        Some(v) => format!("`keel downgrade {}`", v.number()),
        None => "`keel downgrade base`".to_string(),
    };
    format!(
        "give it a version above the newest applied one (rename both files; `keel revision` numbers new ones so), or run {back} and `keel upgrade`, which reverts the newer versions and applies them all in order"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn project(versions: &[u128], irreversible: &[u128]) -> Project {
        let migrations = versions
            .iter()
            .map(|&v| {
                let version = Version::with_width(v, 4);
                let down_text = if irreversible.contains(&v) {
                    "-- keel:irreversible\n"
                } else {
                    "DROP TABLE t;\n"
                };
                Migration::from_texts(
                    Path::new("sql"),
                    version,
                    &format!("m{v}"),
                    "SELECT 1;",
                    down_text,
                )
            })
            .collect();
        Project {
            migrations,
            ..Project::default()
        }
    }

    fn applied(versions: &[u128]) -> Vec<AppliedVersion> {
        versions
            .iter()
            .map(|&v| AppliedVersion {
                version: Version::with_width(v, 4),
                name: format!("m{v}"),
                up_checksum: String::new(),
                down_checksum: String::new(),
                up_sql: String::new(),
                down_sql: String::new(),
                irreversible: false,
                applied_at: String::new(),
                applied_by: String::new(),
                client_host: None,
                duration_ms: None,
                keel_version: String::new(),
                dirty: false,
                dirty_direction: None,
                dirty_statement: None,
            })
            .collect()
    }

    fn versions(p: &Plan<'_>) -> Vec<u128> {
        p.steps
            .iter()
            .map(|s| s.migration.version.number())
            .collect()
    }

    fn t(s: &str) -> Target {
        Target::parse(s).unwrap()
    }

    #[test]
    fn targets_parse() {
        assert_eq!(t("head"), Target::Head);
        assert_eq!(t("-1"), Target::Relative(-1));
        assert_eq!(t("+2"), Target::Relative(2));
        assert_eq!(t("0003"), Target::Version(Version::with_width(3, 1)));
        assert!(Target::parse("abc").is_none());
        assert!(Target::parse("-0").is_none());
    }

    #[test]
    fn upgrade_plans() {
        let p = project(&[1, 2, 3, 4], &[]);
        assert_eq!(
            versions(&upgrade(&p, &applied(&[]), &t("head")).unwrap()),
            [1, 2, 3, 4]
        );
        assert_eq!(
            versions(&upgrade(&p, &applied(&[1]), &t("3")).unwrap()),
            [2, 3]
        );
        assert_eq!(
            versions(&upgrade(&p, &applied(&[1]), &t("+2")).unwrap()),
            [2, 3]
        );
        assert!(upgrade(&p, &applied(&[1, 2, 3, 4]), &t("head"))
            .unwrap()
            .steps
            .is_empty());
        assert_eq!(
            upgrade(&p, &applied(&[1]), &t("9")).unwrap_err(),
            PlanError::UnknownRevision { given: "9".into() }
        );
        assert!(matches!(
            upgrade(&p, &applied(&[1, 3]), &t("head")),
            Err(PlanError::OutOfOrder { .. })
        ));
        assert!(matches!(
            upgrade(&p, &applied(&[3]), &t("2")),
            Err(PlanError::OutOfOrder { .. })
        ));
        assert!(matches!(
            upgrade(&p, &applied(&[1]), &t("+9")),
            Err(PlanError::TooFar { .. })
        ));
        assert!(matches!(
            upgrade(&p, &applied(&[1]), &t("-1")),
            Err(PlanError::WrongTarget { .. })
        ));
    }

    #[test]
    fn downgrade_plans() {
        let p = project(&[1, 2, 3, 4], &[2]);
        let a = applied(&[1, 2, 3, 4]);
        assert_eq!(versions(&downgrade(&p, &a, &t("-1")).unwrap()), [4]);
        let plan = downgrade(&p, &a, &t("2")).unwrap();
        assert_eq!(versions(&plan), [4, 3]);
        assert_eq!(plan.to.map(|v| v.number()), Some(2));
        assert!(matches!(
            downgrade(&p, &a, &t("base")),
            Err(PlanError::Irreversible { .. })
        ));
        assert!(matches!(
            downgrade(&p, &a, &t("-5")),
            Err(PlanError::TooFar { .. })
        ));
        let p = project(&[1, 3, 4], &[]);
        assert!(matches!(
            downgrade(&p, &a, &t("1")),
            Err(PlanError::MissingFiles { .. })
        ));
    }

    #[test]
    fn stamp_plans() {
        let p = project(&[1, 2, 3], &[]);
        let (add, remove) = stamp(&p, &applied(&[1]), &t("head")).unwrap();
        assert_eq!(
            add.iter().map(|m| m.version.number()).collect::<Vec<_>>(),
            [2, 3]
        );
        assert!(remove.is_empty());
        let (add, remove) = stamp(&p, &applied(&[1, 2, 3]), &t("1")).unwrap();
        assert!(add.is_empty());
        assert_eq!(
            remove.iter().map(|v| v.number()).collect::<Vec<_>>(),
            [2, 3]
        );
    }

    #[test]
    fn nearby() {
        let p = project(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], &[]);
        assert_eq!(
            nearby_versions(&p, "5"),
            "known versions nearby: 0002_m2, 0003_m3, 0004_m4, 0005_m5, 0006_m6, 0007_m7 (`keel history` lists all)"
        );
    }
}
