//! Sessions through the Anthropic and Gemini adapters, against fake servers speaking each
//! provider's wire format: the step contract, real token usage in the ledger and the quota,
//! and provider failures that become 502s leaving nothing behind.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fake_llm::{self, FakeLlm, Reply, Wire};
use crate::helpers::{spawn_app_with, Backend, Member, TestApp};
use crate::stories;

stories!(
    an_anthropic_session_follows_the_step_contract_and_records_real_usage,
    a_gemini_session_follows_the_step_contract_and_records_real_usage,
    anthropic_failures_are_502s_that_store_and_count_nothing,
    gemini_failures_are_502s_that_store_and_count_nothing,
    a_long_session_keeps_its_order_and_its_prompt_past_the_window_of_full_steps,
);

async fn an_anthropic_session_follows_the_step_contract_and_records_real_usage(backend: Backend) {
    session_story(backend, Wire::Anthropic).await;
}

async fn a_gemini_session_follows_the_step_contract_and_records_real_usage(backend: Backend) {
    session_story(backend, Wire::Gemini).await;
}

async fn anthropic_failures_are_502s_that_store_and_count_nothing(backend: Backend) {
    let failures = vec![
        (
            "rate limited",
            Reply::RetryAfter(
                429,
                json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Number of request tokens has exceeded your per-minute rate limit"}}),
                7,
            ),
        ),
        (
            "overloaded",
            Reply::Status(
                529,
                json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            ),
        ),
        (
            "internal error",
            Reply::Status(
                500,
                json!({"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}),
            ),
        ),
        ("garbage", Reply::Raw(200, "{\"content\": [")),
    ];
    failure_story(backend, Wire::Anthropic, failures).await;
}

async fn gemini_failures_are_502s_that_store_and_count_nothing(backend: Backend) {
    let failures = vec![
        (
            "rate limited",
            Reply::RetryAfter(
                429,
                json!({"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}),
                7,
            ),
        ),
        (
            "unavailable",
            Reply::Status(
                503,
                json!({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}),
            ),
        ),
        (
            "internal error",
            Reply::Status(
                500,
                json!({"error": {"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"}}),
            ),
        ),
        ("garbage", Reply::Raw(200, "<html>bad gateway</html>")),
    ];
    failure_story(backend, Wire::Gemini, failures).await;
}

/// The server configured for `wire`'s provider, talking to a fresh fake of it.
pub async fn provider_app(backend: Backend, wire: Wire) -> (TestApp, FakeLlm, Member) {
    let fake = FakeLlm::start(wire).await;
    let base = fake.base_url.clone();
    let app = spawn_app_with(backend, |s| {
        wire.configure(s, &base);
        s.llm_timeout_secs = 5;
        // These stories are about providers; the per-endpoint limits have their own.
        s.rate_limits = false;
    })
    .await;
    let eng = app.register("eng@acme.test", "Acme").await;
    (app, fake, eng)
}

async fn start(app: &TestApp, eng: &Member) -> (StatusCode, Value) {
    app.post(
        "/ai-sessions",
        &eng.token,
        json!({"intake_type": "free_text", "intake_content": {"text": "Outlook keeps asking for a password since this morning"}}),
    )
    .await
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

/// Checks the request went out in `wire`'s format, asking for `contract`.
fn assert_wire(wire: Wire, sent: &fake_llm::Received, contract: &str) {
    match wire {
        Wire::Anthropic => {
            assert_eq!(sent.path, "/v1/messages");
            assert_eq!(sent.header("x-api-key"), Some("sk-ant-test-key"));
            assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
            assert_eq!(sent.body["model"], "claude-sonnet-4-5");
            assert_eq!(
                sent.body["tool_choice"],
                json!({"type": "tool", "name": contract})
            );
            assert_eq!(sent.body["tools"][0]["name"], contract);
            assert!(sent.body["tools"][0]["input_schema"]["properties"].is_object());
        }
        Wire::Gemini => {
            assert_eq!(sent.path, "/v1beta/models/gemini-2.5-flash:generateContent");
            assert_eq!(sent.header("x-goog-api-key"), Some("AIza-test-key"));
            let generation = &sent.body["generationConfig"];
            assert_eq!(generation["responseMimeType"], "application/json");
            assert_eq!(generation["responseSchema"]["type"], "OBJECT");
            assert_eq!(sent.contract(wire), contract);
        }
        Wire::OpenAi => {
            assert_eq!(sent.path, "/v1/chat/completions");
            assert_eq!(
                sent.body["response_format"]["json_schema"]["name"],
                contract
            );
        }
    }
}

async fn session_story(backend: Backend, wire: Wire) {
    let (app, fake, eng) = provider_app(backend, wire).await;
    let (tokens_in, tokens_out) = wire.usage();

    fake.push(Reply::Object(fake_llm::question()));
    let (status, started) = start(&app, &eng).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let model = match wire {
        Wire::Anthropic => "claude-sonnet-4-5",
        Wire::Gemini => "gemini-2.5-flash",
        Wire::OpenAi => "gpt-4.1-mini",
    };
    assert_eq!(started["engine"], format!("{}:{model}", wire.name()));
    assert_eq!(started["status"], "active");
    assert_eq!(started["problem_summary"], "Outlook prompts for a password");
    assert_eq!(started["problem_domain"], "email_m365");
    assert_eq!(started["confidence_tier"], "discovery");
    let first = &started["first_step"];
    assert_eq!(first["step_order"], 1);
    assert_eq!(first["step_type"], "question");
    assert_eq!(first["content"]["content"], "Is it one user or several?");
    assert_eq!(
        first["options"],
        json!([
            {"label": "One user", "value": "one", "followup_hint": null},
            {"label": "Several users", "value": "many", "followup_hint": null}
        ])
    );
    assert_eq!(first["confidence_tier"], "discovery");
    assert_eq!(first["confidence_score"], 0.3);
    assert!(first["response"].is_null());
    assert_wire(wire, &fake.received()[0], "flowpilot_step");

    fake.push(Reply::Object(fake_llm::resolution()));
    let id = started["session_id"]
        .as_str()
        .expect("session id")
        .to_string();
    let (status, answered) = app
        .post(
            &format!("/ai-sessions/{id}/respond"),
            &eng.token,
            json!({"step_id": first["step_id"], "selected_option": "one"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    assert_eq!(answered["session_status"], "active");
    assert_eq!(answered["is_resolution_suggested"], true);
    assert_eq!(answered["confidence_tier"], "guided");
    let next = &answered["next_step"];
    assert_eq!(next["step_order"], 2);
    assert_eq!(next["step_type"], "resolution_suggestion");
    assert_eq!(
        next["resolution_summary"],
        "Caused by a stale cached credential; fixed by clearing it."
    );
    let sent = fake.received();
    assert_eq!(sent.len(), 2);
    assert_wire(wire, &sent[1], "flowpilot_step");
    assert!(
        sent[1].raw.contains("One user"),
        "the engineer's answer reached the provider"
    );

    assert_eq!(quota(&app, &eng).await, (2, 2));
    let (_, detail) = app.get(&format!("/ai-sessions/{id}"), &eng.token).await;
    assert_eq!(detail["total_input_tokens"], 2 * tokens_in);
    assert_eq!(detail["total_output_tokens"], 2 * tokens_out);

    // Resolving asks for the documentation text; it counts like any other call.
    let (status, resolved) = app
        .post(
            &format!("/ai-sessions/{id}/resolve"),
            &eng.token,
            json!({"used_suggested_resolution": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert_eq!(
        resolved["documentation"]["root_cause"],
        fake_llm::WRITTEN_ROOT_CAUSE
    );
    let sent = fake.received();
    assert_eq!(sent.len(), 3);
    assert_wire(wire, &sent[2], "flowpilot_documentation");
    assert_eq!(quota(&app, &eng).await, (3, 3));

    let rows = ledger(&app, &eng).await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    let mut purposes: Vec<&str> = rows.iter().map(|r| r.purpose.as_str()).collect();
    purposes.sort_unstable();
    assert_eq!(purposes, ["documentation", "step", "step"]);
    for row in &rows {
        assert_eq!(row.provider, wire.name());
        assert_eq!(row.model, wire.reply_model(), "the snapshot that answered");
        assert_eq!(
            (row.input_tokens, row.output_tokens),
            (tokens_in, tokens_out)
        );
        assert!(row.success);
        assert!(row.cost_usd > 0.0, "a listed model has a price: {row:?}");
        // The tokens read from the provider's prompt cache are recorded, and cost less.
        assert_eq!(row.cached_input_tokens, wire.cached(), "{row:?}");
        let cached_rate = llm::estimate_cached_cost_usd(
            &row.provider,
            &row.model,
            tokens_in,
            wire.cached(),
            tokens_out,
        );
        assert!((row.cost_usd - cached_rate).abs() < 1e-12, "{row:?}");
        assert!(
            row.cost_usd < llm::estimate_cost_usd(&row.provider, &row.model, tokens_in, tokens_out)
        );
        assert_eq!(row.session_id.map(|s| s.to_string()), Some(id.clone()));
    }
}

async fn failure_story(backend: Backend, wire: Wire, failures: Vec<(&str, Reply)>) {
    let (app, fake, eng) = provider_app(backend, wire).await;

    for (what, reply) in &failures {
        fake.push(reply.clone());
        let resp = app
            .client
            .post(app.url("/ai-sessions"))
            .bearer_auth(&eng.token)
            .json(&json!({"intake_type": "free_text", "intake_content": {"text": "Outlook keeps asking for a password"}}))
            .send()
            .await
            .expect("request");
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let (status, body) = TestApp::read(resp).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{what}: {body}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(!detail.is_empty(), "{what}: a clear detail: {body}");
        if matches!(reply, Reply::RetryAfter(..)) {
            assert_eq!(retry_after.as_deref(), Some("7"), "{what}: {body}");
            assert!(detail.contains("rate limiting"), "{what}: {detail}");
        }
    }
    assert_eq!(fake.received().len(), failures.len(), "no retries hidden");
    let (_, list) = app.get("/ai-sessions", &eng.token).await;
    assert_eq!(list, json!([]), "nothing stored");
    assert_eq!(quota(&app, &eng).await, (0, 0), "failed calls do not count");
    assert!(
        ledger(&app, &eng).await.iter().all(|r| !r.success),
        "nothing counted as a success"
    );

    let (status, started) = start(&app, &eng).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let id = started["session_id"]
        .as_str()
        .expect("session id")
        .to_string();
    let answer = json!({"step_id": started["first_step"]["step_id"], "selected_option": "many"});
    for (what, reply) in &failures {
        fake.push(reply.clone());
        let (status, body) = app
            .post(
                &format!("/ai-sessions/{id}/respond"),
                &eng.token,
                answer.clone(),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{what}: {body}");
    }
    let (_, detail) = app.get(&format!("/ai-sessions/{id}"), &eng.token).await;
    assert_eq!(detail["step_count"], 1);
    assert!(detail["steps"][0]["response"].is_null(), "{detail}");
    let (tokens_in, tokens_out) = wire.usage();
    assert_eq!(detail["total_input_tokens"], tokens_in);
    assert_eq!(detail["total_output_tokens"], tokens_out);
    assert_eq!(quota(&app, &eng).await, (1, 1));

    let (status, body) = app
        .post(&format!("/ai-sessions/{id}/respond"), &eng.token, answer)
        .await;
    assert_eq!(status, StatusCode::OK, "the answer is sent again: {body}");
    assert_eq!(body["next_step"]["step_order"], 2);
    assert_eq!(quota(&app, &eng).await, (2, 2));
    let successes = ledger(&app, &eng)
        .await
        .iter()
        .filter(|r| r.success)
        .count();
    assert_eq!(successes, 2);
}

/// Past the 37 steps a respond reads in full, older steps come from the summary each step
/// carries of the ones before it: the session must go on in order, and the prompt must still
/// count every earlier step, folded into its summary.
async fn a_long_session_keeps_its_order_and_its_prompt_past_the_window_of_full_steps(
    backend: Backend,
) {
    let fake = FakeLlm::start(Wire::OpenAi).await;
    let base = fake.base_url.clone();
    let app = spawn_app_with(backend, |s| {
        Wire::OpenAi.configure(s, &base);
        s.rate_limits = false;
        s.max_steps = 45;
    })
    .await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let started = app
        .start_session(&eng, "Outlook keeps asking for a password")
        .await;
    let id = started["session_id"].as_str().expect("id").to_string();
    let mut step = started["first_step"]["step_id"].clone();
    let answered = 40;
    for n in 1..=answered {
        let answer = if n % 3 == 0 {
            json!({"step_id": step, "free_text_input": format!("observation {n}")})
        } else {
            json!({"step_id": step, "selected_option": "one"})
        };
        let (status, body) = app
            .post(&format!("/ai-sessions/{id}/respond"), &eng.token, answer)
            .await;
        assert_eq!(status, StatusCode::OK, "step {n}: {body}");
        assert_eq!(body["next_step"]["step_order"], n + 1, "{body}");
        step = body["next_step"]["step_id"].clone();
    }
    let (_, detail) = app.get(&format!("/ai-sessions/{id}"), &eng.token).await;
    assert_eq!(detail["step_count"], answered + 1, "{detail}");
    assert_eq!(
        detail["steps"].as_array().map(Vec::len),
        Some(answered as usize + 1)
    );

    let last = fake.received().last().expect("a request").raw.clone();
    assert!(
        last.contains("observation 39"),
        "the newest answers in full"
    );
    assert!(
        !last.contains("observation 3\\\""),
        "the oldest steps are folded into the summary"
    );
    assert!(
        last.contains("(details no longer shown)"),
        "the summary counts every step before the ones it lists: {last}"
    );
    // The newest step carries the summary of all the steps before it, so no respond had to
    // read them.
    let session = id.parse().expect("uuid");
    let newest = app
        .store
        .session_window(session, 1)
        .await
        .expect("read")
        .steps;
    let earlier = newest[0].earlier.as_ref().expect("the summary is stored");
    assert_eq!(
        (earlier.steps, earlier.questions),
        (answered, answered),
        "{earlier:?}"
    );
    assert_eq!(
        earlier.problem_summary.as_deref().map(str::is_empty),
        Some(false),
        "{earlier:?}"
    );
}
