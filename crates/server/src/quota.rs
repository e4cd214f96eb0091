//! AI quota (api.md, "AI quota"): daily per user, monthly per account, UTC boundaries.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use domain::{AiLimits, User};
use serde::Serialize;
use serde_json::json;
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

pub fn day_start(now: DateTime<Utc>) -> DateTime<Utc> {
    Utc.from_utc_datetime(&now.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default())
}

pub fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    let first = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap_or(now.date_naive());
    Utc.from_utc_datetime(&first.and_hms_opt(0, 0, 0).unwrap_or_default())
}

pub fn next_month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    let (y, m) = if now.month() == 12 {
        (now.year() + 1, 1)
    } else {
        (now.year(), now.month() + 1)
    };
    let first = NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(now.date_naive());
    Utc.from_utc_datetime(&first.and_hms_opt(0, 0, 0).unwrap_or_default())
}

pub async fn status(
    state: &AppState,
    user: &User,
    now: DateTime<Utc>,
) -> Result<QuotaStatus, ApiError> {
    let account = state.store.account(user.account_id).await?;
    let limits = if user.is_super_admin {
        AiLimits {
            daily: None,
            monthly: None,
        }
    } else {
        account.effective_limits(state.settings.limit_overrides())
    };
    let counts = state
        .store
        .ai_usage_counts(user.id, account.id, day_start(now), month_start(now))
        .await?;
    Ok(QuotaStatus {
        plan: account.plan.as_str().to_string(),
        daily_used: counts.user_today,
        daily_limit: limits.daily,
        monthly_used: counts.account_this_month,
        monthly_limit: limits.monthly,
        daily_reset_at: day_start(now) + Duration::days(1),
        monthly_reset_at: next_month_start(now),
    })
}

/// Fails with the 429 of api.md when either limit is used up.
pub fn ensure_available(status: &QuotaStatus, now: DateTime<Utc>) -> Result<(), ApiError> {
    let exhausted = |used: i64, limit: Option<i64>| limit.is_some_and(|l| used >= l);
    let which = if exhausted(status.daily_used, status.daily_limit) {
        Some(("daily", status.daily_reset_at))
    } else if exhausted(status.monthly_used, status.monthly_limit) {
        Some(("monthly", status.monthly_reset_at))
    } else {
        None
    };
    match which {
        None => Ok(()),
        Some((period, reset_at)) => Err(ApiError::TooManyRequests {
            retry_after: (reset_at - now).num_seconds().max(1) as u64,
            detail: json!({
                "message": format!("AI limit exceeded ({period})"),
                "reset_at": reset_at,
                "quota": status,
            }),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_reset_at_utc_boundaries() {
        let now = Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 0).unwrap();
        assert_eq!(
            day_start(now),
            Utc.with_ymd_and_hms(2026, 12, 31, 0, 0, 0).unwrap()
        );
        assert_eq!(
            month_start(now),
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
        );
        assert_eq!(
            next_month_start(now),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()
        );
    }
}
