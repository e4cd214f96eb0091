//! How an OpenAI-compatible server is asked for structured output (config.md
//! `FLOWPILOT_OPENAI_STRUCTURED`). Each server enforces a schema only through its own field and
//! silently ignores the others, so the mode decides which field carries the schema; a server
//! that enforces none gets the schema in the instructions and relies on validation and repair.

use std::fmt;
use std::sync::{Arc, OnceLock};

use domain::llm::LlmRequest;
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StructuredMode {
    /// Decided by the provider probe; [`AUTO_UNPROBED`] until a probe has run.
    #[default]
    Auto,
    /// `response_format: {type: "json_schema", json_schema: {name, strict: true, schema}}`.
    Strict,
    /// vLLM's own guided decoding: `structured_outputs: {json: schema}`.
    Vllm,
    /// llama.cpp server's grammar from a schema: top-level `json_schema`.
    LlamaCpp,
    /// No structured field: the schema is in the instructions, validation and repair do the rest.
    Prompt,
}

/// What `auto` means while no probe has decided. Strict is what OpenAI itself and most hosted
/// compatible services enforce, and it was the only behaviour before the modes existed, so an
/// unprobed `auto` changes nothing for anyone upgrading.
pub const AUTO_UNPROBED: StructuredMode = StructuredMode::Strict;

impl StructuredMode {
    pub const ALL: [StructuredMode; 5] = [
        Self::Auto,
        Self::Strict,
        Self::Vllm,
        Self::LlamaCpp,
        Self::Prompt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Strict => "strict",
            Self::Vllm => "vllm",
            Self::LlamaCpp => "llamacpp",
            Self::Prompt => "prompt",
        }
    }

    /// Case-insensitive; `llama.cpp` and `llama_cpp` are accepted for `llamacpp`, as people write it.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        let s = match s.as_str() {
            "llama.cpp" | "llama_cpp" | "llama-cpp" => "llamacpp",
            other => other,
        };
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl fmt::Display for StructuredMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The seam through which a probe tells a provider configured `auto` what its server enforces.
/// Cloned into the provider and kept by whoever probes; the first decision holds, because a
/// session's steps should not change mode halfway.
#[derive(Debug, Clone, Default)]
pub struct ProbedMode(Arc<OnceLock<StructuredMode>>);

impl ProbedMode {
    /// Records the probe's finding; `false` when one was recorded already or `mode` is `Auto`
    /// (a probe that could not decide leaves the default in place).
    pub fn set(&self, mode: StructuredMode) -> bool {
        mode != StructuredMode::Auto && self.0.set(mode).is_ok()
    }

    pub fn get(&self) -> Option<StructuredMode> {
        self.0.get().copied()
    }
}

/// The mode a request is sent in: the configured one, or for `auto` the probe's, else the default.
pub fn effective(configured: StructuredMode, probed: &ProbedMode) -> StructuredMode {
    match configured {
        StructuredMode::Auto => probed.get().unwrap_or(AUTO_UNPROBED),
        fixed => fixed,
    }
}

/// Adds the structured-output field of `mode` to a chat completions body.
pub(crate) fn add_schema_field(
    mode: StructuredMode,
    body: &mut Map<String, Value>,
    request: &LlmRequest,
) {
    let schema = request.schema.clone();
    match mode {
        StructuredMode::Strict | StructuredMode::Auto => {
            body.insert(
                "response_format".into(),
                json!({
                    "type": "json_schema",
                    "json_schema": {"name": request.schema_name, "strict": true, "schema": schema}
                }),
            );
        }
        StructuredMode::Vllm => {
            body.insert("structured_outputs".into(), json!({ "json": schema }));
        }
        StructuredMode::LlamaCpp => {
            body.insert("json_schema".into(), schema);
        }
        StructuredMode::Prompt => {}
    }
}

/// The system prompt as sent: in `prompt` mode nothing else tells the model the shape, so the
/// schema goes into the instructions (compact, it is read by a model, not a person).
pub(crate) fn system_text(mode: StructuredMode, request: &LlmRequest) -> String {
    match mode {
        StructuredMode::Prompt => format!(
            "{}\n\nReply with exactly one JSON object that validates against this JSON Schema \
             (named {}), and nothing else:\n{}",
            request.system, request.schema_name, request.schema
        ),
        _ => request.system.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_llama_cpp_spellings_are_accepted() {
        for mode in StructuredMode::ALL {
            assert_eq!(
                StructuredMode::parse(&mode.as_str().to_uppercase()),
                Some(mode)
            );
        }
        assert_eq!(
            StructuredMode::parse("llama.cpp"),
            Some(StructuredMode::LlamaCpp)
        );
        assert_eq!(StructuredMode::parse("guided"), None);
    }

    #[test]
    fn auto_is_strict_until_a_probe_decides_and_the_first_decision_holds() {
        let probed = ProbedMode::default();
        assert_eq!(
            effective(StructuredMode::Auto, &probed),
            StructuredMode::Strict
        );
        assert!(!probed.set(StructuredMode::Auto));
        assert!(probed.set(StructuredMode::Vllm));
        assert!(!probed.set(StructuredMode::Prompt));
        assert_eq!(
            effective(StructuredMode::Auto, &probed),
            StructuredMode::Vllm
        );
        // A configured mode is never overridden by the probe.
        assert_eq!(
            effective(StructuredMode::LlamaCpp, &probed),
            StructuredMode::LlamaCpp
        );
    }
}
