//! `keel adopt`: another runner's history table becomes keel's, nothing re-run.
//!
//! ```text
//! the peer's table ─► db::peer_history (its rows, as the tool wrote them)
//!   ─► peer (per tool: the versions the rows say are applied, and the rows that refuse)
//!   ─► decide (against the files on disk and keel's own history: ahead, missing, conflicts)
//!   ─► checksums (sqlx, Flyway: the tool's checksum recomputed from the original file)
//!   ─► migrate::adopt records the versions (keel.versions, one `adopt` event)
//! ```
//!
//! Everything here is pure: the rows come in as values, and the decision goes out as keel
//! versions and [`Diagnostic`]s. Any error refuses the whole adoption.

pub mod checksum;
mod peer;

pub use peer::{interpret, PeerRows};

use crate::db::peer_history::PeerTable;
use crate::diagnostic::{codes, Diagnostic};
use crate::import::SourceDir;
use crate::project::Version;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A migration tool whose history keel adopts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Tool {
    /// sqlx-cli: `_sqlx_migrations`
    Sqlx,
    /// dbmate: `schema_migrations` (one row per version)
    Dbmate,
    /// golang-migrate: `schema_migrations` (the current version and its dirty flag)
    #[value(name = "golang-migrate")]
    GolangMigrate,
    /// Flyway: `flyway_schema_history`
    Flyway,
    /// diesel: `__diesel_schema_migrations`
    Diesel,
    /// Supabase CLI: `supabase_migrations.schema_migrations`
    Supabase,
    /// Alembic: `alembic_version` (the head revision)
    Alembic,
}

impl Tool {
    /// The name on the command line, in `-- keel:source` and in the event log.
    pub fn name(self) -> &'static str {
        self.import_tool().name()
    }

    /// The `keel import` tool of the same name: its source files are what adoption re-reads
    /// for checksums (never for Alembic, which records none: see [`Tool::default_from`]).
    pub fn import_tool(self) -> crate::import::Tool {
        use crate::import::Tool as I;
        match self {
            Tool::Sqlx => I::Sqlx,
            Tool::Dbmate => I::Dbmate,
            Tool::GolangMigrate => I::GolangMigrate,
            Tool::Flyway => I::Flyway,
            Tool::Diesel => I::Diesel,
            Tool::Supabase => I::Supabase,
            Tool::Alembic => I::Alembic,
        }
    }

    /// The history table the tool creates, as found on the `search_path` (Supabase's has its
    /// own schema).
    pub fn default_table(self) -> &'static str {
        match self {
            Tool::Sqlx => "_sqlx_migrations",
            Tool::Dbmate | Tool::GolangMigrate => "schema_migrations",
            Tool::Flyway => "flyway_schema_history",
            Tool::Diesel => "__diesel_schema_migrations",
            Tool::Supabase => "supabase_migrations.schema_migrations",
            Tool::Alembic => "alembic_version",
        }
    }

    /// The columns keel reads from the table.
    fn columns(self) -> &'static [&'static str] {
        match self {
            Tool::Sqlx => &["version", "description", "success", "checksum"],
            Tool::GolangMigrate => &["version", "dirty"],
            Tool::Dbmate | Tool::Diesel | Tool::Supabase => &["version"],
            Tool::Flyway => &[
                "installed_rank",
                "version",
                "description",
                "type",
                "script",
                "checksum",
                "success",
            ],
            Tool::Alembic => &["version_num"],
        }
    }

    /// The tool records a checksum keel can recompute from the original file.
    pub fn has_checksums(self) -> bool {
        matches!(self, Tool::Sqlx | Tool::Flyway)
    }

    /// The adoption needs the `-- keel:source` of every keel file: to recompute checksums
    /// from the original files, or to find Alembic's revision.
    pub fn needs_sources(self) -> bool {
        self.has_checksums() || self == Tool::Alembic
    }

    /// Where the tool keeps its migrations (`--from`'s default), as `keel import` looks for
    /// them; `None` for Alembic, whose checksums there are none to compare.
    pub fn default_from(self, root: &Path) -> Option<PathBuf> {
        (self != Tool::Alembic).then(|| self.import_tool().default_path(root))
    }
}

