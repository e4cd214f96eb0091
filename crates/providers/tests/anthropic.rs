//! The Anthropic provider against a fake `/v1/messages` server.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

mod support;

use std::time::Duration;

use domain::llm::{LlmError, LlmProvider};
use flowpilot_providers::AnthropicProvider;
use llm::parse_step;
use serde_json::{json, Value};
use support::{closed_port_url, config, step_request, valid_step, FakeServer, Scripted};

fn message(content: Value, stop_reason: &str) -> Value {
    json!({
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {"input_tokens": 1200, "output_tokens": 180}
    })
}

fn tool_use(input: Value) -> Value {
    json!([{"type": "tool_use", "id": "toolu_01", "name": "flowpilot_step", "input": input}])
}

fn anthropic_error(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

fn provider(base_url: &str) -> AnthropicProvider {
    AnthropicProvider::new(config(base_url, "claude-sonnet-4-5", Some("sk-ant-test"))).unwrap()
}

#[tokio::test]
async fn forces_the_contract_tool_and_reads_its_input() {
    let server = FakeServer::start(vec![Scripted::json(
        200,
        message(tool_use(valid_step()), "tool_use"),
    )])
    .await;

    let reply = provider(&server.base_url)
        .complete(&step_request())
        .await
        .unwrap();

    assert_eq!(reply.model, "claude-sonnet-4-5-20250929");
    assert_eq!((reply.input_tokens, reply.output_tokens), (1200, 180));
    let step = parse_step(&reply.text, true).unwrap();
    assert_eq!(step.problem_domain.as_deref(), Some("email"));

    let sent = server.only_request();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(sent.body["model"], "claude-sonnet-4-5");
    assert_eq!(sent.body["max_tokens"], 800);
    assert_eq!(
        sent.body["system"],
        "You are FlowPilot, a senior MSP engineer."
    );
    assert_eq!(sent.body["messages"][0]["role"], "user");
    let tools = sent.body["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0]["name"], "flowpilot_step");
    assert_eq!(tools[0]["input_schema"], llm::step_schema());
    assert_eq!(
        sent.body["tool_choice"],
        json!({"type": "tool", "name": "flowpilot_step"})
    );
}

#[tokio::test]
async fn fenced_json_in_a_text_block_is_the_fallback() {
    let text = format!("```json\n{}\n```", valid_step());
    let server = FakeServer::start(vec![Scripted::json(
        200,
        message(json!([{"type": "text", "text": text}]), "end_turn"),
    )])
    .await;

    let reply = provider(&server.base_url)
        .complete(&step_request())
        .await
        .unwrap();

    assert!(parse_step(&reply.text, true).is_ok());
}

#[tokio::test]
async fn rate_limit_passes_retry_after_through() {
    let server = FakeServer::start(vec![Scripted::json(
        429,
        anthropic_error(
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
        ),
    )
    .with_header("retry-after", "7")])
    .await;

    let err = provider(&server.base_url)
        .complete(&step_request())
        .await
        .unwrap_err();

    assert_eq!(
        err,
        LlmError::RateLimited {
            retry_after: Some(7)
        }
    );
}

#[tokio::test]
async fn overloaded_is_an_upstream_error_with_the_message() {
    let server = FakeServer::start(vec![Scripted::json(
        529,
        anthropic_error("overloaded_error", "Overloaded"),
    )])
    .await;

    let err = provider(&server.base_url)
        .complete(&step_request())
        .await
        .unwrap_err();

    assert_eq!(
        err,
        LlmError::Upstream {
            status: 529,
            message: "Overloaded".into()
        }
    );
}

#[tokio::test]
async fn an_internal_error_is_an_upstream_error() {
    let server = FakeServer::start(vec![Scripted::json(
        500,
        anthropic_error("api_error", "Internal server error"),
    )])
    .await;

    let err = provider(&server.base_url)
        .complete(&step_request())
        .await
        .unwrap_err();

    assert!(
        matches!(err, LlmError::Upstream { status: 500, message } if message == "Internal server error")
    );
}

#[tokio::test]
async fn a_reply_cut_off_before_the_tool_call_is_invalid() {
    let server = FakeServer::start(vec![Scripted::json(
        200,
        message(
            json!([{"type": "text", "text": "I'll start by"}]),
            "max_tokens",
        ),
    )])
    .await;

    let err = provider(&server.base_url)
        .complete(&step_request())
        .await
        .unwrap_err();

    assert!(matches!(err, LlmError::InvalidResponse(m) if m.contains("max_tokens")));
}

#[tokio::test]
async fn an_empty_reply_is_invalid() {
    let server = FakeServer::start(vec![Scripted::json(200, message(json!([]), "end_turn"))]).await;

    let err = provider(&server.base_url)
        .complete(&step_request())
        .await
        .unwrap_err();

    assert!(matches!(err, LlmError::InvalidResponse(m) if m.contains("empty")));
}

#[tokio::test]
async fn a_malformed_body_is_invalid() {
    let server = FakeServer::start(vec![Scripted::raw(200, "{\"content\": [")]).await;

    let err = provider(&server.base_url)
        .complete(&step_request())
        .await
        .unwrap_err();

    assert!(matches!(err, LlmError::InvalidResponse(_)), "{err:?}");
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let slow = Scripted::json(200, message(tool_use(valid_step()), "tool_use"))
        .after(Duration::from_secs(3));
    let server = FakeServer::start(vec![slow]).await;
    let mut cfg = config(&server.base_url, "m", Some("k"));
    cfg.timeout = Duration::from_millis(300);

    let err = AnthropicProvider::new(cfg)
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
