//! The digest of a set of versions: what a no-op run compares between the
//! files on disk and the history, without listing either.

use super::Version;

/// The 60-bit hash of one version: the first 15 hex digits of the SHA-256
/// of its decimal text (the history schema computes the same in SQL).
pub fn version_hash(v: &Version) -> u64 {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(v.number().to_string().as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u64::from_be_bytes(first) >> 4
}

/// The digest of a set of versions: their count and the sum of their
/// hashes, `count:sum` (the same as `db::history::summary` reads from the
/// database).
pub fn versions_digest<'a>(versions: impl Iterator<Item = &'a Version>) -> String {
    let (mut count, mut sum) = (0u64, 0u128);
    for v in versions {
        count += 1;
        sum += u128::from(version_hash(v));
    }
    format!("{count}:{sum}")
}
