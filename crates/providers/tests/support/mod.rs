//! Fake provider servers for the integration tests: a local HTTP server that answers each
//! request with the next scripted reply and records what it received, so a test can check the
//! request shape a provider sent as well as how the provider read the answer.
#![allow(dead_code)] // each test binary uses its own part of the support code

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use flowpilot_providers::ProviderConfig;
use serde_json::Value;

pub use llm::{step_schema, STEP_SCHEMA_NAME};

pub mod local_servers;

#[path = "../../../llm/tests/support/step.rs"]
mod step;
#[allow(unused_imports)] // each test binary uses its own part of the support code
pub use step::{invalid_step, step_request, valid_step};

/// One request as the fake server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What the fake server answers.
#[derive(Debug, Clone)]
pub struct Scripted {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
    pub delay: Option<Duration>,
}

impl Scripted {
    pub fn json(status: u16, body: Value) -> Self {
        Self::raw(status, &body.to_string())
    }

    pub fn raw(status: u16, body: &str) -> Self {
        Self {
            status,
            body: body.to_string(),
            headers: vec![("content-type", "application/json".to_string())],
            delay: None,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
}

#[derive(Clone)]
struct ServerState {
    script: Arc<Mutex<VecDeque<Scripted>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

pub struct FakeServer {
    pub base_url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl FakeServer {
    /// Starts a server on a random local port answering with `script`, in order; once the
    /// script runs out, the last reply repeats.
    pub async fn start(script: Vec<Scripted>) -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let state = ServerState {
            script: Arc::new(Mutex::new(script.into())),
            received: received.clone(),
        };
        let app = Router::new().fallback(answer).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base_url: format!("http://{addr}"),
            received,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn only_request(&self) -> Received {
        let received = self.received();
        assert_eq!(received.len(), 1, "expected exactly one request");
        received.into_iter().next().unwrap()
    }
}

async fn answer(
    State(state): State<ServerState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.received.lock().unwrap().push(Received {
        path: uri.path().to_string(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let reply = {
        let mut script = state.script.lock().unwrap();
        if script.len() > 1 {
            script.pop_front()
        } else {
            script.front().cloned()
        }
    };
    let Some(reply) = reply else {
        return StatusCode::NOT_IMPLEMENTED.into_response();
    };
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    let mut response = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    for (name, value) in reply.headers {
        response.headers_mut().insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    response
}

pub fn config(base_url: &str, model: &str, api_key: Option<&str>) -> ProviderConfig {
    ProviderConfig {
        api_key: api_key.map(str::to_string),
        base_url: base_url.to_string(),
        model: model.to_string(),
        timeout: Duration::from_secs(5),
        structured: Default::default(),
        probed: Default::default(),
    }
}

/// A base URL where nothing listens: bind a port, then free it.
pub async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}