/// `table` or `schema.table` with plain identifiers (letters, digits, `_`, `$`; not starting
/// with a digit), as `--table` takes it: what `to_regclass` reads without error on every
/// supported server, and without quoting surprises.
pub fn valid_table_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() <= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 63
                && p.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        })
}

/// The table found under `name`, or why it is refused: not there, or lacking a column the
/// tool's table has.
pub fn check_table<'t>(
    tool: Tool,
    name: &str,
    table: Option<&'t PeerTable>,
) -> Result<&'t PeerTable, Box<Diagnostic>> {
    let Some(table) = table else {
        return Err(Box::new(Diagnostic::error(
            codes::ADOPT_TABLE,
            format!("this database has no {} history table `{name}`", tool.name()),
        )
        .with_hint(
            "check the database URL: keel adopts the database it is configured for; if the tool keeps its table in another schema or under another name, name it with `--table SCHEMA.TABLE`",
        )));
    };
    if tool == Tool::Dbmate && table.has_column("dirty") {
        return Err(Box::new(
            Diagnostic::error(
                codes::ADOPT_TABLE,
                format!(
                    "`{}` has a `dirty` column: it is golang-migrate's history table, not dbmate's",
                    table.shown
                ),
            )
            .with_hint("adopt it with `keel adopt golang-migrate`"),
        ));
    }
    let missing: Vec<&str> = tool
        .columns()
        .iter()
        .copied()
        .filter(|c| !table.has_column(c))
        .collect();
    if missing.is_empty() {
        return Ok(table);
    }
    Err(Box::new(Diagnostic::error(
        codes::ADOPT_TABLE,
        format!(
            "`{}` is not {}'s history table: it has no column {}",
            table.shown,
            tool.name(),
            list(missing.iter().map(|c| format!("`{c}`")))
        ),
    )
    .with_hint("name the tool's table with `--table SCHEMA.TABLE`, or adopt with the tool that wrote this one")))
}

/// What a peer's history says, in keel's terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerHistory {
    /// Versions the peer names as applied: each must have a keel file.
    pub named: Vec<PeerVersion>,
    /// Every keel version at or below this one counts as applied too: golang-migrate's and
    /// Alembic's current version, a Flyway baseline.
    pub through: Option<u128>,
    /// Rows that refuse the adoption (a migration that did not finish, a version keel
    /// cannot hold).
    pub problems: Vec<Diagnostic>,
    /// Rows that are not adopted, and why (Flyway's repeatable migrations, its baseline).
    pub notes: Vec<String>,
}

/// One version the peer's history names as applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerVersion {
    pub number: u128,
    /// As the peer writes it: `000001`, `20230115093000`, an Alembic revision id.
    pub shown: String,
    pub checksum: Option<PeerChecksum>,
}

/// A checksum the peer recorded for a version's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerChecksum {
    /// sqlx: SHA-384 of the file.
    Sha384(Vec<u8>),
    /// Flyway: CRC32 of the file's lines, as a Java `int`.
    Crc32(i32),
}

impl PeerChecksum {
    fn text(&self) -> String {
        match self {
            PeerChecksum::Sha384(b) => checksum::hex(b),
            PeerChecksum::Crc32(c) => c.to_string(),
        }
    }

    /// The same kind of checksum over `bytes`.
    fn recompute(&self, bytes: &[u8]) -> PeerChecksum {
        match self {
            PeerChecksum::Sha384(_) => PeerChecksum::Sha384(checksum::sqlx(bytes)),
            PeerChecksum::Crc32(_) => PeerChecksum::Crc32(checksum::flyway(bytes)),
        }
    }
}

/// Where each keel migration came from: its up file's `-- keel:source <tool> <path>`, by
/// version number.
pub type Sources = BTreeMap<u128, String>;

/// The tool and path of a `-- keel:source` value (the path may hold spaces).
fn split_source(value: &str) -> Option<(&str, &str)> {
    value.split_once(' ').map(|(t, p)| (t, p.trim()))
}

/// What the adoption does with the peer's applied versions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// Keel versions the peer applied that keel does not record yet, ascending: the adoption.
    pub adopt: Vec<Version>,
    /// Keel versions the peer applied that keel already records.
    pub already: Vec<Version>,
    pub problems: Vec<Diagnostic>,
}

