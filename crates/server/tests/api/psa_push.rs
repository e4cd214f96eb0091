//! The write-back to the ticket on resolve and escalate (psa.md "Write-back", "Exactly
//! once"), through the outbox, against the fake ConnectWise PSA: one note per close whatever
//! the PSA does, and the push status the session shows of it.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fake_psa::{self, FakePsa, NoteAnswer};
use crate::helpers::{spawn_app_with, Backend, Member, TestApp};
use crate::stories;

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

stories!(
    a_resolved_session_posts_one_internal_note_to_its_ticket,
    an_escalation_posts_the_engineers_own_note_without_the_resolution_flag,
    a_psa_failing_twice_then_recovering_still_gets_one_note,
    a_429_is_waited_out_as_the_psa_asked,
    a_refusal_fails_with_its_reason_and_the_retry_posts_once,
    an_answer_lost_after_the_write_is_found_by_its_marker,
    settings_add_a_time_entry_and_a_status_change_each_sent_once,
);

struct Setup {
    app: TestApp,
    psa: FakePsa,
    admin: Member,
    eng: Member,
    connection: String,
}

async fn setup(backend: Backend, settings: Value) -> Setup {
    let app = spawn_app_with(backend, |s| {
        s.secret_key = Some(KEY.into());
        s.psa_timeout_secs = 1;
        s.rate_limits = false;
    })
    .await;
    let psa = FakePsa::start().await;
    let admin = app.register("admin.push@example.com", "Push").await;
    let eng = app
        .add_user(&admin, "eng.push@example.com", "engineer")
        .await;
    let (status, created) = app
        .post(
            "/integrations/psa",
            &admin.token,
            json!({"kind": "connectwise", "name": "Acme CW", "base_url": psa.base_url,
                   "credentials": fake_psa::credentials(), "settings": settings}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let connection = created["id"].as_str().expect("id").to_string();
    Setup {
        app,
        psa,
        admin,
        eng,
        connection,
    }
}

impl Setup {
    /// A session started from ticket 4711; its id.
    async fn session(&self) -> String {
        let (status, started) = self
            .app
            .post(
                "/ai-sessions",
                &self.eng.token,
                json!({"intake_type": "psa_ticket", "intake_content": {"connection_id": self.connection, "ticket_id": "4711"}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{started}");
        started["session_id"].as_str().expect("session").to_string()
    }

    async fn resolve(&self, session: &str, body: Value) {
        let (status, answer) = self
            .app
            .post(
                &format!("/ai-sessions/{session}/resolve"),
                &self.eng.token,
                body,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }

    async fn push(&self, session: &str) -> Value {
        let (status, detail) = self
            .app
            .get(&format!("/ai-sessions/{session}"), &self.eng.token)
            .await;
        assert_eq!(status, StatusCode::OK, "{detail}");
        detail["psa"]["push"].clone()
    }

    /// The push status once it is `want`, within `limit`.
    async fn push_becomes(&self, session: &str, want: &str, limit: Duration) -> Value {
        let start = Instant::now();
        loop {
            let push = self.push(session).await;
            if push["status"] == want {
                return push;
            }
            assert!(
                start.elapsed() < limit,
                "the push did not become {want} in {limit:?}: {push}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

const SUMMARY: &str = "Re-added the printer's IP port on the print server";

async fn a_resolved_session_posts_one_internal_note_to_its_ticket(backend: Backend) {
    let s = setup(backend, json!({})).await;
    let session = s.session().await;
    assert_eq!(s.push(&session).await, Value::Null, "nothing queued yet");
    s.resolve(&session, json!({"resolution_summary": SUMMARY}))
        .await;

    let push = s
        .push_becomes(&session, "posted", Duration::from_secs(15))
        .await;
    let notes = s.psa.posted_notes();
    assert_eq!(notes.len(), 1, "{notes:?}");
    let note = &notes[0];
    assert_eq!(note.ticket, "4711");
    assert_eq!(note.body["internalAnalysisFlag"], true);
    assert_eq!(note.body["detailDescriptionFlag"], false);
    assert_eq!(note.body["resolutionFlag"], true);
    let text = note.body["text"].as_str().expect("text");
    assert!(text.contains(SUMMARY), "{text}");
    assert!(
        text.ends_with(&format!("FlowPilot ref: psa_note:{session}:resolved")),
        "{text}"
    );
    assert_eq!(push["remote_id"], note.id.to_string());
    assert_eq!(push["attempts"], 1);
    assert_eq!(push["last_error"], Value::Null);

    // Nothing failed: there is nothing to retry.
    let (status, body) = s
        .app
        .post(
            &format!("/ai-sessions/{session}/psa-push/retry"),
            &s.eng.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(s.psa.posted_notes().len(), 1);
}

async fn an_escalation_posts_the_engineers_own_note_without_the_resolution_flag(backend: Backend) {
    let s = setup(backend, json!({"post_on": ["escalate"]})).await;
    // Resolving is not in post_on: nothing is queued.
    let resolved = s.session().await;
    s.resolve(&resolved, json!({"resolution_summary": SUMMARY}))
        .await;
    assert_eq!(s.push(&resolved).await, Value::Null);

    let session = s.session().await;
    let (status, body) = s
        .app
        .post(
            &format!("/ai-sessions/{session}/escalate"),
            &s.eng.token,
            json!({"escalation_reason": "Needs the print server admin",
                   "psa_note": "Handed to the server team: the spooler needs a restart."}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let push = s
        .push_becomes(&session, "posted", Duration::from_secs(15))
        .await;
    let notes = s.psa.posted_notes();
    assert_eq!(notes.len(), 1, "{notes:?}");
    let text = notes[0].body["text"].as_str().expect("text");
    assert!(
        text.starts_with("Handed to the server team: the spooler needs a restart."),
        "the engineer's note replaces the package: {text}"
    );
    assert!(!text.contains("Needs the print server admin"), "{text}");
    assert!(text.ends_with(&format!("FlowPilot ref: psa_note:{session}:escalated")));
    assert_eq!(notes[0].body["resolutionFlag"], false);
    assert_eq!(notes[0].body["internalAnalysisFlag"], true);
    assert_eq!(push["remote_id"], notes[0].id.to_string());

    // A note longer than the limit is refused before anything closes.
    let other = s.session().await;
    let (status, body) = s
        .app
        .post(
            &format!("/ai-sessions/{other}/resolve"),
            &s.eng.token,
            json!({"resolution_summary": SUMMARY, "psa_note": "x".repeat(20_001)}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "psa_note"]));
    let _ = &s.admin;
}

async fn a_psa_failing_twice_then_recovering_still_gets_one_note(backend: Backend) {
    let s = setup(backend, json!({})).await;
    s.psa
        .script_notes(&[NoteAnswer::Status(500, None), NoteAnswer::Status(503, None)]);
    let session = s.session().await;
    s.resolve(&session, json!({"resolution_summary": SUMMARY}))
        .await;

    let pending = s
        .push_becomes(&session, "pending", Duration::from_secs(5))
        .await;
    assert_eq!(pending["remote_id"], Value::Null);
    let push = s
        .push_becomes(&session, "posted", Duration::from_secs(30))
        .await;
    assert_eq!(s.psa.posted_notes().len(), 1);
    assert_eq!(push["attempts"], 3, "{push}");
    assert_eq!(push["remote_id"], s.psa.posted_notes()[0].id.to_string());
}

async fn a_429_is_waited_out_as_the_psa_asked(backend: Backend) {
    let s = setup(backend, json!({})).await;
    s.psa.script_notes(&[NoteAnswer::Status(429, Some(3))]);
    let session = s.session().await;
    let start = Instant::now();
    s.resolve(&session, json!({"resolution_summary": SUMMARY}))
        .await;

    let pending = s
        .push_becomes(&session, "pending", Duration::from_secs(5))
        .await;
    let push = s
        .push_becomes(&session, "posted", Duration::from_secs(20))
        .await;
    assert!(
        start.elapsed() >= Duration::from_secs(3),
        "posted after {:?}, before the Retry-After",
        start.elapsed()
    );
    assert_eq!(push["attempts"], 2, "{push} (pending was {pending})");
    assert_eq!(s.psa.posted_notes().len(), 1);
}

async fn a_refusal_fails_with_its_reason_and_the_retry_posts_once(backend: Backend) {
    let s = setup(backend, json!({})).await;
    s.psa.script_notes(&[NoteAnswer::Status(400, None)]);
    let session = s.session().await;
    s.resolve(&session, json!({"resolution_summary": SUMMARY}))
        .await;

    let failed = s
        .push_becomes(&session, "failed", Duration::from_secs(10))
        .await;
    let reason = failed["last_error"].as_str().expect("a reason");
    assert!(
        reason.contains("400") && reason.contains("scripted"),
        "{reason}"
    );
    assert_eq!(failed["attempts"], 1);
    assert!(s.psa.posted_notes().is_empty());

    // A viewer cannot press it; the engineer can, and the fake answers now.
    let viewer = s
        .app
        .add_user(&s.admin, "viewer.push@example.com", "viewer")
        .await;
    let (status, _) = s
        .app
        .post(
            &format!("/ai-sessions/{session}/psa-push/retry"),
            &viewer.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, retried) = s
        .app
        .post(
            &format!("/ai-sessions/{session}/psa-push/retry"),
            &s.eng.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{retried}");
    assert_eq!(retried["attempts"], 0);
    let push = s
        .push_becomes(&session, "posted", Duration::from_secs(10))
        .await;
    assert_eq!(push["attempts"], 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(s.psa.posted_notes().len(), 1);
}

async fn an_answer_lost_after_the_write_is_found_by_its_marker(backend: Backend) {
    let s = setup(backend, json!({})).await;
    s.psa.script_notes(&[NoteAnswer::PostedUnanswered]);
    let session = s.session().await;
    s.resolve(&session, json!({"resolution_summary": SUMMARY}))
        .await;

    let push = s
        .push_becomes(&session, "posted", Duration::from_secs(20))
        .await;
    let notes = s.psa.posted_notes();
    assert_eq!(notes.len(), 1, "never posted twice: {notes:?}");
    assert_eq!(push["remote_id"], notes[0].id.to_string());
    assert_eq!(push["attempts"], 2);
    let asked = s
        .psa
        .requests()
        .iter()
        .filter(|r| r.starts_with("/v4_6_release/apis/3.0/service/tickets/4711/notes"))
        .count();
    assert!(asked >= 2, "the notes were read before posting again");
}

async fn settings_add_a_time_entry_and_a_status_change_each_sent_once(backend: Backend) {
    let s = setup(backend, json!({"time_entry": true, "resolve_status": "5"})).await;
    let (status, body) = s
        .app
        .call(
            reqwest::Method::PUT,
            &format!("/integrations/psa/{}/members/{}", s.connection, s.eng.id),
            Some(&s.admin.token),
            Some(json!({"member_id": "32"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let session = s.session().await;
    s.resolve(&session, json!({"resolution_summary": SUMMARY}))
        .await;

    let push = s
        .push_becomes(&session, "posted", Duration::from_secs(15))
        .await;
    assert_eq!(s.psa.posted_notes().len(), 1);
    assert_eq!(push["remote_id"], s.psa.posted_notes()[0].id.to_string());
    let writes = s.psa.writes();
    assert_eq!(writes.len(), 2, "{writes:?}");
    let time = writes
        .iter()
        .find(|(path, _)| path == "/time/entries")
        .expect("a time entry");
    assert_eq!(time.1["chargeToId"], 4711);
    assert_eq!(time.1["chargeToType"], "ServiceTicket");
    assert_eq!(time.1["member"]["id"], 32);
    assert!(time.1["notes"]
        .as_str()
        .unwrap()
        .contains(&format!("FlowPilot ref: psa_time_entry:{session}:resolved")));
    let status = writes
        .iter()
        .find(|(path, _)| path == "/service/tickets/4711")
        .expect("a status change");
    assert_eq!(
        status.1,
        json!([{"op": "replace", "path": "status", "value": {"id": 5}}])
    );
}

/// Two servers on one PostgreSQL database, each closing sessions and each running its
/// outbox worker: every note reaches the ticket once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_database_post_each_note_once() {
    if crate::helpers::postgres_url().is_none() {
        crate::helpers::skip_loudly();
        return;
    }
    let s = setup(Backend::Postgres, json!({})).await;
    let other = crate::helpers::spawn_on(s.app.database_url.clone(), None, |settings| {
        settings.secret_key = Some(KEY.into());
        settings.psa_timeout_secs = 1;
        settings.rate_limits = false;
    })
    .await;
    // Every first attempt fails: the retries come due on whichever server polls first.
    s.psa.script_notes(&[NoteAnswer::Status(503, None); 4]);
    let mut sessions = Vec::new();
    for i in 0..8 {
        let session = s.session().await;
        let server = if i % 2 == 0 { &s.app } else { &other };
        server.resolve(&s.eng, &session, SUMMARY).await;
        sessions.push(session);
    }
    for session in &sessions {
        s.push_becomes(session, "posted", Duration::from_secs(30))
            .await;
    }
    let notes = s.psa.posted_notes();
    assert_eq!(notes.len(), sessions.len(), "{notes:?}");
    for session in &sessions {
        let marker = format!("FlowPilot ref: psa_note:{session}:resolved");
        let count = notes
            .iter()
            .filter(|n| n.body["text"].as_str().unwrap_or("").ends_with(&marker))
            .count();
        assert_eq!(count, 1, "{session}");
    }
}
