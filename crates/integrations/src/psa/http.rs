//! The HTTP plumbing the three adapters share: the client, sending a request, and mapping a
//! PSA's answer onto `PsaError` the same way for all of them.

use std::time::Duration;

use domain::psa::{Note, PsaError, PsaKind, RemoteId, TicketQuery};
use reqwest::header::{HeaderValue, LOCATION, RETRY_AFTER};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;

use super::text::truncate;

/// PSA error messages end up in the push status an engineer reads; an HTML error page does not.
const MAX_ERROR_MESSAGE_CHARS: usize = 300;

/// A client whose every request gives up after `timeout`.
pub fn build_client(timeout: Duration) -> Result<reqwest::Client, PsaError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("flowpilot/", env!("CARGO_PKG_VERSION")))
        // A redirect would carry Autotask's and ConnectWise's credential headers to wherever
        // it points (reqwest drops only `Authorization`); the admin fixes base_url instead.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| PsaError::Unreachable(format!("could not build the HTTP client: {e}")))
}

/// A header value holding a credential: marked sensitive so it never shows in `Debug` output.
pub fn secret_header(value: &str, field: &str) -> Result<HeaderValue, PsaError> {
    let mut header = HeaderValue::from_str(value).map_err(|_| {
        PsaError::Misconfigured(format!(
            "the {field} contains characters that are not allowed in an HTTP header"
        ))
    })?;
    header.set_sensitive(true);
    Ok(header)
}

/// `base_url` with `suffix` (the API's root path) appended, unless the admin already gave it.
pub fn api_root(base_url: &str, suffix: &str) -> String {
    let base = base_url.trim().trim_end_matches('/');
    let suffix = suffix.trim_matches('/');
    if base
        .to_ascii_lowercase()
        .ends_with(&format!("/{}", suffix.to_ascii_lowercase()))
    {
        base.to_string()
    } else {
        format!("{base}/{suffix}")
    }
}

/// The base URL without the API's root path, for links into the PSA's web UI.
pub fn web_root(base_url: &str, suffix: &str) -> String {
    let root = api_root(base_url, suffix);
    root[..root.len() - suffix.trim_matches('/').len() - 1].to_string()
}

/// Where `query`'s page lies for a PSA that pages by number (ConnectWise, Halo):
/// `(page_no, page_size, drop)`. FlowPilot's `skip` is a count; one that is not a whole number
/// of pages asks for a larger first page and drops its head.
pub fn numbered_page(query: &TicketQuery, max_page: u32) -> (u32, u32, usize) {
    let limit = query.page_size();
    if query.skip.is_multiple_of(limit) {
        (query.skip / limit + 1, limit, 0)
    } else {
        (1, (query.skip + limit).min(max_page), query.skip as usize)
    }
}

/// A ticket (or member) id as the number all three PSAs use. Checked before it goes into a
/// URL path, so no id can change which endpoint is called.
pub fn numeric_id(id: &str, what: &str) -> Result<u64, PsaError> {
    id.trim().parse().map_err(|_| PsaError::NotFound {
        what: format!("{what} {id:?} (the PSA's ids are numbers)"),
    })
}

/// The failure mapping of one adapter: which PSA (for the credentials hint) and which secret
/// values must never appear in a message, even when the PSA echoes them back.
#[derive(Clone)]
pub struct Http {
    pub client: reqwest::Client,
    pub kind: PsaKind,
    timeout: Duration,
    secrets: Vec<String>,
}

impl Http {
    pub fn new(kind: PsaKind, timeout: Duration, secrets: &[&str]) -> Result<Self, PsaError> {
        Ok(Self {
            client: build_client(timeout)?,
            kind,
            timeout,
            secrets: secrets
                .iter()
                .filter(|s| s.len() >= 4)
                .map(|s| s.to_string())
                .collect(),
        })
    }

