//! A PSA note pending in the outbox survives `kill -9`: the real binary on a SQLite file and
//! a local fake of ConnectWise PSA that counts the notes it takes. A session started from a
//! ticket is resolved while the PSA answers 503; the server is killed between attempts; the
//! PSA comes back, a second server starts on the same file and posts the note, once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use support::{call, free_port, ready, sigkill, KEY};
use tokio::net::TcpListener;

#[derive(Default)]
struct Fake {
    up: AtomicBool,
    attempts: AtomicUsize,
    notes: Mutex<Vec<Value>>,
}

async fn ticket(UrlPath(id): UrlPath<String>) -> Json<Value> {
    Json(
        json!({"id": id.parse::<u64>().unwrap_or(0), "summary": "VPN drops every hour",
        "company": {"name": "Contoso"}, "status": {"name": "New"}, "board": {"id": 1}}),
    )
}

async fn notes(State(fake): State<Arc<Fake>>) -> Json<Value> {
    Json(Value::Array(fake.notes.lock().unwrap().clone()))
}

async fn post_note(State(fake): State<Arc<Fake>>, Json(body): Json<Value>) -> Response {
    fake.attempts.fetch_add(1, Ordering::SeqCst);
    if !fake.up.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let mut notes = fake.notes.lock().unwrap();
    let id = 500 + notes.len() as u64;
    notes.insert(0, json!({"id": id, "text": body["text"]}));
    Json(json!({"id": id})).into_response()
}

async fn start_fake() -> (String, Arc<Fake>) {
    let fake = Arc::new(Fake::default());
    let api = Router::new()
        .route("/service/tickets/{id}", get(ticket))
        .route("/service/tickets/{id}/notes", get(notes).post(post_note))
        .route(
            "/service/tickets/{id}/configurations",
            get(|| async { Json(json!([])) }),
        );
    let app = Router::new()
        .nest("/v4_6_release/apis/3.0", api)
        .with_state(fake.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, fake)
}

async fn push(port: u16, token: &str, session: &str) -> Value {
    let (status, detail) = call(
        port,
        "GET",
        &format!("/api/v1/ai-sessions/{session}"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{detail}");
    detail["psa"]["push"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_pending_when_the_server_is_killed_is_posted_once_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fp.db");
    let (psa_url, fake) = start_fake().await;

    let port = free_port();
    let mut first = support::start_server(&db, port, &[("FLOWPILOT_SECRET_KEY", KEY)]);
    ready(port, &mut first).await;
    let (status, registered) = call(port, "POST", "/api/v1/auth/register", None, Some(json!({
        "email": "ada@acme.test", "password": "correct horse battery", "full_name": "Ada", "account_name": "Acme"
    }))).await;
    assert_eq!(status, 201, "{registered}");
    let token = registered["access_token"].as_str().unwrap().to_string();
    let (status, connection) = call(port, "POST", "/api/v1/integrations/psa", Some(&token), Some(json!({
        "kind": "connectwise", "name": "CW", "base_url": psa_url,
        "credentials": {"company_id": "acme", "public_key": "p", "private_key": "k", "client_id": "c"}
    }))).await;
    assert_eq!(status, 201, "{connection}");
    let (status, started) = call(port, "POST", "/api/v1/ai-sessions", Some(&token), Some(json!({
        "intake_type": "psa_ticket", "intake_content": {"connection_id": connection["id"], "ticket_id": "4711"}
    }))).await;
    assert_eq!(status, 201, "{started}");
    let session = started["session_id"].as_str().unwrap().to_string();
    let (status, resolved) = call(
        port,
        "POST",
        &format!("/api/v1/ai-sessions/{session}/resolve"),
        Some(&token),
        Some(json!({"resolution_summary": "Raised the VPN's idle timeout"})),
    )
    .await;
    assert_eq!(status, 200, "{resolved}");

    // The first server tries (the PSA is down) and records that it will try again.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let push = push(port, &token, &session).await;
        if fake.attempts.load(Ordering::SeqCst) >= 1 && !push["last_error"].is_null() {
            assert_eq!(push["status"], "pending", "{push}");
            break;
        }
        assert!(Instant::now() < deadline, "no attempt: {push}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sigkill(&mut first);
    assert!(fake.notes.lock().unwrap().is_empty());

    fake.up.store(true, Ordering::SeqCst);
    let port = free_port();
    let mut second = support::start_server(&db, port, &[("FLOWPILOT_SECRET_KEY", KEY)]);
    ready(port, &mut second).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let push = push(port, &token, &session).await;
        if push["status"] == "posted" {
            break;
        }
        assert!(Instant::now() < deadline, "never posted: {push}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Long enough for a second post, were there one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let final_push = push(port, &token, &session).await;
    sigkill(&mut second);

    let notes = fake.notes.lock().unwrap().clone();
    assert_eq!(notes.len(), 1, "posted once: {notes:?}");
    assert!(notes[0]["text"]
        .as_str()
        .unwrap()
        .ends_with(&format!("FlowPilot ref: psa_note:{session}:resolved")));
    assert_eq!(final_push["remote_id"], notes[0]["id"].to_string());
}
