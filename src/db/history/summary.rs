//! The summary of the applied versions, in one row, and the digest it is compared with: what a
//! run that has nothing to do needs to know.

use crate::db::DbError;
use crate::project::Version;
use postgres::GenericClient;

pub use crate::project::digest::{checksums_hash, version_hash, versions_digest};

/// The 60-bit hash of one version in SQL (`{v}` is the numeric version):
/// the first 15 hex digits of the SHA-256 of its decimal text, as
/// [`version_hash`] computes it.
pub(super) const VERSION_HASH_SQL: &str =
    "('x' || left(encode(sha256(convert_to({v}::text, 'UTF8')), 'hex'), 15))::bit(60)::bigint";

/// The 60-bit hash of a version with its checksums in SQL (`v`, `up`, `down`), as
/// [`checksums_hash`] computes it: `length` counts characters, as the Rust side does, so that a
/// hand-edited text that is not ASCII hashes the same on both sides.
pub(super) const CHECKSUMS_HASH_SQL: &str = "('x' || left(encode(sha256(convert_to(\
     v::text || ':' || length(up)::text || ':' || up || down, 'UTF8')), 'hex'), 15))::bit(60)::bigint";

/// What a no-op run needs to know, in one row: how many versions are
/// applied, the newest, whether any is dirty, and a digest of the whole set
/// (compared with the versions on disk, so that a database at head costs
/// one query whatever the number of migrations).
#[derive(Debug, Clone)]
pub struct Summary {
    pub count: i64,
    pub newest: Option<(Version, String)>,
    /// The version (and name) left dirty, if any.
    pub dirty: Option<(Version, String)>,
    pub digest: String,
}

/// The summary of the applied versions; `None` when keel never ran here.
/// A history schema older than the summary table (written by an older keel,
/// read without the lock) is summarized from the versions themselves.
///
/// `current` says the history schema is known to be this keel's (it was just ensured under the
/// lock): then neither table needs looking up first.
pub fn summary(
    client: &mut impl GenericClient,
    schema: &str,
    current: bool,
) -> Result<Option<Summary>, DbError> {
    let fail = |e: &postgres::Error| DbError::query("reading applied versions", e);
    let has_summary = if current {
        true
    } else {
        let row = client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL",
                &[&format!("{schema}.versions"), &format!("{schema}.summary")],
            )
            .map_err(|e| fail(&e))?;
        let (has_versions, has_summary): (bool, bool) = (row.get(0), row.get(1));
        if !has_versions {
            return Ok(None);
        }
        has_summary
    };
    let counts = if has_summary {
        format!("(SELECT applied FROM {schema}.summary), (SELECT applied::text || ':' || hash_sum::text FROM {schema}.summary)")
    } else {
        let hash = VERSION_HASH_SQL.replace("{v}", "version");
        format!(
            "(SELECT count(*) FROM {schema}.versions),
             (SELECT count(*)::text || ':' || coalesce(sum({hash}::numeric), 0)::text FROM {schema}.versions)"
        )
    };
    let row = client
        .query_one(
            &format!(
                "SELECT {counts},
                        (SELECT version::text || '_' || name FROM {schema}.versions WHERE dirty LIMIT 1),
                        newest.version::text, newest.name
                 FROM (SELECT 1) one
                 LEFT JOIN (SELECT version, name FROM {schema}.versions ORDER BY version DESC LIMIT 1) newest ON true"
            ),
            &[],
        )
        .map_err(|e| fail(&e))?;
    let newest: Option<String> = row.get(3);
    Ok(Some(Summary {
        count: row.get(0),
        digest: row.get(1),
        dirty: row.get::<_, Option<String>>(2).and_then(|s| {
            let (v, n) = s.split_once('_')?;
            Some((Version::parse(v)?, n.to_string()))
        }),
        newest: newest
            .and_then(|v| Version::parse(&v))
            .map(|v| (v, row.get::<_, String>(4))),
    }))
}

/// The summary row as a status of many databases reads it: the applied versions' digest
/// (`count:sum`, as [`versions_digest`] writes it), the sum of their [`checksums_hash`]es, and how
/// many are dirty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksumDigest {
    pub applied: usize,
    pub versions: String,
    pub checksums: String,
    pub dirty: u64,
}

/// The [`ChecksumDigest`] of the applied versions, in one round trip after connecting (on a
/// distant database, round trips are most of a status); `None` when this history has none to
/// give: keel never ran here, or an older keel wrote its schema (the caller then reads every row
/// instead).
///
/// A `COPY ... TO STDOUT`, as [`super::versions::recorded`] reads its rows: the server runs it
/// without planning a query, so a backend with cold caches neither opens the table's index nor
/// looks up its operators. A status of many databases is bound by the server's CPU (each target
/// is a new backend); measured on 100 databases, this takes 0.5 ms of server time per target
/// where the `SELECT` took 0.7.
pub fn checksum_digest(
    client: &mut impl GenericClient,
    schema: &str,
) -> Result<Option<ChecksumDigest>, DbError> {
    use postgres::error::SqlState;
    let rows = match super::copy::copy_out_rows(
        client,
        &format!("COPY {schema}.summary (applied, hash_sum, checksum_sum, dirty) TO STDOUT"),
    )? {
        Ok(rows) => rows,
        // Missing columns: a summary written by a keel from before the digest.
        Err(e) if super::history_missing(&e) || e.code() == Some(&SqlState::UNDEFINED_COLUMN) => {
            return Ok(None)
        }
        Err(e) => {
            return Err(DbError::query(
                "reading the summary of applied versions",
                &e,
            ))
        }
    };
    // One row, as the schema keeps it; anything else is read the long way.
    let [row] = &rows[..] else {
        return Ok(None);
    };
    let [Some(applied), Some(hash_sum), Some(checksums), Some(dirty)] = &row[..] else {
        return Ok(None);
    };
    let (Ok(applied), Ok(dirty)) = (applied.parse::<usize>(), dirty.parse::<u64>()) else {
        return Ok(None);
    };
    Ok(Some(ChecksumDigest {
        applied,
        versions: format!("{applied}:{hash_sum}"),
        checksums: checksums.to_string(),
        dirty,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_the_count_and_the_sum_of_hashes() {
        let v: Vec<Version> = ["1", "2", "0010"]
            .iter()
            .filter_map(|s| Version::parse(s))
            .collect();
        // sha256("1") starts 6b86b273ff34fce1…: its first 60 bits.
        assert_eq!(version_hash(&v[0]), 0x6b86b273ff34fce);
        let sum: u128 = v.iter().map(|v| u128::from(version_hash(v))).sum();
        assert_eq!(versions_digest(v.iter()), format!("3:{sum}"));
        // The order does not matter; the width of the digits does not either.
        assert_eq!(versions_digest(v.iter().rev()), versions_digest(v.iter()));
    }
}
