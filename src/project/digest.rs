//! The digest of a set of versions: what a no-op run compares between the
//! files on disk and the history, without listing either; and the digest of their checksums,
//! what a status of many databases compares instead of reading every applied row.

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

/// The 60-bit hash of one version with its two checksums as recorded (`sha256:...`): the first 15
/// hex digits of the SHA-256 of `version:length of up:up` followed by `down` (the length makes
/// the split between the two unambiguous, whatever a hand edit wrote). The history schema
/// computes the same in SQL, over every applied row.
pub fn checksums_hash(v: &Version, up: &str, down: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(format!("{}:{}:", v.number(), up.chars().count()).as_bytes());
    h.update(up.as_bytes());
    h.update(down.as_bytes());
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u64::from_be_bytes(first) >> 4
}

/// What the history's summary row says of the applied versions, for each count of the versions
/// on disk taken in order: entry `n` is the digest of the first `n` migrations as if all were
/// applied, and nothing else (the versions' `count:sum` and the sum of their
/// [`checksums_hash`]es).
#[derive(Debug, Clone, Default)]
pub struct Prefixes {
    digests: Vec<(String, String)>,
}

impl Prefixes {
    pub fn of(migrations: &[super::Migration]) -> Prefixes {
        let mut digests = Vec::with_capacity(migrations.len() + 1);
        let (mut versions, mut checksums) = (0u128, 0u128);
        digests.push(("0:0".to_string(), "0".to_string()));
        for (i, m) in migrations.iter().enumerate() {
            versions += u128::from(version_hash(&m.version));
            checksums += u128::from(checksums_hash(
                &m.version,
                &m.up.checksum.to_string(),
                &m.down.checksum.to_string(),
            ));
            digests.push((format!("{}:{versions}", i + 1), checksums.to_string()));
        }
        Prefixes { digests }
    }

    /// Whether the first `n` migrations, exactly, are what a summary with these digests
    /// describes.
    pub fn matches(&self, n: usize, versions: &str, checksums: &str) -> bool {
        self.digests
            .get(n)
            .is_some_and(|(v, c)| v == versions && c == checksums)
    }
}
