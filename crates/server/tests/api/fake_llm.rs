//! A local fake LLM provider speaking the OpenAI, Anthropic or Gemini wire format, so the
//! real server can be driven end to end through each provider adapter.
//!
//! It answers scripted replies first; once the script is empty it answers whatever contract
//! the request asked for (`flowpilot_step`, `flowpilot_documentation`,
//! `flowpilot_escalation`) with a valid object, which is what concurrent tests need. Every
//! request is kept, raw, so tests can check what left the server.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use flowpilot_server::settings::ProviderChoice;
use flowpilot_server::Settings;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    OpenAi,
    Anthropic,
    Gemini,
}

impl Wire {
    /// The tokens the fake reports for every answered call: distinct per wire, so a test
    /// can tell they were read from this provider's usage report.
    pub fn usage(self) -> (i64, i64) {
        match self {
            Wire::OpenAi => (120, 30),
            Wire::Anthropic => (1200, 180),
            Wire::Gemini => (900, 150),
        }
    }

    /// Of [`Wire::usage`]'s input tokens, those the fake says it read from its prompt cache,
    /// reported the way each provider does.
    pub fn cached(self) -> i64 {
        match self {
            Wire::OpenAi => 64,
            Wire::Anthropic => 1024,
            Wire::Gemini => 512,
        }
    }

    /// The model the fake says answered (a dated snapshot where the provider sends one).
    pub fn reply_model(self) -> &'static str {
        match self {
            Wire::OpenAi => "gpt-4.1-mini-2025-04-14",
            Wire::Anthropic => "claude-sonnet-4-5-20250929",
            Wire::Gemini => "gemini-2.5-flash",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Wire::OpenAi => "openai",
            Wire::Anthropic => "anthropic",
            Wire::Gemini => "gemini",
        }
    }

    /// Points the server at `fake`, the way an operator would configure this provider.
    pub fn configure(self, s: &mut Settings, base_url: &str) {
        match self {
            Wire::OpenAi => {
                s.llm_provider = ProviderChoice::OpenAi;
                s.openai.base_url = Some(format!("{base_url}/v1"));
                s.openai.api_key = Some("sk-test-openai-key-0000000000".into());
            }
            Wire::Anthropic => {
                // Auto-selection (config.md): a configured Anthropic endpoint comes first.
                s.llm_provider = ProviderChoice::Auto;
                s.anthropic.base_url = Some(base_url.into());
                s.anthropic.api_key = Some("sk-ant-test-key".into());
            }
            Wire::Gemini => {
                s.llm_provider = ProviderChoice::Gemini;
                s.gemini.base_url = Some(base_url.into());
                s.gemini.api_key = Some("AIza-test-key".into());
            }
        }
    }
}

/// What the fake answers to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A contract object, wrapped the way this provider wraps a successful answer.
    Object(Value),
    /// An HTTP status with a JSON body (provider errors).
    Status(u16, Value),
    /// An HTTP status with a body that is not valid JSON.
    Raw(u16, &'static str),
    /// A status and JSON body with a `Retry-After` header.
    RetryAfter(u16, Value, u64),
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    /// The body exactly as sent, for looking for text that must not have left.
    pub raw: String,
    pub body: Value,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Which contract the request asked for.
    pub fn contract(&self, wire: Wire) -> String {
        let named = match wire {
            Wire::OpenAi => self.body.pointer("/response_format/json_schema/name"),
            Wire::Anthropic => self.body.pointer("/tool_choice/name"),
            // Gemini's request carries the schema but not its name.
            Wire::Gemini => None,
        };
        if let Some(name) = named.and_then(Value::as_str) {
            return name.to_string();
        }
        let props = self
            .body
            .pointer("/generationConfig/responseSchema/properties")
            .cloned()
            .unwrap_or(Value::Null);
        if props.get("hypotheses").is_some() {
            "flowpilot_escalation".into()
        } else if props.get("root_cause").is_some() {
            "flowpilot_documentation".into()
        } else {
            "flowpilot_step".into()
        }
    }
}

#[derive(Clone)]
struct Shared {
    wire: Wire,
    delay: Option<Duration>,
    script: Arc<Mutex<VecDeque<Reply>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

pub struct FakeLlm {
    pub base_url: String,
    shared: Shared,
}

impl FakeLlm {
    pub async fn start(wire: Wire) -> FakeLlm {
        Self::start_with_delay(wire, None).await
    }

    /// Every answer waits `delay` first, so concurrent requests overlap at the provider.
    pub async fn start_with_delay(wire: Wire, delay: Option<Duration>) -> FakeLlm {
        let shared = Shared {
            wire,
            delay,
            script: Arc::default(),
            received: Arc::default(),
        };
        let app = Router::new().fallback(answer).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake provider");
        let addr = listener.local_addr().expect("fake provider address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeLlm {
            base_url: format!("http://{addr}"),
            shared,
        }
    }

