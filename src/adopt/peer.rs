//! What each tool's history rows mean, in keel versions: which versions are applied, which
//! rows refuse the adoption (a migration that did not finish, a version keel cannot hold),
//! and which are left aside with a note. One function per tool.

use super::{split_source, PeerChecksum, PeerHistory, PeerVersion, Sources, Tool};
use crate::db::peer_history::{FlywayRow, GolangMigrateRow, SqlxRow};
use crate::diagnostic::{codes, Diagnostic};
use crate::project::Version;
use std::collections::BTreeMap;

/// A peer's history rows, as `db::peer_history` read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerRows {
    Sqlx(Vec<SqlxRow>),
    GolangMigrate(Vec<GolangMigrateRow>),
    Dbmate(Vec<String>),
    Flyway(Vec<FlywayRow>),
    Diesel(Vec<String>),
    Supabase(Vec<String>),
    Alembic(Vec<String>),
}

/// What `rows`, read from the table `table` (as shown), say is applied. `sources` (the keel
/// files' `-- keel:source`) is how Alembic's revision is found.
pub fn interpret(rows: &PeerRows, table: &str, sources: &Sources) -> PeerHistory {
    match rows {
        PeerRows::Sqlx(rows) => sqlx(rows, table),
        PeerRows::GolangMigrate(rows) => golang_migrate(rows, table),
        PeerRows::Dbmate(rows) => one_row_per_version(Tool::Dbmate, rows, str::to_string),
        PeerRows::Flyway(rows) => flyway(rows, table),
        // diesel stores the folder's version without its dashes; older releases may not
        // have, and the importer strips them too.
        PeerRows::Diesel(rows) => one_row_per_version(Tool::Diesel, rows, |v| v.replace('-', "")),
        PeerRows::Supabase(rows) => one_row_per_version(Tool::Supabase, rows, str::to_string),
        PeerRows::Alembic(rows) => alembic(rows, table, sources),
    }
}

/// The keel version of the peer's version text `digits`, or the `adopt-version` problem.
fn version(tool: Tool, digits: &str, shown: &str) -> Result<Version, Box<Diagnostic>> {
    Version::parse(digits).ok_or_else(|| {
        Box::new(Diagnostic::error(
            codes::ADOPT_VERSION,
            format!(
                "{}'s history has version `{shown}`, which is not a keel version (1 to 20 digits)",
                tool.name()
            ),
        )
        .with_hint("keel versions are whole numbers: renumber the migrations with the tool, then import and adopt again"))
    })
}

/// sqlx: a row per migration; `success = false` is one that failed part-way.
fn sqlx(rows: &[SqlxRow], table: &str) -> PeerHistory {
    let mut h = PeerHistory::default();
    for r in rows {
        if !r.success {
            h.problems.push(
                Diagnostic::error(
                    codes::ADOPT_UNFINISHED,
                    format!(
                        "sqlx's history has version {} ({}) with success = false: it failed part-way, and sqlx considers the database dirty",
                        r.version, r.description
                    ),
                )
                .with_hint(format!(
                    "look at what the migration left behind and finish or undo it by hand, remove its row (`DELETE FROM {table} WHERE version = {}`) and run `sqlx migrate run`, then adopt again",
                    r.version
                )),
            );
            continue;
        }
        let shown = r.version.to_string();
        match version(Tool::Sqlx, &shown, &shown) {
            Ok(v) => h.named.push(PeerVersion {
                number: v.number(),
                shown,
                checksum: Some(PeerChecksum::Sha384(r.checksum.clone())),
            }),
            Err(d) => h.problems.push(*d),
        }
    }
    h
}

