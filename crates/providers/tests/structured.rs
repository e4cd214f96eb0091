//! `call_structured` over a real adapter: the repair turn travels over the wire as the
//! provider's own assistant and user messages, and every call's usage comes back.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

mod support;

use flowpilot_providers::OpenAiProvider;
use llm::{call_structured, parse_step};
use serde_json::json;
use support::{config, invalid_step, step_request, valid_step, FakeServer, Scripted};

fn first_step(text: &str) -> Result<domain::step::StepOutput, Vec<String>> {
    parse_step(text, true)
}

#[tokio::test]
async fn the_repair_travels_over_the_wire_as_assistant_and_user_turns() {
    let completion = |content: String, prompt: i64| {
        json!({"choices": [{"message": {"role": "assistant", "content": content}}],
               "usage": {"prompt_tokens": prompt, "completion_tokens": 10}})
    };
    let server = FakeServer::start(vec![
        Scripted::json(200, completion(invalid_step(), 50)),
        Scripted::json(200, completion(valid_step().to_string(), 80)),
    ])
    .await;
    let provider = OpenAiProvider::new(config(&server.base_url, "m", None)).unwrap();

    let (_, usage) = call_structured(&provider, &step_request(), first_step)
        .await
        .unwrap();

    assert_eq!(
        usage.iter().map(|u| u.input_tokens).collect::<Vec<_>>(),
        [50, 80]
    );
    let received = server.received();
    assert_eq!(received.len(), 2);
    let messages = received[1].body["messages"].as_array().unwrap().clone();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    assert!(messages[3]["content"].as_str().unwrap().contains("`type`"));
}
