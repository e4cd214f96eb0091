//! The recency signal.

use chrono::{DateTime, Utc};

/// Days for the recency signal to halve (flows.md).
pub const HALF_LIFE_DAYS: f64 = 90.0;

/// 1 for a flow used or updated on the same UTC day as `now`, halving every 90 days
/// after. Counting whole calendar days keeps the value stable through a day, and an
/// activity stamped after `now` (clock skew between servers) counts as today.
pub fn recency(last_activity: DateTime<Utc>, now: DateTime<Utc>) -> f64 {
    let days = (now.date_naive() - last_activity.date_naive()).num_days();
    if days <= 0 {
        1.0
    } else {
        0.5f64.powf(days as f64 / HALF_LIFE_DAYS)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, day, hour, 0, 0)
            .single()
            .unwrap()
    }

    #[test]
    fn activity_today_is_fully_recent() {
        assert_eq!(recency(at(10, 0), at(10, 23)), 1.0);
        assert_eq!(recency(at(11, 0), at(10, 23)), 1.0);
    }

    #[test]
    fn recency_halves_every_ninety_days() {
        let now = at(10, 12);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(recency(now - Duration::days(90), now), 0.5));
        assert!(close(recency(now - Duration::days(180), now), 0.25));
        assert!(recency(now - Duration::days(1), now) < 1.0);
    }
}
