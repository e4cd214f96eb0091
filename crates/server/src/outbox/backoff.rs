//! When to try again: exponential backoff with jitter, so that entries that failed together
//! (a PSA that was down) do not all come back at the same instant, and a `Retry-After` the
//! remote side gave taken as it is.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The wait after the first failed attempt, before jitter.
    pub base: Duration,
    /// No wait of its own is longer.
    pub cap: Duration,
    /// A `Retry-After` is waited out up to this (one of days is taken as a mistake).
    pub retry_after_cap: Duration,
    /// Attempts after which an entry that keeps failing is marked failed.
    pub max_attempts: i64,
}

impl Default for Backoff {
    /// 2 s, 4 s, 8 s … up to 15 minutes: 24 attempts span about four and a half hours, long
    /// enough for a PSA's maintenance window.
    fn default() -> Backoff {
        Backoff {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(15 * 60),
            retry_after_cap: Duration::from_secs(3600),
            max_attempts: 24,
        }
    }
}

impl Backoff {
    /// The wait after the `attempts`-th attempt failed: `retry_after` when the remote side
    /// gave one, else the doubled wait with "equal jitter" (half fixed, half random), which
    /// keeps the waits growing while spreading them.
    pub fn wait(&self, attempts: i64, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.retry_after_cap);
        }
        let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let full = self
            .base
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.cap)
            .min(self.cap);
        let half = full / 2;
        let spread = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let jitter = if spread == 0 {
            0
        } else {
            rand::thread_rng().gen_range(0..=spread)
        };
        half + Duration::from_millis(jitter)
    }

    pub fn gives_up_after(&self, attempts: i64) -> bool {
        attempts >= self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_within_their_jitter_and_stop_at_the_cap() {
        let b = Backoff::default();
        for attempts in 1..=12 {
            let full = (b.base * 2u32.pow(attempts as u32 - 1)).min(b.cap);
            for _ in 0..50 {
                let w = b.wait(attempts, None);
                assert!(w >= full / 2 && w <= full, "attempt {attempts}: {w:?}");
            }
        }
        assert!(b.wait(1000, None) <= b.cap);
    }

    #[test]
    fn a_retry_after_is_taken_as_given_up_to_the_cap() {
        let b = Backoff::default();
        assert_eq!(
            b.wait(1, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(
            b.wait(1, Some(Duration::from_secs(86_400))),
            b.retry_after_cap
        );
        assert!(!b.gives_up_after(23));
        assert!(b.gives_up_after(24));
    }
}