/// golang-migrate: one row, the current version; everything up to it is applied unless it
/// is dirty (its migration failed part-way).
fn golang_migrate(rows: &[GolangMigrateRow], table: &str) -> PeerHistory {
    let mut h = PeerHistory::default();
    let [row] = rows else {
        if !rows.is_empty() {
            h.problems.push(
                Diagnostic::error(
                    codes::ADOPT_TABLE,
                    format!(
                        "golang-migrate keeps one row in its history table, and `{table}` has {}",
                        rows.len()
                    ),
                )
                .with_hint("check that this is golang-migrate's table (`--table` names another)"),
            );
        }
        return h;
    };
    if row.dirty {
        h.problems.push(
            Diagnostic::error(
                codes::ADOPT_UNFINISHED,
                format!(
                    "golang-migrate's history says version {} is dirty: its migration failed part-way",
                    row.version
                ),
            )
            .with_hint(
                "look at what the migration left behind and finish or undo it by hand, record the version that is true with `migrate force VERSION`, then adopt again",
            ),
        );
        return h;
    }
    // golang-migrate writes no row for "nothing applied"; a negative version means the same.
    if row.version < 0 {
        return h;
    }
    let shown = row.version.to_string();
    match version(Tool::GolangMigrate, &shown, &shown) {
        Ok(v) => {
            h.through = Some(v.number());
            h.named.push(PeerVersion {
                number: v.number(),
                shown,
                checksum: None,
            });
        }
        Err(d) => h.problems.push(*d),
    }
    h
}

/// dbmate, diesel, Supabase: a row per applied version, nothing else. `digits` turns the
/// stored text into the digits of the keel version.
fn one_row_per_version(
    tool: Tool,
    rows: &[String],
    digits: impl Fn(&str) -> String,
) -> PeerHistory {
    let mut h = PeerHistory::default();
    for r in rows {
        match version(tool, &digits(r.trim()), r) {
            Ok(v) => h.named.push(PeerVersion {
                number: v.number(),
                shown: r.clone(),
                checksum: None,
            }),
            Err(d) => h.problems.push(*d),
        }
    }
    h
}

/// Flyway: a row per event, in `installed_rank` order. A versioned migration that succeeded
/// is applied (its checksum recorded for `SQL` scripts); an undo (`UNDO_*`) or a `DELETE`
/// marker (`flyway repair` forgetting a missing migration) unapplies its version; a baseline
/// (`BASELINE`, `*_BASELINE`) stands for every version up to its own; repeatable migrations
/// (no version) and the `SCHEMA` marker are not migrations keel has. A row with `success`
/// false is a migration that failed.
fn flyway(rows: &[FlywayRow], table: &str) -> PeerHistory {
    let mut h = PeerHistory::default();
    // By version text, as Flyway keys them; parsed once the history is replayed, so that a
    // version keel cannot hold refuses only if it is still applied at the end.
    let mut applied: BTreeMap<&str, &FlywayRow> = BTreeMap::new();
    let mut baseline: Option<&FlywayRow> = None;
    let mut repeatables: Vec<&str> = Vec::new();
    for r in rows {
        let kind = r.kind.to_ascii_uppercase();
        if !r.success {
            h.problems.push(
                Diagnostic::error(
                    codes::ADOPT_UNFINISHED,
                    format!(
                        "Flyway's history records a failed migration: {} `{}` (installed_rank {})",
                        r.version
                            .as_deref()
                            .map_or("repeatable".to_string(), |v| format!("version {v}")),
                        r.script,
                        r.installed_rank
                    ),
                )
                .with_hint(format!(
                    "look at what the migration left behind and finish or undo it by hand, run `flyway repair` (which removes failed rows from {table}), then adopt again"
                )),
            );
            continue;
        }
        if kind == "SCHEMA" {
            continue;
        }
        let Some(v) = r.version.as_deref() else {
            if !repeatables.contains(&r.script.as_str()) {
                repeatables.push(&r.script);
            }
            continue;
        };
        if kind.ends_with("BASELINE") {
            baseline = Some(r);
        } else if kind.starts_with("UNDO") || kind == "DELETE" {
            applied.remove(v);
        } else {
            applied.insert(v, r);
        }
    }
    for script in repeatables {
        h.notes.push(format!(
            "repeatable migration `{script}` is not adopted: keel has no repeatable migrations"
        ));
    }
    if let Some(b) = baseline {
        let v = b.version.as_deref().unwrap_or_default();
        match version(Tool::Flyway, v, v) {
            Ok(n) => {
                h.through = Some(n.number());
                h.notes.push(format!(
                    "Flyway's baseline ({} `{}`) stands for every version up to {v}: each keel migration up to it is adopted as applied",
                    b.kind, b.description
                ));
            }
            Err(d) => h.problems.push(*d),
        }
    }
    for (v, r) in applied {
        match version(Tool::Flyway, v, v) {
            Ok(n) => h.named.push(PeerVersion {
                number: n.number(),
                shown: v.to_string(),
                checksum: r
                    .checksum
                    .filter(|_| r.kind.eq_ignore_ascii_case("SQL"))
                    .map(PeerChecksum::Crc32),
            }),
            Err(d) => h.problems.push(*d),
        }
    }
    h.named.sort_by_key(|v| v.number);
    h
}

