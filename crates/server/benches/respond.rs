//! Load test of the guided-session loop (issue 3, point 8; results in docs/benchmarks.md).
//!
//! `cargo bench -p flowpilot-server --bench respond` starts, in this process, a fake
//! OpenAI-compatible provider that answers every `flowpilot_step` call at once with a valid
//! question (never a resolution, so sessions go long) and the real server on a fresh SQLite
//! file, with rate limits off and the AI quota raised out of the way. It then:
//!
//! 1. walks one session to step 40 and reports the size of the prompt sent for steps 5, 15,
//!    25, 30 and 40 and where earlier steps were folded, which shows whether the context stays
//!    bounded as a session grows, and the bytes the session sent in all and fresh (not a
//!    repeat of the start of the request before, so what a provider's prefix cache cannot
//!    serve) over its first 25 steps, beside what resending the whole conversation each step
//!    would have sent;
//! 2. has `FLOWPILOT_BENCH_CONCURRENCY` engineers of one account (32) answer steps for
//!    `FLOWPILOT_BENCH_SECS` (10) after `FLOWPILOT_BENCH_WARMUP_SECS` (2), each on its own
//!    session (replaced by a new one when `FLOWPILOT_BENCH_MAX_STEPS`, 200, ends it), and
//!    reports responds per second and the latency of `POST /ai-sessions/{id}/respond`, twice:
//!    with each engineer answering as soon as it has the next step (the throughput), then
//!    with all of them together paced at `FLOWPILOT_BENCH_TARGET_RATE` (1,000) responds per
//!    second (the latency at the throughput target). With `FLOWPILOT_BENCH_RATE` set, only a
//!    run paced at that rate.
//!
//! Two variants take the write paths that run skips (docs/benchmarks.md says what each
//! measures):
//!
//! - `FLOWPILOT_BENCH_ENGINE=offline`: the server runs the offline engine on the built-in
//!   flows, the engineers answer each step with its first option and resolve the session
//!   when a fix is suggested (the offline claim, session starts and resolutions with their
//!   flow statistics). No prompt is measured: there is none.
//! - `FLOWPILOT_BENCH_RATE_LIMITS=on`: the limits as shipped. A paced run of
//!   `FLOWPILOT_BENCH_LIMITED_ENGINEERS` (400) engineers each answering
//!   `FLOWPILOT_BENCH_LIMITED_PER_MINUTE` (12) times a minute, under the per-user limit, then
//!   the first `FLOWPILOT_BENCH_CONCURRENCY` of them back to back, far over it, with the
//!   accepted and the refused (429) requests reported apart. No prompt is measured: one
//!   engineer cannot answer 25 steps back to back under its limit.
//!
//! `FLOWPILOT_BENCH_KEEP_DB=1` keeps the SQLite file for a look afterwards.
//!
//! The provider costs nothing here, so the figures are the server's own overhead per step:
//! authentication, the session and step reads, the quota, the claim, the prompt and its
//! redaction, the answer transaction and the ledger. The load generator and the fake provider
//! share the machine's cores with the server.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use flowpilot_server::settings::ProviderChoice;
use flowpilot_server::Settings;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use tokio::task::JoinSet;

const PASSWORD: &str = "bench password, long enough";

/// The steps whose prompt size is reported, as the issue asks.
const PROMPT_STEPS: [usize; 5] = [5, 15, 25, 30, 40];
/// The session whose bytes are counted, as the issue measured it: its first 25 steps.
const SESSION_STEPS: usize = 25;

/// Intakes of the kind engineers type, so flow matching and the prompts have realistic work.
const INTAKES: [&str; 4] = [
    "Outlook keeps asking for the password on three laptops since this morning. Users are on \
     Microsoft 365 Business Premium, Windows 11 23H2, Outlook from the Microsoft 365 Apps. \
     Webmail works fine with the same credentials. MFA is enforced through Conditional Access.",
    "The site-to-site VPN between the head office and the warehouse drops every hour or so for \
     a couple of minutes. FortiGate 60F on both ends, FortiOS 7.2. The warehouse scanners lose \
     their sessions each time. Nothing changed on our side that we know of.",
    "The shared printer on the second floor shows offline for everyone on the Windows print \
     server, but it answers ping and its web page loads. Print jobs pile up in the queue. The \
     printer is an HP LaserJet M507 on a static address.",
    "Opening files from the S: drive takes twenty seconds or more for the accounting team. The \
     file server is Windows Server 2019 on Hyper-V; other shares on the same server seem fine. \
     It started after the weekend patching.",
];

/// What answers the steps in the server.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Engine {
    /// The LLM pilot, on the fake provider.
    Llm,
    /// The offline pilot walking the built-in flows.
    Offline,
}

struct Config {
    concurrency: usize,
    secs: u64,
    warmup_secs: u64,
    max_steps: i64,
    /// Responds per second for all engineers together; 0: each answers as soon as it can.
    rate: f64,
    /// The throughput target, also the paced load the latency target is judged at.
    target_rate: f64,
    keep_db: bool,
    engine: Engine,
    rate_limits: bool,
    /// With rate limits on, the engineers of the run under the limits, and how often each
    /// of them answers.
    limited_engineers: usize,
    limited_per_minute: f64,
}

