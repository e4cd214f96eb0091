//! Every way of asking a local model server for structured output, against a fake of that
//! server: the request carries the server's own field, an obedient server's answer validates,
//! and a server that ignores the schema, echoes it or invents an option is repaired once and
//! otherwise fails cleanly.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

mod support;

use domain::flow::FlowDefinition;
use domain::llm::{LlmProvider, LlmRequest};
use flowpilot_providers::{
    OllamaProvider, OpenAiProvider, ProbedMode, ProviderConfig, StructuredMode,
};
use llm::{call_structured, parse_step_within, FlowChoices, FlowStep, StructuredError};
use serde_json::{json, Value};
use support::local_servers::{usage, Dialect, LocalServer, Misbehaviour, INVENTED_OPTION};
use support::{config, step_request};

/// A flow whose first question's "one user" answer leads to the "client" question.
fn flow() -> FlowDefinition {
    serde_json::from_value(json!({
        "title": "Outlook keeps asking for a password", "domain": "email", "start": "scope",
        "nodes": {
            "scope": {"type": "question", "text": "One user or several?", "options": [
                {"label": "One user", "value": "one_user", "next": "client"},
                {"label": "Several", "value": "several", "next": "tenant"}]},
            "client": {"type": "question", "text": "Desktop, web or both?", "options": [
                {"label": "Desktop only", "value": "desktop", "next": "profile"},
                {"label": "Web too", "value": "web_too", "next": "tenant"}]},
            "profile": {"type": "solution", "text": "Rebuild the Outlook profile"},
            "tenant": {"type": "escalate", "text": "Tenant-wide sign-in problem"}
        }
    }))
    .unwrap()
}

/// The engineer said "one user": the flow's next question is `client`.
fn due_choices() -> FlowChoices {
    FlowChoices::of(&flow()).after_answer("scope", "one_user")
}

fn due_request() -> LlmRequest {
    LlmRequest {
        schema: due_choices().step_schema(),
        ..step_request()
    }
}

fn openai(server: &LocalServer, mode: StructuredMode) -> OpenAiProvider {
    OpenAiProvider::new(ProviderConfig {
        structured: mode,
        ..config(&server.configured_url(), "qwen2.5-7b-instruct", None)
    })
    .unwrap()
}

fn ollama(server: &LocalServer) -> OllamaProvider {
    OllamaProvider::new(config(&server.configured_url(), "llama3.2:3b", None)).unwrap()
}

async fn step(
    provider: &dyn LlmProvider,
    request: &LlmRequest,
) -> Result<(FlowStep, usize), StructuredError> {
    let choices = due_choices();
    call_structured(provider, request, |text| {
        parse_step_within(text, true, &choices)
    })
    .await
    .map(|(step, usage)| (step, usage.len()))
}

fn values(step: &FlowStep) -> Vec<&str> {
    step.output
        .options
        .iter()
        .map(|o| o.value.as_str())
        .collect()
}

#[tokio::test]
async fn ollama_native_gets_the_schema_as_format_and_its_counts_are_read() {
    let server = LocalServer::start(Dialect::OllamaNative).await;
    let provider = ollama(&server);

    let reply = provider.complete(&due_request()).await.unwrap();
    assert_eq!(
        (reply.input_tokens, reply.output_tokens),
        usage(Dialect::OllamaNative)
    );
    assert_eq!(reply.model, "llama3.2:3b");

    let seen = server.seen();
    assert_eq!(seen[0].path, "/api/chat");
    let body = &seen[0].body;
    assert_eq!(body["stream"], false);
    assert_eq!(body["format"], due_choices().step_schema());
    assert_eq!(body["options"]["num_predict"], 800);
    assert_eq!(body["messages"][0]["role"], "system");
    assert!(body.get("response_format").is_none());
    assert_eq!(provider.name(), "ollama");
}

