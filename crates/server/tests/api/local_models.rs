//! Sessions against local model servers, each asked for structured output through its own
//! field: Ollama's native API, vLLM, llama.cpp's server and a server that enforces nothing
//! (prompt mode). The matched flow narrows the schema once the engineer's answer decides the
//! next question, and an option the flow does not have is repaired once, then refused with a
//! 502 that stores and counts nothing.

#[path = "../../../providers/tests/support/local_servers.rs"]
pub mod local_servers;

use flowpilot_server::settings::ProviderChoice;
use flowpilot_server::Settings;
use providers::StructuredMode;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, Backend, Member, TestApp};
use crate::stories;
use local_servers::{usage, Dialect, LocalServer, Misbehaviour, INVENTED_OPTION};

stories!(
    an_ollama_session_sends_the_schema_as_format_and_follows_the_flow,
    a_vllm_session_sends_structured_outputs_and_follows_the_flow,
    a_llamacpp_session_sends_json_schema_and_follows_the_flow,
    a_schema_ignoring_server_gets_the_schema_in_the_instructions_and_follows_the_flow,
    an_option_the_flow_does_not_have_is_repaired_once,
    an_option_invented_twice_is_a_502_that_stores_and_counts_nothing,
);

/// Matches the built-in "Remote user's VPN client won't connect": its first question's "one"
/// answer leads to a second question, `q_error`.
const INTAKE: &str = "Remote user's VPN client won't connect from home since this morning";
const FLOW: &str = "Remote user's VPN client won't connect";
const FIRST_QUESTION: &str = "q_scope";
const NEXT_QUESTION: &str = "q_error";
const NEXT_VALUES: [&str; 4] = ["auth", "timeout", "cert", "client"];

fn configure(s: &mut Settings, server: &LocalServer) {
    let url = server.configured_url();
    match server.dialect {
        Dialect::OllamaNative => {
            // Auto-selection (config.md): Ollama's address alone chooses it.
            s.llm_provider = ProviderChoice::Auto;
            s.ollama.base_url = Some(url);
        }
        dialect => {
            s.llm_provider = ProviderChoice::OpenAi;
            s.openai.base_url = Some(url);
            s.openai.model = "qwen2.5-7b-instruct".into();
            s.openai_structured = match dialect {
                Dialect::Vllm => StructuredMode::Vllm,
                Dialect::LlamaCpp => StructuredMode::LlamaCpp,
                _ => StructuredMode::Prompt,
            };
        }
    }
    s.llm_timeout_secs = 5;
    s.rate_limits = false;
}

async fn app_for(backend: Backend, server: &LocalServer) -> (TestApp, Member) {
    let app = spawn_app_with(backend, |s| configure(s, server)).await;
    let eng = app.register("eng@acme.test", "Acme").await;
    library_ready(&app, &eng).await;
    (app, eng)
}

