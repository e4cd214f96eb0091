//! The write-back through the real server to Autotask and HaloPSA (psa_push.rs does
//! ConnectWise): a session started from a ticket is resolved, the outbox delivers, and the
//! fake of that PSA (the adapters' own, from crates/integrations/tests/support) holds exactly
//! one note, one time entry and the new status, also when each write fails once first.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, Backend, Member, TestApp};
use crate::psa_fakes::{autotask, halo, Failure, Fake};
use crate::stories;

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const SUMMARY: &str = "Cleared the cached credentials and re-created the Outlook profile";

stories!(
    autotask_gets_one_internal_note_time_entry_and_status,
    autotask_writes_failing_once_are_each_sent_once,
    autotask_gets_a_customer_visible_note_when_the_account_chose_it,
    halo_gets_one_internal_note_with_its_time_and_the_status,
    halo_writes_failing_once_are_each_sent_once,
    halo_gets_a_customer_visible_note_when_the_account_chose_it,
);

enum Psa {
    Autotask(Fake<autotask::World>),
    Halo(Fake<halo::World>),
}

impl Psa {
    fn kind(&self) -> &'static str {
        match self {
            Psa::Autotask(_) => "autotask",
            Psa::Halo(_) => "halo",
        }
    }

    fn url(&self) -> &str {
        match self {
            Psa::Autotask(f) => &f.url,
            Psa::Halo(f) => &f.url,
        }
    }

    fn credentials(&self) -> Value {
        match self {
            Psa::Autotask(_) => json!({"username": autotask::USERNAME, "secret": autotask::SECRET,
                                       "integration_code": autotask::INTEGRATION_CODE}),
            Psa::Halo(_) => {
                json!({"client_id": halo::CLIENT_ID, "client_secret": halo::CLIENT_SECRET})
            }
        }
    }

    /// The open ticket the sessions start from.
    fn ticket(&self) -> u64 {
        match self {
            Psa::Autotask(_) => 201,
            Psa::Halo(_) => 301,
        }
    }

    /// Ann Tech, whose email is the engineer's.
    fn member(&self) -> &'static str {
        match self {
            Psa::Autotask(_) => "29682885",
            Psa::Halo(_) => "4",
        }
    }

    /// The status a resolve sets: "Complete" in Autotask, "Resolved" in Halo.
    fn resolved_status(&self) -> u64 {
        match self {
            Psa::Autotask(_) => 5,
            Psa::Halo(_) => 8,
        }
    }

    /// What FlowPilot posted on the ticket: the notes (Halo: actions) with its marker line.
    fn notes(&self) -> Vec<Value> {
        let ticket = self.ticket();
        let (all, field) = match self {
            Psa::Autotask(f) => (
                f.world().notes.get(&ticket).cloned().unwrap_or_default(),
                "description",
            ),
            Psa::Halo(f) => (f.world().all_actions(ticket), "note"),
        };
        all.into_iter()
            .filter(|n| n[field].as_str().unwrap_or("").contains("FlowPilot ref: "))
            .collect()
    }

    fn status(&self) -> Value {
        let ticket = self.ticket();
        match self {
            Psa::Autotask(f) => f.world().ticket(ticket).expect("ticket")["status"].clone(),
            Psa::Halo(f) => f.world().ticket(ticket).expect("ticket")["status_id"].clone(),
        }
    }

    /// The requests `method path` (below the API root) the fake received.
    fn sent(&self, method: Method, path: &str) -> usize {
        let method = axum::http::Method::from_bytes(method.as_str().as_bytes()).expect("method");
        match self {
            Psa::Autotask(f) => f.requests_to(method, path).len(),
            Psa::Halo(f) => f.requests_to(method, path).len(),
        }
    }

    fn fail(&self, method: Method, path: &str, failure: Failure) {
        let method = axum::http::Method::from_bytes(method.as_str().as_bytes()).expect("method");
        match self {
            Psa::Autotask(f) => f.fail_request(method, path, failure, 1),
            Psa::Halo(f) => f.fail_request(method, path, failure, 1),
        }
    }
}

struct Setup {
    app: TestApp,
    psa: Psa,
    eng: Member,
    connection: String,
}