/// Matches the peer's applied versions with the files on disk (`on_disk`, ascending) and
/// the versions keel already records (`applied`). Refused: versions newer than the newest
/// file (the database is ahead of the files), versions without a file, and a version keel
/// records that the peer does not although the peer went past it.
pub fn decide(
    tool: Tool,
    peer: &PeerHistory,
    on_disk: &[Version],
    applied: &[Version],
) -> Decision {
    let mut d = Decision::default();
    let head = on_disk.last().map(Version::number);
    let disk: BTreeSet<u128> = on_disk.iter().map(Version::number).collect();
    let (mut ahead, mut missing) = (Vec::new(), Vec::new());
    for v in &peer.named {
        if head.is_none_or(|h| v.number > h) {
            ahead.push(v.shown.clone());
        } else if !disk.contains(&v.number) {
            missing.push(v.shown.clone());
        }
    }
    if !ahead.is_empty() {
        let newest = on_disk
            .last()
            .map_or("there is none".to_string(), |v| format!("it is {v}"));
        d.problems.push(
            Diagnostic::error(
                codes::ADOPT_AHEAD,
                format!(
                    "the database is ahead of the files: {} applied {} {}, newer than the newest keel migration ({newest})",
                    tool.name(),
                    plural(ahead.len(), "version", "versions"),
                    list(ahead.iter()),
                ),
            )
            .with_hint(format!(
                "import the newer migrations first (`keel import {}`), or adopt from a checkout that has them",
                tool.name()
            )),
        );
    }
    if !missing.is_empty() {
        d.problems.push(
            Diagnostic::error(
                codes::ADOPT_MISSING_FILE,
                format!(
                    "{} applied {} with no keel migration: {}",
                    tool.name(),
                    plural(missing.len(), "a version", "versions"),
                    list(missing.iter()),
                ),
            )
            .with_hint(format!(
                "keel must have a file for every version the database ran: import them (`keel import {}`) or restore their files, then adopt again",
                tool.name()
            )),
        );
    }
    let named: BTreeSet<u128> = peer.named.iter().map(|v| v.number).collect();
    let by_peer: Vec<&Version> = on_disk
        .iter()
        .filter(|v| named.contains(&v.number()) || peer.through.is_some_and(|t| v.number() <= t))
        .collect();
    let keel: BTreeSet<u128> = applied.iter().map(Version::number).collect();
    if let Some(peer_newest) = by_peer.last() {
        let peer_set: BTreeSet<u128> = by_peer.iter().map(|v| v.number()).collect();
        let conflicts: Vec<&Version> = applied
            .iter()
            .filter(|v| !peer_set.contains(&v.number()) && **v < **peer_newest)
            .collect();
        if !conflicts.is_empty() {
            d.problems.push(
                Diagnostic::error(
                    codes::ADOPT_CONFLICT,
                    format!(
                        "keel's history records {} as applied that {}'s history does not, although {} went on to {peer_newest}: {}",
                        plural(conflicts.len(), "a version", "versions"),
                        tool.name(),
                        tool.name(),
                        list(conflicts.iter()),
                    ),
                )
                .with_hint(
                    "`keel history` shows what keel recorded; make the two histories agree (`keel stamp`, or the tool's own repair), then adopt again",
                ),
            );
        }
    }
    for v in by_peer {
        if keel.contains(&v.number()) {
            d.already.push(*v);
        } else {
            d.adopt.push(*v);
        }
    }
    d
}

/// What comparing a version's recorded checksum with its original file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChecksumCheck {
    /// The tool records no checksum for it (dbmate, golang-migrate, diesel, Supabase,
    /// Alembic, a Flyway baseline or Java migration).
    NotRecorded,
    Matches,
    /// The file changed after the tool applied it.
    Differs,
    /// Why it could not be compared (no `--from` folder, no `-- keel:source`, ...).
    NotCompared(String),
}

