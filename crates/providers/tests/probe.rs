//! The provider probe against local fakes of each server: it tells a server that enforces a
//! schema from one that ignores it, finds the structured-output mode `auto` should use, and
//! names the setting to change when the model is missing, the key is wrong or nothing listens,
//! without ever showing the key.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

mod support;

use std::time::Duration;

use domain::llm::LlmProvider;
use flowpilot_providers::probe::{self, Level, ModelCheck, Reach, Variables, Verdict};
use flowpilot_providers::{OpenAiProvider, ProviderConfig, ProviderKind, StructuredMode};
use serde_json::json;
use support::local_servers::{Dialect, LocalServer};
use support::{closed_port_url, config, step_request, FakeServer, Scripted};

const OPENAI_VARS: Variables = Variables {
    key: Some("OPENAI_API_KEY"),
    base_url: "OPENAI_BASE_URL",
    model: "FLOWPILOT_OPENAI_MODEL",
    structured: "FLOWPILOT_OPENAI_STRUCTURED",
    timeout: "FLOWPILOT_LLM_TIMEOUT_SECS",
};

fn vars(kind: ProviderKind) -> Variables {
    match kind {
        ProviderKind::OpenAi => OPENAI_VARS,
        ProviderKind::Ollama => Variables {
            key: None,
            base_url: "OLLAMA_BASE_URL",
            model: "FLOWPILOT_OLLAMA_MODEL",
            ..OPENAI_VARS
        },
        ProviderKind::Anthropic => Variables {
            key: Some("ANTHROPIC_API_KEY"),
            base_url: "ANTHROPIC_BASE_URL",
            model: "FLOWPILOT_ANTHROPIC_MODEL",
            ..OPENAI_VARS
        },
        ProviderKind::Gemini => Variables {
            key: Some("GEMINI_API_KEY"),
            base_url: "GEMINI_BASE_URL",
            model: "FLOWPILOT_GEMINI_MODEL",
            ..OPENAI_VARS
        },
    }
}

fn compatible(server: &LocalServer, mode: StructuredMode) -> ProviderConfig {
    ProviderConfig {
        structured: mode,
        ..config(&server.configured_url(), "qwen2.5-7b-instruct", None)
    }
}

/// Every finding's text and fix, for looking for a word (or a secret) anywhere in them.
fn said(report: &probe::ProbeReport, kind: ProviderKind) -> String {
    report
        .findings(&vars(kind))
        .iter()
        .map(|f| {
            format!(
                "{} {} {}\n",
                f.level,
                f.text,
                f.fix.as_deref().unwrap_or("")
            )
        })
        .collect()
}

fn worst(report: &probe::ProbeReport, kind: ProviderKind) -> Level {
    report
        .findings(&vars(kind))
        .iter()
        .map(|f| f.level)
        .max()
        .unwrap()
}

fn modes(report: &probe::ProbeReport) -> Vec<StructuredMode> {
    report.calls.iter().filter_map(|c| c.mode).collect()
}

#[tokio::test]
async fn auto_picks_vllm_after_the_probe_finds_strict_not_enforced() {
    let server = LocalServer::start(Dialect::Vllm).await;
    let report = probe::probe(
        ProviderKind::OpenAi,
        &compatible(&server, StructuredMode::Auto),
    )
    .await;

    assert!(matches!(report.reach, Reach::Reached { .. }));
    assert_eq!(
        report.model_check,
        Some(ModelCheck::Present {
            served_as: "qwen2.5-7b-instruct".into()
        })
    );
    assert_eq!(
        modes(&report),
        [StructuredMode::Strict, StructuredMode::Vllm]
    );
    assert!(matches!(
        report.calls[0].verdict,
        Verdict::NotEnforced { json: false, .. }
    ));
    assert!(matches!(report.calls[1].verdict, Verdict::Enforced));
    assert_eq!(report.auto_mode(), Some(StructuredMode::Vllm));
    // The modes that were not enforced are notes: nothing to fix.
    assert_eq!(worst(&report, ProviderKind::OpenAi), Level::Note);
    assert!(
        said(&report, ProviderKind::OpenAi).contains("FLOWPILOT_OPENAI_STRUCTURED=auto uses vllm")
    );

    // The requests went through the adapter: the list, then one call per mode tried.
    let seen = server.seen();
    assert_eq!(seen[0].path, "/v1/models");
    assert!(seen[1].body.get("response_format").is_some());
    assert!(seen[2].body.pointer("/structured_outputs/json").is_some());
    assert_eq!(seen.len(), 3);
}

