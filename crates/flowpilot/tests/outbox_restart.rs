//! A write pending in the outbox survives `kill -9`: the real binary, a SQLite file, and a
//! local webhook sink that counts what it accepts. The first server tries, the sink is down
//! (503), the server is killed; the sink comes back, a second server starts on the same
//! file and delivers the write, once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

#[allow(dead_code)] // the secret key is for the stories that seal secrets
mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use domain::{Plan, Role};
use store::{NewAccount, NewOutboxEntry, NewUser, OutboxStatus, Store};
use support::{free_port, ready, sigkill, start_server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the sink saw: every request, and those it accepted.
#[derive(Default)]
struct Sink {
    up: AtomicBool,
    seen: AtomicUsize,
    accepted: AtomicUsize,
    keys: std::sync::Mutex<Vec<String>>,
}

/// A webhook receiver speaking just enough HTTP/1.1: reads one request, answers 200 when up
/// and 503 when down, and closes the connection.
async fn serve_sink(listener: TcpListener, sink: Arc<Sink>) {
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            return;
        };
        let sink = sink.clone();
        tokio::spawn(async move {
            let Some(head) = read_request(&mut conn).await else {
                return;
            };
            sink.seen.fetch_add(1, Ordering::SeqCst);
            let key = head
                .lines()
                .find_map(|l| l.strip_prefix("idempotency-key: "))
                .unwrap_or("")
                .to_string();
            sink.keys.lock().unwrap().push(key);
            let status = if sink.up.load(Ordering::SeqCst) {
                sink.accepted.fetch_add(1, Ordering::SeqCst);
                "200 OK"
            } else {
                "503 Service Unavailable"
            };
            let reply =
                format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = conn.write_all(reply.as_bytes()).await;
            let _ = conn.shutdown().await;
        });
    }
}

/// The request's head, lower-cased, once its body has been read too.
async fn read_request(conn: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < end + 4 + length {
            let n = conn.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        return Some(head);
    }
}

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_pending_when_the_server_is_killed_is_delivered_once_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fp.db");
    let sink = Arc::new(Sink::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink_url = format!("http://{}/hooks/flowpilot", listener.local_addr().unwrap());
    tokio::spawn(serve_sink(listener, sink.clone()));

    let port = free_port();
    let mut first = start_server(&db, port, &[]);
    ready(port, &mut first).await;

    // What a session's close would queue: a webhook to the sink.
    let store = Store::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let (account, _) = store
        .create_account_with_user(
            NewAccount {
                name: "Acme".into(),
                plan: Plan::Free,
            },
            NewUser {
                email: "ada@acme.test".into(),
                full_name: "Ada".into(),
                password_hash: "hash".into(),
                role: Role::Admin,
                team_id: None,
                is_super_admin: false,
            },
            Utc::now(),
        )
        .await
        .unwrap();
    let ids = store
        .enqueue_outbox(
            &[NewOutboxEntry {
                account_id: account.id,
                session_id: None,
                kind: "webhook".into(),
                payload: serde_json::json!({
                    "url": sink_url,
                    "body": {"event": "session.escalated", "title": "VPN drops"},
                }),
                idempotency_key: "webhook:session-1:escalated".into(),
            }],
            Utc::now(),
        )
        .await
        .unwrap();
    let id = ids[0];

    // The first server tries (the sink is down) and puts the entry back to wait.
    wait_for("the first attempt", async || {
        let e = store.outbox_entry(account.id, id).await.unwrap();
        sink.seen.load(Ordering::SeqCst) >= 1 && e.status == OutboxStatus::Pending
    })
    .await;
    sigkill(&mut first);
    let tried = sink.seen.load(Ordering::SeqCst);
    assert_eq!(sink.accepted.load(Ordering::SeqCst), 0);

    sink.up.store(true, Ordering::SeqCst);
    let port = free_port();
    let mut second = start_server(&db, port, &[]);
    ready(port, &mut second).await;
    wait_for("the delivery", async || {
        store.outbox_entry(account.id, id).await.unwrap().status == OutboxStatus::Delivered
    })
    .await;
    // Long enough for a second delivery, were there one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    sigkill(&mut second);

    assert_eq!(sink.accepted.load(Ordering::SeqCst), 1, "delivered once");
    assert_eq!(sink.seen.load(Ordering::SeqCst), tried + 1);
    let keys = sink.keys.lock().unwrap().clone();
    assert!(
        keys.iter().all(|k| k == "webhook:session-1:escalated"),
        "{keys:?}"
    );
    let done = store.outbox_entry(account.id, id).await.unwrap();
    assert_eq!(done.attempts as usize, tried + 1);
    store.close().await;
}