/// Waits until the built-in flows are searchable: right after launch a session can start
/// before the library is indexed and then follows no flow, which these stories are not about.
async fn library_ready(app: &TestApp, eng: &Member) {
    for _ in 0..50 {
        let (status, found) = app
            .post("/flows/match", &eng.token, json!({"text": INTAKE}))
            .await;
        if status == StatusCode::OK && found[0]["title"] == FLOW {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the built-in VPN flow never became searchable");
}

async fn quota(app: &TestApp, eng: &Member) -> (i64, i64) {
    let (status, quota) = app.get("/ai-quota", &eng.token).await;
    assert_eq!(status, StatusCode::OK, "{quota}");
    (
        quota["daily_used"].as_i64().unwrap_or(-1),
        quota["monthly_used"].as_i64().unwrap_or(-1),
    )
}

async fn ledger(app: &TestApp, eng: &Member) -> Vec<store::AiUsageRecord> {
    let id = uuid::Uuid::parse_str(&eng.id).expect("user id");
    app.store.ai_usage_of_user(id).await.expect("ledger")
}

fn option_values(step: &Value) -> Vec<String> {
    step["options"]
        .as_array()
        .map(|options| {
            options
                .iter()
                .filter_map(|o| o["value"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

async fn start(app: &TestApp, eng: &Member) -> (StatusCode, Value) {
    app.post(
        "/ai-sessions",
        &eng.token,
        json!({"intake_type": "free_text", "intake_content": {"text": INTAKE}}),
    )
    .await
}

async fn respond(app: &TestApp, eng: &Member, started: &Value, value: &str) -> (StatusCode, Value) {
    let id = started["session_id"].as_str().expect("session id");
    app.post(
        &format!("/ai-sessions/{id}/respond"),
        &eng.token,
        json!({"step_id": started["first_step"]["step_id"], "selected_option": value}),
    )
    .await
}

/// A whole exchange with one server: the first step asks the flow's first question, the
/// answer "one" makes the flow's next question due, and the second request's schema, in the
/// server's own field, allows only that question and its options.
async fn follows_the_flow(backend: Backend, dialect: Dialect) {
    let server = LocalServer::start(dialect).await;
    let (app, eng) = app_for(backend, &server).await;

    let (status, started) = start(&app, &eng).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let engine = match dialect {
        Dialect::OllamaNative => "ollama:llama3.2:3b",
        _ => "openai:qwen2.5-7b-instruct",
    };
    assert_eq!(started["engine"], engine);
    assert_eq!(started["matched_flow_name"], FLOW, "{started}");
    let first = &started["first_step"];
    assert_eq!(first["step_type"], "question");
    assert!(option_values(first).contains(&"one".to_string()), "{first}");

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let first_schema = match dialect {
        Dialect::SchemaIgnoring => {
            assert!(seen[0].system().contains("(named flowpilot_step)"));
            for field in [
                "response_format",
                "structured_outputs",
                "json_schema",
                "format",
            ] {
                assert!(
                    seen[0].body.get(field).is_none(),
                    "{field} sent in prompt mode"
                );
            }
            seen[0]
                .schema(dialect)
                .expect("the schema in the instructions")
        }
        _ => {
            assert!(seen[0].body.get("response_format").is_none());
            seen[0]
                .own_schema(dialect)
                .expect("the server's own field")
                .clone()
        }
    };
    let offered = &first_schema["properties"]["flow_node"]["enum"];
    assert!(
        offered
            .as_array()
            .is_some_and(|e| e.contains(&json!(FIRST_QUESTION)) && e.contains(&Value::Null)),
        "the flow's questions, or none: {offered}"
    );

    let (status, answered) = respond(&app, &eng, &started, "one").await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    let next = &answered["next_step"];
    assert_eq!(next["step_order"], 2);
    assert_eq!(option_values(next), NEXT_VALUES, "{next}");

    let seen = server.seen();
    assert_eq!(seen.len(), 2, "no repair was needed");
    let narrowed = seen[1]
        .schema(dialect)
        .expect("the second request's schema");
    let props = &narrowed["properties"];
    assert_eq!(props["flow_node"]["enum"], json!([NEXT_QUESTION]));
    assert_eq!(props["type"]["enum"], json!(["question"]));
    assert_eq!(
        props["options"]["items"]["properties"]["value"]["enum"],
        json!(NEXT_VALUES)
    );

    assert_eq!(quota(&app, &eng).await, (2, 2));
    let rows = ledger(&app, &eng).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    for row in &rows {
        assert_eq!(row.provider, engine.split(':').next().unwrap_or_default());
        assert_eq!((row.input_tokens, row.output_tokens), usage(dialect));
        assert!(row.success);
        assert_eq!(row.cost_usd, 0.0, "a local model costs nothing");
    }
}

async fn an_ollama_session_sends_the_schema_as_format_and_follows_the_flow(backend: Backend) {
    follows_the_flow(backend, Dialect::OllamaNative).await;
}

async fn a_vllm_session_sends_structured_outputs_and_follows_the_flow(backend: Backend) {
    follows_the_flow(backend, Dialect::Vllm).await;
}

async fn a_llamacpp_session_sends_json_schema_and_follows_the_flow(backend: Backend) {
    follows_the_flow(backend, Dialect::LlamaCpp).await;
}

async fn a_schema_ignoring_server_gets_the_schema_in_the_instructions_and_follows_the_flow(
    backend: Backend,
) {
    follows_the_flow(backend, Dialect::SchemaIgnoring).await;
}

/// The server claims to enforce the schema but does not (as Ollama's compatibility endpoint
/// may): the first answer to the narrowed request invents an option, the repair is told which
/// options exist, and its answer is the step.
async fn an_option_the_flow_does_not_have_is_repaired_once(backend: Backend) {
    let server =
        LocalServer::scripted(Dialect::Vllm, vec![None, Some(Misbehaviour::InventOption)]).await;
    let (app, eng) = app_for(backend, &server).await;
    let (status, started) = start(&app, &eng).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");

    let (status, answered) = respond(&app, &eng, &started, "one").await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    assert_eq!(option_values(&answered["next_step"]), NEXT_VALUES);

    let seen = server.seen();
    assert_eq!(seen.len(), 3, "start, the invented reply, its repair");
    let repair = seen[2].body["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let told = repair
        .last()
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default();
    assert!(
        told.contains(&format!("\"{INVENTED_OPTION}\", which is not an option of the flow's question \"{NEXT_QUESTION}\"")),
        "{told}"
    );
    assert!(
        seen[2].body["structured_outputs"]["json"].is_object(),
        "the repair is held to the schema too"
    );

    // The invalid reply is in the ledger but only the accepted one counts.
    assert_eq!(quota(&app, &eng).await, (2, 2));
    let rows = ledger(&app, &eng).await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows.iter().filter(|r| r.success).count(), 2);
    assert!(rows.iter().any(|r| r.purpose == "repair" && r.success));
}

async fn an_option_invented_twice_is_a_502_that_stores_and_counts_nothing(backend: Backend) {
    let server = LocalServer::scripted(
        Dialect::LlamaCpp,
        vec![
            None,
            Some(Misbehaviour::InventOption),
            Some(Misbehaviour::InventOption),
        ],
    )
    .await;
    let (app, eng) = app_for(backend, &server).await;
    let (status, started) = start(&app, &eng).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(quota(&app, &eng).await, (1, 1));

    let (status, body) = respond(&app, &eng, &started, "one").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(!detail.is_empty(), "a clear detail: {body}");
    assert_eq!(server.seen().len(), 3, "one repair, no more");

    let id = started["session_id"].as_str().expect("session id");
    let (_, session) = app.get(&format!("/ai-sessions/{id}"), &eng.token).await;
    assert_eq!(session["step_count"], 1, "no step stored: {session}");
    assert!(
        session["steps"][0]["response"].is_null(),
        "the answer is not kept: {session}"
    );
    assert_eq!(
        quota(&app, &eng).await,
        (1, 1),
        "the failed exchange counts nothing"
    );
    let rows = ledger(&app, &eng).await;
    assert_eq!(rows.iter().filter(|r| r.success).count(), 1, "{rows:?}");

    // The same answer again, now to a server that behaves, goes through.
    let (status, answered) = respond(&app, &eng, &started, "one").await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    assert_eq!(answered["next_step"]["step_order"], 2);
}