/// Compares the checksum the peer recorded for each adopted version (`adopt`, keel versions)
/// with the one recomputed from the original file, found in the peer's folder `from` by the
/// keel file's `-- keel:source`. A difference is an `adopt-checksum` error, a warning when
/// `accept` (`--accept-checksum-mismatch`).
pub fn compare_checksums(
    tool: Tool,
    peer: &PeerHistory,
    adopt: &[Version],
    sources: &Sources,
    from: Option<&Path>,
    accept: bool,
) -> (Vec<ChecksumCheck>, Vec<Diagnostic>) {
    let recorded: BTreeMap<u128, &PeerChecksum> = peer
        .named
        .iter()
        .filter_map(|v| v.checksum.as_ref().map(|c| (v.number, c)))
        .collect();
    let folder = from.map(|f| (f, SourceDir::open(f)));
    let mut diags = Vec::new();
    let checks = adopt
        .iter()
        .map(|v| {
            let Some(stored) = recorded.get(&v.number()) else {
                return ChecksumCheck::NotRecorded;
            };
            let dir = match &folder {
                None => return ChecksumCheck::NotCompared("no migrations folder".into()),
                Some((f, Err(_))) => {
                    return ChecksumCheck::NotCompared(format!(
                        "`{}` is not a folder (pass the tool's migrations folder with --from)",
                        f.display()
                    ))
                }
                Some((_, Ok(dir))) => dir,
            };
            let Some((source_tool, rel)) = sources.get(&v.number()).and_then(|s| split_source(s))
            else {
                return ChecksumCheck::NotCompared(
                    "its up file has no `-- keel:source` naming the original file".into(),
                );
            };
            if source_tool != tool.name() {
                return ChecksumCheck::NotCompared(format!(
                    "its up file was imported from {source_tool}, not {}",
                    tool.name()
                ));
            }
            let rel = Path::new(rel);
            let bytes = match dir.read_raw(rel) {
                Ok(b) => b,
                Err(why) => {
                    return ChecksumCheck::NotCompared(format!(
                        "cannot read `{}`: {why}",
                        dir.shown(rel).display()
                    ))
                }
            };
            let now = stored.recompute(&bytes);
            if &now == *stored {
                return ChecksumCheck::Matches;
            }
            let message = format!(
                "version {v}: the file changed after {} applied it ({} recorded checksum {}, the file now has {})",
                tool.name(),
                tool.name(),
                stored.text(),
                now.text(),
            );
            let d = if accept {
                Diagnostic::warning(codes::ADOPT_CHECKSUM, message)
                    .with_note("adopted anyway (--accept-checksum-mismatch): keel records the files as they are now")
            } else {
                Diagnostic::error(codes::ADOPT_CHECKSUM, message).with_hint(
                    "if the change was not intended, restore the file as the tool applied it (version control has it) and import it again; if it was, adopt anyway with `--accept-checksum-mismatch` (keel records its files as they are now)",
                )
            };
            diags.push(d.with_path(&dir.shown(rel)));
            ChecksumCheck::Differs
        })
        .collect();
    (checks, diags)
}

