//! Per-user, per-endpoint rate limits (api.md, "Rate limits"), counted in the database so
//! every server instance on one database shares them.

use chrono::{DateTime, Utc};
use serde_json::json;
use store::Store;

use crate::error::ApiError;

/// Something that is rate limited, with its default allowance per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Sign-in attempts for one email address.
    Login,
    /// Sign-in attempts from one client address, which a whole office behind one NAT shares.
    LoginFromAddress,
    SignUp,
    SessionCreate,
    SessionWrite,
    SessionRead,
    /// A request that calls a PSA for a user (the ticket picker, a connection test, the
    /// member list): FlowPilot must not become a way to hammer the PSA.
    PsaCall,
    /// "Send a test" of the notification settings, which posts to every webhook at once.
    NotificationTest,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Login | Action::LoginFromAddress => "login",
            Action::SignUp => "signup",
            Action::SessionCreate => "session_create",
            Action::SessionWrite => "session_write",
            Action::SessionRead => "session_read",
            Action::PsaCall => "psa_call",
            Action::NotificationTest => "notification_test",
        }
    }

    pub fn per_minute(self) -> i64 {
        match self {
            Action::Login => 10,
            Action::LoginFromAddress => DEFAULT_LOGINS_PER_ADDRESS,
            Action::SignUp => DEFAULT_SIGNUPS_PER_MINUTE,
            Action::SessionCreate => 5,
            Action::SessionWrite => 15,
            Action::SessionRead => 30,
            Action::PsaCall => 20,
            Action::NotificationTest => 5,
        }
    }
}

/// Sign-ups a minute per client address unless `FLOWPILOT_SIGNUPS_PER_MINUTE` says otherwise.
pub const DEFAULT_SIGNUPS_PER_MINUTE: i64 = 10;

/// Sign-in attempts a minute per client address unless `FLOWPILOT_LOGINS_PER_ADDRESS_PER_MINUTE`
/// says otherwise.
pub const DEFAULT_LOGINS_PER_ADDRESS: i64 = 10;

const WINDOW_MS: i64 = 60_000;

/// Hits in the minute before `elapsed_ms` into the current window, estimated as a sliding
/// window: all of this window's hits and the part of the previous window's that still falls
/// inside the last minute (as if its hits were spread evenly). A fixed window alone would let
/// twice the allowance through around each minute boundary.
fn hits_in_last_minute(hits: i64, prev_hits: i64, elapsed_ms: i64) -> f64 {
    let overlap = (WINDOW_MS - elapsed_ms.clamp(0, WINDOW_MS)) as f64 / WINDOW_MS as f64;
    hits as f64 + prev_hits as f64 * overlap
}

/// Milliseconds until the estimate of the last minute is back within `limit`, counting the
/// refused request too (it was counted).
fn wait_ms(limit: i64, hits: i64, prev_hits: i64, elapsed_ms: i64) -> i64 {
    let rest_of_window = WINDOW_MS - elapsed_ms;
    if hits > limit || prev_hits == 0 {
        // This window alone is over: in the next one these hits become the previous
        // window's, and their weight falls below the limit after this share of it.
        let share = if hits > limit {
            1.0 - limit as f64 / hits as f64
        } else {
            0.0
        };
        return rest_of_window + (share * WINDOW_MS as f64).ceil() as i64;
    }
    // The previous window's share must fall to what this window leaves room for.
    let room = (limit - hits) as f64;
    let overlap_allowed = room / prev_hits as f64;
    let until = ((1.0 - overlap_allowed) * WINDOW_MS as f64).ceil() as i64;
    (until - elapsed_ms).max(0)
}

/// A counted hit that can be taken back when the server itself failed the request.
#[derive(Debug, Clone)]
pub struct Permit {
    bucket: Option<String>,
    window_start_ms: i64,
}

#[derive(Clone, Debug)]
pub struct RateLimiter {
    store: Store,
    enabled: bool,
    signups_per_minute: i64,
    logins_per_address: i64,
}

impl RateLimiter {
    pub fn new(store: Store, enabled: bool) -> Self {
        RateLimiter {
            store,
            enabled,
            signups_per_minute: DEFAULT_SIGNUPS_PER_MINUTE,
            logins_per_address: DEFAULT_LOGINS_PER_ADDRESS,
        }
    }