    /// Sends the request and returns the JSON body of a 2xx answer (`Null` when empty).
    /// `what` names the resource for a 404 ("ticket 42").
    pub async fn send(&self, request: RequestBuilder, what: &str) -> Result<Value, PsaError> {
        let response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status();
        tracing::debug!(psa = self.kind.as_str(), status = status.as_u16(), url = %response.url(), "PSA answered");
        if !status.is_success() {
            return Err(self.status_error(response, what).await);
        }
        let body = response.text().await.map_err(|e| self.transport(e))?;
        if body.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&body).map_err(|e| {
            PsaError::InvalidResponse(format!("the answer for {what} is not JSON ({e})"))
        })
    }

    async fn status_error(&self, response: Response, what: &str) -> PsaError {
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(|l| truncate(l, 200));
        let body = response.text().await.unwrap_or_default();
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => PsaError::Unauthorized {
                kind: self.kind,
                status: status.as_u16(),
                hint: self.kind.credentials_hint(status == StatusCode::FORBIDDEN),
            },
            StatusCode::NOT_FOUND => PsaError::NotFound {
                what: what.to_string(),
            },
            StatusCode::TOO_MANY_REQUESTS => PsaError::RateLimited { retry_after },
            s if s.is_redirection() => PsaError::Misconfigured(format!(
                "the PSA redirected {what} (HTTP {}){}: set base_url to the address it names",
                s.as_u16(),
                location.map(|l| format!(" to {l}")).unwrap_or_default()
            )),
            s if s.is_server_error() => PsaError::Upstream {
                status: s.as_u16(),
                message: self.message(&body, s),
            },
            s => PsaError::Rejected {
                status: s.as_u16(),
                message: self.message(&body, s),
            },
        }
    }

    /// The PSA's own words: ConnectWise `{message, errors: [{message}]}`, Autotask
    /// `{errors: ["…"]}`, Halo `{Message}` or `{error_description}`, else the body's text.
    fn message(&self, body: &str, status: StatusCode) -> String {
        let json: Option<Value> = serde_json::from_str(body).ok();
        let from_json = json.as_ref().and_then(|json| {
            let mut parts: Vec<String> = Vec::new();
            for key in ["message", "Message", "error_description", "title", "detail"] {
                if let Some(text) = json.get(key).and_then(Value::as_str) {
                    parts.push(text.trim().to_string());
                    break;
                }
            }
            if let Some(errors) = json.get("errors").and_then(Value::as_array) {
                parts.extend(errors.iter().filter_map(|e| {
                    e.as_str()
                        .or_else(|| e.get("message").and_then(Value::as_str))
                        .map(|s| s.trim().to_string())
                }));
            }
            parts.retain(|p| !p.is_empty());
            (!parts.is_empty()).then(|| parts.join("; "))
        });
        let text = from_json.unwrap_or_else(|| body.trim().to_string());
        let text = if text.is_empty() {
            status
                .canonical_reason()
                .unwrap_or("no message")
                .to_string()
        } else {
            text
        };
        truncate(&self.scrub(&text), MAX_ERROR_MESSAGE_CHARS)
    }

    /// Removes any credential value from a text meant for people.
    pub fn scrub(&self, text: &str) -> String {
        self.secrets.iter().fold(text.to_string(), |text, secret| {
            text.replace(secret.as_str(), "<redacted>")
        })
    }

    pub fn transport(&self, error: reqwest::Error) -> PsaError {
        if error.is_timeout() {
            // Round up so a sub-second test timeout does not read "0 seconds".
            PsaError::Timeout {
                seconds: self.timeout.as_secs() + u64::from(self.timeout.subsec_nanos() > 0),
            }
        } else if error.is_connect() {
            PsaError::Unreachable(self.scrub(&root_cause(&error)))
        } else if error.is_decode() {
            PsaError::InvalidResponse(self.scrub(&root_cause(&error)))
        } else {
            PsaError::Transport(self.scrub(&root_cause(&error)))
        }
    }
}

