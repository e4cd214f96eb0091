//! The Gemini provider against a fake `generateContent` server.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

mod support;

use std::time::Duration;

use domain::llm::{ChatMessage, ChatRole, LlmError, LlmProvider};
use flowpilot_providers::GeminiProvider;
use llm::parse_step;
use serde_json::{json, Value};
use support::{closed_port_url, config, step_request, valid_step, FakeServer, Scripted};

fn generated(text: &str, finish_reason: &str) -> Value {
    json!({
        "candidates": [{
            "content": {"role": "model", "parts": [{"text": text}]},
            "finishReason": finish_reason,
            "index": 0
        }],
        "usageMetadata": {"promptTokenCount": 900, "candidatesTokenCount": 150, "totalTokenCount": 1050},
        "modelVersion": "gemini-2.5-flash"
    })
}

fn gemini_error(code: u16, status: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "status": status}})
}

fn provider(base_url: &str) -> GeminiProvider {
    GeminiProvider::new(config(base_url, "gemini-2.5-flash", Some("AIza-test-key"))).unwrap()
}

#[tokio::test]
async fn sends_a_response_schema_and_reads_text_and_usage() {
    let server = FakeServer::start(vec![Scripted::json(
        200,
        generated(&valid_step().to_string(), "STOP"),
    )])
    .await;
    let mut request = step_request();
    request.messages.push(ChatMessage {
        role: ChatRole::Assistant,
        content: "{}".into(),
    });
    request.messages.push(ChatMessage {
        role: ChatRole::User,
        content: "Fix it.".into(),
    });

    let reply = provider(&server.base_url).complete(&request).await.unwrap();

    assert_eq!((reply.input_tokens, reply.output_tokens), (900, 150));
    assert!(parse_step(&reply.text, true).is_ok());

    let sent = server.only_request();
    assert_eq!(sent.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(sent.header("x-goog-api-key"), Some("AIza-test-key"));
    assert_eq!(
        sent.body["systemInstruction"]["parts"][0]["text"],
        "You are FlowPilot, a senior MSP engineer."
    );
    let roles: Vec<&str> = sent.body["contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "model", "user"]);
    let generation = &sent.body["generationConfig"];
    assert_eq!(generation["responseMimeType"], "application/json");
    assert_eq!(generation["maxOutputTokens"], 800);
    let schema = &generation["responseSchema"];
    assert_eq!(schema["type"], "OBJECT");
    assert!(schema.get("additionalProperties").is_none());
    assert_eq!(schema["properties"]["problem_summary"]["type"], "STRING");
    assert_eq!(schema["properties"]["problem_summary"]["nullable"], true);
}

#[tokio::test]
async fn fenced_json_is_returned_as_text_and_parses() {
    let text = format!("```json\n{}\n```", valid_step());
    let server = FakeServer::start(vec![Scripted::json(200, generated(&text, "STOP"))]).await;

    let reply = provider(&server.base_url)
        .complete(&step_request())
        .await
        .unwrap();

    assert!(parse_step(&reply.text, true).is_ok());
}

#[tokio::test]
async fn rate_limit_reads_retry_delay_from_the_body() {
    let mut body = gemini_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded");
    body["error"]["details"] =
        json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "31s"}]);
    let server = FakeServer::start(vec![Scripted::json(429, body)]).await;

    let err = provider(&server.base_url)
        .complete(&step_request())
        .await
        .unwrap_err();

    assert_eq!(
        err,
        LlmError::RateLimited {
            retry_after: Some(31)
        }
    );
}

#[tokio::test]
async fn rate_limit_prefers_the_retry_after_header() {
    let body = gemini_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded");
    let server = FakeServer::start(vec![
        Scripted::json(429, body).with_header("retry-after", "4")
    ])
    .await;

    let err = provider(&server.base_url)
        .complete(&step_request())
        .await
        .unwrap_err();

    assert_eq!(
        err,
        LlmError::RateLimited {
            retry_after: Some(4)
        }
    );
}

#[tokio::test]
async fn unavailable_is_an_upstream_error_with_the_message() {
    let server = FakeServer::start(vec![Scripted::json(
        503,
        gemini_error(
            503,
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
        ),
    )])
    .await;

    let err = provider(&server.base_url)
        .complete(&step_request())
        .await
        .unwrap_err();

    assert_eq!(
        err,
        LlmError::Upstream {
            status: 503,
            message: "The model is overloaded. Please try again later.".into()
        }
    );
}

#[tokio::test]
async fn a_bad_key_is_an_upstream_error() {
    let server = FakeServer::start(vec![Scripted::json(
        400,
        gemini_error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
        ),
    )])
    .await;

    let err = provider(&server.base_url)
        .complete(&step_request())
        .await
        .unwrap_err();

    assert!(
        matches!(err, LlmError::Upstream { status: 400, message } if message.starts_with("API key not valid"))
    );
}

#[tokio::test]
async fn a_safety_block_is_an_invalid_response() {
    let body = json!({"candidates": [{"finishReason": "SAFETY", "index": 0, "safetyRatings": []}]});
    let server = FakeServer::start(vec![Scripted::json(200, body)]).await;

    let err = provider(&server.base_url)
        .complete(&step_request())
        .await
        .unwrap_err();

    assert!(matches!(err, LlmError::InvalidResponse(m) if m.contains("SAFETY")));
}

#[tokio::test]
async fn an_empty_reply_is_an_invalid_response() {
    let server = FakeServer::start(vec![Scripted::json(200, generated("", "STOP"))]).await;

    let err = provider(&server.base_url)
        .complete(&step_request())
        .await
        .unwrap_err();

    assert!(matches!(err, LlmError::InvalidResponse(m) if m.contains("empty")));
}

#[tokio::test]
async fn a_malformed_body_is_an_invalid_response() {
    let server = FakeServer::start(vec![Scripted::raw(200, "not json at all")]).await;

    let err = provider(&server.base_url)
        .complete(&step_request())
        .await
        .unwrap_err();

    assert!(matches!(err, LlmError::InvalidResponse(_)), "{err:?}");
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let slow = Scripted::json(200, generated("{}", "STOP")).after(Duration::from_secs(3));
    let server = FakeServer::start(vec![slow]).await;
    let mut cfg = config(&server.base_url, "gemini-2.5-flash", None);
    cfg.timeout = Duration::from_millis(300);

    let err = GeminiProvider::new(cfg)
        .unwrap()
        .complete(&step_request())
        .await
        .unwrap_err();

    assert_eq!(err, LlmError::Timeout(1));
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error() {
    let err = provider(&closed_port_url().await)
        .complete(&step_request())
        .await
        .unwrap_err();

    assert!(matches!(err, LlmError::Transport(_)), "{err:?}");
}
