//! The tiny structured call. Its schema allows `status` to be `ready` or `waiting` only,
//! and its instructions ask for `unverified`: a server that enforces the schema cannot
//! comply, a model left to itself does, or answers prose. So one reply tells enforced from
//! merely followed. In `prompt` mode nothing is enforced by design, and the question is only
//! whether the model follows a schema it reads in its instructions, so the instructions agree.

use std::time::Instant;

use domain::llm::{ChatMessage, ChatRole, LlmError, LlmProvider, LlmRequest};
use serde_json::{json, Value};

use super::StructuredCall;
use crate::config::{ProviderConfig, ProviderKind};
use crate::openai::structured_mode::{ProbedMode, StructuredMode};
use crate::{AnthropicProvider, GeminiProvider, OllamaProvider, OpenAiProvider};

pub const PROBE_SCHEMA_NAME: &str = "flowpilot_probe";

const ALLOWED: [&str; 2] = ["ready", "waiting"];
/// What the instructions ask for, outside the schema's enum.
const ASKED_AGAINST_THE_SCHEMA: &str = "unverified";
/// Enough for the object, and for a model that thinks before it answers.
const MAX_OUTPUT_TOKENS: u32 = 256;
/// How much of a reply that broke the schema a report quotes.
const QUOTED_CHARS: usize = 120;

/// What the reply showed.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// The reply kept to the schema although the instructions asked otherwise.
    Enforced,
    /// `prompt` mode: the model kept to the schema it was given in its instructions.
    Followed,
    /// The reply broke the schema: `json` when it was JSON that followed the instructions
    /// instead, otherwise prose; `reply` is its start.
    NotEnforced { json: bool, reply: String },
    /// The call itself failed.
    Failed(LlmError),
}

impl Verdict {
    /// Enforced or followed: this mode works, no other needs trying.
    pub fn settles(&self) -> bool {
        matches!(self, Verdict::Enforced | Verdict::Followed)
    }

    /// Whether another structured mode could fare better: yes when this one was ignored, or
    /// when the server refused this mode's field (400, 422) or its answer was unreadable; no
    /// when the server itself is failing (timeouts, 404 on the chat path, 5xx, the key).
    pub(super) fn worth_another_mode(&self) -> bool {
        match self {
            Verdict::Enforced | Verdict::Followed => false,
            Verdict::NotEnforced { .. } => true,
            Verdict::Failed(LlmError::Upstream { status, .. }) => matches!(status, 400 | 422),
            Verdict::Failed(LlmError::InvalidResponse(_)) => true,
            Verdict::Failed(_) => false,
        }
    }
}

/// One structured call through the provider's own adapter, in `mode` for an OpenAI
/// compatible server, so the probe exercises exactly the requests sessions send.
pub(super) async fn structured(
    kind: ProviderKind,
    config: &ProviderConfig,
    mode: Option<StructuredMode>,
) -> StructuredCall {
    let config = ProviderConfig {
        structured: mode.unwrap_or(config.structured),
        // The probe's calls are sent in the mode asked for, never in one a probe recorded.
        probed: ProbedMode::default(),
        ..config.clone()
    };
    let key = config.key().map(str::to_string);
    let cooperative = mode == Some(StructuredMode::Prompt);
    let started = Instant::now();
    let reply = match provider(kind, config) {
        Ok(provider) => provider.complete(&request(cooperative)).await,
        Err(err) => Err(err),
    };
    let latency = started.elapsed();
    let verdict = match reply {
        Ok(reply) => judge(&reply.text, cooperative),
        Err(err) => Verdict::Failed(super::models::scrub(err, key.as_deref())),
    };
    StructuredCall {
        mode,
        verdict,
        latency,
    }
}

fn provider(kind: ProviderKind, config: ProviderConfig) -> Result<Box<dyn LlmProvider>, LlmError> {
    Ok(match kind {
        ProviderKind::OpenAi => Box::new(OpenAiProvider::new(config)?),
        ProviderKind::Ollama => Box::new(OllamaProvider::new(config)?),
        ProviderKind::Anthropic => Box::new(AnthropicProvider::new(config)?),
        ProviderKind::Gemini => Box::new(GeminiProvider::new(config)?),
    })
}

pub(super) fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {"status": {"type": "string", "enum": ALLOWED}},
        "required": ["status"],
        "additionalProperties": false
    })
}

fn request(cooperative: bool) -> LlmRequest {
    let ask = if cooperative {
        "Report your status as ready.".to_string()
    } else {
        format!(
            "Reply with exactly this JSON object and nothing else: {{\"status\": \"{ASKED_AGAINST_THE_SCHEMA}\"}}"
        )
    };
    LlmRequest {
        system: "You answer a connectivity check of FlowPilot, a troubleshooting assistant.".into(),
        messages: vec![ChatMessage {
            role: ChatRole::User,
            content: ask,
        }],
        schema_name: PROBE_SCHEMA_NAME.into(),
        schema: schema(),
        max_output_tokens: MAX_OUTPUT_TOKENS,
        stable_prefix: Default::default(),
    }
}

fn judge(text: &str, cooperative: bool) -> Verdict {
    match llm::extract_json(text) {
        Ok(object) => {
            let keeps_to_schema = object.len() == 1
                && object
                    .get("status")
                    .and_then(Value::as_str)
                    .is_some_and(|s| ALLOWED.contains(&s));
            match (keeps_to_schema, cooperative) {
                (true, false) => Verdict::Enforced,
                (true, true) => Verdict::Followed,
                (false, _) => Verdict::NotEnforced {
                    json: true,
                    reply: quote(text),
                },
            }
        }
        Err(_) => Verdict::NotEnforced {
            json: false,
            reply: quote(text),
        },
    }
}

fn quote(text: &str) -> String {
    llm::text::truncate(text.trim(), QUOTED_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_reply_the_instructions_could_not_get_counts_as_enforced() {
        assert!(matches!(
            judge(r#"{"status":"ready"}"#, false),
            Verdict::Enforced
        ));
        assert!(matches!(
            judge(r#"{"status":"unverified"}"#, false),
            Verdict::NotEnforced { json: true, .. }
        ));
        assert!(matches!(
            judge("Sure! The status is unverified.", false),
            Verdict::NotEnforced { json: false, .. }
        ));
        assert!(matches!(
            judge("```json\n{\"status\": \"ready\"}\n```", true),
            Verdict::Followed
        ));
        assert!(matches!(
            judge(r#"{"status":"ready","extra":1}"#, true),
            Verdict::NotEnforced { json: true, .. }
        ));
    }

    #[test]
    fn the_conflicting_instruction_asks_for_a_value_the_schema_forbids() {
        let against = request(false);
        assert!(against.messages[0]
            .content
            .contains(ASKED_AGAINST_THE_SCHEMA));
        assert!(!ALLOWED.contains(&ASKED_AGAINST_THE_SCHEMA));
        assert!(!request(true).messages[0]
            .content
            .contains(ASKED_AGAINST_THE_SCHEMA));
    }
}
