//! The LLM pilot: each step comes from an LLM provider, grounded in the matched flow.
//!
//! - `prompt`: what the model is told (system prompts and the user message).
//! - `context`: the intake and the session so far, bounded so prompts stop growing.
//! - `flow_render`: the matched flow as a compact outline.
//! - `calls`: ledger rows and engineer-facing errors from a call's outcome.
//! - `text`: character-safe trimming.

mod calls;
mod context;
mod flow_render;
mod prompt;
mod text;

use std::sync::Arc;

use async_trait::async_trait;
use domain::llm::{LlmProvider, LlmRequest};

use crate::pilot::{
    Pilot, PilotError, PilotInput, PilotStep, SessionRecap, Usage, WrittenDocumentation,
    WrittenEscalation,
};
use calls::{step_error, usage_rows};

/// Output budget of one call: a step with options, context and reasoning fits comfortably.
pub const DEFAULT_MAX_OUTPUT_TOKENS: u32 = 2_000;

const STEP_PURPOSE: &str = "step";
const DOCUMENTATION_PURPOSE: &str = "documentation";
const ESCALATION_PURPOSE: &str = "escalation";

/// A [`Pilot`] that asks an LLM provider for every step.
pub struct LlmPilot {
    provider: Arc<dyn LlmProvider>,
    redact: bool,
    max_output_tokens: u32,
}

impl LlmPilot {
    /// `redact`: replace secrets by placeholders before any text reaches the provider.
    pub fn new(provider: Arc<dyn LlmProvider>, redact: bool) -> Self {
        Self {
            provider,
            redact,
            max_output_tokens: DEFAULT_MAX_OUTPUT_TOKENS,
        }
    }

    /// Overrides the output token budget of every call.
    pub fn with_max_output_tokens(mut self, max_output_tokens: u32) -> Self {
        self.max_output_tokens = max_output_tokens;
        self
    }

    /// The request as it may leave the network. The repair request is built from this one
    /// (plus the model's own reply), so it is covered too.
    fn outgoing(&self, request: LlmRequest) -> LlmRequest {
        if self.redact {
            llm::Redactor::shared().redact_request(&request)
        } else {
            request
        }
    }

    /// One structured exchange that must not fail the caller: `None` on any failure, with the
    /// usage of whatever calls were answered.
    async fn optional_call<T>(
        &self,
        request: LlmRequest,
        purpose: &str,
        parse: impl Fn(&str) -> Result<T, Vec<String>>,
    ) -> (Option<T>, Vec<Usage>) {
        let request = self.outgoing(request);
        let provider = self.provider.as_ref();
        match llm::call_structured(provider, &request, parse).await {
            Ok((value, replies)) => (Some(value), usage_rows(provider, &replies, purpose, true)),
            Err(error) => {
                // The caller falls back to deterministic text; the log says why.
                tracing::warn!(provider = provider.name(), purpose, %error, "LLM call failed; using deterministic text");
                (None, usage_rows(provider, error.usage(), purpose, false))
            }
        }
    }
}

#[async_trait]
impl Pilot for LlmPilot {
    fn engine(&self) -> String {
        format!("{}:{}", self.provider.name(), self.provider.model())
    }

    fn uses_ai(&self) -> bool {
        true
    }

    async fn next_step(&self, input: PilotInput<'_>) -> Result<PilotStep, PilotError> {
        let first_step = input.history.is_empty();
        let request = self.outgoing(prompt::step_request(&input, self.max_output_tokens));
        let provider = self.provider.as_ref();
        match llm::call_structured(provider, &request, |text| llm::parse_step(text, first_step))
            .await
        {
            Ok((output, replies)) => Ok(PilotStep {
                output,
                // The model sees the whole (bounded) session each time; it keeps no state.
                state: serde_json::Value::Null,
                rematched: None,
                usage: usage_rows(provider, &replies, STEP_PURPOSE, true),
            }),
            Err(error) => Err(step_error(provider, error, STEP_PURPOSE)),
        }
    }

    async fn write_documentation(
        &self,
        recap: &SessionRecap<'_>,
    ) -> (Option<WrittenDocumentation>, Vec<Usage>) {
        let request = prompt::documentation_request(recap, self.max_output_tokens);
        let (reply, usage) = self
            .optional_call(request, DOCUMENTATION_PURPOSE, llm::parse_documentation)
            .await;
        let written = reply.map(|r| WrittenDocumentation {
            title: r.title,
            root_cause: r.root_cause,
            resolution_summary: r.resolution_summary,
            follow_up_recommendations: r.follow_up_recommendations,
        });
        (written, usage)
    }

    async fn write_escalation(
        &self,
        recap: &SessionRecap<'_>,
    ) -> (Option<WrittenEscalation>, Vec<Usage>) {
        let request = prompt::escalation_request(recap, self.max_output_tokens);
        let (reply, usage) = self
            .optional_call(request, ESCALATION_PURPOSE, llm::parse_escalation)
            .await;
        let written = reply.map(|r| WrittenEscalation {
            summary: r.summary,
            hypotheses: r
                .hypotheses
                .into_iter()
                .map(|h| (h.cause, h.likelihood.as_str().to_string()))
                .collect(),
            suggested_next_steps: r.suggested_next_steps,
        });
        (written, usage)
    }
}