impl Config {
    fn from_env() -> Config {
        let config = Config {
            concurrency: env_or("FLOWPILOT_BENCH_CONCURRENCY", 32),
            secs: env_or("FLOWPILOT_BENCH_SECS", 10),
            warmup_secs: env_or("FLOWPILOT_BENCH_WARMUP_SECS", 2),
            max_steps: env_or("FLOWPILOT_BENCH_MAX_STEPS", 200),
            rate: env_or("FLOWPILOT_BENCH_RATE", 0.0),
            target_rate: env_or("FLOWPILOT_BENCH_TARGET_RATE", 1000.0),
            keep_db: env_or("FLOWPILOT_BENCH_KEEP_DB", 0) == 1,
            engine: env_choice(
                "FLOWPILOT_BENCH_ENGINE",
                Engine::Llm,
                &[("llm", Engine::Llm), ("offline", Engine::Offline)],
            ),
            rate_limits: env_choice(
                "FLOWPILOT_BENCH_RATE_LIMITS",
                false,
                &[("on", true), ("off", false)],
            ),
            limited_engineers: env_or("FLOWPILOT_BENCH_LIMITED_ENGINEERS", 400),
            limited_per_minute: env_or("FLOWPILOT_BENCH_LIMITED_PER_MINUTE", 12.0),
        };
        assert!(
            config.concurrency >= 1,
            "FLOWPILOT_BENCH_CONCURRENCY must be at least 1"
        );
        assert!(config.secs >= 1, "FLOWPILOT_BENCH_SECS must be at least 1");
        // The prompt measurement walks one session to its 40th step.
        assert!(
            config.max_steps >= 40,
            "FLOWPILOT_BENCH_MAX_STEPS must be at least 40"
        );
        if config.rate_limits {
            // With the limits on, each engineer's allowance sets the pace, not a total rate.
            assert!(
                config.rate == 0.0,
                "FLOWPILOT_BENCH_RATE has no meaning with FLOWPILOT_BENCH_RATE_LIMITS=on"
            );
            assert!(
                config.limited_engineers >= 1 && config.limited_per_minute > 0.0,
                "FLOWPILOT_BENCH_LIMITED_ENGINEERS and FLOWPILOT_BENCH_LIMITED_PER_MINUTE must be positive"
            );
        }
        config
    }
}

fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid number")),
        _ => default,
    }
}

fn env_choice<T: Copy>(name: &str, default: T, choices: &[(&str, T)]) -> T {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => choices
            .iter()
            .find(|(word, _)| v.trim().eq_ignore_ascii_case(word))
            .map(|(_, choice)| *choice)
            .unwrap_or_else(|| {
                let words: Vec<&str> = choices.iter().map(|(word, _)| *word).collect();
                panic!("{name}={v:?} is not one of {}", words.join(", "))
            }),
        _ => default,
    }
}

// ---------------------------------------------------------------------------------------
// The fake provider

#[derive(Clone, Default)]
struct FakeProvider {
    calls: Arc<AtomicU64>,
    /// The request bodies and the step text answered to each, while a measurement wants them.
    recording: Arc<Mutex<Option<Recorded>>>,
}

/// Each call's request body and the step text answered to it.
type Recorded = Vec<(Bytes, String)>;

impl FakeProvider {
    fn record(&self) {
        *self.recording.lock().unwrap() = Some(Vec::new());
    }

    fn take_recording(&self) -> Recorded {
        self.recording.lock().unwrap().take().unwrap_or_default()
    }
}

async fn completions(State(fake): State<FakeProvider>, body: Bytes) -> Json<Value> {
    let n = fake.calls.fetch_add(1, Ordering::Relaxed) + 1;
    // The first step must name the problem; only its request has no earlier step in it,
    // which is cheaper to look for than parsing the request.
    let first = !contains(&body, b"\"role\":\"assistant\"");
    let content = question(n, first).to_string();
    if let Some(calls) = fake.recording.lock().unwrap().as_mut() {
        calls.push((body.clone(), content.clone()));
    }
    Json(json!({
        "id": format!("chatcmpl-{n}"), "object": "chat.completion", "model": "fake-model",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": body.len() / 4, "completion_tokens": 180, "total_tokens": body.len() / 4 + 180}
    }))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A question step about as long as a real model's, different on each call.
fn question(n: u64, first: bool) -> Value {
    json!({
        "type": "question",
        "content": format!("Check {n}: does the problem show for every user of the affected machines, or only for some of them when they sign in from the office network?"),
        "context_message": "Knowing **who** is affected separates a tenant-wide cause (licensing, Conditional Access, an expired secret) from a per-device one (cached credentials, a stale profile, a broken WAM plug-in).",
        "reasoning": "The intake does not say whether the symptom is shared; the answer decides which half of the flow to follow next.",
        "options": [
            {"label": "Every user", "value": "all", "followup_hint": "Look at tenant-wide settings next"},
            {"label": "Only some users", "value": "some", "followup_hint": "Compare an affected and an unaffected device"},
            {"label": "Not sure yet", "value": "unknown", "followup_hint": null}
        ],
        "allow_free_text": true, "allow_skip": true, "action_type": null, "expected_outcome": null,
        "resolution_summary": null, "follow_up_recommendations": [], "confidence": 0.35,
        "problem_summary": if first { json!("Outlook prompts repeatedly for the password on several laptops") } else { Value::Null },
        "problem_domain": if first { json!("email") } else { Value::Null }
    })
}

async fn start_fake_provider() -> (String, FakeProvider) {
    let fake = FakeProvider::default();
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the fake provider");
    let addr = listener.local_addr().expect("fake provider address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/v1"), fake)
}

