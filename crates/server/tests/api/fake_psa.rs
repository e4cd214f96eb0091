//! A local fake of ConnectWise PSA's REST API 3.0, as much of it as the intake, the ticket
//! picker, the connection test and the member mapping use. It checks the API member's Basic
//! auth and the `clientId` header on every request, and can refuse them (401) or hang (a PSA
//! that is down behind a proxy that never answers).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
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

#[derive(Clone)]
struct Shared {
    mode: Arc<Mutex<Mode>>,
    requests: Arc<Mutex<Vec<String>>>,
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
        };
        let api = Router::new()
            .route("/service/tickets", get(list_tickets))
            .route("/service/tickets/{id}", get(ticket))
            .route("/service/tickets/{id}/notes", get(notes))
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

async fn notes(Path(id): Path<String>) -> Response {
    match find(&id) {
        Some(t) => Json(json!([
            {"id": 2, "text": t.note, "detailDescriptionFlag": false, "internalAnalysisFlag": true,
             "member": {"name": "Sam Tech"}, "dateCreated": "2026-12-01T09:30:00Z"},
            {"id": 1, "text": t.description, "detailDescriptionFlag": true, "internalAnalysisFlag": false,
             "contact": {"name": "Dana Reyes"}, "dateCreated": "2026-12-01T08:00:00Z"}
        ]))
        .into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"message": "ticket not found"}))).into_response(),
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