#[tokio::test]
async fn once_recorded_the_probe_s_mode_is_what_auto_requests_are_sent_in() {
    let server = LocalServer::start(Dialect::Vllm).await;
    let config = compatible(&server, StructuredMode::Auto);
    let provider = OpenAiProvider::new(config.clone()).unwrap();
    assert_eq!(provider.structured_mode(), StructuredMode::Strict);

    let report = probe::probe(ProviderKind::OpenAi, &config).await;
    assert!(config.probed.set(report.auto_mode().unwrap()));

    assert_eq!(provider.structured_mode(), StructuredMode::Vllm);
    provider.complete(&step_request()).await.unwrap();
    let step = server.seen().pop().unwrap();
    assert!(step.body.pointer("/structured_outputs/json").is_some());
    assert!(step.body.get("response_format").is_none());
}

#[tokio::test]
async fn a_llamacpp_server_is_found_to_enforce_its_json_schema() {
    let server = LocalServer::start(Dialect::LlamaCpp).await;
    let report = probe::probe(
        ProviderKind::OpenAi,
        &compatible(&server, StructuredMode::Auto),
    )
    .await;
    assert_eq!(
        modes(&report),
        [
            StructuredMode::Strict,
            StructuredMode::Vllm,
            StructuredMode::LlamaCpp
        ]
    );
    assert_eq!(report.auto_mode(), Some(StructuredMode::LlamaCpp));
    assert_eq!(worst(&report, ProviderKind::OpenAi), Level::Note);
}

#[tokio::test]
async fn a_server_that_enforces_nothing_gets_prompt_mode_with_a_warning() {
    let server = LocalServer::start(Dialect::SchemaIgnoring).await;
    let report = probe::probe(
        ProviderKind::OpenAi,
        &compatible(&server, StructuredMode::Auto),
    )
    .await;
    assert_eq!(modes(&report).last(), Some(&StructuredMode::Prompt));
    assert!(matches!(
        report.calls.last().unwrap().verdict,
        Verdict::Followed
    ));
    assert_eq!(report.auto_mode(), Some(StructuredMode::Prompt));
    // It works, through validation and repair, so it is a warning, not a failure.
    assert_eq!(worst(&report, ProviderKind::OpenAi), Level::Warn);
}

#[tokio::test]
async fn a_configured_mode_the_server_ignores_is_a_failure_naming_the_one_that_works() {
    let server = LocalServer::start(Dialect::Vllm).await;
    let report = probe::probe(
        ProviderKind::OpenAi,
        &compatible(&server, StructuredMode::LlamaCpp),
    )
    .await;
    assert_eq!(
        modes(&report)[..2],
        [StructuredMode::LlamaCpp, StructuredMode::Strict]
    );
    assert_eq!(worst(&report, ProviderKind::OpenAi), Level::Fail);
    let fail = report
        .findings(&OPENAI_VARS)
        .into_iter()
        .find(|f| f.level == Level::Fail)
        .unwrap();
    assert_eq!(
        fail.fix.as_deref(),
        Some("set FLOWPILOT_OPENAI_STRUCTURED=vllm (or auto, which finds it at start)")
    );
}

#[tokio::test]
async fn a_working_ollama_is_reached_serves_the_model_and_enforces_format() {
    let server = LocalServer::start(Dialect::OllamaNative).await;
    let config = config(&server.configured_url(), "llama3.2:3b", None);
    let report = probe::probe(ProviderKind::Ollama, &config).await;
    assert_eq!(
        worst(&report, ProviderKind::Ollama),
        Level::Ok,
        "{}",
        said(&report, ProviderKind::Ollama)
    );
    assert!(matches!(
        report.calls[..],
        [probe::StructuredCall {
            mode: None,
            verdict: Verdict::Enforced,
            ..
        }]
    ));
    let seen = server.seen();
    assert_eq!(seen[0].path, "/api/tags");
    assert!(seen[1].body.get("format").is_some_and(|f| f.is_object()));
    assert_eq!(
        report.auto_mode(),
        None,
        "auto is an OpenAI-compatible setting"
    );
}