#[tokio::test]
async fn ollama_native_held_to_the_flow_answers_the_flows_question() {
    let server = LocalServer::start(Dialect::OllamaNative).await;
    let (step, calls) = step(&ollama(&server), &due_request()).await.unwrap();
    assert_eq!(calls, 1);
    assert_eq!(step.flow_node.as_deref(), Some("client"));
    assert_eq!(values(&step), ["desktop", "web_too"]);
}

#[tokio::test]
async fn vllm_mode_sends_structured_outputs_and_no_response_format() {
    let server = LocalServer::start(Dialect::Vllm).await;
    let (step, calls) = step(&openai(&server, StructuredMode::Vllm), &due_request())
        .await
        .unwrap();
    assert_eq!((calls, step.flow_node.as_deref()), (1, Some("client")));
    let body = &server.seen()[0].body;
    assert_eq!(server.seen()[0].path, "/v1/chat/completions");
    assert_eq!(
        body["structured_outputs"]["json"],
        due_choices().step_schema()
    );
    assert!(body.get("response_format").is_none() && body.get("json_schema").is_none());
    assert!(body.get("guided_json").is_none());
}

#[tokio::test]
async fn llamacpp_mode_sends_a_top_level_json_schema() {
    let server = LocalServer::start(Dialect::LlamaCpp).await;
    let (step, calls) = step(&openai(&server, StructuredMode::LlamaCpp), &due_request())
        .await
        .unwrap();
    assert_eq!((calls, values(&step)), (1, vec!["desktop", "web_too"]));
    let body = &server.seen()[0].body;
    assert_eq!(body["json_schema"], due_choices().step_schema());
    assert!(body.get("response_format").is_none() && body.get("structured_outputs").is_none());
}

#[tokio::test]
async fn prompt_mode_puts_the_schema_in_the_instructions_of_a_schema_ignoring_server() {
    let server = LocalServer::start(Dialect::SchemaIgnoring).await;
    let (step, calls) = step(&openai(&server, StructuredMode::Prompt), &due_request())
        .await
        .unwrap();
    // The fake fences its JSON, as instruction-following small models do; fences are stripped.
    assert_eq!((calls, step.flow_node.as_deref()), (1, Some("client")));
    let seen = &server.seen()[0];
    for field in [
        "response_format",
        "structured_outputs",
        "json_schema",
        "format",
    ] {
        assert!(
            seen.body.get(field).is_none(),
            "{field} sent in prompt mode"
        );
    }
    assert!(seen.system().starts_with("You are FlowPilot"));
    assert!(seen.system().contains("(named flowpilot_step)"));
    assert_eq!(
        seen.schema(Dialect::SchemaIgnoring),
        Some(due_choices().step_schema())
    );
}

#[tokio::test]
async fn strict_mode_sends_response_format_and_auto_means_strict_until_probed() {
    for mode in [StructuredMode::Strict, StructuredMode::Auto] {
        let server = LocalServer::start(Dialect::SchemaIgnoring).await;
        let provider = openai(&server, mode);
        assert_eq!(provider.structured_mode(), StructuredMode::Strict);
        provider.complete(&due_request()).await.unwrap();
        let body = &server.seen()[0].body;
        assert_eq!(body["response_format"]["type"], "json_schema");
        assert_eq!(
            body["response_format"]["json_schema"]["name"],
            "flowpilot_step"
        );
        assert_eq!(body["response_format"]["json_schema"]["strict"], true);
        assert_eq!(
            body["response_format"]["json_schema"]["schema"],
            due_choices().step_schema()
        );
    }
}

#[tokio::test]
async fn auto_follows_what_the_probe_found() {
    let server = LocalServer::start(Dialect::Vllm).await;
    let probed = ProbedMode::default();
    let provider = OpenAiProvider::new(ProviderConfig {
        structured: StructuredMode::Auto,
        probed: probed.clone(),
        ..config(&server.configured_url(), "qwen2.5-7b-instruct", None)
    })
    .unwrap();
    assert!(probed.set(StructuredMode::Vllm));
    step(&provider, &due_request()).await.unwrap();
    assert!(server.seen()[0].body.get("structured_outputs").is_some());
}

