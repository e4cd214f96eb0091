//! A local fake of ConnectWise PSA's REST API 3.0, as much of it as the intake, the ticket
//! picker, the connection test and the member mapping use. It checks the API member's Basic
//! auth and the `clientId` header on every request, and can refuse them (401) or hang (a PSA
//! that is down behind a proxy that never answers).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};

pub const COMPANY: &str = "acme";
pub const PUBLIC_KEY: &str = "pubKEY123";
pub const PRIVATE_KEY: &str = "Priv-S3cr3t-Key-987";
pub const CLIENT_ID: &str = "client-abc";

/// The credentials the fake accepts, as `POST /integrations/psa` takes them.
pub fn credentials() -> Value {
    json!({"company_id": COMPANY, "public_key": PUBLIC_KEY, "private_key": PRIVATE_KEY, "client_id": CLIENT_ID})
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Up,
    /// Every request answers 401.
    Refusing,
    /// Every request waits a minute before answering.
    Hanging,
}

/// How the fake answers the next `POST …/notes`; once the script is used up, it posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteAnswer {
    /// Refuses with this status (and `Retry-After` seconds, when given); nothing is posted.
    Status(u16, Option<u64>),
    /// Posts the note, then answers nothing for longer than the server waits: the write
    /// landed and the server cannot know.
    PostedUnanswered,
}

/// A note the fake took: the ticket and the body as sent.
#[derive(Debug, Clone)]
pub struct PostedNote {
    pub id: u64,
    pub ticket: String,
    pub body: Value,
}

#[derive(Clone)]
struct Shared {
    mode: Arc<Mutex<Mode>>,
    requests: Arc<Mutex<Vec<String>>>,
    note_script: Arc<Mutex<std::collections::VecDeque<NoteAnswer>>>,
    notes: Arc<Mutex<Vec<PostedNote>>>,
    /// Time entries and status changes: the path and the body.
    writes: Arc<Mutex<Vec<(String, Value)>>>,
}

pub struct FakePsa {
    pub base_url: String,
    shared: Shared,
}

impl FakePsa {
    pub async fn start() -> FakePsa {
        let shared = Shared {
            mode: Arc::new(Mutex::new(Mode::Up)),
            requests: Arc::default(),
            note_script: Arc::default(),
            notes: Arc::default(),
            writes: Arc::default(),
        };
        let api = Router::new()
            .route("/service/tickets", get(list_tickets))
            .route("/service/tickets/{id}", get(ticket).patch(patch_ticket))
            .route("/time/entries", post(post_time_entry))
            .route("/service/tickets/{id}/notes", get(notes).post(post_note))
            .route("/service/tickets/{id}/configurations", get(configurations))
            .route("/system/members", get(members));
        let app = Router::new()
            .nest("/v4_6_release/apis/3.0", api)
            .layer(axum::middleware::from_fn_with_state(shared.clone(), gate))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake PSA");
        let addr = listener.local_addr().expect("fake PSA address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakePsa {
            base_url: format!("http://{addr}"),
            shared,
        }
    }

    pub fn set(&self, mode: Mode) {
        *self.shared.mode.lock().expect("mode") = mode;
    }

    /// How the next `POST …/notes` are answered, in order.
    pub fn script_notes(&self, answers: &[NoteAnswer]) {
        self.shared
            .note_script
            .lock()
            .expect("script")
            .extend(answers.iter().copied());
    }

    /// The notes posted so far.
    pub fn posted_notes(&self) -> Vec<PostedNote> {
        self.shared.notes.lock().expect("notes").clone()
    }

    /// The time entries and status changes sent so far: the path and the body.
    pub fn writes(&self) -> Vec<(String, Value)> {
        self.shared.writes.lock().expect("writes").clone()
    }

    /// The paths asked for so far.
    pub fn requests(&self) -> Vec<String> {
        self.shared.requests.lock().expect("requests").clone()
    }
}

/// The auth every request must carry, the mode, and the record of what was asked.
async fn gate(
    State(shared): State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    shared
        .requests
        .lock()
        .expect("requests")
        .push(req.uri().to_string());
    let mode = *shared.mode.lock().expect("mode");
    match mode {
        Mode::Hanging => {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        Mode::Refusing => {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({"message": "Unauthorized"})),
            )
                .into_response()
        }
        Mode::Up => {}
    }
    if !authorized(req.headers()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "bad credentials"})),
        )
            .into_response();
    }
    next.run(req).await
}

fn authorized(headers: &HeaderMap) -> bool {
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{COMPANY}+{PUBLIC_KEY}:{PRIVATE_KEY}"));
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header("authorization") == Some(&format!("Basic {basic}"))
        && header("clientid") == Some(CLIENT_ID)
}

struct FakeTicket {
    id: u64,
    summary: &'static str,
    company: &'static str,
    description: &'static str,
    note: &'static str,
    item: &'static str,
}

/// The description of ticket 4711 carries a password, which must never reach an LLM.
pub const TICKET_PASSWORD: &str = "Winter2026!xyz";

