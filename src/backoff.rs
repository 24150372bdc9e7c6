//! How long to pause before the next attempt of something that failed for a passing reason
//! (a lock held by another session): exponential, capped, jittered.
//!
//! Jitter matters when several runners wait on the same blocker (many databases at once, or a
//! deploy on several hosts): without it they all retry at the same instant and collide again.

use std::time::Duration;

/// Attempt `n` (0 for the pause after the first failure) waits `base * 2^n`, at most `cap`,
/// drawn uniformly from its upper half: never less than half the nominal pause, so the blocker
/// gets time to finish, and spread enough that retries do not line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    /// 1 s doubling, at most 30 s.
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The nominal pause after failure `n` (0-based), before jitter.
    pub fn nominal(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The pause after failure `n`, with `unit` in [0, 1) choosing where in the upper half.
    pub fn pause(&self, n: u32, unit: f64) -> Duration {
        let nominal = self.nominal(n);
        let half = nominal / 2;
        half + half.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// [`Backoff::pause`] with a fresh random draw.
    pub fn pause_jittered(&self, n: u32) -> Duration {
        self.pause(n, random_unit())
    }
}

/// A number in [0, 1), different per process and per call: jitter needs spread, not
/// unpredictability, so the clock and the process id seed a small generator.
fn random_unit() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = || {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        nanos ^ (u64::from(std::process::id()) << 32) | 1
    };
    let mut x = match STATE.load(Ordering::Relaxed) {
        0 => seed(),
        s => s,
    };
    // xorshift64
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_cap_and_stay_in_the_upper_half() {
        let b = Backoff::default();
        let secs: Vec<u64> = (0..7).map(|n| b.nominal(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(b.nominal(100), Duration::from_secs(30));
        assert_eq!(b.pause(2, 0.0), Duration::from_secs(2));
        assert_eq!(b.pause(2, 0.5), Duration::from_secs(3));
        for n in 0..8 {
            let p = b.pause_jittered(n);
            assert!(p >= b.nominal(n) / 2 && p <= b.nominal(n), "{n}: {p:?}");
        }
        let draws: std::collections::BTreeSet<u128> =
            (0..20).map(|_| b.pause_jittered(4).as_micros()).collect();
        assert!(draws.len() > 10, "jitter spreads the pauses: {draws:?}");
    }
}
