//! The first request of a probe: the provider's model endpoint, which tells at once whether
//! the server answers, whether it takes the key, and whether it serves the model. OpenAI
//! compatible servers list theirs at `GET /models`, Ollama at `GET /api/tags`; Anthropic
//! (`GET /v1/models/{model}`, which resolves aliases) and Gemini (`GET /v1beta/models/{model}`)
//! look one up.

use std::time::Instant;

use domain::llm::LlmError;
use reqwest::header::AUTHORIZATION;
use serde_json::Value;

use super::Reach;
use crate::config::{ProviderConfig, ProviderKind};
use crate::http;

/// How many served models a report names when the configured one is not among them.
const MAX_LISTED: usize = 12;

/// The `anthropic-version` the Messages adapter sends too.
const ANTHROPIC_VERSION: &str = "2023-06-01";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelCheck {
    /// Served, under this name (a dated snapshot, `models/…`, `…:latest`).
    Present { served_as: String },
    /// Not served; `available` names some that are (empty where the provider only looks up).
    Missing { available: Vec<String> },
    /// The server has no model endpoint, or its answer could not be read: the structured
    /// call will tell.
    Unknown { reason: String },
}

pub(super) async fn check(
    kind: ProviderKind,
    config: &ProviderConfig,
) -> (Reach, Option<ModelCheck>) {
    let client = match http::build_client(config.timeout) {
        Ok(client) => client,
        Err(err) => return (Reach::Unreachable(err), None),
    };
    let model = config.model.trim_start_matches("models/");
    let path = match kind {
        ProviderKind::OpenAi => "models".to_string(),
        ProviderKind::Ollama => "api/tags".to_string(),
        ProviderKind::Anthropic => format!("v1/models/{model}"),
        ProviderKind::Gemini => format!("v1beta/models/{model}"),
    };
    let request = match authorized(
        kind,
        config,
        client.get(http::join_url(&config.base_url, &path)),
    ) {
        Ok(request) => request,
        Err(err) => return (Reach::Unreachable(err), None),
    };
    let started = Instant::now();
    let answer = http::send_json(request, config.timeout)
        .await
        .map_err(|e| scrub(e, config.key()));
    let latency = started.elapsed();
    match answer {
        Ok(body) => (
            Reach::Reached { latency },
            Some(read_answer(kind, &config.model, &body)),
        ),
        Err(err) => match rejected_key(kind, &err) {
            Some((status, message)) => (Reach::KeyRejected { status, message }, None),
            None => match err {
                LlmError::Upstream { status, message } => (
                    Reach::Reached { latency },
                    Some(unanswered(kind, status, message)),
                ),
                LlmError::InvalidResponse(reason) => (
                    Reach::Reached { latency },
                    Some(ModelCheck::Unknown { reason }),
                ),
                other => (Reach::Unreachable(other), None),
            },
        },
    }
}