const TICKETS: &[FakeTicket] = &[
    FakeTicket {
        id: 4711,
        summary: "Printer on 2nd floor shows offline",
        company: "Contoso Dental",
        description: "Since this morning the HP LaserJet on the second floor shows offline for everyone. Front desk password: Winter2026!xyz",
        note: "Power-cycled the printer, no change.",
        item: "PRN-2F-HP404",
    },
    FakeTicket {
        id: 4712,
        summary: "Outlook keeps asking for a password",
        company: "Fabrikam Legal",
        description: "Outlook prompts for credentials every few minutes since the mailbox move.",
        note: "User already re-entered the password twice.",
        item: "LT-FAB-017",
    },
];

fn find(id: &str) -> Option<&'static FakeTicket> {
    let id: u64 = id.parse().ok()?;
    TICKETS.iter().find(|t| t.id == id)
}

async fn list_tickets(Query(q): Query<Vec<(String, String)>>) -> Json<Value> {
    let conditions = q
        .iter()
        .find(|(k, _)| k == "conditions")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let wanted = conditions
        .split("summary contains \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(str::to_lowercase);
    let tickets: Vec<Value> = TICKETS
        .iter()
        .filter(|t| {
            wanted
                .as_deref()
                .is_none_or(|w| t.summary.to_lowercase().contains(w))
        })
        .map(|t| {
            json!({"id": t.id, "summary": t.summary, "company": {"name": t.company}, "status": {"name": "New"}})
        })
        .collect();
    Json(Value::Array(tickets))
}

async fn ticket(Path(id): Path<String>) -> Response {
    match find(&id) {
        Some(t) => Json(json!({
            "id": t.id, "summary": t.summary, "company": {"name": t.company},
            "contact": {"name": "Dana Reyes"}, "contactEmailAddress": "dana@example.com",
            "status": {"name": "New"}, "board": {"id": 1}
        }))
        .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "ticket not found"})),
        )
            .into_response(),
    }
}

async fn post_note(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if find(&id).is_none() {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "ticket not found"})),
        )
            .into_response();
    }
    let next = shared.note_script.lock().expect("script").pop_front();
    if let Some(NoteAnswer::Status(status, retry_after)) = next {
        let status = StatusCode::from_u16(status).expect("status");
        let mut response = (
            status,
            Json(json!({"message": format!("scripted {status}")})),
        )
            .into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert("retry-after", seconds.to_string().parse().expect("header"));
        }
        return response;
    }
    let note = {
        let mut notes = shared.notes.lock().expect("notes");
        let note = PostedNote {
            id: 9000 + notes.len() as u64 + 1,
            ticket: id,
            body,
        };
        notes.push(note.clone());
        note
    };
    if next == Some(NoteAnswer::PostedUnanswered) {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    Json(json!({"id": note.id, "text": note.body["text"]})).into_response()
}

async fn post_time_entry(State(shared): State<Shared>, Json(body): Json<Value>) -> Json<Value> {
    let mut writes = shared.writes.lock().expect("writes");
    writes.push(("/time/entries".into(), body));
    Json(json!({"id": 7000 + writes.len()}))
}

async fn patch_ticket(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    shared
        .writes
        .lock()
        .expect("writes")
        .push((format!("/service/tickets/{id}"), body));
    ticket(Path(id)).await
}

async fn notes(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    let posted: Vec<Value> = shared
        .notes
        .lock()
        .expect("notes")
        .iter()
        .rev()
        .filter(|n| n.ticket == id)
        .map(|n| json!({"id": n.id, "text": n.body["text"], "internalAnalysisFlag": n.body["internalAnalysisFlag"]}))
        .collect();
    match find(&id) {
        Some(t) => {
            let original = json!([
            {"id": 2, "text": t.note, "detailDescriptionFlag": false, "internalAnalysisFlag": true,
             "member": {"name": "Sam Tech"}, "dateCreated": "2026-12-01T09:30:00Z"},
            {"id": 1, "text": t.description, "detailDescriptionFlag": true, "internalAnalysisFlag": false,
             "contact": {"name": "Dana Reyes"}, "dateCreated": "2026-12-01T08:00:00Z"}
            ]);
            let original = original.as_array().cloned().unwrap_or_default();
            Json(posted.into_iter().chain(original).collect::<Vec<Value>>()).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "ticket not found"})),
        )
            .into_response(),
    }
}

async fn configurations(Path(id): Path<String>) -> Json<Value> {
    Json(match find(&id) {
        Some(t) => json!([{"id": 9, "name": "config", "deviceIdentifier": t.item}]),
        None => json!([]),
    })
}

/// Members of the PSA; the second one's email is that of the engineer the stories add.
pub const ENGINEER_EMAIL: &str = "eng.psa@example.com";

async fn members() -> Json<Value> {
    Json(json!([
        {"id": 31, "identifier": "sam", "firstName": "Sam", "lastName": "Tech", "primaryEmail": "sam@msp.example"},
        {"id": 32, "identifier": "eng", "firstName": "Erin", "lastName": "Engineer", "primaryEmail": "Eng.PSA@example.com"}
    ]))
}