// ---------------------------------------------------------------------------------------
// The server and its engineers

struct Server {
    base: String,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

async fn start_server(config: &Config, provider_base: String) -> Server {
    let mut dir = tempfile::tempdir().expect("tempdir");
    if config.keep_db {
        // For looking at the database afterwards (query plans, sizes) with sqlite3.
        dir.disable_cleanup(true);
        println!("database kept: {}", dir.path().join("bench.db").display());
    }
    let settings = Settings {
        database_url: format!("sqlite://{}", dir.path().join("bench.db").display()),
        bind: "127.0.0.1:0".into(),
        llm_provider: match config.engine {
            Engine::Llm => ProviderChoice::OpenAi,
            Engine::Offline => ProviderChoice::Offline,
        },
        openai: flowpilot_server::settings::ProviderEndpoint {
            api_key: None,
            base_url: Some(provider_base),
            model: "gpt-4.1-mini".into(),
        },
        llm_timeout_secs: 10,
        max_steps: config.max_steps,
        rate_limits: config.rate_limits,
        // Far above what a run uses, so the quota is checked on every step but never refuses.
        ai_daily_limit: Some(1_000_000_000),
        ai_monthly_limit: Some(1_000_000_000),
        ..Settings::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the server");
    let addr = listener.local_addr().expect("server address");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let stopped = async {
            let _ = rx.await;
        };
        if let Err(err) = flowpilot_server::launch(settings, listener, stopped).await {
            panic!("the server failed: {err}");
        }
    });
    let base = format!("http://{addr}");
    let client = Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = client.get(format!("{base}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status() == StatusCode::OK) {
            break;
        }
        assert!(Instant::now() < deadline, "the server did not become ready");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Server {
        base,
        _dir: dir,
        _shutdown: tx,
    }
}

async fn call(
    client: &Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut req = client.post(url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let bytes = resp.bytes().await.expect("response body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// One account's admin plus `n` engineers, signed in; returns their tokens.
async fn sign_in_engineers(base: &str, n: usize) -> Vec<String> {
    let client = Client::new();
    let (status, admin) = call(
        &client,
        format!("{base}/api/v1/auth/register"),
        None,
        json!({"email": "admin@bench.test", "password": PASSWORD, "full_name": "Bench Admin", "account_name": "Bench MSP"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "register: {admin}");
    let admin_token = admin["access_token"].as_str().expect("token").to_string();

    let mut set = JoinSet::new();
    for i in 0..n {
        let (base, admin_token) = (base.to_string(), admin_token.clone());
        set.spawn(async move {
            let email = format!("engineer{i}@bench.test");
            let client = Client::new();
            let (status, body) = call(
                &client,
                format!("{base}/api/v1/users"),
                Some(&admin_token),
                json!({"email": email, "password": PASSWORD, "full_name": format!("Engineer {i}"), "role": "engineer"}),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "create {email}: {body}");
            // Sign-in stays limited to 10 a minute per client address even with rate limits
            // off, so each engineer signs in from an address of its own on the loopback
            // network (all of 127.0.0.0/8 reaches this host on Linux).
            let from = Client::builder()
                .local_address(loopback_address(i))
                .build()
                .expect("client");
            let (status, body) = call(
                &from,
                format!("{base}/api/v1/auth/login"),
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "sign in {email}: {body}");
            (i, body["access_token"].as_str().expect("token").to_string())
        });
    }
    let mut tokens = vec![String::new(); n];
    while let Some(done) = set.join_next().await {
        let (i, token) = done.expect("engineer set-up");
        tokens[i] = token;
    }
    tokens
}

fn loopback_address(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 1, (i / 250) as u8, (i % 250 + 1) as u8))
}

/// The session being worked on and its latest step.
struct Current {
    session_id: String,
    step_id: String,
    step_order: u64,
    /// The step suggests a fix: the engineer resolves the session instead of answering.
    suggests_fix: bool,
    /// The value of the step's first option, the offline run's answer.
    first_option: Option<String>,
}

fn latest(session_id: String, step: &Value) -> Option<Current> {
    Some(Current {
        session_id,
        step_id: step.get("step_id")?.as_str()?.to_string(),
        step_order: step.get("step_order")?.as_u64()?,
        suggests_fix: step["step_type"] == "resolution_suggestion",
        first_option: step["options"][0]["value"].as_str().map(str::to_string),
    })
}

/// Starts a session; its body is returned too, for what the caller wants to show of it.
async fn start_session(
    client: &Client,
    base: &str,
    token: &str,
    intake: &str,
) -> (StatusCode, Option<Current>, Value) {
    let (status, body) = call(
        client,
        format!("{base}/api/v1/ai-sessions"),
        Some(token),
        json!({"intake_type": "free_text", "intake_content": {"text": intake}}),
    )
    .await;
    let current = body["session_id"]
        .as_str()
        .and_then(|id| latest(id.to_string(), &body["first_step"]));
    (status, current, body)
}

// ---------------------------------------------------------------------------------------
// Prompt growth over one long session

/// The sizes of one provider request: the whole body, and the messages alone (the body also
/// carries the step schema, which does not grow).
struct PromptSize {
    body_bytes: usize,
    message_chars: usize,
}

fn prompt_size(body: &[u8]) -> PromptSize {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message_chars = parsed["messages"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .filter_map(|m| m["content"].as_str())
                .map(|c| c.chars().count())
                .sum()
        })
        .unwrap_or(0);
    PromptSize {
        body_bytes: body.len(),
        message_chars,
    }
}

/// What a session sent: its request bodies, and what resending the whole conversation each
/// step would have sent instead.
struct SessionBytes {
    sizes: Vec<PromptSize>,
    /// Steps whose request does not start with the whole request before it (a fold).
    folds: Vec<usize>,
    sent: Bytes2,
    resent: Bytes2,
}

/// Bytes over a session: in all, and fresh (not a repeat of the start of the request before),
/// counted twice: as the body is written (its keys in order, so the step schema after the
/// messages) and in the order a provider caches the prompt (the schema first, then the
/// system prompt and the messages: OpenAI's structured-output schema and Anthropic's tools
/// come before the system prompt).
#[derive(Clone, Copy)]
struct Bytes2 {
    total: usize,
    fresh_as_written: usize,
    fresh: usize,
}

fn fresh(requests: &[Vec<u8>]) -> usize {
    let mut fresh = 0;
    for (i, request) in requests.iter().enumerate() {
        let repeated = i.checked_sub(1).map_or(0, |before| {
            requests[before]
                .iter()
                .zip(request)
                .take_while(|(a, b)| a == b)
                .count()
        });
        fresh += request.len() - repeated;
    }
    fresh
}

/// The request in the order a provider caches it: schema, then every message.
fn cache_order(body: &[u8]) -> Vec<u8> {
    let body: Value = serde_json::from_slice(body).expect("a JSON request");
    let mut out = serde_json::to_vec(&body["response_format"]).expect("serialize");
    for message in body["messages"].as_array().into_iter().flatten() {
        out.extend(serde_json::to_vec(message).expect("serialize"));
    }
    out
}

fn session_bytes(bodies: &[Vec<u8>]) -> Bytes2 {
    let ordered: Vec<Vec<u8>> = bodies.iter().map(|b| cache_order(b)).collect();
    Bytes2 {
        total: bodies.iter().map(Vec::len).sum(),
        fresh_as_written: fresh(bodies),
        fresh: fresh(&ordered),
    }
}

/// The same requests with the conversation resent whole: the system prompt and the session's
/// opening message as sent, then every step as the model wrote it and every answer as the
/// server told it (each request's newest message), the rest of the body unchanged.
fn resent_whole(calls: &[(Bytes, String)]) -> Vec<Vec<u8>> {
    let parsed: Vec<Value> = calls
        .iter()
        .map(|(body, _)| serde_json::from_slice(body).expect("a JSON request"))
        .collect();
    let opening: Vec<Value> = parsed[0]["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .take(2)
        .cloned()
        .collect();
    let mut conversation = opening;
    parsed
        .iter()
        .enumerate()
        .map(|(i, body)| {
            if i > 0 {
                let answer = body["messages"]
                    .as_array()
                    .and_then(|m| m.last())
                    .cloned()
                    .expect("an answer");
                conversation.push(json!({"role": "assistant", "content": calls[i - 1].1}));
                conversation.push(answer);
            }
            let mut body = body.clone();
            body["messages"] = Value::Array(conversation.clone());
            serde_json::to_vec(&body).expect("serialize")
        })
        .collect()
}

fn folds(bodies: &[Vec<u8>]) -> Vec<usize> {
    let messages = |body: &[u8]| -> Vec<Value> {
        serde_json::from_slice::<Value>(body).expect("a JSON request")["messages"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    bodies
        .windows(2)
        .enumerate()
        .filter(|(_, pair)| {
            let (before, after) = (messages(&pair[0]), messages(&pair[1]));
            after.get(..before.len()) != Some(&before[..])
        })
        .map(|(i, _)| i + 2)
        .collect()
}

async fn measure_prompt_growth(base: &str, token: &str, fake: &FakeProvider) -> SessionBytes {
    let client = Client::new();
    let last = *PROMPT_STEPS.iter().max().unwrap_or(&SESSION_STEPS);
    fake.record();
    let (status, mut current, started) = start_session(&client, base, token, INTAKES[0]).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "start the long session: {started}"
    );
    // A matched flow is part of every prompt of the session, so say which one it was.
    println!(
        "\nlong session matched flow: {}",
        started["matched_flow_name"].as_str().unwrap_or("none")
    );
    for n in 1..last {
        let step = current.take().expect("a next step");
        // Mix the kinds of answer engineers give; some carry typed observations, which are
        // what would make an unbounded prompt grow.
        let answer = match n % 3 {
            0 => json!({"step_id": step.step_id, "selected_option": "some",
                        "free_text_input": format!("Observation {n}: on the affected laptops the prompt comes back after every restart; on the others it never appeared. Credential Manager holds two entries for the mailbox.")}),
            1 => json!({"step_id": step.step_id, "selected_option": "all"}),
            _ => json!({"step_id": step.step_id, "skipped": true}),
        };
        let (status, body) = call(
            &client,
            format!("{base}/api/v1/ai-sessions/{}/respond", step.session_id),
            Some(token),
            answer,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "respond at step {n}: {body}");
        current = latest(step.session_id, &body["next_step"]);
    }
    let calls = fake.take_recording();
    assert_eq!(calls.len(), last, "one provider call per step");
    let bodies: Vec<Vec<u8>> = calls.iter().map(|(body, _)| body.to_vec()).collect();
    SessionBytes {
        sizes: bodies.iter().map(|b| prompt_size(b)).collect(),
        folds: folds(&bodies),
        sent: session_bytes(&bodies[..SESSION_STEPS]),
        resent: session_bytes(&resent_whole(&calls[..SESSION_STEPS])),
    }
}

// ---------------------------------------------------------------------------------------
// Throughput and latency

#[derive(Default)]
struct Tally {
    /// Latencies of the successful responds started inside the measured window, in µs.
    latencies_us: Vec<u64>,
    /// Latencies of the responds refused with 429 (over the rate limit) inside the window.
    refused_us: Vec<u64>,
    /// Failed requests (any status but success or 429, or no answer) inside the window, by
    /// status.
    errors: BTreeMap<String, u64>,
    /// Latencies of the sessions started inside the window to replace finished ones.
    starts_us: Vec<u64>,
    /// Latencies of the sessions resolved inside the window, at a suggested fix.
    resolves_us: Vec<u64>,
    /// Sessions given up inside the window at a step with no option to pick (the offline
    /// pilot's "describe it again", free text only).
    left: u64,
    /// The sum of the positions of the steps answered (with `latencies_us`, the mean):
    /// each answer re-reads the steps before it, so where sessions are matters.
    step_orders: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.refused_us.extend(other.refused_us);
        self.starts_us.extend(other.starts_us);
        self.resolves_us.extend(other.resolves_us);
        self.left += other.left;
        self.step_orders += other.step_orders;
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
    }

    fn failed(&mut self, what: &str, outcome: &Result<(StatusCode, Bytes), reqwest::Error>) {
        let kind = match outcome {
            Ok((status, _)) => status.to_string(),
            Err(err) if err.is_timeout() => "timeout".into(),
            Err(_) => "transport".into(),
        };
        let key = if what.is_empty() {
            kind
        } else {
            format!("{what} {kind}")
        };
        *self.errors.entry(key).or_default() += 1;
    }
}

/// What every engineer of the load phase shares.
struct Load {
    base: String,
    engine: Engine,
    /// Only requests sent inside it are counted.
    from: Instant,
    until: Instant,
    /// With a target rate, how often each engineer answers; `None`: as fast as it can.
    interval: Option<Duration>,
}

impl Load {
    fn counts(&self, t: Instant) -> bool {
        t >= self.from && t < self.until
    }
}

/// A request whose failure is counted rather than fatal.
async fn send(
    client: &Client,
    url: String,
    token: &str,
    body: &Value,
) -> Result<(StatusCode, Bytes), reqwest::Error> {
    let resp = client
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await?;
    let status = resp.status();
    Ok((status, resp.bytes().await?))
}

fn elapsed_us(since: Instant) -> u64 {
    since.elapsed().as_micros() as u64
}

async fn engineer(
    client: Client,
    load: Arc<Load>,
    token: String,
    intake: &'static str,
    first_due: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mut current: Option<Current> = None;
    let mut answers = 0_u64;
    let mut due = first_due;
    while Instant::now() < load.until {
        let step = match current.take() {
            Some(step) => step,
            None => {
                let began = Instant::now();
                let (status, started, _) = start_session(&client, &load.base, &token, intake).await;
                if load.counts(began) {
                    if status == StatusCode::CREATED {
                        tally.starts_us.push(elapsed_us(began));
                    } else {
                        *tally.errors.entry(format!("start {status}")).or_default() += 1;
                    }
                }
                match started {
                    Some(s) => s,
                    None => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                }
            }
        };
        // An engineer takes a suggested fix (a first option "Keep troubleshooting" would
        // lead the offline pilot to an escalation offer and then to free text only); the
        // next turn starts another session.
        if step.suggests_fix {
            let began = Instant::now();
            let url = format!(
                "{}/api/v1/ai-sessions/{}/resolve",
                load.base, step.session_id
            );
            let outcome = send(
                &client,
                url,
                &token,
                &json!({"used_suggested_resolution": true}),
            )
            .await;
            if load.counts(began) {
                match &outcome {
                    Ok((StatusCode::OK, _)) => tally.resolves_us.push(elapsed_us(began)),
                    _ => tally.failed("resolve", &outcome),
                }
            }
            continue;
        }
        answers += 1;
        let value = match load.engine {
            Engine::Llm => Some(["all", "some", "unknown"][(answers % 3) as usize].to_string()),
            Engine::Offline => step.first_option.clone(),
        };
        let Some(value) = value else {
            if load.counts(Instant::now()) {
                tally.left += 1;
            }
            continue;
        };
        // Paced, latency runs from when the answer was due, not from when it could be sent:
        // a server that falls behind shows in the figures instead of slowing the load down.
        let began = match load.interval {
            Some(interval) => {
                tokio::time::sleep_until(due.into()).await;
                let began = due;
                due += interval;
                began
            }
            None => Instant::now(),
        };
        let body = json!({"step_id": step.step_id, "selected_option": value});
        let url = format!(
            "{}/api/v1/ai-sessions/{}/respond",
            load.base, step.session_id
        );
        let outcome = send(&client, url, &token, &body).await;
        let took = elapsed_us(began);
        let counted = load.counts(began);
        match outcome {
            Ok((StatusCode::OK, bytes)) => {
                if counted {
                    tally.latencies_us.push(took);
                    tally.step_orders += step.step_order;
                }
                let reply: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                // No next step: the step limit ended this session; the next turn starts another.
                current = latest(step.session_id, &reply["next_step"]);
            }
            // Over the rate limit: the step is still the one to answer, and asking again at
            // once is what a client that ignores the limit does.
            Ok((StatusCode::TOO_MANY_REQUESTS, _)) => {
                if counted {
                    tally.refused_us.push(took);
                }
                current = Some(step);
            }
            other => {
                if counted {
                    tally.failed("", &other);
                }
            }
        }
    }
    tally
}

/// CPU time so far in clock ticks, from Linux's /proc: this process's, the machine's busy
/// time (every process), the hypervisor's steal and the total of all cores.
#[derive(Debug, Clone, Copy)]
struct CpuTicks {
    ours: u64,
    busy: u64,
    steal: u64,
    total: u64,
}

fn cpu_ticks() -> Option<CpuTicks> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    // cpu  user nice system idle iowait irq softirq steal …
    let cpu: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|v| v.parse().ok())
        .collect();
    let (idle, steal) = (cpu.get(3)? + cpu.get(4)?, *cpu.get(7)?);
    let total: u64 = cpu.iter().sum();
    let own = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; utime and stime are the 12th and 13th fields after it.
    let fields: Vec<&str> = own.rsplit_once(')')?.1.split_whitespace().collect();
    let ours = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(CpuTicks {
        ours,
        busy: total - idle - steal,
        steal,
        total,
    })
}

/// Where the machine's cores went between two samples, so a run disturbed by other work
/// shows as such.
fn cpu_line(before: CpuTicks, after: CpuTicks) -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let total = after.total.saturating_sub(before.total).max(1) as f64;
    let share = |ticks: u64| cores * ticks as f64 / total;
    let ours = after.ours.saturating_sub(before.ours);
    let busy = after.busy.saturating_sub(before.busy);
    format!(
        "cores used in the window (of {cores}): this process {:.2}, other processes {:.2}, steal {:.2}",
        share(ours),
        share(busy.saturating_sub(ours)),
        share(after.steal.saturating_sub(before.steal))
    )
}

fn percentile(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    sorted_us[rank.clamp(1, sorted_us.len()) - 1] as f64 / 1000.0
}

async fn run() {
    let config = Config::from_env();
    let engine = match config.engine {
        Engine::Llm => "instant fake OpenAI-compatible provider",
        Engine::Offline => "offline engine on the built-in flows",
    };
    println!(
        "FlowPilot respond bench: {} concurrent engineers, {} s measured after {} s warm-up per \
         load, step limit {}, SQLite, {engine}, rate limits {}",
        config.concurrency,
        config.secs,
        config.warmup_secs,
        config.max_steps,
        if config.rate_limits { "on" } else { "off" }
    );
    // Anything else running on the machine takes cores from the server and the load alike.
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!(
            "load average before the run: {}",
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    let (provider_base, fake) = start_fake_provider().await;
    let server = start_server(&config, provider_base).await;
    let engineers = if config.rate_limits {
        config.concurrency.max(config.limited_engineers)
    } else {
        config.concurrency
    };
    let tokens = sign_in_engineers(&server.base, engineers).await;
    if config.engine == Engine::Offline {
        show_matches(&server.base, &tokens[0]).await;
    }

    let prompt_met = match (config.engine, config.rate_limits) {
        (Engine::Llm, false) => Some(report_prompt_growth(&server.base, &tokens[0], &fake).await),
        (Engine::Offline, _) => {
            println!("prompt growth: not measured (the offline engine sends no prompt)");
            None
        }
        (Engine::Llm, true) => {
            println!(
                "prompt growth: not measured (39 answers back to back are over one engineer's \
                 rate limit)"
            );
            None
        }
    };

    let client = Client::builder()
        .pool_max_idle_per_host(engineers)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    if config.rate_limits {
        measure_limited(&config, &server, &tokens, &fake, &client).await;
        return;
    }
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let prompt = prompt_met.map_or("not measured", verdict);
    if config.rate > 0.0 {
        let paced = measure(&config, config.rate, &server, &tokens, &fake, &client).await;
        println!(
            "\ntargets: p99 < 20 ms at {} responds/s {}; prompt bytes <= resending everything, bounded {prompt}",
            config.rate,
            verdict(paced.p99_ms < 20.0),
        );
        return;
    }
    let flat_out = measure(&config, 0.0, &server, &tokens, &fake, &client).await;
    // The latency target is judged at the throughput target: with the engineers answering
    // back to back there are always `concurrency` requests in the server, so its mean
    // latency is concurrency / throughput (Little's law) whatever the server's speed.
    let paced = if config.target_rate > 0.0 {
        Some(
            measure(
                &config,
                config.target_rate,
                &server,
                &tokens,
                &fake,
                &client,
            )
            .await,
        )
    } else {
        None
    };
    println!(
        "\ntargets: >= {} responds/s {}; p99 < 20 ms at {} concurrent sessions, {} responds/s {}; \
         prompt bytes <= resending everything, bounded {prompt}",
        config.target_rate,
        verdict(flat_out.per_sec >= config.target_rate),
        config.concurrency,
        config.target_rate,
        paced.map_or("not measured", |p| verdict(p.p99_ms < 20.0)),
    );
}

/// Which built-in flow each intake matches, since the offline pilot can only walk a flow
/// the intake matched (otherwise the session opens on triage).
async fn show_matches(base: &str, token: &str) {
    let client = Client::new();
    println!("intakes and the flow each matches:");
    for (i, intake) in INTAKES.iter().enumerate() {
        let (status, body) = call(
            &client,
            format!("{base}/api/v1/flows/match"),
            Some(token),
            json!({"text": intake, "limit": 1}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "match intake {i}: {body}");
        match body.get(0) {
            Some(best) => println!(
                "  {i}: {} ({:.2})",
                best["title"].as_str().unwrap_or("?"),
                best["score"].as_f64().unwrap_or(f64::NAN)
            ),
            None => println!("  {i}: no flow (the session starts on triage)"),
        }
    }
}

/// Prints the prompt sizes and bytes of one long session; returns whether its targets are met:
/// total and fresh bytes at most resending everything, and no request past the first fold
/// larger than the largest before it.
async fn report_prompt_growth(base: &str, token: &str, fake: &FakeProvider) -> bool {
    let session = measure_prompt_growth(base, token, fake).await;
    let sizes = &session.sizes;
    println!("prompt sent to the provider for step N (answers mix options, free text, skips):");
    println!("  step   body bytes   message chars   ~tokens (chars/4)");
    for n in PROMPT_STEPS {
        let s = &sizes[n - 1];
        println!(
            "  {n:>4}   {:>10}   {:>13}   {:>7}",
            s.body_bytes,
            s.message_chars,
            s.message_chars / 4
        );
    }
    let largest = |range: std::ops::Range<usize>| {
        sizes[range].iter().map(|s| s.body_bytes).max().unwrap_or(0)
    };
    let bounded = match session.folds.first() {
        Some(&fold) => {
            let before = largest(0..fold - 1);
            let after = largest(fold - 1..sizes.len());
            println!(
                "  earlier steps folded at step(s) {:?}: step {fold} sends {} B; the largest \
                 request before it {before} B, after it {after} B",
                session.folds,
                sizes[fold - 1].body_bytes
            );
            after <= before
        }
        None => {
            println!("  no fold within {} steps", sizes.len());
            true
        }
    };
    let (sent, resent) = (session.sent, session.resent);
    let share = |b: Bytes2| 100.0 * (b.total - b.fresh) as f64 / b.total.max(1) as f64;
    println!("bytes over the session's first {SESSION_STEPS} steps:");
    println!(
        "                              total  fresh (cache order)  repeated  fresh (as written)"
    );
    for (who, b) in [("FlowPilot", sent), ("resending everything", resent)] {
        println!(
            "  {who:<20} {:>12} {:>20}   {:>6.1}% {:>19}",
            b.total,
            b.fresh,
            share(b),
            b.fresh_as_written
        );
    }
    let met = sent.total <= resent.total && sent.fresh <= resent.fresh && bounded;
    println!(
        "  (fresh: not a repeat of the start of the request before, what a prefix cache cannot \
         serve; target: total and fresh at most resending everything, bounded past the fold)"
    );
    met
}

/// With the rate limits on, a per-user limit refuses most of what one engineer sends back
/// to back, so a total rate means little: the load that stays under the limits comes from
/// many engineers each answering a few times a minute, and what refusing costs shows when a
/// few of them ignore the limit.
async fn measure_limited(
    config: &Config,
    server: &Server,
    tokens: &[String],
    fake: &FakeProvider,
    client: &Client,
) {
    let limit = flowpilot_server::rate_limit::Action::SessionWrite.per_minute();
    let under = &tokens[..config.limited_engineers];
    let rate = under.len() as f64 * config.limited_per_minute / 60.0;
    println!(
        "\nunder the limits: {} engineers, each answering {} times a minute (the limit is {limit} \
         a minute per engineer)",
        under.len(),
        config.limited_per_minute
    );
    let paced = measure(config, rate, server, under, fake, client).await;
    println!(
        "\nover the limits: {} of the same engineers, each answering back to back and asking \
         again at once when refused",
        config.concurrency
    );
    let flat_out = measure(
        config,
        0.0,
        server,
        &tokens[..config.concurrency],
        fake,
        client,
    )
    .await;
    println!(
        "\nrate limits: under them {} of {} responds refused (expected none); over them {:.0} \
         refused and {:.0} accepted a second",
        paced.refused,
        paced.refused + paced.answered,
        flat_out.refused_per_sec,
        flat_out.per_sec
    );
}

/// What one load phase measured.
struct Outcome {
    answered: usize,
    per_sec: f64,
    p99_ms: f64,
    refused: usize,
    refused_per_sec: f64,
}

/// `p50 … max` of latencies in µs, sorted in place.
fn latency_line(us: &mut [u64]) -> String {
    us.sort_unstable();
    format!(
        "p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        percentile(us, 50.0),
        percentile(us, 90.0),
        percentile(us, 99.0),
        us.last().map_or(f64::NAN, |&m| m as f64 / 1000.0)
    )
}

/// One load phase: every engineer answering steps back to back (`rate` 0) or all of them
/// together at `rate` responds per second. Prints what it saw.
async fn measure(
    config: &Config,
    rate: f64,
    server: &Server,
    tokens: &[String],
    fake: &FakeProvider,
    client: &Client,
) -> Outcome {
    let engineers = tokens.len();
    let interval = (rate > 0.0).then(|| Duration::from_secs_f64(engineers as f64 / rate));
    // Paced engineers who answer only every few seconds (the rate-limited run) all start
    // their sessions at once; two intervals let that burst pass and every one of them
    // answer before anything is counted.
    let warmup = interval.map_or(Duration::from_secs(config.warmup_secs), |iv| {
        Duration::from_secs(config.warmup_secs).max(iv * 2)
    });
    let now = Instant::now();
    let from = now + warmup;
    let load = Arc::new(Load {
        base: server.base.clone(),
        engine: config.engine,
        from,
        until: from + Duration::from_secs(config.secs),
        interval,
    });
    let calls_before = fake.calls.load(Ordering::Relaxed);
    let secs = config.secs;
    let cpu_window = tokio::spawn(async move {
        tokio::time::sleep_until(from.into()).await;
        let before = cpu_ticks();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        before.zip(cpu_ticks())
    });
    let mut set = JoinSet::new();
    for (i, token) in tokens.iter().enumerate() {
        // Paced engineers are spread over the interval so the answers arrive evenly.
        let offset = interval.map_or(Duration::ZERO, |iv| iv.mul_f64(i as f64 / engineers as f64));
        set.spawn(engineer(
            client.clone(),
            load.clone(),
            token.clone(),
            INTAKES[i % INTAKES.len()],
            now + offset,
        ));
    }
    let mut total = Tally::default();
    while let Some(done) = set.join_next().await {
        total.add(done.expect("engineer task"));
    }
    let provider_calls = fake.calls.load(Ordering::Relaxed) - calls_before;
    let cpu = cpu_window.await.ok().flatten();
    total.latencies_us.sort_unstable();
    let lat = &total.latencies_us;
    let errors: u64 = total.errors.values().sum();
    let pace = if rate > 0.0 {
        format!("paced at {rate} responds/s in all")
    } else {
        "each answering back to back".to_string()
    };
    println!(
        "\nrespond (POST /ai-sessions/{{id}}/respond), {engineers} engineers {pace}, {} s:",
        config.secs
    );
    let per_sec = lat.len() as f64 / config.secs as f64;
    println!(
        "  {per_sec:.0} responds/s ({} answered, {} errors{}), {} sessions started to replace finished ones",
        lat.len(),
        errors,
        if total.errors.is_empty() {
            String::new()
        } else {
            format!(": {:?}", total.errors)
        },
        total.starts_us.len()
    );
    println!(
        "  mean position of the step answered: {:.0}",
        total.step_orders as f64 / lat.len().max(1) as f64
    );
    let p99_ms = percentile(lat, 99.0);
    println!(
        "  latency ms: p50 {:.2}  p90 {:.2}  p99 {p99_ms:.2}  max {:.2}",
        percentile(lat, 50.0),
        percentile(lat, 90.0),
        lat.last().map_or(f64::NAN, |&m| m as f64 / 1000.0)
    );
    let refused = total.refused_us.len();
    let refused_per_sec = refused as f64 / config.secs as f64;
    if refused > 0 {
        println!(
            "  refused with 429: {refused_per_sec:.0}/s ({refused}), latency ms: {}",
            latency_line(&mut total.refused_us)
        );
    }
    if config.engine == Engine::Offline {
        println!(
            "  sessions: {} started, latency ms: {}",
            total.starts_us.len(),
            latency_line(&mut total.starts_us)
        );
        println!(
            "  sessions: {} resolved at a suggested fix, latency ms: {}; {} left at a step with \
             no option",
            total.resolves_us.len(),
            latency_line(&mut total.resolves_us),
            total.left
        );
    }
    println!("  provider calls during the run (warm-up included): {provider_calls}");
    if let Some((before, after)) = cpu {
        println!("  {}", cpu_line(before, after));
    }
    Outcome {
        answered: lat.len(),
        per_sec,
        p99_ms,
        refused,
        refused_per_sec,
    }
}

fn main() {
    // Settings come from FLOWPILOT_BENCH_* variables; `cargo bench` passes `--bench`, ignored.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run());
}
