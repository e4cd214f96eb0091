//! Per-user, per-endpoint rate limits (api.md, "Rate limits"), counted in the database so
//! every server instance on one database shares them.

use chrono::{DateTime, Utc};
use serde_json::json;
use store::Store;

use crate::error::ApiError;

/// Something that is rate limited, with its default allowance per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Login,
    SessionCreate,
    SessionWrite,
    SessionRead,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::SessionCreate => "session_create",
            Action::SessionWrite => "session_write",
            Action::SessionRead => "session_read",
        }
    }

    pub fn per_minute(self) -> i64 {
        match self {
            Action::Login => 10,
            Action::SessionCreate => 5,
            Action::SessionWrite => 15,
            Action::SessionRead => 30,
        }
    }
}

const WINDOW_MS: i64 = 60_000;

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
}

impl RateLimiter {
    pub fn new(store: Store, enabled: bool) -> Self {
        RateLimiter { store, enabled }
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
    pub async fn check_login(&self, who: &str, now: DateTime<Utc>) -> Result<Permit, ApiError> {
        self.count(Action::Login, who, now).await
    }

    async fn count(
        &self,
        action: Action,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<Permit, ApiError> {
        let limit = action.per_minute();
        let bucket = format!("{}:{who}", action.name());
        let hit = self.store.hit_rate_window(&bucket, WINDOW_MS, now).await?;
        if hit.hits > limit {
            let remaining_ms = hit.window_start_ms + WINDOW_MS - now.timestamp_millis();
            let retry_after = ((remaining_ms + 999) / 1000).max(1) as u64;
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
