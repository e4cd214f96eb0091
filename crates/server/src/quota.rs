//! AI quota (api.md, "AI quota"): daily per user, monthly per account, UTC boundaries.

use chrono::{DateTime, Duration, Utc};
use domain::quota::{day_start, next_month_start};
use domain::{Account, AiLimits, User};
use serde::Serialize;
use serde_json::json;
use store::{AiUsageCounts, QuotaAsk, QuotaGrant, QuotaKeys, QuotaLimit, Store};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuotaStatus {
    pub plan: String,
    pub daily_used: i64,
    /// null means unlimited.
    pub daily_limit: Option<i64>,
    pub monthly_used: i64,
    pub monthly_limit: Option<i64>,
    pub daily_reset_at: DateTime<Utc>,
    pub monthly_reset_at: DateTime<Utc>,
}

/// The limits that hold for `user`: none for super admins, else the account's effective ones.
async fn limits(state: &AppState, user: &User) -> Result<(Account, AiLimits), ApiError> {
    let account = state.store.account(user.account_id).await?;
    let limits = if user.is_super_admin {
        AiLimits {
            daily: None,
            monthly: None,
        }
    } else {
        account.effective_limits(state.settings.limit_overrides())
    };
    Ok((account, limits))
}

/// The counters a call made by `user` at `now` counts against.
fn keys(user: &User, now: DateTime<Utc>) -> QuotaKeys {
    QuotaKeys::at(user.id, user.account_id, now)
}

fn status_of(
    account: &Account,
    limits: AiLimits,
    counts: AiUsageCounts,
    now: DateTime<Utc>,
) -> QuotaStatus {
    QuotaStatus {
        plan: account.plan.as_str().to_string(),
        daily_used: counts.user_today,
        daily_limit: limits.daily,
        monthly_used: counts.account_this_month,
        monthly_limit: limits.monthly,
        daily_reset_at: day_start(now) + Duration::days(1),
        monthly_reset_at: next_month_start(now),
    }
}

/// Usage as the quota counts it: successful calls plus calls in flight, which are held until
/// they either succeed (and stay) or fail (and are given back).
pub async fn status(
    state: &AppState,
    user: &User,
    now: DateTime<Utc>,
) -> Result<QuotaStatus, ApiError> {
    let (account, limits) = limits(state, user).await?;
    let counts = state.store.ai_calls_counted(&keys(user, now)).await?;
    Ok(status_of(&account, limits, counts, now))
}

/// One AI call held against the quota while it runs. Settle it with [`Reservation::keep`]
/// once the call's result is stored, or [`Reservation::release`] when it failed; dropped
/// unsettled (an error path, a cancelled request) it is given back in the background, because
/// a call whose result was not stored must not count.
#[must_use = "a reservation is given back when dropped"]
pub struct Reservation {
    held: Option<(Store, QuotaKeys)>,
}

impl Reservation {
    /// No call is held: the offline engine, or no call to make.
    pub fn none() -> Self {
        Reservation { held: None }
    }

    /// The call's result was stored: it counts.
    pub fn keep(mut self) {
        self.held = None;
    }

    /// The call failed: it does not count.
    pub async fn release(mut self) {
        if let Some((store, keys)) = self.held.take() {
            give_back(&store, &keys).await;
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let Some((store, keys)) = self.held.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move { give_back(&store, &keys).await });
            }
            Err(_) => tracing::error!("an AI quota reservation was dropped outside a runtime"),
        }
    }
}

async fn give_back(store: &Store, keys: &QuotaKeys) {
    if let Err(err) = store.release_ai_call(keys).await {
        tracing::error!(%err, "could not give back an AI quota reservation");
    }
}

/// What a call by `user` at `now` would count against, within which limits: read before the
/// call is reserved, by [`reserve`] or together with a step's claim.
pub struct Ask {
    account: Account,
    limits: AiLimits,
    now: DateTime<Utc>,
    pub counters: QuotaAsk,
}

impl Ask {
    pub async fn new(state: &AppState, user: &User, now: DateTime<Utc>) -> Result<Ask, ApiError> {
        let (account, limits) = limits(state, user).await?;
        let counters = QuotaAsk {
            keys: keys(user, now),
            daily_limit: limits.daily,
            monthly_limit: limits.monthly,
        };
        Ok(Ask {
            account,
            limits,
            now,
            counters,
        })
    }

    /// The call was reserved: hold it until its outcome is known.
    pub fn granted(&self, state: &AppState) -> Reservation {
        Reservation {
            held: Some((state.store.clone(), self.counters.keys)),
        }
    }

    /// The 429 of api.md for the limit that refused the call.
    pub async fn refused(&self, state: &AppState, limit: QuotaLimit) -> ApiError {
        match state.store.ai_calls_counted(&self.counters.keys).await {
            Ok(counts) => exceeded(
                &status_of(&self.account, self.limits, counts, self.now),
                limit,
                self.now,
            ),
            Err(err) => err.into(),
        }
    }
}

/// Holds one call against the caller's quota before the provider is called: the 429 of
/// api.md when either limit is used up. The check and the count are one atomic step in the
/// database, so concurrent requests cannot all pass on the same last unit of quota.
pub async fn reserve(
    state: &AppState,
    user: &User,
    now: DateTime<Utc>,
) -> Result<Reservation, ApiError> {
    let ask = Ask::new(state, user, now).await?;
    match state.store.reserve_ai_call(&ask.counters).await? {
        QuotaGrant::Granted => Ok(ask.granted(state)),
        QuotaGrant::Exhausted(limit) => Err(ask.refused(state, limit).await),
    }
}

/// Counts a call that was made without a reservation (the optional documentation and
/// escalation calls: resolving never waits on the quota, but what it spends still counts).
pub async fn count(state: &AppState, user: &User, now: DateTime<Utc>) {
    if let Err(err) = state.store.count_ai_call(&keys(user, now)).await {
        tracing::error!(%err, "could not count an AI call toward the quota");
    }
}

/// The 429 of api.md for a used-up limit.
fn exceeded(status: &QuotaStatus, limit: QuotaLimit, now: DateTime<Utc>) -> ApiError {
    let (name, reset_at) = match limit {
        QuotaLimit::Daily => ("daily", status.daily_reset_at),
        QuotaLimit::Monthly => ("monthly", status.monthly_reset_at),
    };
    ApiError::TooManyRequests {
        retry_after: (reset_at - now).num_seconds().max(1) as u64,
        detail: json!({
            "message": format!("AI limit exceeded ({name})"),
            "reset_at": reset_at,
            "quota": status,
        }),
    }
}