/// The credentials each provider's adapter sends, on a request of the probe's own.
fn authorized(
    kind: ProviderKind,
    config: &ProviderConfig,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::RequestBuilder, LlmError> {
    let Some(key) = config.key() else {
        return Ok(match kind {
            ProviderKind::Anthropic => request.header("anthropic-version", ANTHROPIC_VERSION),
            _ => request,
        });
    };
    Ok(match kind {
        ProviderKind::OpenAi | ProviderKind::Ollama => request.header(
            AUTHORIZATION,
            http::secret_header(&format!("Bearer {key}"))?,
        ),
        ProviderKind::Anthropic => request
            .header("anthropic-version", ANTHROPIC_VERSION)
            .header("x-api-key", http::secret_header(key)?),
        ProviderKind::Gemini => request.header("x-goog-api-key", http::secret_header(key)?),
    })
}

/// A provider's error with the key taken out: some quote it back, masked or not, in a 401.
pub(super) fn scrub(err: LlmError, key: Option<&str>) -> LlmError {
    let clean = |text: String| {
        let text = match key {
            Some(key) if key.len() >= 4 => text.replace(key, "[key]"),
            _ => text,
        };
        text.split(' ')
            .map(|word| {
                if word.starts_with("sk-") || word.contains("***") {
                    "[key]"
                } else {
                    word
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    match err {
        LlmError::Upstream { status, message } => LlmError::Upstream {
            status,
            message: clean(message),
        },
        LlmError::Transport(text) => LlmError::Transport(clean(text)),
        LlmError::InvalidResponse(text) => LlmError::InvalidResponse(clean(text)),
        other => other,
    }
}

/// 401 and 403 everywhere; Gemini answers an unknown key with 400 `API_KEY_INVALID`.
pub(super) fn rejected_key(kind: ProviderKind, err: &LlmError) -> Option<(u16, String)> {
    match err {
        LlmError::Upstream { status, message }
            if *status == 401
                || *status == 403
                || (kind == ProviderKind::Gemini
                    && *status == 400
                    && message.to_ascii_lowercase().contains("api key")) =>
        {
            Some((*status, message.clone()))
        }
        _ => None,
    }
}

/// A non-2xx answer that is not about the key: for a lookup, 404 is the model missing; for
/// a list, the server simply has none to offer.
fn unanswered(kind: ProviderKind, status: u16, message: String) -> ModelCheck {
    match (kind, status) {
        (ProviderKind::Anthropic | ProviderKind::Gemini, 404) => ModelCheck::Missing {
            available: Vec::new(),
        },
        _ => ModelCheck::Unknown {
            reason: format!("the model endpoint answered HTTP {status}: {message}"),
        },
    }
}

fn read_answer(kind: ProviderKind, model: &str, body: &Value) -> ModelCheck {
    match kind {
        ProviderKind::OpenAi => listed(model, names(body, "/data", &["id"]), |served, wanted| {
            served == wanted
        }),
        ProviderKind::Ollama => listed(
            model,
            names(body, "/models", &["name", "model"]),
            ollama_same_model,
        ),
        ProviderKind::Anthropic => looked_up(body, "id", model),
        ProviderKind::Gemini => looked_up(body, "name", model),
    }
}

fn names(body: &Value, pointer: &str, fields: &[&str]) -> Option<Vec<String>> {
    let entries = body.pointer(pointer)?.as_array()?;
    Some(
        entries
            .iter()
            .filter_map(|e| {
                fields
                    .iter()
                    .find_map(|f| e.get(*f).and_then(Value::as_str))
            })
            .map(str::to_string)
            .collect(),
    )
}

fn listed(model: &str, served: Option<Vec<String>>, same: fn(&str, &str) -> bool) -> ModelCheck {
    let Some(served) = served else {
        return ModelCheck::Unknown {
            reason: "the model list is not in the expected shape".into(),
        };
    };
    match served.iter().find(|s| same(s, model)) {
        Some(found) => ModelCheck::Present {
            served_as: found.clone(),
        },
        None => ModelCheck::Missing {
            available: served.into_iter().take(MAX_LISTED).collect(),
        },
    }
}

/// Ollama names a model without a tag `…:latest`.
fn ollama_same_model(served: &str, wanted: &str) -> bool {
    let with_tag = |name: &str| {
        if name.contains(':') {
            name.to_string()
        } else {
            format!("{name}:latest")
        }
    };
    with_tag(served) == with_tag(wanted)
}

fn looked_up(body: &Value, field: &str, model: &str) -> ModelCheck {
    ModelCheck::Present {
        served_as: body
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or(model)
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ollama_names_without_a_tag_are_latest() {
        assert!(ollama_same_model("llama3.2:latest", "llama3.2"));
        assert!(ollama_same_model("llama3.2:3b", "llama3.2:3b"));
        assert!(!ollama_same_model("llama3.2:1b", "llama3.2:3b"));
    }

    #[test]
    fn a_list_without_the_model_names_what_is_served() {
        let body = json!({"object": "list", "data": [{"id": "qwen2.5-7b"}, {"id": "phi-4"}]});
        assert_eq!(
            read_answer(ProviderKind::OpenAi, "gpt-4.1-mini", &body),
            ModelCheck::Missing {
                available: vec!["qwen2.5-7b".into(), "phi-4".into()]
            }
        );
        assert!(matches!(
            read_answer(ProviderKind::OpenAi, "x", &json!({"models": []})),
            ModelCheck::Unknown { .. }
        ));
    }

    #[test]
    fn a_key_quoted_back_is_scrubbed() {
        let err = LlmError::Upstream {
            status: 401,
            message:
                "Incorrect API key provided: sk-proj-****abcd. Or sk-live-123 (key abc-secret-9)"
                    .into(),
        };
        let scrubbed = scrub(err, Some("abc-secret-9")).to_string();
        assert!(
            !scrubbed.contains("abcd") && !scrubbed.contains("sk-live"),
            "{scrubbed}"
        );
        assert!(!scrubbed.contains("abc-secret-9"), "{scrubbed}");
    }

    #[test]
    fn gemini_names_a_bad_key_with_400() {
        let err = LlmError::Upstream {
            status: 400,
            message: "API key not valid. Please pass a valid API key.".into(),
        };
        assert!(rejected_key(ProviderKind::Gemini, &err).is_some());
        assert!(rejected_key(ProviderKind::OpenAi, &err).is_none());
    }
}