/// `a, b, c` (at most ten, then how many more).
fn list<T: std::fmt::Display>(items: impl ExactSizeIterator<Item = T>) -> String {
    const SHOWN: usize = 10;
    let n = items.len();
    let mut out: Vec<String> = items.take(SHOWN).map(|i| i.to_string()).collect();
    if n > SHOWN {
        out.push(format!("and {} more", n - SHOWN));
    }
    out.join(", ")
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(v: &[u128]) -> Vec<Version> {
        v.iter().map(|&n| Version::with_width(n, 4)).collect()
    }

    fn named(v: &[u128]) -> PeerHistory {
        PeerHistory {
            named: v
                .iter()
                .map(|&n| PeerVersion {
                    number: n,
                    shown: n.to_string(),
                    checksum: None,
                })
                .collect(),
            ..PeerHistory::default()
        }
    }

    fn numbers(v: &[Version]) -> Vec<u128> {
        v.iter().map(Version::number).collect()
    }

    fn codes_of(d: &Decision) -> Vec<&str> {
        d.problems.iter().map(|p| p.code.as_str()).collect()
    }

    #[test]
    fn table_names() {
        for ok in [
            "schema_migrations",
            "public.flyway_schema_history",
            "_x$1",
            "A.b",
        ] {
            assert!(valid_table_name(ok), "{ok}");
        }
        for bad in ["", "a.b.c", "1x", "a b", "a;drop", "\"x\"", "a.", ".a"] {
            assert!(!valid_table_name(bad), "{bad}");
        }
    }

    #[test]
    fn tables_that_are_not_the_tools_are_refused() {
        let table = |cols: &[&str]| PeerTable {
            quoted: "public.schema_migrations".into(),
            shown: "public.schema_migrations".into(),
            columns: cols.iter().map(|c| c.to_string()).collect(),
        };
        let gm = table(&["version", "dirty"]);
        assert!(check_table(Tool::GolangMigrate, "schema_migrations", Some(&gm)).is_ok());
        let d = check_table(Tool::Dbmate, "schema_migrations", Some(&gm)).unwrap_err();
        assert!(d.message.contains("golang-migrate"), "{}", d.message);
        let dbmate = table(&["version"]);
        let d = check_table(Tool::GolangMigrate, "schema_migrations", Some(&dbmate)).unwrap_err();
        assert!(d.message.contains("no column `dirty`"), "{}", d.message);
        let d = check_table(Tool::Sqlx, "_sqlx_migrations", None).unwrap_err();
        assert_eq!(d.code, codes::ADOPT_TABLE);
        assert!(d.message.contains("`_sqlx_migrations`"), "{}", d.message);
    }

    #[test]
    fn adopts_what_the_peer_applied_and_keel_does_not_record() {
        let disk = versions(&[1, 2, 3, 4]);
        let d = decide(Tool::Dbmate, &named(&[1, 2, 3]), &disk, &[]);
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        assert_eq!(numbers(&d.adopt), [1, 2, 3]);
        // Adopting again: keel records them all; and after an upgrade keel is ahead.
        let d = decide(
            Tool::Dbmate,
            &named(&[1, 2, 3]),
            &disk,
            &versions(&[1, 2, 3, 4]),
        );
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        assert!(d.adopt.is_empty());
        assert_eq!(numbers(&d.already), [1, 2, 3]);
        // The versions keep the widths of the files.
        let d = decide(Tool::Dbmate, &named(&[1]), &disk, &[]);
        assert_eq!(d.adopt[0].to_string(), "0001");
    }

    #[test]
    fn through_counts_every_version_up_to_it() {
        let disk = versions(&[1, 2, 5, 7]);
        let peer = PeerHistory {
            through: Some(5),
            ..named(&[5])
        };
        let d = decide(Tool::GolangMigrate, &peer, &disk, &[]);
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        assert_eq!(numbers(&d.adopt), [1, 2, 5]);
        // A baseline (no named version) needs no file of its own.
        let peer = PeerHistory {
            through: Some(3),
            ..named(&[7])
        };
        let d = decide(Tool::Flyway, &peer, &disk, &[]);
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        assert_eq!(numbers(&d.adopt), [1, 2, 7]);
    }

    #[test]
    fn ahead_missing_and_conflicting_histories_are_refused() {
        let disk = versions(&[1, 2, 4]);
        let d = decide(Tool::Sqlx, &named(&[1, 2, 4, 5, 6]), &disk, &[]);
        assert_eq!(codes_of(&d), ["adopt-ahead"]);
        assert!(
            d.problems[0].message.contains("versions 5, 6"),
            "{}",
            d.problems[0].message
        );
        assert!(
            d.problems[0].message.contains("it is 0004"),
            "{}",
            d.problems[0].message
        );
        let d = decide(Tool::Sqlx, &named(&[1, 3, 4]), &disk, &[]);
        assert_eq!(codes_of(&d), ["adopt-missing-file"]);
        assert!(
            d.problems[0].message.ends_with(": 3"),
            "{}",
            d.problems[0].message
        );
        let d = decide(Tool::Sqlx, &named(&[1]), &[], &[]);
        assert_eq!(codes_of(&d), ["adopt-ahead"]);
        assert!(d.problems[0].message.contains("there is none"));
        // keel recorded 2, the peer did not, yet went on to 4.
        let d = decide(Tool::Sqlx, &named(&[1, 4]), &disk, &versions(&[1, 2]));
        assert_eq!(codes_of(&d), ["adopt-conflict"]);
        assert!(
            d.problems[0].message.ends_with(": 0002"),
            "{}",
            d.problems[0].message
        );
        // A version keel records that the peer fills in below it is what the peer ran.
        let d = decide(Tool::Sqlx, &named(&[1, 2, 4]), &disk, &versions(&[1, 4]));
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        assert_eq!(numbers(&d.adopt), [2]);
    }

    #[test]
    fn long_lists_are_cut() {
        let items: Vec<u32> = (1..=12).collect();
        assert_eq!(
            list(items.iter()),
            "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, and 2 more"
        );
    }

    #[test]
    fn checksums_are_compared_with_the_original_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("1_a.sql"), "SELECT 1;\n").unwrap();
        std::fs::write(dir.path().join("2_b.sql"), "SELECT 2;\n").unwrap();
        let peer = PeerHistory {
            named: vec![
                PeerVersion {
                    number: 1,
                    shown: "1".into(),
                    checksum: Some(PeerChecksum::Sha384(checksum::sqlx(b"SELECT 1;\n"))),
                },
                PeerVersion {
                    number: 2,
                    shown: "2".into(),
                    checksum: Some(PeerChecksum::Sha384(checksum::sqlx(b"SELECT 2;"))),
                },
                PeerVersion {
                    number: 3,
                    shown: "3".into(),
                    checksum: Some(PeerChecksum::Sha384(vec![0; 48])),
                },
                PeerVersion {
                    number: 4,
                    shown: "4".into(),
                    checksum: None,
                },
            ],
            ..PeerHistory::default()
        };
        let sources: Sources = [
            (1, "sqlx 1_a.sql".to_string()),
            (2, "sqlx 2_b.sql".to_string()),
            (3, "dbmate 3_c.sql".to_string()),
        ]
        .into_iter()
        .collect();
        let adopt = versions(&[1, 2, 3, 4]);
        let (checks, diags) =
            compare_checksums(Tool::Sqlx, &peer, &adopt, &sources, Some(dir.path()), false);
        assert_eq!(checks[0], ChecksumCheck::Matches);
        assert_eq!(checks[1], ChecksumCheck::Differs);
        assert!(matches!(&checks[2], ChecksumCheck::NotCompared(w) if w.contains("dbmate")));
        assert_eq!(checks[3], ChecksumCheck::NotRecorded);
        assert_eq!(diags.len(), 1);
        assert!(diags[0].is_error());
        assert_eq!(diags[0].code, codes::ADOPT_CHECKSUM);
        assert_eq!(
            diags[0].path.as_deref(),
            Some(dir.path().join("2_b.sql").as_path())
        );
        assert!(diags[0].message.starts_with(
            "version 0002: the file changed after sqlx applied it (sqlx recorded checksum "
        ));
        // Accepted: a warning.
        let (_, diags) =
            compare_checksums(Tool::Sqlx, &peer, &adopt, &sources, Some(dir.path()), true);
        assert!(!diags[0].is_error());
        // Flyway's CRC32, over the lines: a CRLF copy still matches, an edit does not.
        std::fs::write(dir.path().join("V1__a.sql"), "SELECT 1;\r\nSELECT 2;\r\n").unwrap();
        let flyway = |crc: i32| PeerHistory {
            named: vec![PeerVersion {
                number: 1,
                shown: "1".into(),
                checksum: Some(PeerChecksum::Crc32(crc)),
            }],
            ..PeerHistory::default()
        };
        let fw_sources: Sources = [(1, "flyway V1__a.sql".to_string())].into_iter().collect();
        let first = versions(&[1]);
        let applied = checksum::flyway(b"SELECT 1;\nSELECT 2;\n");
        let (checks, diags) = compare_checksums(
            Tool::Flyway,
            &flyway(applied),
            &first,
            &fw_sources,
            Some(dir.path()),
            false,
        );
        assert_eq!((checks, diags.len()), (vec![ChecksumCheck::Matches], 0));
        let (checks, diags) = compare_checksums(
            Tool::Flyway,
            &flyway(applied.wrapping_add(1)),
            &first,
            &fw_sources,
            Some(dir.path()),
            false,
        );
        assert_eq!(checks, [ChecksumCheck::Differs]);
        assert!(diags[0].message.contains(&format!(
            "flyway recorded checksum {}",
            applied.wrapping_add(1)
        )));
        // Without the folder, nothing is compared.
        let missing = dir.path().join("nope");
        let (checks, diags) =
            compare_checksums(Tool::Sqlx, &peer, &adopt, &sources, Some(&missing), false);
        assert!(diags.is_empty());
        assert!(matches!(&checks[0], ChecksumCheck::NotCompared(w) if w.contains("--from")));
    }
}