    pub fn push(&self, reply: Reply) {
        self.shared
            .script
            .lock()
            .expect("script lock")
            .push_back(reply);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().expect("received lock").clone()
    }
}

async fn answer(
    State(shared): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw = String::from_utf8_lossy(&body).into_owned();
    let received = Received {
        path: uri.path().to_string(),
        headers,
        body: serde_json::from_str(&raw).unwrap_or(Value::Null),
        raw,
    };
    let contract = received.contract(shared.wire);
    shared
        .received
        .lock()
        .expect("received lock")
        .push(received);
    if let Some(delay) = shared.delay {
        tokio::time::sleep(delay).await;
    }
    let scripted = shared.script.lock().expect("script lock").pop_front();
    let reply = scripted.unwrap_or_else(|| Reply::Object(valid_object(&contract)));
    match reply {
        Reply::Object(object) => {
            let body = wrap(shared.wire, &contract, &object);
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Reply::Status(status, body) => (code(status), axum::Json(body)).into_response(),
        Reply::Raw(status, body) => (
            code(status),
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Reply::RetryAfter(status, body, secs) => (
            code(status),
            [(axum::http::header::RETRY_AFTER, secs.to_string())],
            axum::Json(body),
        )
            .into_response(),
    }
}

fn code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A successful answer carrying `object`, in `wire`'s format, with its usage report.
fn wrap(wire: Wire, contract: &str, object: &Value) -> Value {
    let (input, output) = wire.usage();
    let cached = wire.cached();
    let model = wire.reply_model();
    match wire {
        Wire::OpenAi => json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": object.to_string()}}],
            "usage": {"prompt_tokens": input, "completion_tokens": output,
                      "total_tokens": input + output,
                      "prompt_tokens_details": {"cached_tokens": cached}}
        }),
        Wire::Anthropic => json!({
            "id": "msg_01", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "tool_use", "id": "toolu_01", "name": contract, "input": object}],
            "stop_reason": "tool_use", "stop_sequence": null,
            // Anthropic counts cache reads apart from `input_tokens`.
            "usage": {"input_tokens": input - cached, "cache_read_input_tokens": cached,
                      "output_tokens": output}
        }),
        Wire::Gemini => json!({
            "candidates": [{
                "content": {"role": "model", "parts": [{"text": object.to_string()}]},
                "finishReason": "STOP", "index": 0
            }],
            "usageMetadata": {"promptTokenCount": input, "candidatesTokenCount": output,
                              "cachedContentTokenCount": cached,
                              "totalTokenCount": input + output},
            "modelVersion": model
        }),
    }
}

/// What a well-behaved model answers to `contract`.
pub fn valid_object(contract: &str) -> Value {
    match contract {
        "flowpilot_documentation" => documentation(),
        "flowpilot_escalation" => escalation(),
        _ => question(),
    }
}

/// A strict-mode question step (every field present), valid as a first step too.
pub fn question() -> Value {
    json!({
        "type": "question", "content": "Is it one user or several?",
        "context_message": "Separates an account problem from a tenant-wide one.",
        "reasoning": null,
        "options": [
            {"label": "One user", "value": "one", "followup_hint": null},
            {"label": "Several users", "value": "many", "followup_hint": null}
        ],
        "allow_free_text": true, "allow_skip": false, "action_type": null,
        "expected_outcome": null, "resolution_summary": null,
        "follow_up_recommendations": [], "confidence": 0.3,
        "problem_summary": "Outlook prompts for a password",
        "problem_domain": "email_m365"
    })
}

pub fn resolution() -> Value {
    json!({
        "type": "resolution_suggestion",
        "content": "Clear the cached credentials in Credential Manager and sign in again.",
        "context_message": null, "reasoning": null, "options": [],
        "allow_free_text": true, "allow_skip": false, "action_type": null,
        "expected_outcome": null,
        "resolution_summary": "Caused by a stale cached credential; fixed by clearing it.",
        "follow_up_recommendations": ["Enable modern authentication for the tenant"],
        "confidence": 0.85, "problem_summary": null, "problem_domain": null
    })
}

pub const WRITTEN_ROOT_CAUSE: &str =
    "A stale credential cached by Windows after a password change.";

pub fn documentation() -> Value {
    json!({
        "title": "Outlook password prompts after a password change",
        "root_cause": WRITTEN_ROOT_CAUSE,
        "resolution_summary": "Cleared the cached credential; Outlook signed in again.",
        "follow_up_recommendations": ["Tell users to restart Outlook after a password change"]
    })
}

pub const WRITTEN_HYPOTHESIS: &str = "Conditional access blocks the legacy client.";

pub fn escalation() -> Value {
    json!({
        "summary": "Prompts continue after clearing credentials.",
        "hypotheses": [{"cause": WRITTEN_HYPOTHESIS, "likelihood": "high"}],
        "suggested_next_steps": ["Check the sign-in logs in Entra ID"]
    })
}
