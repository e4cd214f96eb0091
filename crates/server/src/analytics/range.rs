//! The overview's filters as the query gives them (`from`, `to`, `domain`), checked once for
//! the API and the page alike.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use domain::validation::FieldError;

use crate::error::ApiError;

/// The widest range one overview reads: the figures are computed from every row in it.
pub const MAX_DAYS: i64 = 366;
/// The range without `from`: the last 30 days.
pub const DEFAULT_DAYS: i64 = 30;
const MAX_DOMAIN_CHARS: usize = 100;

/// Sessions started in `[from, to)`, optionally of one problem domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub domain: Option<String>,
}

/// Which end of the range a date stands for: a date `from` starts at that day's midnight
/// (UTC), a date `to` includes that whole day.
#[derive(Clone, Copy)]
enum End {
    From,
    To,
}

/// A filter's value; an empty one is absent (what a plain GET form sends).
fn given(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

fn instant(raw: &str, end: End) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    let day = match end {
        End::From => day,
        End::To => day.succ_opt()?,
    };
    Some(day.and_time(NaiveTime::MIN).and_utc())
}

impl Range {
    /// Reads the three filters (empty values are absent); 422 names each bad one.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        domain: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Range, ApiError> {
        let mut errors = Vec::new();
        let mut read = |name: &str, raw: Option<&str>, end: End| match given(raw) {
            None => None,
            Some(raw) => {
                let t = instant(raw, end);
                if t.is_none() {
                    errors.push(FieldError::query(
                        name,
                        "Give a date (2026-12-01) or an RFC 3339 time (2026-12-01T09:00:00Z)",
                        "value_error.datetime",
                    ));
                }
                t
            }
        };
        let to_given = read("to", to, End::To);
        let from_given = read("from", from, End::From);
        let domain = given(domain).map(str::to_string);
        if domain
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DOMAIN_CHARS)
        {
            errors.push(FieldError::query(
                "domain",
                format!("At most {MAX_DOMAIN_CHARS} characters"),
                "value_error.any_str.max_length",
            ));
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let to = to_given.unwrap_or(now);
        let from = from_given.unwrap_or(to - Duration::days(DEFAULT_DAYS));
        if from >= to {
            return Err(ApiError::Validation(vec![FieldError::query(
                "from",
                "`from` must be before `to`",
                "value_error",
            )]));
        }
        if to - from > Duration::days(MAX_DAYS) {
            return Err(ApiError::Validation(vec![FieldError::query(
                "from",
                format!("The range may span at most {MAX_DAYS} days"),
                "value_error",
            )]));
        }
        Ok(Range { from, to, domain })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-02T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_date_to_includes_its_whole_day() {
        let r = Range::parse(Some("2026-11-01"), Some("2026-11-30"), None, now()).unwrap();
        assert_eq!(
            r.from,
            "2026-11-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            r.to,
            "2026-12-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn without_filters_the_last_thirty_days() {
        let r = Range::parse(None, Some(""), Some(" "), now()).unwrap();
        assert_eq!(r.to, now());
        assert_eq!(r.from, now() - Duration::days(30));
        assert_eq!(r.domain, None);
    }

    #[test]
    fn times_keep_their_offset() {
        let r = Range::parse(Some("2026-11-01T09:00:00+01:00"), None, None, now()).unwrap();
        assert_eq!(
            r.from,
            "2026-11-01T08:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn bad_values_are_422_naming_the_field() {
        for (from, to, field) in [
            (Some("yesterday"), None, "from"),
            (None, Some("2026-13-01"), "to"),
            (Some("2026-12-01"), Some("2026-11-01"), "from"),
            (Some("2024-01-01"), Some("2026-01-01"), "from"),
        ] {
            match Range::parse(from, to, None, now()) {
                Err(ApiError::Validation(errors)) => {
                    assert_eq!(errors[0].loc, vec!["query", field], "{from:?} {to:?}")
                }
                other => panic!("{from:?} {to:?}: {other:?}"),
            }
        }
    }
}