    /// The sign-in allowance per client address, when it is not the default. The allowance
    /// per email address stays fixed: that is the guard against guessing one password.
    pub fn with_logins_per_address(mut self, per_minute: i64) -> Self {
        self.logins_per_address = per_minute;
        self
    }

    /// The sign-up allowance per client address, when it is not the default.
    pub fn with_signups_per_minute(mut self, per_minute: i64) -> Self {
        self.signups_per_minute = per_minute;
        self
    }

    /// Counts a hit of `action` by `who` (a user id, an IP, an email) and refuses it with
    /// 429 and `Retry-After` past the allowance.
    pub async fn check(
        &self,
        action: Action,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<Permit, ApiError> {
        if !self.enabled {
            return Ok(Permit {
                bucket: None,
                window_start_ms: 0,
            });
        }
        self.count(action, who, now).await
    }

    /// Login attempts are limited even when endpoint limits are off for load tests: they
    /// guard against password guessing, not load.
    pub async fn check_login(&self, email: &str, now: DateTime<Utc>) -> Result<Permit, ApiError> {
        self.count(Action::Login, &format!("email:{email}"), now)
            .await
    }

    /// Login attempts from one client address, limited like [`Self::check_login`].
    pub async fn check_login_from(
        &self,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<Permit, ApiError> {
        self.count(Action::LoginFromAddress, &format!("ip:{address}"), now)
            .await
    }

    async fn count(
        &self,
        action: Action,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<Permit, ApiError> {
        let limit = match action {
            Action::SignUp => self.signups_per_minute,
            Action::LoginFromAddress => self.logins_per_address,
            other => other.per_minute(),
        };
        let bucket = format!("{}:{who}", action.name());
        let hit = self.store.hit_rate_window(&bucket, WINDOW_MS, now).await?;
        let elapsed_ms = now.timestamp_millis() - hit.window_start_ms;
        if hits_in_last_minute(hit.hits, hit.prev_hits, elapsed_ms) > limit as f64 {
            let wait = wait_ms(limit, hit.hits, hit.prev_hits, elapsed_ms);
            let retry_after = ((wait + 999) / 1000).max(1) as u64;
            return Err(ApiError::TooManyRequests {
                retry_after,
                detail: json!(format!(
                    "Too many requests: at most {limit} a minute. Try again in {retry_after} seconds."
                )),
            });
        }
        Ok(Permit {
            bucket: Some(bucket),
            window_start_ms: hit.window_start_ms,
        })
    }

    /// Takes a hit back: a request the server failed (a provider error) should not use up
    /// the engineer's allowance for retrying it.
    pub async fn refund(&self, permit: Permit) {
        if let Some(bucket) = permit.bucket {
            if let Err(err) = self
                .store
                .unhit_rate_window(&bucket, permit.window_start_ms)
                .await
            {
                tracing::warn!(%err, "could not refund a rate-limit hit");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_minutes_hits_still_count_just_after_a_boundary() {
        // Ten hits late in the last window, one a second into this one: eleven in a minute.
        assert!(hits_in_last_minute(1, 10, 1_000) > 10.0);
        // Half a minute on, half of them have left the last minute.
        assert!(hits_in_last_minute(1, 10, 30_000) <= 10.0);
        assert_eq!(hits_in_last_minute(3, 0, 59_000), 3.0);
    }

    #[test]
    fn the_wait_ends_when_the_estimate_is_back_within_the_limit() {
        let limit = 10;
        for (hits, prev, elapsed) in [(1, 10, 1_000), (11, 0, 20_000), (15, 4, 5_000), (5, 12, 0)] {
            assert!(hits_in_last_minute(hits, prev, elapsed) > limit as f64);
            let wait = wait_ms(limit, hits, prev, elapsed);
            assert!(wait > 0, "{hits} {prev} {elapsed}");
            let later = elapsed + wait;
            // After the wait the estimate (in this window or the next) is within the limit.
            let (h, p, e) = if later >= WINDOW_MS {
                (0, hits, later - WINDOW_MS)
            } else {
                (hits, prev, later)
            };
            assert!(
                hits_in_last_minute(h, p, e) <= limit as f64 + 1e-9,
                "{hits} {prev} {elapsed}: waited {wait} ms"
            );
            assert!(wait <= 2 * WINDOW_MS);
        }
    }
}
