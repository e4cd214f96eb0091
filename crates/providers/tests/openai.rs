//! The OpenAI-compatible provider against a fake `/chat/completions` server.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

mod support;

use std::time::Duration;

use domain::llm::{LlmError, LlmProvider};
use flowpilot_providers::OpenAiProvider;
use llm::parse_step;
use serde_json::{json, Value};
use support::{closed_port_url, config, step_request, valid_step, FakeServer, Scripted};

fn completion(content: Value) -> Value {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4.1-mini-2025-04-14",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 321, "completion_tokens": 54, "total_tokens": 375}
    })
}

#[tokio::test]
async fn sends_a_strict_json_schema_request_and_reads_content_and_usage() {
    let server = FakeServer::start(vec![Scripted::json(
        200,
        completion(json!(valid_step().to_string())),
    )])
    .await;
    let provider = OpenAiProvider::new(config(
        &format!("{}/v1/", server.base_url),
        "gpt-4.1-mini",
        Some("sk-test-key"),
    ))
    .unwrap();

    let reply = provider.complete(&step_request()).await.unwrap();

    assert_eq!(reply.model, "gpt-4.1-mini-2025-04-14");
    assert_eq!((reply.input_tokens, reply.output_tokens), (321, 54));
    assert!(parse_step(&reply.text, true).is_ok());

    let sent = server.only_request();
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-test-key"));
    assert_eq!(sent.body["model"], "gpt-4.1-mini");
    assert_eq!(sent.body["messages"][0]["role"], "system");
    assert_eq!(sent.body["messages"][1]["role"], "user");
    assert_eq!(
        sent.body["messages"][1]["content"],
        "Outlook keeps asking for a password."
    );
    let format = &sent.body["response_format"];
    assert_eq!(format["type"], "json_schema");
    assert_eq!(format["json_schema"]["name"], "flowpilot_step");
    assert_eq!(format["json_schema"]["strict"], true);
    assert_eq!(format["json_schema"]["schema"], llm::step_schema());
    assert_eq!(sent.body["max_tokens"], 800);
}

#[tokio::test]
async fn a_local_server_without_key_or_usage_works() {
    let body = json!({"choices": [{"message": {"role": "assistant", "content": "{}"}}]});
    let server = FakeServer::start(vec![Scripted::json(200, body)]).await;
    let provider = OpenAiProvider::new(config(&server.base_url, "llama3.1:8b", None)).unwrap();

    let reply = provider.complete(&step_request()).await.unwrap();

    assert_eq!((reply.input_tokens, reply.output_tokens), (0, 0));
    assert_eq!(reply.model, "llama3.1:8b");
    assert_eq!(server.only_request().header("authorization"), None);
}

#[tokio::test]
async fn fenced_json_is_returned_as_text_and_parses() {
    let fenced = format!("```json\n{}\n```", valid_step());
    let server = FakeServer::start(vec![Scripted::json(200, completion(json!(fenced)))]).await;
    let provider = OpenAiProvider::new(config(&server.base_url, "m", None)).unwrap();

    let reply = provider.complete(&step_request()).await.unwrap();

    assert!(reply.text.starts_with("```json"));
    assert!(parse_step(&reply.text, true).is_ok());
}

#[tokio::test]
async fn rate_limit_passes_retry_after_through() {
    let error = json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}});
    let server = FakeServer::start(vec![
        Scripted::json(429, error).with_header("retry-after", "20")
    ])
    .await;
    let provider = OpenAiProvider::new(config(&server.base_url, "m", Some("k"))).unwrap();

    let err = provider.complete(&step_request()).await.unwrap_err();

    assert_eq!(
        err,
        LlmError::RateLimited {
            retry_after: Some(20)
        }
    );
    assert_eq!(err.retry_after(), Some(20));
}

#[tokio::test]
async fn server_errors_carry_the_provider_message() {
    let error = json!({"error": {"message": "The server had an error while processing your request.", "type": "server_error"}});
    let server = FakeServer::start(vec![Scripted::json(500, error)]).await;
    let provider = OpenAiProvider::new(config(&server.base_url, "m", Some("k"))).unwrap();

    let err = provider.complete(&step_request()).await.unwrap_err();

    assert_eq!(
        err,
        LlmError::Upstream {
            status: 500,
            message: "The server had an error while processing your request.".into()
        }
    );
}

#[tokio::test]
async fn an_unavailable_server_without_json_still_maps_to_upstream() {
    let server = FakeServer::start(vec![Scripted::raw(503, "")]).await;
    let provider = OpenAiProvider::new(config(&server.base_url, "m", None)).unwrap();

    let err = provider.complete(&step_request()).await.unwrap_err();

    assert_eq!(
        err,
        LlmError::Upstream {
            status: 503,
            message: "Service Unavailable".into()
        }
    );
}

#[tokio::test]
async fn a_malformed_body_is_an_invalid_response() {
    let server = FakeServer::start(vec![Scripted::raw(200, "<html>gateway</html>")]).await;
    let provider = OpenAiProvider::new(config(&server.base_url, "m", None)).unwrap();

    let err = provider.complete(&step_request()).await.unwrap_err();

    assert!(matches!(err, LlmError::InvalidResponse(m) if m.contains("not JSON")));
}

#[tokio::test]
async fn a_refusal_is_an_invalid_response() {
    let body = json!({"choices": [{"message": {"role": "assistant", "content": null,
        "refusal": "I'm sorry, I can't help with that."}, "finish_reason": "stop"}]});
    let server = FakeServer::start(vec![Scripted::json(200, body)]).await;
    let provider = OpenAiProvider::new(config(&server.base_url, "m", None)).unwrap();

    let err = provider.complete(&step_request()).await.unwrap_err();

    assert!(matches!(err, LlmError::InvalidResponse(m) if m.contains("refused")));
}

#[tokio::test]
async fn an_empty_reply_is_an_invalid_response() {
    let server = FakeServer::start(vec![Scripted::json(200, completion(json!("")))]).await;
    let provider = OpenAiProvider::new(config(&server.base_url, "m", None)).unwrap();

    let err = provider.complete(&step_request()).await.unwrap_err();

    assert!(matches!(err, LlmError::InvalidResponse(m) if m.contains("empty")));
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let slow = Scripted::json(200, completion(json!("{}"))).after(Duration::from_secs(3));
    let server = FakeServer::start(vec![slow]).await;
    let mut cfg = config(&server.base_url, "m", None);
    cfg.timeout = Duration::from_millis(300);
    let provider = OpenAiProvider::new(cfg).unwrap();

    let err = provider.complete(&step_request()).await.unwrap_err();

    assert_eq!(err, LlmError::Timeout(1));
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error() {
    let provider = OpenAiProvider::new(config(&closed_port_url().await, "m", None)).unwrap();

    let err = provider.complete(&step_request()).await.unwrap_err();

    assert!(matches!(err, LlmError::Transport(_)), "{err:?}");
}
