//! The HTTP plumbing every provider shares: the client, sending a JSON request, and mapping
//! the provider's failures onto `LlmError` the same way for all of them.

use std::ops::ControlFlow;
use std::time::Duration;

use domain::llm::LlmError;
use llm::text::truncate;
use reqwest::header::{HeaderValue, RETRY_AFTER};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;

use crate::sse::{SseDecoder, SseEvent};

/// Provider error messages are shown to engineers and stored; a whole HTML error page is not.
const MAX_ERROR_MESSAGE_CHARS: usize = 300;

/// A client whose every request gives up after `timeout`.
pub fn build_client(timeout: Duration) -> Result<reqwest::Client, LlmError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("flowpilot/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| LlmError::Transport(format!("could not build the HTTP client: {e}")))
}

/// A header value holding a credential: marked sensitive so it never shows up in `Debug`
/// output or logs.
pub fn secret_header(value: &str) -> Result<HeaderValue, LlmError> {
    let mut header = HeaderValue::from_str(value).map_err(|_| {
        LlmError::Transport(
            "the API key contains characters that are not allowed in an HTTP header".into(),
        )
    })?;
    header.set_sensitive(true);
    Ok(header)
}

/// Joins a configured base URL and a path, tolerating a trailing slash on the base and a
/// base that already ends with the path's version prefix (`…/v1` + `/v1/messages`).
pub fn join_url(base_url: &str, path: &str) -> String {
    let base = base_url.trim_end_matches('/');
    let path = path.trim_start_matches('/');
    if let Some((version, rest)) = path.split_once('/') {
        if base.ends_with(&format!("/{version}")) {
            return format!("{base}/{rest}");
        }
    }
    format!("{base}/{path}")
}

/// Sends the request and returns the parsed JSON body of a 2xx answer.
pub async fn send_json(request: RequestBuilder, timeout: Duration) -> Result<Value, LlmError> {
    let response = request
        .send()
        .await
        .map_err(|e| transport_error(e, timeout))?;
    let status = response.status();
    tracing::debug!(status = status.as_u16(), url = %response.url(), "LLM provider answered");
    if status.is_success() {
        let body = response
            .text()
            .await
            .map_err(|e| transport_error(e, timeout))?;
        serde_json::from_str(&body)
            .map_err(|e| LlmError::InvalidResponse(format!("the response body is not JSON ({e})")))
    } else {
        Err(status_error(response, timeout).await)
    }
}

/// Sends a streaming request: the response of a 2xx answer, whose body the caller reads
/// chunk by chunk with [`next_chunk`]; any other answer mapped as [`send_json`] maps it.
pub async fn send_streaming(
    request: RequestBuilder,
    timeout: Duration,
) -> Result<Response, LlmError> {
    let response = request
        .send()
        .await
        .map_err(|e| transport_error(e, timeout))?;
    let status = response.status();
    tracing::debug!(status = status.as_u16(), url = %response.url(), "LLM provider started answering");
    if status.is_success() {
        Ok(response)
    } else {
        Err(status_error(response, timeout).await)
    }
}

/// The next piece of a streamed body; `None` once it ended. A connection dropped mid-body
/// is an error, never a silent end.
pub async fn next_chunk(
    response: &mut Response,
    timeout: Duration,
) -> Result<Option<Vec<u8>>, LlmError> {
    match response.chunk().await {
        Ok(chunk) => Ok(chunk.map(|bytes| bytes.to_vec())),
        // What the engineer reads should say what happened, not hyper's framing detail.
        Err(e) if e.is_body() || e.is_decode() => {
            tracing::warn!(cause = %root_cause(&e), "the provider's stream broke off");
            Err(LlmError::InvalidResponse(
                "the connection was cut before the reply was complete".into(),
            ))
        }
        Err(e) => Err(transport_error(e, timeout)),
    }
}

