//! Local fakes of the three PSAs. Each is an axum server on a random port that speaks its
//! PSA's paths, checks the auth headers and the bodies FlowPilot sends (psa.md's table), keeps
//! what was written, and can be told to answer 401, 404, 429 with `Retry-After`, 500, or to
//! hang. It records every request and how many were in flight per endpoint at once.
//!
//! The fakes themselves use only axum, serde_json, tokio and base64, so the server's
//! end-to-end stories can include them with `#[path]`; the helpers at the end build the
//! port's values for this crate's stories.
#![allow(dead_code)] // each test binary uses its own part

pub mod autotask;
pub mod connectwise;
pub mod halo;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn q(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    /// The raw body as a form (`a=b&c=d`).
    pub fn form(&self) -> HashMap<String, String> {
        parse_pairs(&self.raw)
    }
}

/// What a fake answers.
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    pub fn ok(body: Value) -> Reply {
        Reply {
            status: StatusCode::OK,
            body,
        }
    }

    pub fn status(status: u16, body: Value) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
        }
    }
}

/// A failure the fake plays instead of answering.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Failure {
    Status(u16),
    RateLimited {
        retry_after: u64,
    },
    /// No answer at all: the client times out and nothing was done.
    Hang,
    /// The request is carried out, then the answer never comes: the uncertain failure after
    /// which the outbox must look for the note before posting again.
    LoseAnswer,
}

struct Planned {
    path_contains: String,
    /// When set, only requests with this method whose path below the API root is exactly
    /// `path_contains` (Halo posts notes and time to the same path, Autotask's ticket paths
    /// all contain `/Tickets`).
    method: Option<Method>,
    failure: Failure,
    times: usize,
}

impl Planned {
    fn matches(&self, method: &Method, path: &str, full_path: &str) -> bool {
        self.times > 0
            && match &self.method {
                Some(m) => m == method && path == self.path_contains,
                None => full_path.contains(&self.path_contains),
            }
    }
}

pub type Handler<W> = fn(&mut W, &Seen) -> Reply;

pub struct Core<W> {
    world: Mutex<W>,
    handler: Handler<W>,
    api_root: &'static str,
    log: Mutex<Vec<Seen>>,
    planned: Mutex<Vec<Planned>>,
    in_flight: Mutex<HashMap<String, usize>>,
    max_in_flight: Mutex<HashMap<String, usize>>,
    delay: Mutex<Duration>,
}

pub struct Fake<W> {
    /// The base URL an admin would give FlowPilot.
    pub url: String,
    core: Arc<Core<W>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl<W: Send + 'static> Fake<W> {
    pub async fn start(world: W, handler: Handler<W>, api_root: &'static str) -> Fake<W> {
        let core = Arc::new(Core {
            world: Mutex::new(world),
            handler,
            api_root,
            log: Mutex::default(),
            planned: Mutex::default(),
            in_flight: Mutex::default(),
            max_in_flight: Mutex::default(),
            delay: Mutex::new(Duration::ZERO),
        });
        let app = Router::new().fallback(handle::<W>).with_state(core.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Fake { url, core }
    }

    /// The next `times` requests whose path contains `path_contains` fail with `failure`.
    pub fn fail(&self, path_contains: &str, failure: Failure, times: usize) {
        lock(&self.core.planned).push(Planned {
            path_contains: path_contains.to_string(),
            method: None,
            failure,
            times,
        });
    }

    /// The next `times` requests `method path` (the path below the API root, exactly) fail
    /// with `failure`.
    pub fn fail_request(&self, method: Method, path: &str, failure: Failure, times: usize) {
        lock(&self.core.planned).push(Planned {
            path_contains: path.to_string(),
            method: Some(method),
            failure,
            times,
        });
    }

    /// Every request waits this long before it is answered (to see concurrency).
    pub fn delay(&self, delay: Duration) {
        *lock(&self.core.delay) = delay;
    }

    pub fn world(&self) -> MutexGuard<'_, W> {
        lock(&self.core.world)
    }

    pub fn requests(&self) -> Vec<Seen> {
        lock(&self.core.log).clone()
    }

    /// The requests with this method whose path (below the API root) is exactly `path`.
    pub fn requests_to(&self, method: Method, path: &str) -> Vec<Seen> {
        self.requests()
            .into_iter()
            .filter(|s| s.method == method && s.path == path)
            .collect()
    }

    /// The most requests that were in flight at once for `endpoint` (the first path segment
    /// below the API root, as Autotask counts them).
    pub fn max_concurrent(&self, endpoint: &str) -> usize {
        lock(&self.core.max_in_flight)
            .get(&endpoint.to_ascii_lowercase())
            .copied()
            .unwrap_or(0)
    }
}

/// Counts a request in flight until it is answered or dropped (a client that timed out).
struct InFlight<W> {
    core: Arc<Core<W>>,
    endpoint: String,
}

impl<W> Drop for InFlight<W> {
    fn drop(&mut self) {
        if let Some(n) = lock(&self.core.in_flight).get_mut(&self.endpoint) {
            *n -= 1;
        }
    }
}

