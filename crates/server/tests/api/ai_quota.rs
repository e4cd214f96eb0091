//! The AI quota under concurrent requests: a check made before the call and a count made
//! after it would let every request racing for the last unit through; the reservation must
//! let exactly the limit through, whatever mix of starts and answers arrives at once.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::fake_llm::{FakeLlm, Wire};
use crate::helpers::{spawn_app_with, Backend, Member, TestApp};
use crate::stories;

stories!(
    concurrent_calls_at_the_daily_limit_let_exactly_the_limit_through,
    concurrent_calls_at_the_monthly_limit_hold_across_the_account,
    super_admins_are_never_limited_and_their_calls_still_count,
    a_used_up_quota_still_closes_sessions_with_the_deterministic_text,
);

/// A slow fake provider (so concurrent requests overlap while their calls are in flight).
async fn slow_llm_app(
    backend: Backend,
    tweak: impl FnOnce(&mut flowpilot_server::Settings),
) -> (TestApp, FakeLlm) {
    let fake = FakeLlm::start_with_delay(Wire::OpenAi, Some(Duration::from_millis(200))).await;
    let base = fake.base_url.clone();
    let app = spawn_app_with(backend, |s| {
        Wire::OpenAi.configure(s, &base);
        s.llm_timeout_secs = 10;
        // Only the AI quota may refuse here.
        s.rate_limits = false;
        tweak(s);
    })
    .await;
    (app, fake)
}

fn start_body() -> Value {
    json!({"intake_type": "free_text", "intake_content": {"text": "Outlook keeps asking for a password"}})
}

/// Sends every `(path, token, body)` POST at once and returns the answers in order.
async fn all_at_once(
    app: &TestApp,
    requests: Vec<(String, String, Value)>,
) -> Vec<(StatusCode, Value)> {
    let mut set = JoinSet::new();
    for (i, (path, token, body)) in requests.into_iter().enumerate() {
        let req = app
            .client
            .post(app.url(&path))
            .bearer_auth(token)
            .json(&body);
        set.spawn(async move {
            let resp = req.send().await.expect("request");
            (i, TestApp::read(resp).await)
        });
    }
    let mut answers = Vec::new();
    while let Some(done) = set.join_next().await {
        answers.push(done.expect("request task"));
    }
    answers.sort_by_key(|(i, _)| *i);
    answers.into_iter().map(|(_, a)| a).collect()
}