/// Reads a streamed body as server-sent events, handing each to `on_event` until it answers
/// `Break` or the body ends.
pub async fn read_events(
    mut response: Response,
    timeout: Duration,
    mut on_event: impl FnMut(SseEvent) -> Result<ControlFlow<()>, LlmError>,
) -> Result<(), LlmError> {
    let mut decoder = SseDecoder::new();
    while let Some(chunk) = next_chunk(&mut response, timeout).await? {
        for event in decoder.push(&chunk) {
            if on_event(event)?.is_break() {
                return Ok(());
            }
        }
    }
    if let Some(event) = decoder.finish() {
        // The body has ended: whether this last event asked to stop no longer matters.
        let _ = on_event(event)?;
    }
    Ok(())
}

async fn status_error(response: Response, timeout: Duration) -> LlmError {
    let status = response.status();
    let header_retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let body = match response.text().await {
        Ok(body) => body,
        Err(e) => return transport_error(e, timeout),
    };
    let json: Option<Value> = serde_json::from_str(&body).ok();
    if status == StatusCode::TOO_MANY_REQUESTS {
        let retry_after = header_retry_after.or_else(|| json.as_ref().and_then(body_retry_delay));
        return LlmError::RateLimited { retry_after };
    }
    let message = json
        .as_ref()
        .and_then(error_message)
        .unwrap_or_else(|| body.trim().to_string());
    let message = if message.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("no message")
            .to_string()
    } else {
        truncate(&message, MAX_ERROR_MESSAGE_CHARS)
    };
    LlmError::Upstream {
        status: status.as_u16(),
        message,
    }
}

/// The message in the error shapes providers use: `{"error": {"message"}}` (OpenAI, Anthropic,
/// Gemini), `{"error": "text"}` (Ollama and other compatible servers), `{"message"}`.
fn error_message(body: &Value) -> Option<String> {
    let candidates = [
        body.pointer("/error/message"),
        body.get("error"),
        body.get("message"),
        body.get("detail"),
    ];
    candidates
        .into_iter()
        .flatten()
        .find_map(Value::as_str)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Gemini announces the wait in the body (`RetryInfo.retryDelay: "30s"`) rather than a header.
fn body_retry_delay(body: &Value) -> Option<u64> {
    body.pointer("/error/details")?
        .as_array()?
        .iter()
        .filter_map(|d| d.get("retryDelay")?.as_str())
        .find_map(|d| {
            let secs = d.trim().trim_end_matches('s');
            secs.parse::<f64>().ok().map(|s| s.ceil() as u64)
        })
}

fn transport_error(error: reqwest::Error, timeout: Duration) -> LlmError {
    if error.is_timeout() {
        // Round up so a sub-second test timeout does not read "0 seconds".
        LlmError::Timeout(timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0))
    } else if error.is_connect() {
        LlmError::Transport(format!("connection failed: {}", root_cause(&error)))
    } else if error.is_decode() || error.is_body() {
        LlmError::InvalidResponse(format!(
            "could not read the response: {}",
            root_cause(&error)
        ))
    } else {
        LlmError::Transport(root_cause(&error))
    }
}

/// The innermost cause reads best ("Connection refused"); reqwest's own text repeats the URL.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn joins_urls_with_and_without_slashes() {
        assert_eq!(
            join_url("https://api.openai.com/v1/", "chat/completions"),
            "https://api.openai.com/v1/chat/completions"
        );
        assert_eq!(
            join_url("https://api.anthropic.com", "/v1/messages"),
            "https://api.anthropic.com/v1/messages"
        );
        assert_eq!(
            join_url("https://proxy.local/v1", "/v1/messages"),
            "https://proxy.local/v1/messages"
        );
    }

    #[test]
    fn extracts_error_messages_from_every_shape() {
        let openai =
            json!({"error": {"message": "Invalid model", "type": "invalid_request_error"}});
        let anthropic = json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
        let ollama = json!({"error": "model 'x' not found"});
        assert_eq!(error_message(&openai).as_deref(), Some("Invalid model"));
        assert_eq!(error_message(&anthropic).as_deref(), Some("Overloaded"));
        assert_eq!(
            error_message(&ollama).as_deref(),
            Some("model 'x' not found")
        );
        assert_eq!(error_message(&json!({"error": {}})), None);
    }

    #[test]
    fn reads_gemini_retry_delay() {
        let body = json!({"error": {"code": 429, "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure"},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17.2s"}
        ]}});
        assert_eq!(body_retry_delay(&body), Some(18));
    }
}