#[tokio::test]
async fn the_wrong_mode_for_a_server_gets_prose_and_fails_cleanly_after_one_repair() {
    // llama.cpp does not read vLLM's field: the model answers unconstrained.
    let server = LocalServer::start(Dialect::LlamaCpp).await;
    let error = step(&openai(&server, StructuredMode::Vllm), &due_request())
        .await
        .unwrap_err();
    assert!(
        matches!(error, StructuredError::InvalidAfterRepair { .. }),
        "{error:?}"
    );
    assert_eq!(error.usage().len(), 2);
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn prose_once_is_repaired_with_the_same_structured_field() {
    let server = LocalServer::misbehaving(Dialect::Vllm, Misbehaviour::Prose, 1).await;
    let (step, calls) = step(&openai(&server, StructuredMode::Vllm), &due_request())
        .await
        .unwrap();
    assert_eq!((calls, step.flow_node.as_deref()), (2, Some("client")));
    let repair = &server.seen()[1].body;
    assert_eq!(
        repair["structured_outputs"]["json"],
        due_choices().step_schema()
    );
    let turns = repair["messages"].as_array().unwrap();
    assert_eq!(turns[turns.len() - 2]["role"], "assistant");
    assert!(turns[turns.len() - 1]["content"]
        .as_str()
        .unwrap()
        .contains("does not follow the `flowpilot_step` JSON schema"));
}

#[tokio::test]
async fn an_echoed_schema_is_not_a_step_and_fails_after_the_repair() {
    let server = LocalServer::misbehaving(Dialect::OllamaNative, Misbehaviour::EchoSchema, 2).await;
    let error = step(&ollama(&server), &due_request()).await.unwrap_err();
    let StructuredError::InvalidAfterRepair { errors, usage } = error else {
        panic!("expected an invalid reply")
    };
    assert_eq!(usage.len(), 2);
    assert!(errors.iter().any(|e| e.contains("`content`")), "{errors:?}");
}

#[tokio::test]
async fn an_invented_option_once_is_repaired() {
    let server = LocalServer::misbehaving(Dialect::LlamaCpp, Misbehaviour::InventOption, 1).await;
    let (step, calls) = step(&openai(&server, StructuredMode::LlamaCpp), &due_request())
        .await
        .unwrap();
    assert_eq!((calls, values(&step)), (2, vec!["desktop", "web_too"]));
    let repair = server.seen()[1].body["messages"].clone();
    let last = repair
        .as_array()
        .unwrap()
        .last()
        .cloned()
        .unwrap_or(Value::Null);
    assert!(last["content"].as_str().unwrap().contains(&format!(
        "\"{INVENTED_OPTION}\", which is not an option of the flow's question \"client\""
    )));
}

#[tokio::test]
async fn an_invented_option_twice_fails_naming_it() {
    let server =
        LocalServer::misbehaving(Dialect::SchemaIgnoring, Misbehaviour::InventOption, 2).await;
    let error = step(&openai(&server, StructuredMode::Prompt), &due_request())
        .await
        .unwrap_err();
    let StructuredError::InvalidAfterRepair { errors, .. } = error else {
        panic!("expected an invalid reply")
    };
    assert!(
        errors.iter().any(|e| e.contains(INVENTED_OPTION)),
        "{errors:?}"
    );
}

#[tokio::test]
async fn ollama_errors_keep_their_message() {
    // The OpenAI-compatible path on an Ollama fake is a 404 with Ollama's error shape.
    let server = LocalServer::start(Dialect::OllamaNative).await;
    let error = openai(&server, StructuredMode::Strict)
        .complete(&step_request())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        domain::llm::LlmError::Upstream {
            status: 404,
            message: "404 page not found".into()
        }
    );
}
