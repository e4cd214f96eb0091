//! A PSA note pending in the outbox survives `kill -9`: the real binary on a SQLite file and
//! a local fake of ConnectWise PSA that counts the notes it takes. A session started from a
//! ticket is resolved while the PSA answers 503; the server is killed between attempts; the
//! PSA comes back, a second server starts on the same file and posts the note, once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_server(db: &Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_flowpilot"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "FLOWPILOT_DATABASE_URL",
            format!("sqlite://{}", db.display()),
        )
        .env("FLOWPILOT_BIND", format!("127.0.0.1:{port}"))
        .env("FLOWPILOT_SECRET_KEY", KEY)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start flowpilot")
}

/// One HTTP/1.1 request on its own connection; the status and the JSON body (null if none).
async fn call(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let ask = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    );
    conn.write_all(ask.as_bytes()).await.unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.unwrap();
    let status = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

async fn ready(port: u16, server: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = server.try_wait().unwrap() {
            panic!("the server exited: {status}");
        }
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok()
            && call(port, "GET", "/readyz", None, None).await.0 == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "the server never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
    let mut first = start_server(&db, port);
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
    first.kill().unwrap(); // SIGKILL: no graceful shutdown
    first.wait().unwrap();
    assert!(fake.notes.lock().unwrap().is_empty());

    fake.up.store(true, Ordering::SeqCst);
    let port = free_port();
    let mut second = start_server(&db, port);
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
    second.kill().unwrap();
    second.wait().unwrap();

    let notes = fake.notes.lock().unwrap().clone();
    assert_eq!(notes.len(), 1, "posted once: {notes:?}");
    assert!(notes[0]["text"]
        .as_str()
        .unwrap()
        .ends_with(&format!("FlowPilot ref: psa_note:{session}:resolved")));
    assert_eq!(final_push["remote_id"], notes[0]["id"].to_string());
}