async fn started(app: &TestApp, who: &Member) -> (String, Value) {
    let (status, body) = app.post("/ai-sessions", &who.token, start_body()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["session_id"].as_str().expect("session id").to_string();
    (id, body["first_step"]["step_id"].clone())
}

fn statuses(answers: &[(StatusCode, Value)]) -> Vec<u16> {
    answers.iter().map(|(status, _)| status.as_u16()).collect()
}

/// Splits answers into successes and quota refusals, failing on anything else.
fn tally(answers: &[(StatusCode, Value)], period: &str) -> (usize, usize) {
    let mut ok = 0;
    let mut refused = 0;
    for (status, body) in answers {
        match *status {
            StatusCode::OK | StatusCode::CREATED => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                refused += 1;
                let detail = &body["detail"];
                assert_eq!(
                    detail["message"],
                    format!("AI limit exceeded ({period})"),
                    "{body}"
                );
                assert!(detail["reset_at"].is_string(), "{body}");
                assert!(detail["quota"].is_object(), "{body}");
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    (ok, refused)
}

async fn used(app: &TestApp, who: &Member) -> (i64, i64) {
    let (_, quota) = app.get("/ai-quota", &who.token).await;
    (
        quota["daily_used"].as_i64().unwrap_or(-1),
        quota["monthly_used"].as_i64().unwrap_or(-1),
    )
}

async fn concurrent_calls_at_the_daily_limit_let_exactly_the_limit_through(backend: Backend) {
    let (app, fake) = slow_llm_app(backend, |_| {}).await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let operator = app.register("ops@host.test", "Hosting").await;
    app.make_super_admin(&operator).await;

    let mut sessions = Vec::new();
    for _ in 0..4 {
        sessions.push(started(&app, &eng).await);
    }
    // Four calls used; three left.
    let (status, body) = app
        .patch(
            &format!("/accounts/{}", eng.account_id),
            &operator.token,
            json!({"ai_daily_limit": 7}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mut requests: Vec<(String, String, Value)> = sessions
        .iter()
        .map(|(id, step)| {
            (
                format!("/ai-sessions/{id}/respond"),
                eng.token.clone(),
                json!({"step_id": step, "selected_option": "one"}),
            )
        })
        .collect();
    for _ in 0..6 {
        requests.push(("/ai-sessions".into(), eng.token.clone(), start_body()));
    }
    let answers = all_at_once(&app, requests).await;
    assert_eq!(
        tally(&answers, "daily"),
        (3, 7),
        "statuses: {:?}",
        statuses(&answers)
    );
    for (status, body) in &answers {
        if *status == StatusCode::TOO_MANY_REQUESTS {
            let quota = &body["detail"]["quota"];
            assert_eq!(quota["daily_limit"], 7, "{body}");
            assert_eq!(quota["daily_used"], 7, "{body}");
        }
    }

    assert_eq!(used(&app, &eng).await, (7, 7));
    assert_eq!(
        fake.received().len(),
        7,
        "refused requests never reach the provider"
    );
    let user = uuid::Uuid::parse_str(&eng.id).expect("user id");
    let ledger = app.store.ai_usage_of_user(user).await.expect("ledger");
    assert_eq!(ledger.iter().filter(|r| r.success).count(), 7);

    // Refused answers were not consumed: each can be sent again once there is quota.
    let (status, _) = app
        .patch(
            &format!("/accounts/{}", eng.account_id),
            &operator.token,
            json!({"ai_daily_limit": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for (id, step) in &sessions {
        let (_, detail) = app.get(&format!("/ai-sessions/{id}"), &eng.token).await;
        if detail["step_count"] == 1 {
            let (status, body) = app
                .post(
                    &format!("/ai-sessions/{id}/respond"),
                    &eng.token,
                    json!({"step_id": step, "selected_option": "one"}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }
}

async fn concurrent_calls_at_the_monthly_limit_hold_across_the_account(backend: Backend) {
    let (app, fake) = slow_llm_app(backend, |_| {}).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let colleague = app.add_user(&admin, "eng@acme.test", "engineer").await;
    let operator = app.register("ops@host.test", "Hosting").await;
    app.make_super_admin(&operator).await;
    let (status, body) = app
        .patch(
            &format!("/accounts/{}", admin.account_id),
            &operator.token,
            json!({"ai_monthly_limit": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let requests = (0..8)
        .map(|i| {
            let who = if i % 2 == 0 { &admin } else { &colleague };
            ("/ai-sessions".to_string(), who.token.clone(), start_body())
        })
        .collect();
    let answers = all_at_once(&app, requests).await;
    assert_eq!(
        tally(&answers, "monthly"),
        (2, 6),
        "statuses: {:?}",
        statuses(&answers)
    );

    let (admin_day, admin_month) = used(&app, &admin).await;
    let (colleague_day, colleague_month) = used(&app, &colleague).await;
    assert_eq!(admin_day + colleague_day, 2);
    assert_eq!((admin_month, colleague_month), (2, 2));
    assert_eq!(fake.received().len(), 2);
}

async fn super_admins_are_never_limited_and_their_calls_still_count(backend: Backend) {
    let (app, _fake) = slow_llm_app(backend, |s| {
        s.ai_daily_limit = Some(1);
        s.ai_monthly_limit = Some(1);
    })
    .await;
    let operator = app.register("ops@host.test", "Hosting").await;
    app.make_super_admin(&operator).await;
    let requests = (0..3)
        .map(|_| {
            (
                "/ai-sessions".to_string(),
                operator.token.clone(),
                start_body(),
            )
        })
        .collect();
    let answers = all_at_once(&app, requests).await;
    assert_eq!(
        tally(&answers, "daily"),
        (3, 0),
        "statuses: {:?}",
        statuses(&answers)
    );
    let (_, quota) = app.get("/ai-quota", &operator.token).await;
    assert!(quota["daily_limit"].is_null(), "{quota}");
    assert_eq!(
        (quota["daily_used"].as_i64(), quota["monthly_used"].as_i64()),
        (Some(3), Some(3))
    );

    // The limit still holds for everyone else.
    let customer = app.register("admin@acme.test", "Acme").await;
    let requests = (0..3)
        .map(|_| {
            (
                "/ai-sessions".to_string(),
                customer.token.clone(),
                start_body(),
            )
        })
        .collect();
    let answers = all_at_once(&app, requests).await;
    assert_eq!(
        tally(&answers, "daily"),
        (1, 2),
        "statuses: {:?}",
        statuses(&answers)
    );
}

async fn a_used_up_quota_still_closes_sessions_with_the_deterministic_text(backend: Backend) {
    let (app, fake) = slow_llm_app(backend, |s| s.ai_daily_limit = Some(2)).await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let (first, _) = started(&app, &eng).await;
    let (second, _) = started(&app, &eng).await;
    assert_eq!(used(&app, &eng).await.0, 2);
    assert_eq!(fake.received().len(), 2);

    let body = app
        .resolve(&eng, &first, "Cleared cached credentials")
        .await;
    assert!(body["documentation"]["markdown"]
        .as_str()
        .is_some_and(|md| md.contains("Cleared cached credentials")));
    let (status, body) = app
        .post(
            &format!("/ai-sessions/{second}/escalate"),
            &eng.token,
            json!({"escalation_reason": "Needs an Exchange admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    assert_eq!(
        fake.received().len(),
        2,
        "no write-up is asked for once the quota is used up"
    );
    assert_eq!(used(&app, &eng).await.0, 2, "the quota is never overdrawn");
}