async fn handle<W: Send + 'static>(
    State(core): State<Arc<Core<W>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw = String::from_utf8_lossy(&body).to_string();
    let full_path = uri.path().to_string();
    let path = full_path
        .strip_prefix(core.api_root)
        .map(str::to_string)
        .unwrap_or_else(|| full_path.clone());
    let seen = Seen {
        method,
        path: path.clone(),
        query: parse_pairs(uri.query().unwrap_or("")),
        headers,
        body: serde_json::from_str(&raw).unwrap_or(Value::Null),
        raw,
    };
    lock(&core.log).push(seen.clone());

    let endpoint = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    {
        let mut in_flight = lock(&core.in_flight);
        let n = in_flight.entry(endpoint.clone()).or_insert(0);
        *n += 1;
        let mut max = lock(&core.max_in_flight);
        let m = max.entry(endpoint.clone()).or_insert(0);
        *m = (*m).max(*n);
    }
    let _in_flight = InFlight {
        core: core.clone(),
        endpoint,
    };
    let delay = *lock(&core.delay);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let planned = {
        let mut planned = lock(&core.planned);
        let at = planned
            .iter()
            .position(|p| p.matches(&seen.method, &path, &full_path));
        at.map(|at| {
            planned[at].times -= 1;
            planned[at].failure
        })
    };
    match planned {
        Some(Failure::Hang) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Some(Failure::RateLimited { retry_after }) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("Retry-After", retry_after.to_string())],
            axum::Json(serde_json::json!({"errors": ["Too many requests"]})),
        )
            .into_response(),
        Some(Failure::Status(status)) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            axum::Json(serde_json::json!({
                "message": format!("the fake was told to answer {status}"),
                "errors": [format!("planned failure {status}")]
            })),
        )
            .into_response(),
        Some(Failure::LoseAnswer) => {
            {
                let mut world = lock(&core.world);
                (core.handler)(&mut world, &seen);
            }
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        None => {
            let reply = {
                let mut world = lock(&core.world);
                (core.handler)(&mut world, &seen)
            };
            if reply.body.is_null() {
                reply.status.into_response()
            } else {
                (reply.status, axum::Json(reply.body)).into_response()
            }
        }
    }
}

/// `a=b&c=d` with `+` and `%XX` decoded.
pub fn parse_pairs(text: &str) -> HashMap<String, String> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

/// The number in a path segment (`/Tickets/42/Notes`, 1 → 42).
pub fn segment_number(path: &str, index: usize) -> Option<u64> {
    path.trim_start_matches('/')
        .split('/')
        .nth(index)?
        .parse()
        .ok()
}

pub fn segments(path: &str) -> Vec<&str> {
    path.trim_start_matches('/').split('/').collect()
}

/// What the write-back posts on resolve: the documentation markdown, as the outbox would.
pub const DOC: &str = "# Outlook keeps asking for a password\n\n**Status:** resolved  \n**Engineer:** Ann Tech\n\n## Resolution\n\n1. Cleared the cached credentials in `Credential Manager`\n2. Re-created the **Outlook** profile\n\n```\nGet-MailboxStatistics jane\n```\n";

pub fn note(visibility: domain::psa::NoteVisibility, marker: &str) -> domain::psa::Note {
    domain::psa::Note {
        text: DOC.to_string(),
        visibility,
        resolution: true,
        marker: marker.to_string(),
    }
}

pub fn time_entry(member_id: &str, marker: &str) -> domain::psa::TimeEntry {
    let start = chrono::DateTime::parse_from_rfc3339("2026-12-01T09:15:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    domain::psa::TimeEntry {
        member_id: member_id.to_string(),
        start,
        end: start + chrono::Duration::minutes(45),
        notes: "FlowPilot session: Outlook keeps asking for a password (resolved)".to_string(),
        marker: marker.to_string(),
        on_note: None,
    }
}

/// The outbox's path through an uncertain failure: the post lands but its answer is lost, so
/// the error says the write may have landed; looking for the marker finds the note, and
/// nothing is posted twice. Returns how many notes the ticket gained.
pub async fn lost_answer_is_found_not_reposted<W: Send + 'static>(
    fake: &Fake<W>,
    client: &dyn domain::psa::PsaClient,
    ticket: &str,
    notes_path: &str,
    count_notes: fn(&W) -> usize,
) -> usize {
    let before = count_notes(&fake.world());
    let note = note(
        domain::psa::NoteVisibility::Internal,
        "psa_note:5f0c:resolved",
    );
    fake.fail(notes_path, Failure::LoseAnswer, 1);
    let err = client.post_note(ticket, &note).await.unwrap_err();
    assert!(err.is_retryable() && err.write_may_have_landed(), "{err:?}");
    let found = client
        .find_note(ticket, &note.marker)
        .await
        .unwrap()
        .expect("the note that landed is found by its marker");
    assert!(!found.0.is_empty());
    count_notes(&fake.world()) - before
}

/// A connector whose calls give up quickly, so a hanging fake is a short test.
pub fn connector() -> flowpilot_integrations::PsaConnector {
    flowpilot_integrations::PsaConnector::new(Duration::from_millis(700))
}

/// An address nothing listens on.
pub async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}