#[tokio::test]
async fn a_model_ollama_has_not_pulled_is_named_with_the_pull_command() {
    let server = LocalServer::serving(Dialect::OllamaNative, &["mistral:7b", "qwen2.5:7b"]).await;
    let config = config(&server.configured_url(), "llama3.2:3b", None);
    let report = probe::probe(ProviderKind::Ollama, &config).await;
    assert_eq!(worst(&report, ProviderKind::Ollama), Level::Fail);
    let text = said(&report, ProviderKind::Ollama);
    assert!(text.contains("model llama3.2:3b is not served"), "{text}");
    assert!(text.contains("`ollama pull llama3.2:3b`"), "{text}");
    assert!(
        text.contains("FLOWPILOT_OLLAMA_MODEL") && text.contains("mistral:7b, qwen2.5:7b"),
        "{text}"
    );
    assert!(
        report.calls.is_empty(),
        "no call for a model the server lacks"
    );
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn a_wrong_key_names_openai_api_key_and_never_shows_the_key() {
    let server = LocalServer::requiring_key(Dialect::Vllm, "sk-right-key-000").await;
    let config = ProviderConfig {
        api_key: Some("sk-wrong-secret-1234".into()),
        ..compatible(&server, StructuredMode::Auto)
    };
    let report = probe::probe(ProviderKind::OpenAi, &config).await;
    assert!(matches!(
        report.reach,
        Reach::KeyRejected { status: 401, .. }
    ));
    assert!(report.calls.is_empty());
    let text = said(&report, ProviderKind::OpenAi);
    assert_eq!(worst(&report, ProviderKind::OpenAi), Level::Fail);
    assert!(text.contains("check OPENAI_API_KEY"), "{text}");
    // Neither the key nor the masked form the server quoted back.
    assert!(
        !text.contains("sk-wrong-secret-1234") && !text.contains("sk-wr"),
        "{text}"
    );
}

#[tokio::test]
async fn nothing_listening_is_unreachable_and_names_the_base_url_variable() {
    let base = closed_port_url().await;
    let report = probe::probe(
        ProviderKind::OpenAi,
        &config(&format!("{base}/v1"), "qwen2.5-7b-instruct", None),
    )
    .await;
    assert!(matches!(report.reach, Reach::Unreachable(_)));
    assert!(report.model_check.is_none() && report.calls.is_empty());
    let findings = report.findings(&OPENAI_VARS);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].level, Level::Fail);
    assert!(
        findings[0].text.contains("cannot reach"),
        "{:?}",
        findings[0]
    );
    assert!(findings[0]
        .fix
        .as_deref()
        .unwrap()
        .contains("OPENAI_BASE_URL"));
}

#[tokio::test]
async fn a_provider_that_hangs_times_out_and_names_the_timeout_setting() {
    let server = FakeServer::start(vec![
        Scripted::json(200, json!({"data": []})).after(Duration::from_secs(5))
    ])
    .await;
    let config = ProviderConfig {
        timeout: Duration::from_millis(300),
        ..config(&server.base_url, "llama3.2:3b", None)
    };
    let report = probe::probe(ProviderKind::Ollama, &config).await;
    assert!(matches!(
        report.reach,
        Reach::Unreachable(domain::llm::LlmError::Timeout(_))
    ));
    let text = said(&report, ProviderKind::Ollama);
    assert!(text.contains("FLOWPILOT_LLM_TIMEOUT_SECS"), "{text}");
}

#[tokio::test]
async fn anthropic_looks_the_model_up_and_its_forced_tool_keeps_to_the_schema() {
    let server = FakeServer::start(vec![
        Scripted::json(200, json!({"type": "model", "id": "claude-sonnet-4-5-20250929",
                                   "display_name": "Claude Sonnet 4.5", "created_at": "2025-09-29T00:00:00Z"})),
        Scripted::json(200, json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": probe::PROBE_SCHEMA_NAME, "input": {"status": "ready"}}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 90, "output_tokens": 12}
        })),
    ])
    .await;
    let config = config(&server.base_url, "claude-sonnet-4-5", Some("sk-ant-secret"));
    let report = probe::probe(ProviderKind::Anthropic, &config).await;
    assert_eq!(
        worst(&report, ProviderKind::Anthropic),
        Level::Ok,
        "{}",
        said(&report, ProviderKind::Anthropic)
    );
    assert!(said(&report, ProviderKind::Anthropic).contains("(as claude-sonnet-4-5-20250929)"));
    let lookup = &server.received()[0];
    assert_eq!(lookup.path, "/v1/models/claude-sonnet-4-5");
    assert_eq!(lookup.header("x-api-key"), Some("sk-ant-secret"));
    assert_eq!(lookup.header("anthropic-version"), Some("2023-06-01"));
}

