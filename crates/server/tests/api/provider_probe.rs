//! The provider probe at start (engine.md "Probe"): it runs in the background, so a provider
//! that hangs holds up neither start-up nor the first requests; what it finds decides the
//! structured-output mode of an OpenAI-compatible server configured `auto`; and
//! `FLOWPILOT_PROVIDER_PROBE=false` turns it off.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flowpilot_server::settings::ProviderChoice;
use flowpilot_server::Settings;
use providers::StructuredMode;
use reqwest::StatusCode;

use crate::helpers::{spawn_app_with, Backend};
use crate::local_models::local_servers::{Dialect, LocalServer};
use crate::stories;

stories!(
    the_server_starts_and_answers_health_while_the_provider_hangs,
    auto_mode_sends_vllm_requests_once_the_probe_found_strict_not_enforced,
    with_the_probe_off_nothing_is_sent_to_the_provider_at_start,
);

fn openai_compatible(s: &mut Settings, base_url: String, probe: bool) {
    s.llm_provider = ProviderChoice::OpenAi;
    s.openai.base_url = Some(base_url);
    s.openai.model = "qwen2.5-7b-instruct".into();
    s.openai_structured = StructuredMode::Auto;
    s.llm_timeout_secs = 30;
    s.provider_probe = probe;
    s.rate_limits = false;
}

/// A server that accepts connections and never answers; counts them.
async fn hanging_provider() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the hanging provider");
    let addr = listener.local_addr().expect("address");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (format!("http://{addr}/v1"), accepted)
}

async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("gave up waiting: {what}");
}

async fn the_server_starts_and_answers_health_while_the_provider_hangs(backend: Backend) {
    let (provider, accepted) = hanging_provider().await;
    let started = Instant::now();
    let app = spawn_app_with(backend, |s| openai_compatible(s, provider, true)).await;
    // The probe is under way, and stuck: it connected and waits for an answer.
    eventually("the probe's connection", || {
        accepted.load(Ordering::SeqCst) > 0
    })
    .await;

    for path in ["/healthz", "/readyz"] {
        let answer = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .expect("health answers");
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
    }
    let eng = app.register("eng@acme.test", "Acme").await;
    let (status, _) = app.get("/ai-quota", &eng.token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "start-up and the first requests took {:?}; the probe's timeout is 30 s",
        started.elapsed()
    );
}

async fn auto_mode_sends_vllm_requests_once_the_probe_found_strict_not_enforced(backend: Backend) {
    let vllm = LocalServer::start(Dialect::Vllm).await;
    let app = spawn_app_with(backend, |s| {
        openai_compatible(s, vllm.configured_url(), true)
    })
    .await;
    // The list, strict (ignored: prose), then vllm (enforced).
    eventually("the probe's three requests", || vllm.seen().len() >= 3).await;
    let probe = vllm.seen();
    assert_eq!(probe[0].path, "/v1/models");
    assert!(probe[1].body.get("response_format").is_some());
    assert!(probe[2].body.pointer("/structured_outputs/json").is_some());
    // The probe records its finding as soon as the third answer is read.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let eng = app.register("eng@acme.test", "Acme").await;
    let started = app
        .start_session(&eng, "Outlook keeps asking for a password on one laptop")
        .await;
    assert_eq!(started["engine"], "openai:qwen2.5-7b-instruct", "{started}");
    let step_call = vllm.seen().pop().expect("the session's call");
    assert_eq!(step_call.path, "/v1/chat/completions");
    assert!(
        step_call.body.pointer("/structured_outputs/json").is_some(),
        "{}",
        step_call.body
    );
    assert!(step_call.body.get("response_format").is_none());
}

async fn with_the_probe_off_nothing_is_sent_to_the_provider_at_start(backend: Backend) {
    let vllm = LocalServer::start(Dialect::Vllm).await;
    let _app = spawn_app_with(backend, |s| {
        openai_compatible(s, vllm.configured_url(), false)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(vllm.seen().is_empty(), "{:?}", vllm.seen());
}
