//! Sessions guided by an LLM, against a local fake server speaking the OpenAI wire format.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode as AxStatus;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, Backend, Member, TestApp};
use crate::stories;

stories!(
    an_llm_session_records_usage_and_counts_toward_the_quota,
    a_failing_provider_stores_nothing_and_the_answer_can_be_sent_again,
    an_exhausted_quota_answers_429_with_the_detail_object,
    a_reply_that_stays_invalid_after_repair_is_a_502_and_stores_nothing,
);

/// What the fake provider answers next: a status and a body.
type Script = Arc<Mutex<VecDeque<(u16, Value)>>>;

#[derive(Clone)]
struct Fake {
    script: Script,
    seen: Arc<Mutex<Vec<Value>>>,
}

async fn completions(State(fake): State<Fake>, Json(body): Json<Value>) -> impl IntoResponse {
    fake.seen.lock().unwrap().push(body);
    let (status, reply) = fake
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or((500, json!({"error": {"message": "script empty"}})));
    (AxStatus::from_u16(status).unwrap(), Json(reply))
}

async fn fake_openai() -> (String, Fake) {
    let fake = Fake {
        script: Arc::default(),
        seen: Arc::default(),
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/v1"), fake)
}

fn completion(step: Value) -> (u16, Value) {
    (
        200,
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "fake-model",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": step.to_string()}}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
        }),
    )
}

fn question(first: bool) -> Value {
    json!({
        "type": "question", "content": "Is it one user or several?", "context_message": null, "reasoning": null,
        "options": [{"label": "One", "value": "one", "followup_hint": null}, {"label": "Several", "value": "many", "followup_hint": null}],
        "allow_free_text": true, "allow_skip": false, "action_type": null, "expected_outcome": null,
        "resolution_summary": null, "follow_up_recommendations": [], "confidence": 0.3,
        "problem_summary": if first { json!("Outlook prompts for a password") } else { Value::Null },
        "problem_domain": if first { json!("email_m365") } else { Value::Null }
    })
}

async fn llm_app(
    backend: Backend,
    tweak: impl FnOnce(&mut flowpilot_server::Settings),
) -> (TestApp, Fake, Member) {
    let (base, fake) = fake_openai().await;
    let app = spawn_app_with(backend, |s| {
        s.llm_provider = flowpilot_server::settings::ProviderChoice::OpenAi;
        s.openai.base_url = Some(base);
        s.llm_timeout_secs = 5;
        tweak(s);
    })
    .await;
    let eng = app.register("eng@acme.test", "Acme").await;
    (app, fake, eng)
}

async fn start(app: &TestApp, eng: &Member) -> (StatusCode, Value) {
    app.post("/ai-sessions", &eng.token, json!({"intake_type": "free_text", "intake_content": {"text": "Outlook asks for a password, my password is Hunter2-secret!"}}))
        .await
}

async fn an_llm_session_records_usage_and_counts_toward_the_quota(backend: Backend) {
    let (app, fake, eng) = llm_app(backend, |_| {}).await;
    fake.script
        .lock()
        .unwrap()
        .push_back(completion(question(true)));
    let (status, started) = start(&app, &eng).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["engine"], "openai:gpt-4.1-mini");
    assert_eq!(started["problem_domain"], "email_m365");
    let sent = fake.seen.lock().unwrap()[0].clone();
    assert_eq!(
        sent["response_format"]["json_schema"]["name"],
        "flowpilot_step"
    );
    assert!(
        !sent.to_string().contains("Hunter2-secret"),
        "the password was redacted before it left"
    );

    let (_, quota) = app.get("/ai-quota", &eng.token).await;
    assert_eq!(quota["daily_used"], 1);
    assert_eq!(quota["monthly_used"], 1);
    let id = started["session_id"].as_str().unwrap();
    let (_, detail) = app.get(&format!("/ai-sessions/{id}"), &eng.token).await;
    assert_eq!(detail["total_input_tokens"], 120);
    assert_eq!(detail["total_output_tokens"], 30);
    assert_eq!(
        detail["intake_content"]["text"],
        "Outlook asks for a password, my password is Hunter2-secret!",
        "the stored session keeps the original"
    );
}

async fn a_failing_provider_stores_nothing_and_the_answer_can_be_sent_again(backend: Backend) {
    let (app, fake, eng) = llm_app(backend, |_| {}).await;
    fake.script
        .lock()
        .unwrap()
        .push_back((503, json!({"error": {"message": "overloaded"}})));
    let (status, body) = start(&app, &eng).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("503"));
    let (_, list) = app.get("/ai-sessions", &eng.token).await;
    assert_eq!(list, json!([]));
    let (_, quota) = app.get("/ai-quota", &eng.token).await;
    assert_eq!(quota["daily_used"], 0, "a failed call does not count");

    {
        let mut script = fake.script.lock().unwrap();
        script.push_back(completion(question(true)));
        script.push_back((429, json!({"error": {"message": "slow down"}})));
        script.push_back(completion(question(false)));
    }
    let (status, started) = start(&app, &eng).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let id = started["session_id"].as_str().unwrap();
    let answer = json!({"step_id": started["first_step"]["step_id"], "selected_option": "one"});
    let (status, body) = app
        .post(
            &format!("/ai-sessions/{id}/respond"),
            &eng.token,
            answer.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    let (_, detail) = app.get(&format!("/ai-sessions/{id}"), &eng.token).await;
    assert_eq!(detail["step_count"], 1);
    assert!(
        detail["steps"][0]["response"].is_null(),
        "the answer was not consumed"
    );
    let (status, body) = app
        .post(&format!("/ai-sessions/{id}/respond"), &eng.token, answer)
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the same request succeeds when sent again: {body}"
    );
    let (_, quota) = app.get("/ai-quota", &eng.token).await;
    assert_eq!(quota["daily_used"], 2);
}

async fn an_exhausted_quota_answers_429_with_the_detail_object(backend: Backend) {
    let (app, fake, eng) = llm_app(backend, |s| s.ai_daily_limit = Some(1)).await;
    fake.script
        .lock()
        .unwrap()
        .push_back(completion(question(true)));
    assert_eq!(start(&app, &eng).await.0, StatusCode::CREATED);
    let (status, body) = start(&app, &eng).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["detail"]["message"], "AI limit exceeded (daily)");
    assert!(body["detail"]["reset_at"].is_string());
    assert_eq!(body["detail"]["quota"]["daily_limit"], 1);
    assert_eq!(
        fake.seen.lock().unwrap().len(),
        1,
        "the provider was not called"
    );
}

async fn a_reply_that_stays_invalid_after_repair_is_a_502_and_stores_nothing(backend: Backend) {
    let (app, fake, eng) = llm_app(backend, |_| {}).await;
    {
        let mut script = fake.script.lock().unwrap();
        script.push_back(completion(json!({"type": "question", "content": ""})));
        script.push_back(completion(json!({"type": "riddle"})));
    }
    let (status, body) = start(&app, &eng).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body["detail"].is_string());
    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "one call and exactly one repair attempt");
    let repair = seen[1]["messages"].to_string();
    assert!(
        repair.contains("content"),
        "the repair request names what was wrong: {repair}"
    );
    let (_, list) = app.get("/ai-sessions", &eng.token).await;
    assert_eq!(list, json!([]));
    let (_, quota) = app.get("/ai-quota", &eng.token).await;
    assert_eq!(quota["daily_used"], 0);
}
