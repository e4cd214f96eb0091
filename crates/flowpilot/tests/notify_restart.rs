//! Escalation notifications pending in the outbox survive `kill -9`: the real binary on a
//! SQLite file escalates a session while the account's webhook answers 503 and the mail
//! server refuses connections; it is killed with SIGKILL once both were tried. The receivers
//! come back, a second server on the same file sends each once, the webhook still signed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

#[allow(dead_code)]
#[path = "../../server/tests/api/sinks.rs"]
mod sinks;
mod support;

use std::path::Path;
use std::process::Child;
use std::time::Duration;

use serde_json::json;
use sinks::{wait_until, SmtpSink, WebhookSink};
use support::{call, free_port, ready, sigkill, KEY};

fn start_server(db: &Path, port: u16, smtp: &SmtpSink) -> Child {
    let smtp_url = smtp.url();
    support::start_server(
        db,
        port,
        &[
            ("FLOWPILOT_SECRET_KEY", KEY),
            ("FLOWPILOT_SMTP_URL", &smtp_url),
            ("FLOWPILOT_SMTP_FROM", "flowpilot@acme.test"),
            ("FLOWPILOT_PUBLIC_URL", "https://fp.acme.test"),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_pending_when_the_server_is_killed_are_sent_once_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fp.db");
    let hooks = WebhookSink::start().await;
    let smtp = SmtpSink::start().await;
    hooks.set_down(true);
    smtp.set_down(true);

    let port = free_port();
    let mut first = start_server(&db, port, &smtp);
    ready(port, &mut first).await;
    let (status, registered) = call(port, "POST", "/api/v1/auth/register", None, Some(json!({
        "email": "owner@acme.test", "password": "correct horse battery", "full_name": "Olive Owner", "account_name": "Acme"
    }))).await;
    assert_eq!(status, 201, "{registered}");
    let token = registered["access_token"].as_str().unwrap().to_string();
    let (status, ada) = call(port, "POST", "/api/v1/users", Some(&token), Some(json!({
        "email": "ada@acme.test", "password": "correct horse battery", "full_name": "Ada Senior", "role": "engineer"
    }))).await;
    assert_eq!(status, 201, "{ada}");
    let (status, saved) = call(
        port,
        "PUT",
        "/api/v1/integrations/notifications",
        Some(&token),
        Some(json!({"webhooks": [{"url": hooks.url("/hook"), "format": "generic", "secret": "whsec-restart"}]})),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    let (status, started) = call(port, "POST", "/api/v1/ai-sessions", Some(&token), Some(json!({
        "intake_type": "free_text", "intake_content": {"text": "The VPN drops every hour on the dot"}
    }))).await;
    assert_eq!(status, 201, "{started}");
    let session = started["session_id"].as_str().unwrap().to_string();
    let (status, escalated) = call(
        port,
        "POST",
        &format!("/api/v1/ai-sessions/{session}/escalate"),
        Some(&token),
        Some(json!({"escalation_reason": "Needs the firewall team", "escalated_to_id": ada["id"]})),
    )
    .await;
    assert_eq!(status, 200, "{escalated}");

    // The first server tries both, is refused both, and is killed without a word.
    wait_until("a refused attempt of each", || {
        hooks.tried("/hook") >= 1 && smtp.refused() >= 1
    })
    .await;
    sigkill(&mut first);
    assert!(hooks.accepted("/hook").is_empty() && smtp.mails().is_empty());

    hooks.set_down(false);
    smtp.set_down(false);
    let port = free_port();
    let mut second = start_server(&db, port, &smtp);
    ready(port, &mut second).await;
    wait_until("the deliveries", || {
        hooks.accepted("/hook").len() == 1 && smtp.mails().len() == 1
    })
    .await;
    // Long enough for a second delivery, were there one.
    tokio::time::sleep(Duration::from_secs(3)).await;
    sigkill(&mut second);

    let posted = hooks.accepted("/hook");
    assert_eq!(posted.len(), 1, "sent once");
    assert_eq!(posted[0].body["event"], "escalated");
    assert_eq!(posted[0].body["session_id"], session.as_str());
    assert!(posted[0]
        .header("x-flowpilot-signature")
        .is_some_and(|s| s.starts_with("sha256=")));
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    assert_eq!(mails[0].to, ["ada@acme.test"]);
    assert!(mails[0]
        .text()
        .contains(&format!("https://fp.acme.test/pilot/{session}")));
}
