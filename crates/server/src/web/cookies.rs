//! Reading the `Cookie` header and writing `Set-Cookie` values, without a cookie crate: the
//! UI sets two cookies with fixed, header-safe values.

use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue};

/// The access token of a signed-in browser.
pub const SESSION: &str = "fp_session";
/// The double-submit CSRF token (see `csrf`).
pub const CSRF: &str = "fp_csrf";

/// The value of cookie `name`, from any of the request's `Cookie` headers.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
}

/// Whether the browser reached us over HTTPS. FlowPilot itself speaks plain HTTP, so HTTPS
/// means a reverse proxy in front, which says so in `X-Forwarded-Proto` or `Forwarded`.
/// Trusting the header is safe for this one purpose: a client that fakes it on plain HTTP
/// only gets a `Secure` cookie its own browser will not send back.
pub fn is_https(headers: &HeaderMap) -> bool {
    let forwarded_proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    let forwarded = headers
        .get("forwarded")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|v| {
            v.split(';')
                .filter_map(|pair| pair.trim().split_once('='))
                .any(|(k, v)| {
                    k.eq_ignore_ascii_case("proto")
                        && v.trim_matches('"').eq_ignore_ascii_case("https")
                })
        });
    forwarded_proto || forwarded
}

/// An `HttpOnly`, `SameSite=Lax` cookie for the whole site. Without `max_age` it lasts as
/// long as the browser session.
pub fn set(
    name: &str,
    value: &str,
    max_age: Option<i64>,
    secure: bool,
) -> Result<HeaderValue, BadCookie> {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(seconds) = max_age {
        cookie.push_str(&format!("; Max-Age={seconds}"));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    HeaderValue::from_str(&cookie).map_err(|_| BadCookie(name.to_string()))
}

/// A cookie whose value cannot be sent in a header: a bug, never the visitor's doing.
#[derive(Debug, thiserror::Error)]
#[error("cookie {0} has a value unfit for a header")]
pub struct BadCookie(String);

/// Tells the browser to drop cookie `name`.
pub fn clear(name: &str, secure: bool) -> Result<HeaderValue, BadCookie> {
    set(name, "", Some(0), secure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_cookie_among_several_headers() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; fp_csrf=abc"));
        headers.append(COOKIE, HeaderValue::from_static("fp_session=fp_x"));
        assert_eq!(get(&headers, CSRF), Some("abc"));
        assert_eq!(get(&headers, SESSION), Some("fp_x"));
        assert_eq!(get(&headers, "fp"), None);
    }

    #[test]
    fn https_is_read_from_either_proxy_header() {
        let mut headers = HeaderMap::new();
        assert!(!is_https(&headers));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https, http"));
        assert!(is_https(&headers));
        let mut headers = HeaderMap::new();
        headers.insert(
            "forwarded",
            HeaderValue::from_static("for=1.2.3.4;proto=https"),
        );
        assert!(is_https(&headers));
    }
}
