//! Fakes of the local model servers FlowPilot is pointed at, each enforcing a schema only
//! through its own request field, the way the real ones do: Ollama's native `/api/chat`
//! (`format`), vLLM (`structured_outputs.json`), llama.cpp's server (top-level `json_schema`),
//! and a server that enforces nothing. Without its field a fake answers like an unconstrained
//! small model: prose, or, when the instructions carry the schema, fenced JSON. On top, a
//! fake can misbehave the way real ones do for its first replies: answer prose anyway, echo
//! the schema back, or invent an option the schema does not allow.
//!
//! Each also lists the models it serves (`GET /v1/models`, Ollama's `GET /api/tags`) and can
//! demand a key, as the provider probe expects of real servers. A schema that is not a step's
//! (the probe's) is answered with the simplest object it allows.
//!
//! Shared with the server's end-to-end stories (included there with `#[path]`), so it uses
//! only axum, serde_json and tokio.
#![allow(dead_code)] // each test binary uses its own part

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

/// Which server the fake plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    OllamaNative,
    Vllm,
    LlamaCpp,
    /// An OpenAI-compatible server that constrains nothing (old builds, proxies, LM Studio
    /// with structured output off).
    SchemaIgnoring,
}

/// How the fake's first replies go wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Prose whatever was asked.
    Prose,
    /// The schema itself, as if it were the answer.
    EchoSchema,
    /// A step naming a flow question, with an option that question does not have.
    InventOption,
}

/// What a fake serves unless told otherwise: the models the tests configure.
pub const SERVED_MODELS: [&str; 2] = ["qwen2.5-7b-instruct", "llama3.2:3b"];

pub const INVENTED_OPTION: &str = "reinstall_office";
pub const PROSE: &str = "Sure! First, check whether the user can sign in to OWA. If that works, \
                         the problem is the Outlook profile; otherwise look at the account.";

/// Token counts the fakes report, distinct per dialect so a test sees they were read.
pub fn usage(dialect: Dialect) -> (i64, i64) {
    match dialect {
        Dialect::OllamaNative => (61, 17),
        Dialect::Vllm => (212, 48),
        Dialect::LlamaCpp => (190, 44),
        Dialect::SchemaIgnoring => (150, 60),
    }
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub body: Value,
}

impl Seen {
    /// The schema this request gave the fake's own structured-output field, if any.
    pub fn own_schema(&self, dialect: Dialect) -> Option<&Value> {
        let field = match dialect {
            Dialect::OllamaNative => self.body.get("format"),
            Dialect::Vllm => self.body.pointer("/structured_outputs/json"),
            Dialect::LlamaCpp => self.body.get("json_schema"),
            Dialect::SchemaIgnoring => None,
        };
        field.filter(|s| s.is_object())
    }

    /// The system text the model read.
    pub fn system(&self) -> &str {
        self.body
            .pointer("/messages/0/content")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The schema as it reached the model: through the server's field or the instructions.
    pub fn schema(&self, dialect: Dialect) -> Option<Value> {
        self.own_schema(dialect).cloned().or_else(|| {
            let system = self.system();
            let start = system.find("JSON Schema")?;
            let brace = start + system[start..].find('{')?;
            serde_json::Deserializer::from_str(&system[brace..])
                .into_iter::<Value>()
                .next()?
                .ok()
        })
    }
}

#[derive(Clone)]
struct Shared {
    dialect: Dialect,
    /// How each coming request is answered, in order: `None` obeys; once empty, all obey.
    script: Arc<Mutex<VecDeque<Option<Misbehaviour>>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    models: Vec<String>,
    /// Answers 401 to a request without `Authorization: Bearer <key>`.
    key: Option<String>,
}

pub struct LocalServer {
    pub dialect: Dialect,
    pub base_url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl LocalServer {
    /// A fake that does what its own field asks.
    pub async fn start(dialect: Dialect) -> Self {
        Self::scripted(dialect, Vec::new()).await
    }

    /// A fake whose first `times` replies go wrong in the way `misbehaviour` says.
    pub async fn misbehaving(dialect: Dialect, misbehaviour: Misbehaviour, times: usize) -> Self {
        Self::scripted(dialect, vec![Some(misbehaviour); times]).await
    }

    /// A fake answering its requests as `script` says, in order, then obediently.
    pub async fn scripted(dialect: Dialect, script: Vec<Option<Misbehaviour>>) -> Self {
        Self::launch(dialect, script, &SERVED_MODELS, None).await
    }

    /// An obedient fake that serves only `models`.
    pub async fn serving(dialect: Dialect, models: &[&str]) -> Self {
        Self::launch(dialect, Vec::new(), models, None).await
    }

    /// An obedient fake that answers 401 unless the request carries `key` as its bearer.
    pub async fn requiring_key(dialect: Dialect, key: &str) -> Self {
        Self::launch(dialect, Vec::new(), &SERVED_MODELS, Some(key.to_string())).await
    }

    async fn launch(
        dialect: Dialect,
        script: Vec<Option<Misbehaviour>>,
        models: &[&str],
        key: Option<String>,
    ) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            dialect,
            script: Arc::new(Mutex::new(script.into())),
            seen: seen.clone(),
            models: models.iter().map(|m| m.to_string()).collect(),
            key,
        };
        let app = Router::new().fallback(answer).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake model server");
        let addr = listener.local_addr().expect("fake server address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            dialect,
            base_url: format!("http://{addr}"),
            seen,
        }
    }