/// Alembic: the head revision; the keel migration whose `-- keel:source alembic` names it,
/// and every one before it, are applied.
fn alembic(rows: &[String], table: &str, sources: &Sources) -> PeerHistory {
    let mut h = PeerHistory::default();
    let rev = match rows {
        [] => return h,
        [rev] => rev.trim(),
        heads => {
            h.problems.push(
                Diagnostic::error(
                    codes::ADOPT_VERSION,
                    format!(
                        "`{table}` holds {} heads ({}): the revisions branch, and keel's versions are one line",
                        heads.len(),
                        heads.join(", ")
                    ),
                )
                .with_hint("merge the heads (`alembic merge heads`) and upgrade to the merge revision, then adopt"),
            );
            return h;
        }
    };
    let matches: Vec<u128> = sources
        .iter()
        .filter(|(_, s)| {
            split_source(s)
                .is_some_and(|(tool, path)| tool == "alembic" && names_revision(path, rev))
        })
        .map(|(v, _)| *v)
        .collect();
    match matches[..] {
        [v] => {
            h.through = Some(v);
            h.named.push(PeerVersion {
                number: v,
                shown: rev.to_string(),
                checksum: None,
            });
        }
        [] => h.problems.push(
            Diagnostic::error(
                codes::ADOPT_MISSING_FILE,
                format!(
                    "Alembic's head revision `{rev}` has no keel migration: no up file says `-- keel:source alembic {rev}`"
                ),
            )
            .with_hint("import the Alembic revisions up to the head, or add the header to the keel migration that stands for it, then adopt again"),
        ),
        _ => h.problems.push(
            Diagnostic::error(
                codes::ADOPT_VERSION,
                format!(
                    "Alembic's head revision `{rev}` is named by {} keel migrations",
                    matches.len()
                ),
            )
            .with_hint("keep `-- keel:source alembic {rev}` on the one migration that stands for it"),
        ),
    }
    h
}

