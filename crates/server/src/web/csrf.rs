//! CSRF protection for every form, the sign-in and sign-up forms included (login CSRF).
//!
//! Double submit: a random token lives in the `fp_csrf` cookie and in a hidden `csrf_token`
//! field of every form; a POST is accepted only when both are present and equal (compared in
//! constant time). Another site can make a browser send the cookie but cannot read it to
//! fill in the field. On top of that, when the browser names the page the request came from
//! (`Origin`, else `Referer`), that page must be on this host. The session cookie is
//! `SameSite=Lax` as a third layer.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{HOST, ORIGIN, REFERER, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use rand::RngCore;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use crate::web::cookies;
use crate::web::error::WebError;

/// This browser's CSRF token, for rendering into forms.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

impl AsRef<str> for CsrfToken {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A cookie value we could have issued; anything else is replaced rather than echoed into pages.
fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Gives every page request a CSRF token, issuing the cookie when the browser has none yet.
/// A handler that sets `fp_csrf` itself (sign-in rotates it) wins.
pub async fn ensure_cookie(mut req: Request, next: Next) -> Response {
    let existing = cookies::get(req.headers(), cookies::CSRF)
        .filter(|t| well_formed(t))
        .map(str::to_owned);
    let secure = cookies::is_https(req.headers());
    let (token, fresh) = match existing {
        Some(token) => (token, false),
        None => (generate(), true),
    };
    req.extensions_mut().insert(CsrfToken(token.clone()));
    let mut response = next.run(req).await;
    let already_set = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .any(|v| v.as_bytes().starts_with(cookies::CSRF.as_bytes()));
    if fresh && !already_set {
        match cookies::set(cookies::CSRF, &token, None, secure) {
            Ok(cookie) => {
                response.headers_mut().append(SET_COOKIE, cookie);
            }
            Err(err) => tracing::error!(?err, "cannot issue the CSRF cookie"),
        }
    }
    response
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, WebError> {
        parts
            .extensions
            .get::<CsrfToken>()
            .cloned()
            .ok_or_else(|| WebError::internal("page route without the CSRF middleware"))
    }
}

/// A form that carries nothing but its CSRF token: a button's POST.
#[derive(Debug, Default, serde::Deserialize)]
pub struct EmptyForm {}

/// A url-encoded form that passed the CSRF checks. Using it as a handler's body extractor is
/// what protects that handler.
pub struct CsrfForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for CsrfForm<T> {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &S) -> Result<Self, WebError> {
        if !same_origin(req.headers()) {
            tracing::warn!("form refused: sent from another origin");
            return Err(WebError::Csrf);
        }
        let expected = cookies::get(req.headers(), cookies::CSRF).map(str::to_owned);
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                WebError::TooLarge
            } else {
                WebError::BadRequest
            }
        })?;
        let fields: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&bytes).map_err(|_| WebError::BadRequest)?;
        let sent = fields
            .iter()
            .find(|(name, _)| name == "csrf_token")
            .map_or("", |(_, value)| value.as_str());
        if !tokens_match(expected.as_deref(), sent) {
            tracing::warn!("form refused: missing or wrong CSRF token");
            return Err(WebError::Csrf);
        }
        if fields.iter().any(|(_, value)| value.contains('\0')) {
            return Err(WebError::NulText);
        }
        serde_urlencoded::from_bytes(&bytes)
            .map(CsrfForm)
            .map_err(|_| WebError::BadRequest)
    }
}

fn tokens_match(cookie: Option<&str>, field: &str) -> bool {
    match cookie {
        Some(cookie) if !cookie.is_empty() => cookie.as_bytes().ct_eq(field.as_bytes()).into(),
        _ => false,
    }
}

/// True unless the browser says the form came from a page on another host. Only the host
/// and port are compared: behind a TLS proxy the scheme the browser used differs from ours.
/// A proxy that rewrites `Host` is expected to pass the original in `X-Forwarded-Host`.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(source) = headers.get(ORIGIN).or_else(|| headers.get(REFERER)) else {
        // Neither header: an old browser or a privacy setting; the token still guards.
        return true;
    };
    let Some(authority) = source.to_str().ok().and_then(authority_of) else {
        return false;
    };
    let host = headers.get(HOST).and_then(|v| v.to_str().ok());
    let forwarded_host = headers
        .get("x-forwarded-host")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim);
    [host, forwarded_host]
        .into_iter()
        .flatten()
        .any(|h| h.eq_ignore_ascii_case(authority))
}

/// `host[:port]` of an absolute URL; `None` for `null` and anything else unusable.
fn authority_of(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    (!authority.is_empty() && !authority.contains('@')).then_some(authority)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn origin_must_name_this_host() {
        assert!(same_origin(&headers(&[("host", "fp.local:8080")])));
        assert!(same_origin(&headers(&[
            ("host", "fp.local:8080"),
            ("origin", "http://fp.local:8080")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "fp.local:8080"),
            ("origin", "http://evil.example")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "fp.local"),
            ("origin", "null")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "fp.local"),
            ("referer", "https://evil.example/fp.local")
        ])));
        assert!(same_origin(&headers(&[
            ("host", "fp.local"),
            ("referer", "https://fp.local/login?x=1")
        ])));
        assert!(same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("x-forwarded-host", "flowpilot.example.com"),
            ("origin", "https://flowpilot.example.com"),
        ])));
    }

    #[test]
    fn tokens_must_be_present_and_equal() {
        let token = generate();
        assert!(well_formed(&token));
        assert!(tokens_match(Some(&token), &token));
        assert!(!tokens_match(Some(&token), "nope"));
        assert!(!tokens_match(None, ""));
        assert!(!tokens_match(Some(""), ""));
    }
}
