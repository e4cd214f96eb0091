//! The AI quota's vocabulary (api.md "AI quota"): a call counts against its user's UTC day
//! and its account's UTC month, each within its limit.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use uuid::Uuid;

/// Which limit refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaLimit {
    /// The user's daily limit.
    Daily,
    /// The account's monthly limit.
    Monthly,
}

/// The two counters one call counts against. Kept by the caller between reserving and
/// releasing, so a call that straddles midnight gives back exactly what it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaKeys {
    pub user_id: Uuid,
    pub account_id: Uuid,
    pub day_start: DateTime<Utc>,
    pub month_start: DateTime<Utc>,
}

impl QuotaKeys {
    /// The counters a call made by `user_id` of `account_id` at `now` counts against.
    pub fn at(user_id: Uuid, account_id: Uuid, now: DateTime<Utc>) -> Self {
        QuotaKeys {
            user_id,
            account_id,
            day_start: day_start(now),
            month_start: month_start(now),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_start_at_utc_midnight_and_the_first_of_the_month() {
        let now = Utc
            .with_ymd_and_hms(2026, 12, 31, 23, 59, 0)
            .single()
            .unwrap_or_default();
        assert_eq!(
            day_start(now),
            Utc.with_ymd_and_hms(2026, 12, 31, 0, 0, 0)
                .single()
                .unwrap_or_default()
        );
        assert_eq!(
            month_start(now),
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
                .single()
                .unwrap_or_default()
        );
        assert_eq!(
            next_month_start(now),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or_default()
        );
    }
}