#[tokio::test]
async fn a_model_that_follows_instructions_over_the_tool_schema_is_a_warning() {
    let server = FakeServer::start(vec![
        Scripted::json(200, json!({"type": "model", "id": "claude-sonnet-4-5"})),
        Scripted::json(200, json!({
            "content": [{"type": "tool_use", "id": "toolu_1", "name": probe::PROBE_SCHEMA_NAME, "input": {"status": "unverified"}}],
            "stop_reason": "tool_use"
        })),
    ])
    .await;
    let config = config(&server.base_url, "claude-sonnet-4-5", Some("sk-ant-secret"));
    let report = probe::probe(ProviderKind::Anthropic, &config).await;
    assert!(matches!(
        report.calls[0].verdict,
        Verdict::NotEnforced { json: true, .. }
    ));
    assert_eq!(worst(&report, ProviderKind::Anthropic), Level::Warn);
}

#[tokio::test]
async fn an_unknown_anthropic_model_is_missing() {
    let server = FakeServer::start(vec![Scripted::json(
        404,
        json!({"type": "error", "error": {"type": "not_found_error", "message": "model: claude-nope"}}),
    )])
    .await;
    let report = probe::probe(
        ProviderKind::Anthropic,
        &config(&server.base_url, "claude-nope", Some("k")),
    )
    .await;
    assert_eq!(
        report.model_check,
        Some(ModelCheck::Missing { available: vec![] })
    );
    assert!(said(&report, ProviderKind::Anthropic).contains("set FLOWPILOT_ANTHROPIC_MODEL"));
}

#[tokio::test]
async fn gemini_looks_the_model_up_and_enforces_its_response_schema() {
    let server = FakeServer::start(vec![
        Scripted::json(200, json!({"name": "models/gemini-2.5-flash", "supportedGenerationMethods": ["generateContent"]})),
        Scripted::json(200, json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": "{\"status\": \"waiting\"}"}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 30, "candidatesTokenCount": 5}
        })),
    ])
    .await;
    let config = config(&server.base_url, "gemini-2.5-flash", Some("AIza-secret"));
    let report = probe::probe(ProviderKind::Gemini, &config).await;
    assert_eq!(
        worst(&report, ProviderKind::Gemini),
        Level::Ok,
        "{}",
        said(&report, ProviderKind::Gemini)
    );
    let received = server.received();
    assert_eq!(received[0].path, "/v1beta/models/gemini-2.5-flash");
    assert_eq!(received[0].header("x-goog-api-key"), Some("AIza-secret"));
    assert_eq!(
        received[1].path,
        "/v1beta/models/gemini-2.5-flash:generateContent"
    );
}

#[tokio::test]
async fn gemini_s_400_for_a_bad_key_names_gemini_api_key() {
    let server = FakeServer::start(vec![Scripted::json(
        400,
        json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT"}}),
    )])
    .await;
    let report = probe::probe(
        ProviderKind::Gemini,
        &config(&server.base_url, "gemini-2.5-flash", Some("AIza-wrong-key")),
    )
    .await;
    assert!(matches!(
        report.reach,
        Reach::KeyRejected { status: 400, .. }
    ));
    let text = said(&report, ProviderKind::Gemini);
    assert!(
        text.contains("check GEMINI_API_KEY") && !text.contains("AIza-wrong-key"),
        "{text}"
    );
}

#[tokio::test]
async fn a_server_without_a_model_list_is_still_probed_by_its_call() {
    // An OpenAI-compatible proxy with no /models: the list is unknown, the call decides.
    let server = FakeServer::start(vec![
        Scripted::json(404, json!({"error": {"message": "not found"}})),
        Scripted::json(
            200,
            json!({"choices": [{"message": {"content": "{\"status\":\"ready\"}"}}]}),
        ),
    ])
    .await;
    let report = probe::probe(
        ProviderKind::OpenAi,
        &ProviderConfig {
            structured: StructuredMode::Auto,
            ..config(
                &format!("{}/v1", server.base_url),
                "gpt-4.1-mini",
                Some("sk-x"),
            )
        },
    )
    .await;
    assert!(matches!(
        report.model_check,
        Some(ModelCheck::Unknown { .. })
    ));
    assert_eq!(report.auto_mode(), Some(StructuredMode::Strict));
    assert_eq!(worst(&report, ProviderKind::OpenAi), Level::Note);
}