    /// The address an operator configures: Ollama's root, or an OpenAI-compatible `/v1`.
    pub fn configured_url(&self) -> String {
        match self.dialect {
            Dialect::OllamaNative => self.base_url.clone(),
            _ => format!("{}/v1", self.base_url),
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen lock").clone()
    }
}

async fn answer(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let seen = Seen {
        path: uri.path().to_string(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    shared.seen.lock().expect("seen lock").push(seen.clone());
    if let Some(key) = &shared.key {
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if bearer != Some(key.as_str()) {
            let error = json!({"error": {"message": "Incorrect API key provided: sk-wr****ng.",
                                         "type": "invalid_request_error", "code": "invalid_api_key"}});
            return (StatusCode::UNAUTHORIZED, axum::Json(error)).into_response();
        }
    }
    if method == Method::GET {
        return model_list(&shared, &seen.path);
    }
    let expected_path = match shared.dialect {
        Dialect::OllamaNative => "/api/chat",
        _ => "/v1/chat/completions",
    };
    if seen.path != expected_path {
        let error = match shared.dialect {
            Dialect::OllamaNative => json!({"error": "404 page not found"}),
            _ => json!({"error": {"message": format!("no route {}", seen.path)}}),
        };
        return (StatusCode::NOT_FOUND, axum::Json(error)).into_response();
    }
    let misbehaviour = shared
        .script
        .lock()
        .expect("script lock")
        .pop_front()
        .flatten();
    let text = reply_text(shared.dialect, &seen, misbehaviour);
    axum::Json(wrap(shared.dialect, &seen, &text)).into_response()
}

/// `GET /v1/models` of an OpenAI-compatible server, `GET /api/tags` of Ollama.
fn model_list(shared: &Shared, path: &str) -> Response {
    match (shared.dialect, path) {
        (Dialect::OllamaNative, "/api/tags") => axum::Json(json!({
            "models": shared.models.iter().map(|m| json!({
                "name": m, "model": m, "modified_at": "2025-06-01T10:00:00Z", "size": 2019393189u64,
                "details": {"format": "gguf", "family": "llama", "parameter_size": "3.2B"}
            })).collect::<Vec<_>>()
        }))
        .into_response(),
        (Dialect::OllamaNative, _) => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": "404 page not found"})),
        )
            .into_response(),
        (_, "/v1/models") => axum::Json(json!({
            "object": "list",
            "data": shared.models.iter().map(|m| json!({
                "id": m, "object": "model", "created": 1717200000, "owned_by": "local"
            })).collect::<Vec<_>>()
        }))
        .into_response(),
        _ => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": {"message": format!("no route {path}")}})),
        )
            .into_response(),
    }
}

fn reply_text(dialect: Dialect, seen: &Seen, misbehaviour: Option<Misbehaviour>) -> String {
    let schema = seen.schema(dialect);
    match (misbehaviour, schema) {
        (Some(Misbehaviour::Prose), _) | (None, None) => PROSE.to_string(),
        (Some(Misbehaviour::EchoSchema), schema) => schema
            .unwrap_or_else(|| json!({"type": "object"}))
            .to_string(),
        (Some(Misbehaviour::InventOption), Some(schema)) => {
            let mut step = conforming_step(&schema, seen);
            step["options"][1]["value"] = json!(INVENTED_OPTION);
            step["options"][1]["label"] = json!("Reinstall Office");
            step.to_string()
        }
        (Some(Misbehaviour::InventOption), None) => PROSE.to_string(),
        (None, Some(schema)) => {
            let step = conforming_step(&schema, seen).to_string();
            if seen.own_schema(dialect).is_some() {
                step
            } else {
                // Following instructions, not a grammar: small models fence their JSON.
                format!("Here is the step:\n```json\n{step}\n```")
            }
        }
    }
}

/// A step the schema allows: its enums' first choices where it narrows; where it offers the
/// flow's questions but pins none, the flow's first question as the prompt lists it (a model
/// following the flow); otherwise a plausible question of its own.
pub fn conforming_step(schema: &Value, seen: &Seen) -> Value {
    if schema.pointer("/properties/options").is_none() {
        return simplest_instance(schema);
    }
    let props = &schema["properties"];
    let first = |pointer: &str| {
        props
            .pointer(pointer)
            .and_then(Value::as_array)
            .and_then(|values| values.iter().find(|v| !v.is_null()).cloned())
    };
    let step_type = first("/type/enum").unwrap_or_else(|| json!("question"));
    let pinned = props
        .pointer("/flow_node/enum")
        .and_then(Value::as_array)
        .filter(|e| e.len() == 1)
        .and_then(|e| e.first().cloned());
    let from_prompt = match (&pinned, props.get("flow_node")) {
        (None, Some(_)) => start_question(seen),
        _ => None,
    };
    let values: Vec<Value> = match (
        &from_prompt,
        props.pointer("/options/items/properties/value/enum"),
    ) {
        (_, Some(Value::Array(values))) => values.clone(),
        (Some((_, values)), None) => values.iter().map(|v| json!(v)).collect(),
        _ => vec![json!("desktop"), json!("both")],
    };
    let options: Vec<Value> = values
        .iter()
        .map(|v| json!({"label": v.as_str().unwrap_or("option").replace('_', " "), "value": v, "followup_hint": null}))
        .collect();
    let mut step = json!({
        "type": step_type,
        "content": "Does it happen in Outlook desktop, OWA, or both?",
        "context_message": "Separates a client problem from an account problem.",
        "reasoning": null,
        "options": options,
        "allow_free_text": true,
        "allow_skip": false,
        "action_type": null,
        "expected_outcome": null,
        "resolution_summary": null,
        "follow_up_recommendations": [],
        "confidence": 0.35,
        "problem_summary": "Outlook repeatedly prompts for credentials",
        "problem_domain": "email"
    });
    if props.get("flow_node").is_some() {
        step["flow_node"] = pinned
            .or_else(|| from_prompt.map(|(id, _)| json!(id)))
            .unwrap_or(Value::Null);
    }
    step
}

/// What a schema-bound model answers to a schema that is not a step's: each enum's first
/// value, and the plainest value of each type.
pub fn simplest_instance(schema: &Value) -> Value {
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    let ty = match schema.get("type") {
        Some(Value::Array(types)) => types.iter().find(|t| *t != "null").cloned(),
        other => other.cloned(),
    };
    match ty.as_ref().and_then(Value::as_str) {
        Some("object") => {
            let props = schema.get("properties").and_then(Value::as_object);
            Value::Object(
                props
                    .into_iter()
                    .flatten()
                    .map(|(name, sub)| (name.clone(), simplest_instance(sub)))
                    .collect(),
            )
        }
        Some("array") => json!([]),
        Some("string") => json!("ok"),
        Some("integer" | "number") => json!(0),
        Some("boolean") => json!(false),
        _ => Value::Null,
    }
}

/// The flow's start node and its option values, read from the flow outline in the prompt
/// (`Starts at q1. Nodes:` then `  q1 [question] … → options: Label [value]→next; …`), when
/// the start is a question.
fn start_question(seen: &Seen) -> Option<(String, Vec<String>)> {
    let messages = seen.body.get("messages")?.as_array()?;
    let prompt = messages
        .iter()
        .filter(|m| m["role"] == "user")
        .find_map(|m| m["content"].as_str())?;
    let after = &prompt[prompt.find("Starts at ")? + "Starts at ".len()..];
    let start = after[..after.find('.')?].to_string();
    let line = prompt
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{start} [question]")))?;
    let options = &line[line.find("→ options: ")? + "→ options: ".len()..];
    let values = options
        .split("; ")
        .filter_map(|o| {
            let open = o.rfind('[')?;
            let close = open + o[open..].find(']')?;
            Some(o[open + 1..close].to_string())
        })
        .collect::<Vec<_>>();
    (!values.is_empty()).then_some((start, values))
}

fn wrap(dialect: Dialect, seen: &Seen, text: &str) -> Value {
    let (input, output) = usage(dialect);
    let model = seen.body.get("model").cloned().unwrap_or(Value::Null);
    match dialect {
        Dialect::OllamaNative => json!({
            "model": model, "created_at": "2025-06-01T10:00:00Z",
            "message": {"role": "assistant", "content": text},
            "done": true, "done_reason": "stop",
            "total_duration": 1_200_000_000u64, "prompt_eval_count": input, "eval_count": output
        }),
        _ => json!({
            "id": "chatcmpl-local", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": input, "completion_tokens": output,
                      "total_tokens": input + output}
        }),
    }
}
