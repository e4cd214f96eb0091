//! What an HTTP answer, or its absence, means for an outbox entry: the rules of psa.md
//! ("Exactly once") for every deliverer that speaks HTTP.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;

use super::deliverer::Outcome;

/// At most this much of a refusal's body is kept as its reason.
const REASON_CHARS: usize = 300;

/// The outcome of an answer that is not a success: 429 (after its `Retry-After`) and 5xx are
/// worth another attempt, any other 4xx stops the retries with its reason (psa.md, a 408
/// included: the remote side answered). It answered, so the write did not land: never
/// uncertain.
pub fn refusal(status: StatusCode, headers: &HeaderMap, body: &str) -> Outcome {
    let error = describe(status, body);
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        return Outcome::Retry {
            after: retry_after(headers, Utc::now()),
            uncertain: false,
            error,
        };
    }
    Outcome::Fail { reason: error }
}

/// The outcome of a request that got no answer. One that could not connect never left;
/// any other (a timeout, a connection cut) may have been received and acted on.
pub fn no_answer(err: reqwest::Error) -> Outcome {
    let uncertain = !err.is_connect() && !err.is_builder();
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "the connection failed"
    };
    // The URL is left out: a webhook's may carry a token.
    Outcome::Retry {
        after: None,
        uncertain,
        error: format!("{what}: {}", err.without_url()),
    }
}

/// `HTTP 404 Not Found: <the start of the body>`.
pub fn describe(status: StatusCode, body: &str) -> String {
    let body = body.trim();
    let mut text = format!("HTTP {status}");
    if !body.is_empty() {
        let cut: String = body.chars().take(REASON_CHARS).collect();
        text.push_str(": ");
        text.push_str(&cut);
        if cut.len() < body.len() {
            text.push('…');
        }
    }
    text
}

/// `Retry-After` as seconds or as an HTTP date (RFC 9110), from `now`.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn with_retry_after(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            retry_after(&with_retry_after("120"), now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(&with_retry_after("Wed, 02 Dec 2026 10:00:30 GMT"), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(retry_after(&with_retry_after("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn refusals_retry_on_429_and_5xx_and_stop_on_other_4xx() {
        let none = HeaderMap::new();
        for status in [429, 500, 502, 503] {
            let status = StatusCode::from_u16(status).unwrap();
            assert!(
                matches!(
                    refusal(status, &none, ""),
                    Outcome::Retry {
                        uncertain: false,
                        ..
                    }
                ),
                "{status}"
            );
        }
        let limited = refusal(StatusCode::TOO_MANY_REQUESTS, &with_retry_after("5"), "");
        assert!(
            matches!(limited, Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(5))
        );
        match refusal(StatusCode::NOT_FOUND, &none, "ticket 4711 not found") {
            Outcome::Fail { reason } => {
                assert_eq!(reason, "HTTP 404 Not Found: ticket 4711 not found")
            }
            other => panic!("{other:?}"),
        }
        for status in [StatusCode::UNAUTHORIZED, StatusCode::REQUEST_TIMEOUT] {
            assert!(
                matches!(refusal(status, &none, ""), Outcome::Fail { .. }),
                "{status}"
            );
        }
    }
}
