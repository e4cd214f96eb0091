//! `/metrics` for operators (memory.md "Operators"), read back with a Prometheus text parser:
//! requests by route and status with their latency, provider calls by outcome, sessions by
//! status, outbox depth and database connections.

use prometheus_parse::{Sample, Scrape, Value};
use reqwest::StatusCode;
use serde_json::json;

use crate::ai_providers::provider_app;
use crate::fake_llm::{question, Reply, Wire};
use crate::helpers::{spawn_app_with, Backend, TestApp};
use crate::stories;

stories!(
    metrics_count_requests_provider_calls_and_sessions_in_prometheus_text,
    metrics_move_to_their_own_address_when_one_is_configured,
);

async fn scrape(app: &TestApp) -> Scrape {
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let content_type = resp.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    parse(&resp.text().await.unwrap())
}

fn parse(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text format")
}

/// The one sample of `metric` with exactly these label values.
fn sample<'a>(scrape: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    scrape.samples.iter().find(|s| {
        s.metric == metric
            && labels
                .iter()
                .all(|(name, value)| s.labels.get(name) == Some(value))
    })
}

fn number(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    match sample(scrape, metric, labels).map(|s| &s.value) {
        Some(Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v)) => *v,
        Some(Value::Histogram(buckets)) => buckets.last().map_or(0.0, |b| b.count),
        other => {
            let seen: Vec<_> = scrape
                .samples
                .iter()
                .filter(|s| s.metric == metric)
                .map(|s| &s.labels)
                .collect();
            panic!("{metric} {labels:?}: {other:?} among {seen:?}")
        }
    }
}

async fn metrics_count_requests_provider_calls_and_sessions_in_prometheus_text(backend: Backend) {
    let (app, fake, eng) = provider_app(backend, Wire::Anthropic).await;
    for _ in 0..2 {
        let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let missing = format!("/ai-sessions/{}", uuid::Uuid::new_v4());
    let (status, _) = app.get(&missing, &eng.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    fake.push(Reply::Object(question()));
    let (status, session) = app
        .post(
            "/ai-sessions",
            &eng.token,
            json!({"intake_type": "free_text", "intake_content": {"text": "Outlook keeps asking for a password"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let id = session["session_id"]
        .as_str()
        .expect("session id")
        .to_owned();
    let step = session["first_step"].clone();
    fake.push(Reply::Status(
        500,
        json!({"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}),
    ));
    let (status, body) = app
        .post(
            &format!("/ai-sessions/{id}/respond"),
            &eng.token,
            json!({"step_id": step["step_id"], "free_text_input": "yes, only me"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");

    let scrape = scrape(&app).await;
    let healthz = [("method", "GET"), ("route", "/healthz"), ("status", "200")];
    assert_eq!(
        number(&scrape, "flowpilot_http_requests_total", &healthz),
        2.0
    );
    assert_eq!(
        number(
            &scrape,
            "flowpilot_http_request_duration_seconds",
            &[("method", "GET"), ("route", "/healthz")]
        ),
        2.0,
        "both requests are in the latency histogram"
    );
    // By the route's pattern, never the id.
    let detail = [
        ("method", "GET"),
        ("route", "/api/v1/ai-sessions/:id"),
        ("status", "404"),
    ];
    assert_eq!(
        number(&scrape, "flowpilot_http_requests_total", &detail),
        1.0
    );
    assert!(!scrape
        .samples
        .iter()
        .any(|s| s.labels.values().any(|v| v.contains(&id))));
    let calls = fake.received().len() as f64;
    let ok = number(
        &scrape,
        "flowpilot_provider_calls_total",
        &[("provider", "anthropic"), ("outcome", "ok")],
    );
    let upstream = number(
        &scrape,
        "flowpilot_provider_calls_total",
        &[("provider", "anthropic"), ("outcome", "upstream")],
    );
    assert!(ok >= 1.0 && upstream >= 1.0, "ok {ok}, upstream {upstream}");
    assert_eq!(ok + upstream, calls, "every call the fake saw is counted");
    assert_eq!(
        number(&scrape, "flowpilot_sessions", &[("status", "active")]),
        1.0
    );
    assert_eq!(
        number(&scrape, "flowpilot_outbox_entries", &[("status", "failed")]),
        0.0
    );
    let backend_name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert!(
        number(
            &scrape,
            "flowpilot_db_connections",
            &[("backend", backend_name), ("state", "open")]
        ) >= 1.0
    );
}

async fn metrics_move_to_their_own_address_when_one_is_configured(backend: Backend) {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let app = spawn_app_with(backend, |s| {
        s.metrics_bind = Some(format!("127.0.0.1:{port}"));
    })
    .await;
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::NOT_FOUND,
        "not on the main listener"
    );
    let text = app
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scrape = parse(&text);
    assert!(scrape
        .samples
        .iter()
        .any(|s| s.metric == "flowpilot_db_connections"));
}
