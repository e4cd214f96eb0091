//! Prompt caching on the wire: Anthropic's `cache_control` marks on the stable prefix a request
//! declares, and the cached input tokens each provider reports, read into `LlmReply`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

mod support;

use domain::llm::{ChatMessage, ChatRole, LlmProvider, LlmRequest, StablePrefix};
use flowpilot_providers::{AnthropicProvider, GeminiProvider, OpenAiProvider};
use serde_json::{json, Value};
use support::{config, step_request, valid_step, FakeServer, Scripted};

/// A step request five messages long: the session's opening, two steps and their answers,
/// all of it repeated by the next request.
fn session_request() -> LlmRequest {
    let mut request = step_request();
    for (role, content) in [
        (
            ChatRole::Assistant,
            "{\"type\":\"question\",\"content\":\"Desktop or web?\"}",
        ),
        (
            ChatRole::User,
            "Engineer's answer to step 1: chose \"Desktop\"",
        ),
        (
            ChatRole::Assistant,
            "{\"type\":\"action\",\"content\":\"Repair the profile\"}",
        ),
        (
            ChatRole::User,
            "Engineer's answer to step 2: chose \"Done, no change\"",
        ),
    ] {
        request.messages.push(ChatMessage {
            role,
            content: content.into(),
        });
    }
    request.stable_prefix = StablePrefix {
        session: 1,
        turns: 5,
    };
    request
}

fn anthropic_reply(usage: Value) -> Value {
    json!({
        "id": "msg_01", "type": "message", "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "tool_use", "id": "toolu_01", "name": "flowpilot_step", "input": valid_step()}],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": usage
    })
}

fn anthropic(base_url: &str) -> AnthropicProvider {
    AnthropicProvider::new(config(base_url, "claude-sonnet-4-5", Some("sk-ant-test"))).unwrap()
}

#[tokio::test]
async fn anthropic_marks_the_stable_prefix_and_reports_cache_reads_as_input() {
    let server = FakeServer::start(vec![Scripted::json(
        200,
        anthropic_reply(json!({
            "input_tokens": 210,
            "cache_creation_input_tokens": 480,
            "cache_read_input_tokens": 3_100,
            "output_tokens": 180
        })),
    )])
    .await;

    let reply = anthropic(&server.base_url)
        .complete(&session_request())
        .await
        .unwrap();

    // Anthropic counts cache reads and writes apart; the port counts every input token.
    assert_eq!(reply.input_tokens, 210 + 480 + 3_100);
    assert_eq!(reply.cached_input_tokens, 3_100);
    assert_eq!(reply.output_tokens, 180);

    let sent = server.only_request().body;
    let ephemeral = json!({"type": "ephemeral"});
    assert_eq!(
        sent["system"],
        json!([{"type": "text", "text": "You are FlowPilot, a senior MSP engineer.", "cache_control": ephemeral}])
    );
    let messages = sent["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 5);
    // The end of what stays for the whole session, and the end of what the next request repeats.
    for i in [0, 4] {
        assert_eq!(
            messages[i]["content"][0]["cache_control"], ephemeral,
            "message {i}"
        );
        assert_eq!(messages[i]["content"][0]["type"], "text");
    }
    assert_eq!(
        messages[0]["content"][0]["text"],
        "Outlook keeps asking for a password."
    );
    for (i, message) in messages.iter().enumerate().take(4).skip(1) {
        assert!(message["content"].is_string(), "message {i}: {message}");
    }
    assert_eq!(messages[1]["role"], "assistant");
    // No more than Anthropic's four breakpoints.
    assert_eq!(sent.to_string().matches("cache_control").count(), 3);
}

#[tokio::test]
async fn a_one_off_anthropic_call_writes_nothing_to_the_cache() {
    let server = FakeServer::start(vec![Scripted::json(
        200,
        anthropic_reply(json!({"input_tokens": 900, "output_tokens": 100})),
    )])
    .await;

    let reply = anthropic(&server.base_url)
        .complete(&step_request())
        .await
        .unwrap();

    assert_eq!((reply.input_tokens, reply.cached_input_tokens), (900, 0));
    let sent = server.only_request().body;
    assert_eq!(sent["system"], "You are FlowPilot, a senior MSP engineer.");
    assert!(!sent.to_string().contains("cache_control"));
}

#[tokio::test]
async fn openai_cached_tokens_are_part_of_the_prompt_tokens() {
    let server = FakeServer::start(vec![Scripted::json(
        200,
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4.1-mini-2025-04-14",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": valid_step().to_string()}}],
            "usage": {"prompt_tokens": 2_006, "completion_tokens": 300, "total_tokens": 2_306,
                      "prompt_tokens_details": {"cached_tokens": 1_920}}
        }),
    )])
    .await;
    let provider = OpenAiProvider::new(config(
        &format!("{}/v1", server.base_url),
        "gpt-4.1-mini",
        Some("sk-test"),
    ))
    .unwrap();

    let reply = provider.complete(&session_request()).await.unwrap();

    assert_eq!(
        (reply.input_tokens, reply.cached_input_tokens),
        (2_006, 1_920)
    );
    // The turns go as they are, in order, after the system prompt.
    let sent = server.only_request().body;
    let roles: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["role"].as_str())
        .collect();
    assert_eq!(
        roles,
        ["system", "user", "assistant", "user", "assistant", "user"]
    );
}

#[tokio::test]
async fn gemini_cached_content_tokens_are_part_of_the_prompt_tokens() {
    let server = FakeServer::start(vec![Scripted::json(
        200,
        json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": valid_step().to_string()}]},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 2_500, "cachedContentTokenCount": 2_048,
                              "candidatesTokenCount": 150, "totalTokenCount": 2_650},
            "modelVersion": "gemini-2.5-flash"
        }),
    )])
    .await;
    let provider = GeminiProvider::new(config(
        &server.base_url,
        "gemini-2.5-flash",
        Some("AIza-test"),
    ))
    .unwrap();

    let reply = provider.complete(&session_request()).await.unwrap();

    assert_eq!(
        (reply.input_tokens, reply.cached_input_tokens),
        (2_500, 2_048)
    );
}