/// Whether the `-- keel:source alembic` value `path` names revision `rev`: the revision id
/// itself, or its revision file (`versions/<rev>_<slug>.py`, `<rev>.py`).
fn names_revision(path: &str, rev: &str) -> bool {
    if path == rev {
        return true;
    }
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.strip_suffix(".py").unwrap_or(file);
    stem == rev
        || stem
            .strip_prefix(rev)
            .is_some_and(|rest| rest.starts_with('_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(h: &PeerHistory) -> Vec<u128> {
        h.named.iter().map(|v| v.number).collect()
    }

    fn codes_of(h: &PeerHistory) -> Vec<&str> {
        h.problems.iter().map(|p| p.code.as_str()).collect()
    }

    fn texts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sqlx_rows_are_versions_with_their_checksums() {
        let row = |version, success| SqlxRow {
            version,
            description: "create users".into(),
            success,
            checksum: vec![7; 48],
        };
        let h = interpret(
            &PeerRows::Sqlx(vec![row(20230101120000, true), row(20230102090000, true)]),
            "public._sqlx_migrations",
            &Sources::new(),
        );
        assert!(h.problems.is_empty());
        assert_eq!(numbers(&h), [20230101120000, 20230102090000]);
        assert_eq!(h.named[0].checksum, Some(PeerChecksum::Sha384(vec![7; 48])));
        assert_eq!(h.through, None);
        let h = interpret(
            &PeerRows::Sqlx(vec![row(1, true), row(2, false), row(-3, true)]),
            "public._sqlx_migrations",
            &Sources::new(),
        );
        assert_eq!(codes_of(&h), ["adopt-unfinished", "adopt-version"]);
        assert!(h.problems[0]
            .message
            .contains("version 2 (create users) with success = false"));
        assert!(h.problems[0]
            .hint
            .as_deref()
            .unwrap()
            .contains("DELETE FROM public._sqlx_migrations WHERE version = 2"));
    }

    #[test]
    fn golang_migrate_row_is_the_current_version() {
        let gm = |rows: Vec<GolangMigrateRow>| {
            interpret(
                &PeerRows::GolangMigrate(rows),
                "public.schema_migrations",
                &Sources::new(),
            )
        };
        let h = gm(vec![GolangMigrateRow {
            version: 2,
            dirty: false,
        }]);
        assert!(h.problems.is_empty());
        assert_eq!((numbers(&h), h.through), (vec![2], Some(2)));
        assert_eq!(gm(vec![]), PeerHistory::default());
        let h = gm(vec![GolangMigrateRow {
            version: 2,
            dirty: true,
        }]);
        assert_eq!(codes_of(&h), ["adopt-unfinished"]);
        assert!(h.problems[0].message.contains("version 2 is dirty"));
        assert!(h.named.is_empty() && h.through.is_none());
        let h = gm(vec![
            GolangMigrateRow {
                version: 1,
                dirty: false,
            },
            GolangMigrateRow {
                version: 2,
                dirty: false,
            },
        ]);
        assert_eq!(codes_of(&h), ["adopt-table"]);
    }

    #[test]
    fn dbmate_diesel_and_supabase_rows_are_versions() {
        let h = interpret(
            &PeerRows::Dbmate(texts(&["20230101120000", "000002"])),
            "public.schema_migrations",
            &Sources::new(),
        );
        assert!(h.problems.is_empty());
        assert_eq!(numbers(&h), [20230101120000, 2]);
        assert_eq!(h.named[1].shown, "000002");
        let h = interpret(
            &PeerRows::Diesel(texts(&[
                "00000000000000",
                "20230115093000",
                "2023-02-01-120000",
            ])),
            "public.__diesel_schema_migrations",
            &Sources::new(),
        );
        assert!(h.problems.is_empty());
        assert_eq!(numbers(&h), [0, 20230115093000, 20230201120000]);
        let h = interpret(
            &PeerRows::Supabase(texts(&["20240101000000", "v2"])),
            "supabase_migrations.schema_migrations",
            &Sources::new(),
        );
        assert_eq!(numbers(&h), [20240101000000]);
        assert_eq!(codes_of(&h), ["adopt-version"]);
        assert!(h.problems[0].message.contains("`v2`"));
    }

    fn fw(
        rank: i32,
        version: Option<&str>,
        kind: &str,
        checksum: Option<i32>,
        success: bool,
    ) -> FlywayRow {
        FlywayRow {
            installed_rank: rank,
            version: version.map(str::to_string),
            description: "d".into(),
            kind: kind.into(),
            script: version.map_or("R__view.sql".to_string(), |v| format!("V{v}__d.sql")),
            checksum,
            success,
        }
    }

    fn flyway_history(rows: Vec<FlywayRow>) -> PeerHistory {
        interpret(
            &PeerRows::Flyway(rows),
            "public.flyway_schema_history",
            &Sources::new(),
        )
    }

    #[test]
    fn flyway_versioned_rows_are_applied_and_repeatables_noted() {
        let h = flyway_history(vec![
            fw(0, Some("0"), "SCHEMA", None, true),
            fw(1, Some("1"), "SQL", Some(-5), true),
            fw(2, Some("2"), "SQL", Some(9), true),
            fw(3, None, "SQL", Some(4), true),
            fw(4, Some("3"), "JDBC", None, true),
            fw(5, None, "SQL", Some(5), true),
        ]);
        assert!(h.problems.is_empty(), "{:?}", h.problems);
        assert_eq!(numbers(&h), [1, 2, 3]);
        assert_eq!(h.named[0].checksum, Some(PeerChecksum::Crc32(-5)));
        assert_eq!(h.named[2].checksum, None);
        assert_eq!(h.notes.len(), 1, "{:?}", h.notes);
        assert!(h.notes[0].contains("`R__view.sql`"));
    }

    #[test]
    fn flyway_undo_delete_and_baseline_rows() {
        let h = flyway_history(vec![
            fw(1, Some("1"), "SQL", Some(1), true),
            fw(2, Some("2"), "SQL", Some(2), true),
            fw(3, Some("2"), "UNDO_SQL", Some(3), true),
            fw(4, Some("1"), "DELETE", None, true),
            fw(5, Some("3"), "SQL", Some(4), true),
        ]);
        assert!(h.problems.is_empty());
        assert_eq!(numbers(&h), [3]);
        // Undone, then applied again: applied, with the newest checksum.
        let h = flyway_history(vec![
            fw(1, Some("2"), "SQL", Some(1), true),
            fw(2, Some("2"), "UNDO_SQL", None, true),
            fw(3, Some("2"), "SQL", Some(7), true),
        ]);
        assert_eq!(h.named[0].checksum, Some(PeerChecksum::Crc32(7)));
        // A baseline stands for everything up to it.
        let h = flyway_history(vec![
            fw(1, Some("5"), "BASELINE", None, true),
            fw(2, Some("6"), "SQL", Some(1), true),
        ]);
        assert!(h.problems.is_empty());
        assert_eq!((numbers(&h), h.through), (vec![6], Some(5)));
        assert!(h.notes[0].contains("baseline"), "{:?}", h.notes);
    }

    #[test]
    fn flyway_failed_rows_and_versions_with_parts_refuse() {
        let h = flyway_history(vec![
            fw(1, Some("1"), "SQL", Some(1), true),
            fw(2, Some("2"), "SQL", Some(2), false),
        ]);
        assert_eq!(codes_of(&h), ["adopt-unfinished"]);
        assert!(h.problems[0]
            .message
            .contains("version 2 `V2__d.sql` (installed_rank 2)"));
        let h = flyway_history(vec![fw(1, Some("1.1"), "SQL", Some(1), true)]);
        assert_eq!(codes_of(&h), ["adopt-version"]);
        // Undone before the adoption: no longer in the way.
        let h = flyway_history(vec![
            fw(1, Some("1.1"), "SQL", Some(1), true),
            fw(2, Some("1.1"), "UNDO_SQL", None, true),
        ]);
        assert!(h.problems.is_empty());
    }

    #[test]
    fn alembic_head_maps_through_keel_sources() {
        let sources: Sources = [
            (1, "alembic 1975ea83b712".to_string()),
            (
                2,
                "alembic versions/ae1027a6acf_add_a_column.py".to_string(),
            ),
            (3, "alembic 27c6a30d7c24".to_string()),
            (4, "sqlx 4_x.sql".to_string()),
        ]
        .into_iter()
        .collect();
        let al = |rows: &[&str]| {
            interpret(
                &PeerRows::Alembic(texts(rows)),
                "public.alembic_version",
                &sources,
            )
        };
        let h = al(&["ae1027a6acf"]);
        assert!(h.problems.is_empty());
        assert_eq!((numbers(&h), h.through), (vec![2], Some(2)));
        assert_eq!(h.named[0].shown, "ae1027a6acf");
        assert_eq!(al(&["1975ea83b712"]).through, Some(1));
        assert_eq!(al(&[]), PeerHistory::default());
        let h = al(&["deadbeef"]);
        assert_eq!(codes_of(&h), ["adopt-missing-file"]);
        assert!(h.problems[0].message.contains("`deadbeef`"));
        assert_eq!(
            codes_of(&al(&["1975ea83b712", "27c6a30d7c24"])),
            ["adopt-version"]
        );
        // `ae1027a6acf` is not `ae1027a6`.
        assert_eq!(codes_of(&al(&["ae1027a6"])), ["adopt-missing-file"]);
    }
}