/// `Retry-After` in seconds, or an HTTP date turned into the seconds left until it.
fn parse_retry_after(value: &str) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds);
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let left = at.timestamp() - chrono::Utc::now().timestamp();
    Some(left.max(0) as u64)
}

/// The innermost cause reads best ("Connection refused"); reqwest's own text repeats the URL.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// The id of the first item whose text, in any of `fields`, carries FlowPilot's `marker`:
/// how an adapter tells whether a write it is unsure of has landed.
pub fn find_marked(items: &[Value], fields: &[&str], marker: &str) -> Option<RemoteId> {
    items
        .iter()
        .find(|item| {
            fields.iter().any(|field| {
                item.get(*field)
                    .and_then(Value::as_str)
                    .is_some_and(|text| Note::carries_marker(text, marker))
            })
        })
        .and_then(|item| id_string(item.get("id")))
        .map(RemoteId)
}

/// Reads a field that PSAs send as a number or as a string of digits.
pub fn id_string(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

pub fn str_field(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The id of what a write created, wherever this PSA puts it.
pub fn created_id(body: &Value, keys: &[&str], what: &str) -> Result<String, PsaError> {
    let object = match body {
        Value::Array(items) => items.first().unwrap_or(&Value::Null),
        other => other,
    };
    keys.iter()
        .find_map(|key| id_string(object.get(*key)))
        .ok_or_else(|| PsaError::InvalidResponse(format!("the answer to {what} carries no id")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn api_roots_tolerate_what_admins_paste() {
        assert_eq!(
            api_root("https://na.myconnectwise.net/", "v4_6_release/apis/3.0"),
            "https://na.myconnectwise.net/v4_6_release/apis/3.0"
        );
        assert_eq!(
            api_root(
                "https://x.example/v4_6_release/apis/3.0",
                "/v4_6_release/apis/3.0"
            ),
            "https://x.example/v4_6_release/apis/3.0"
        );
        assert_eq!(
            web_root("https://halo.example/api/", "api"),
            "https://halo.example"
        );
        assert_eq!(
            web_root("https://halo.example", "api"),
            "https://halo.example"
        );
    }

    #[test]
    fn pages_follow_skip() {
        let q = |skip, limit| TicketQuery {
            q: None,
            skip,
            limit,
        };
        assert_eq!(numbered_page(&q(0, 25), 1000), (1, 25, 0));
        assert_eq!(numbered_page(&q(50, 25), 1000), (3, 25, 0));
        assert_eq!(numbered_page(&q(10, 25), 1000), (1, 35, 10));
        assert_eq!(
            numbered_page(&q(0, 0), 1000),
            (1, TicketQuery::DEFAULT_LIMIT, 0)
        );
    }

    #[test]
    fn ids_must_be_numbers() {
        assert_eq!(numeric_id(" 42 ", "ticket").unwrap(), 42);
        assert!(matches!(
            numeric_id("42/../../system", "ticket"),
            Err(PsaError::NotFound { .. })
        ));
    }

    #[test]
    fn messages_come_from_each_shape_and_never_carry_secrets() {
        let http = Http::new(PsaKind::Autotask, Duration::from_secs(1), &["hunter22"]).unwrap();
        let s = StatusCode::BAD_REQUEST;
        assert_eq!(
            http.message(
                r#"{"errors": ["Field ticketID is required", "bad hunter22"]}"#,
                s
            ),
            "Field ticketID is required; bad <redacted>"
        );
        assert_eq!(
            http.message(r#"{"code": "InvalidObject", "message": "Note is invalid", "errors": [{"message": "text required"}]}"#, s),
            "Note is invalid; text required"
        );
        assert_eq!(http.message("", s), "Bad Request");
        assert_eq!(
            created_id(&json!([{"id": 7}]), &["id"], "the note").unwrap(),
            "7"
        );
        assert_eq!(
            created_id(&json!({"itemId": 9}), &["itemId", "id"], "the note").unwrap(),
            "9"
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after(" 12 "), Some(12));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(0));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