async fn setup(backend: Backend, psa: Psa, settings: Value) -> Setup {
    let app = spawn_app_with(backend, |s| {
        s.secret_key = Some(KEY.into());
        s.psa_timeout_secs = 1;
        s.rate_limits = false;
    })
    .await;
    let admin = app.register("admin.kinds@example.com", "Kinds").await;
    let eng = app.add_user(&admin, "ann@msp.example", "engineer").await;
    let (status, created) = app
        .post(
            "/integrations/psa",
            &admin.token,
            json!({"kind": psa.kind(), "name": "The PSA", "base_url": psa.url(),
                   "credentials": psa.credentials(), "settings": settings}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let connection = created["id"].as_str().expect("id").to_string();
    let (status, members) = app
        .get(
            &format!("/integrations/psa/{connection}/members"),
            &admin.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{members}");
    let mapped = members.to_string();
    assert!(
        mapped.contains(psa.member()),
        "the engineer is mapped to Ann Tech by email: {mapped}"
    );
    Setup {
        app,
        psa,
        eng,
        connection,
    }
}

impl Setup {
    /// A session started from the ticket and resolved; its id.
    async fn resolved_session(&self) -> String {
        let (status, started) = self
            .app
            .post(
                "/ai-sessions",
                &self.eng.token,
                json!({"intake_type": "psa_ticket", "intake_content": {
                    "connection_id": self.connection, "ticket_id": self.psa.ticket().to_string()}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{started}");
        assert_eq!(
            started["psa"]["ticket_id"],
            self.psa.ticket().to_string(),
            "{started}"
        );
        let session = started["session_id"].as_str().expect("session").to_string();
        self.app.resolve(&self.eng, &session, SUMMARY).await;
        session
    }

    /// The push status once every write is posted.
    async fn posted(&self, session: &str) -> Value {
        let start = Instant::now();
        loop {
            let (status, detail) = self
                .app
                .get(&format!("/ai-sessions/{session}"), &self.eng.token)
                .await;
            assert_eq!(status, StatusCode::OK, "{detail}");
            let push = detail["psa"]["push"].clone();
            if push["status"] == "posted" {
                return push;
            }
            assert_ne!(push["status"], "failed", "{push}");
            assert!(
                start.elapsed() < Duration::from_secs(45),
                "not posted in time: {push}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn marker(kind: &str, session: &str) -> String {
    format!("FlowPilot ref: {kind}:{session}:resolved")
}

const WRITES: &str = r#"{"time_entry": true, "resolve_status": "STATUS"}"#;

fn all_writes(psa: &Psa) -> Value {
    serde_json::from_str(&WRITES.replace("STATUS", &psa.resolved_status().to_string()))
        .expect("settings")
}

async fn autotask(backend: Backend, settings: impl Fn(&Psa) -> Value) -> Setup {
    let psa = Psa::Autotask(autotask::start().await);
    let settings = settings(&psa);
    setup(backend, psa, settings).await
}

async fn halo(backend: Backend, settings: impl Fn(&Psa) -> Value) -> Setup {
    let psa = Psa::Halo(halo::start(halo::world()).await);
    let settings = settings(&psa);
    setup(backend, psa, settings).await
}

async fn autotask_gets_one_internal_note_time_entry_and_status(backend: Backend) {
    let s = autotask(backend, all_writes).await;
    let session = s.resolved_session().await;
    let push = s.posted(&session).await;

    let notes = s.psa.notes();
    assert_eq!(notes.len(), 1, "{notes:?}");
    let note = &notes[0];
    assert_eq!(push["remote_id"], note["id"].to_string());
    assert_eq!(note["publish"], autotask::PUBLISH_INTERNAL);
    assert_eq!(note["noteType"], autotask::NOTE_TYPE_INTERNAL);
    let text = note["description"].as_str().expect("description");
    assert!(text.contains(SUMMARY), "{text}");
    assert!(text.ends_with(&marker("psa_note", &session)), "{text}");

    let Psa::Autotask(fake) = &s.psa else {
        unreachable!()
    };
    let entries = fake.world().time_entries.clone();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["ticketID"], 201);
    assert_eq!(entries[0]["resourceID"], 29682885);
    assert!(entries[0]["hoursWorked"].as_f64().expect("hours") > 0.0);
    assert!(entries[0]["summaryNotes"]
        .as_str()
        .expect("summary")
        .ends_with(&marker("psa_time_entry", &session)));
    assert_eq!(s.psa.status(), 5);
    assert_eq!(s.psa.sent(Method::PATCH, "/Tickets"), 1);
}

async fn autotask_writes_failing_once_are_each_sent_once(backend: Backend) {
    let s = autotask(backend, all_writes).await;
    s.psa
        .fail(Method::POST, "/Tickets/201/Notes", Failure::Status(503));
    // The entry lands but its answer is lost: found again by its marker, not posted twice.
    s.psa
        .fail(Method::POST, "/TimeEntries", Failure::LoseAnswer);
    s.psa.fail(Method::PATCH, "/Tickets", Failure::Status(500));
    let session = s.resolved_session().await;
    let push = s.posted(&session).await;

    let notes = s.psa.notes();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(push["remote_id"], notes[0]["id"].to_string());
    assert!(push["attempts"].as_i64().expect("attempts") >= 2, "{push}");
    let Psa::Autotask(fake) = &s.psa else {
        unreachable!()
    };
    assert_eq!(fake.world().time_entries.len(), 1);
    assert_eq!(
        s.psa.sent(Method::POST, "/TimeEntries"),
        1,
        "never sent twice"
    );
    assert!(
        s.psa.sent(Method::POST, "/TimeEntries/query") >= 1,
        "looked for it"
    );
    assert_eq!(s.psa.status(), 5);
    assert_eq!(s.psa.sent(Method::PATCH, "/Tickets"), 2);
    assert_eq!(s.psa.sent(Method::POST, "/Tickets/201/Notes"), 2);
}

async fn autotask_gets_a_customer_visible_note_when_the_account_chose_it(backend: Backend) {
    let s = autotask(backend, |_| json!({"note_visibility": "customer"})).await;
    let session = s.resolved_session().await;
    s.posted(&session).await;
    let notes = s.psa.notes();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["publish"], autotask::PUBLISH_ALL);
    let Psa::Autotask(fake) = &s.psa else {
        unreachable!()
    };
    assert!(fake.world().time_entries.is_empty(), "time_entry is off");
    assert_eq!(s.psa.status(), 1, "no resolve_status: unchanged");
}

async fn halo_gets_one_internal_note_with_its_time_and_the_status(backend: Backend) {
    let s = halo(backend, all_writes).await;
    let session = s.resolved_session().await;
    let push = s.posted(&session).await;

    let notes = s.psa.notes();
    assert_eq!(
        notes.len(),
        1,
        "one action, carrying the note and the time: {notes:?}"
    );
    let action = &notes[0];
    assert_eq!(push["remote_id"], action["id"].to_string());
    assert_eq!(action["hiddenfromuser"], true);
    assert_eq!(action["outcome"], "FlowPilot resolution");
    let text = action["note"].as_str().expect("note");
    assert!(text.contains(SUMMARY), "{text}");
    assert!(text.contains(&marker("psa_note", &session)), "{text}");
    assert!(
        action["timetaken"]
            .as_f64()
            .expect("timetaken on the note's action")
            > 0.0,
        "{action}"
    );
    assert_eq!(action["who_agentid"], 4, "the time is the engineer's");
    let Psa::Halo(fake) = &s.psa else {
        unreachable!()
    };
    assert_eq!(
        fake.world().all_actions(301).len(),
        2,
        "the ticket's own and ours"
    );
    assert_eq!(s.psa.status(), 8);
    assert_eq!(s.psa.sent(Method::POST, "/api/Tickets"), 1);
}

async fn halo_writes_failing_once_are_each_sent_once(backend: Backend) {
    let s = halo(backend, all_writes).await;
    // The first POST /Actions is the note (the time waits for it): it lands, its answer is lost.
    s.psa
        .fail(Method::POST, "/api/Actions", Failure::LoseAnswer);
    s.psa
        .fail(Method::POST, "/api/Tickets", Failure::Status(503));
    let session = s.resolved_session().await;
    let push = s.posted(&session).await;

    let notes = s.psa.notes();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(push["remote_id"], notes[0]["id"].to_string());
    assert!(notes[0]["timetaken"].as_f64().expect("timetaken") > 0.0);
    let Psa::Halo(fake) = &s.psa else {
        unreachable!()
    };
    assert_eq!(fake.world().all_actions(301).len(), 2);
    // The note once, then the time set on it once.
    assert_eq!(s.psa.sent(Method::POST, "/api/Actions"), 2);
    assert!(
        s.psa.sent(Method::GET, "/api/Actions") >= 2,
        "looked for it"
    );
    assert_eq!(s.psa.status(), 8);
    assert_eq!(s.psa.sent(Method::POST, "/api/Tickets"), 2);
}

async fn halo_gets_a_customer_visible_note_when_the_account_chose_it(backend: Backend) {
    let s = halo(backend, |_| json!({"note_visibility": "customer"})).await;
    let session = s.resolved_session().await;
    s.posted(&session).await;
    let notes = s.psa.notes();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["hiddenfromuser"], false);
    assert!(notes[0].get("timetaken").is_none(), "time_entry is off");
    assert_eq!(s.psa.status(), 1, "no resolve_status: unchanged");
}
