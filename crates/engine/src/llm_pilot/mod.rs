//! The LLM pilot: each step comes from an LLM provider, grounded in the matched flow.
//!
//! - `prompt`: what the model is told (system prompts and the user message).
//! - `context`: the intake and the session so far, bounded so prompts stop growing.
//! - `turns`: the session as chat turns that later requests repeat byte for byte.
//! - `fold`: when earlier steps are folded into a summary, and the summary.
//! - `flow_render`: the matched flow as a compact outline.
//! - `flow_position`: which flow question a step asks, and what the next one may choose.
//! - `calls`: ledger rows and engineer-facing errors from a call's outcome.
//! - `reasons`: why a model's step has its confidence.
//! - `text`: character-safe trimming.

mod calls;
mod context;
mod flow_position;
mod flow_render;
mod fold;
mod prompt;
mod reasons;
mod text;
mod turns;

use std::sync::Arc;

use async_trait::async_trait;
use domain::llm::{LlmProvider, LlmRequest, TextSink};

use crate::forming::{Forming, StepTextSink};
use crate::pilot::{
    Pilot, PilotError, PilotInput, PilotStep, Reply, SessionRecap, Usage, WrittenDocumentation,
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
    ///
    /// The user message carries everything engineer- or flow-supplied (intake, log, answers,
    /// the matched flow, summaries, reasons) and is always redacted whole. The system prompt is
    /// skipped only when it is one of our own constants, which a test shows redaction leaves
    /// unchanged; any other system text is redacted like the message.
    fn outgoing(&self, mut request: LlmRequest) -> LlmRequest {
        if self.redact {
            let redactor = llm::Redactor::shared();
            if !prompt::is_own_system_prompt(&request.system) {
                request.system = redactor.redact(&request.system);
            }
            redactor.redact_messages(&mut request);
        }
        request
    }

    async fn step(
        &self,
        input: PilotInput<'_>,
        sink: Option<&dyn StepTextSink>,
    ) -> Result<PilotStep, PilotError> {
        let first_step = input.history.is_empty();
        let matched = input.matched.map(|m| m.score);
        let choices = flow_position::choices(&input);
        let (request, folded) = prompt::step_request(&input, &choices, self.max_output_tokens);
        let request = self.outgoing(request);
        let provider = self.provider.as_ref();
        let parse = |text: &str| llm::parse_step_within(text, first_step, &choices);
        let forming = sink.map(Forming::new);
        let text_sink = forming.as_ref().map(|f| f as &dyn TextSink);
        match llm::call_structured_streaming(provider, &request, parse, text_sink).await {
            Ok((llm::FlowStep { output, flow_node }, replies)) => Ok(PilotStep {
                confidence_reasons: reasons::for_model_step(&output, matched),
                output,
                // The state remembers which flow question was asked, for narrowing the next
                // step,
                // and where the session was folded, so the next request folds there too.
                state: fold::with_folded(flow_position::state(flow_node.as_deref()), folded),
                rematched: None,
                usage: usage_rows(provider, &replies, STEP_PURPOSE, true),
            }),
            Err(error) => Err(step_error(provider, error, STEP_PURPOSE)),
        }
    }

    /// One structured exchange that must not fail the caller: `None` on any failure, with the
    /// usage of whatever calls were answered. `once`: no repair, one call at most.
    async fn optional_call<T>(
        &self,
        request: LlmRequest,
        purpose: &str,
        parse: impl Fn(&str) -> Result<T, Vec<String>>,
        once: bool,
    ) -> (Option<T>, Vec<Usage>) {
        let request = self.outgoing(request);
        let provider = self.provider.as_ref();
        let exchange = if once {
            llm::call_structured_once(provider, &request, parse).await
        } else {
            llm::call_structured(provider, &request, parse).await
        };
        match exchange {
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

    fn recent_steps(&self) -> usize {
        fold::WINDOW.max(context::RECENT_STEPS + context::MAX_SUMMARY_LINES)
    }

    async fn first_step(&self, input: PilotInput<'_>) -> Result<PilotStep, PilotError> {
        self.step(input, None).await
    }

    /// The model reads free text itself, so it never asks for an answer to be made clear.
    async fn next_step(&self, input: PilotInput<'_>) -> Result<Reply, PilotError> {
        self.step(input, None).await.map(Reply::Next)
    }

    async fn first_step_forming(
        &self,
        input: PilotInput<'_>,
        sink: &dyn StepTextSink,
    ) -> Result<PilotStep, PilotError> {
        self.step(input, Some(sink)).await
    }

    async fn next_step_forming(
        &self,
        input: PilotInput<'_>,
        sink: &dyn StepTextSink,
    ) -> Result<Reply, PilotError> {
        self.step(input, Some(sink)).await.map(Reply::Next)
    }

    async fn write_documentation(
        &self,
        recap: &SessionRecap<'_>,
    ) -> (Option<WrittenDocumentation>, Vec<Usage>) {
        let request = prompt::documentation_request(recap, self.max_output_tokens);
        let (reply, usage) = self
            .optional_call(
                request,
                DOCUMENTATION_PURPOSE,
                llm::parse_documentation,
                false,
            )
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
            .optional_call(request, ESCALATION_PURPOSE, llm::parse_escalation, true)
            .await;
        let written = reply.map(|r| WrittenEscalation {
            summary: r.summary,
            hypotheses: r.hypotheses,
            suggested_next_steps: r.suggested_next_steps,
        });
        (written, usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pilot::{History, Intake, SessionRecap};
    use domain::llm::{LlmError, LlmReply};
    use uuid::Uuid;

    struct Unreachable;

    #[async_trait]
    impl LlmProvider for Unreachable {
        fn name(&self) -> &str {
            "fake"
        }
        fn model(&self) -> &str {
            "fake-1"
        }
        async fn complete(&self, _request: &LlmRequest) -> Result<LlmReply, LlmError> {
            Err(LlmError::Timeout(1))
        }
    }

    fn pilot(redact: bool) -> LlmPilot {
        LlmPilot::new(Arc::new(Unreachable), redact)
    }

    #[test]
    fn the_system_prompt_passes_unchanged_while_the_intake_secret_is_replaced() {
        let intake = Intake {
            text: Some("Outlook prompts again; my password is Hunter2-x! since Monday".into()),
            log: Some(
                "connecting to postgres://app:S3cret-Pg@db01/app\nDB_PASSWORD=Env-P4ss".into(),
            ),
        };
        let input = PilotInput {
            account_id: Uuid::nil(),
            intake: &intake,
            matched: None,
            history: History::whole(&[]),
            remaining_after: 20,
        };
        let request =
            pilot(true).outgoing(prompt::step_request(&input, &llm::FlowChoices::none(), 500).0);
        assert_eq!(request.system, prompt::STEP_SYSTEM_PROMPT);
        let message = &request.messages[0].content;
        for secret in ["Hunter2-x!", "S3cret-Pg", "Env-P4ss"] {
            assert!(!message.contains(secret), "{secret} in {message}");
        }
        assert!(message.contains("my password is [REDACTED:password] since Monday"));
        assert!(message.contains("postgres://app:[REDACTED:password]@db01/app"));
        assert!(message.contains("DB_PASSWORD=[REDACTED:password]"));

        // Without redaction the text goes as it is.
        let plain =
            pilot(false).outgoing(prompt::step_request(&input, &llm::FlowChoices::none(), 500).0);
        assert!(plain.messages[0].content.contains("Hunter2-x!"));
    }

    #[test]
    fn recap_calls_redact_summaries_and_reasons() {
        let intake = Intake {
            text: Some("VPN fails, api_key=abc123".into()),
            log: None,
        };
        let recap = SessionRecap {
            account_id: Uuid::nil(),
            intake: &intake,
            matched: None,
            history: History::whole(&[]),
            resolution_summary: Some("Reset it; the new password is N3w-P4ss!"),
            escalation_reason: Some("the sa password is Adm1n-Sql! if needed"),
        };
        for (request, system) in [
            (
                prompt::documentation_request(&recap, 500),
                prompt::DOCUMENTATION_SYSTEM_PROMPT,
            ),
            (
                prompt::escalation_request(&recap, 500),
                prompt::ESCALATION_SYSTEM_PROMPT,
            ),
        ] {
            let request = pilot(true).outgoing(request);
            assert_eq!(request.system, system);
            let message = &request.messages[0].content;
            for secret in ["abc123", "N3w-P4ss!", "Adm1n-Sql!"] {
                assert!(!message.contains(secret), "{secret} in {message}");
            }
            assert!(message.contains("[REDACTED:"), "{message}");
        }
    }

    #[test]
    fn a_system_prompt_that_is_not_ours_is_redacted() {
        let (mut request, _) = prompt::step_request(
            &PilotInput {
                account_id: Uuid::nil(),
                intake: &Intake {
                    text: Some("x".into()),
                    log: None,
                },
                matched: None,
                history: History::whole(&[]),
                remaining_after: 20,
            },
            &llm::FlowChoices::none(),
            500,
        );
        request.system = format!("{} token=abcdef123", prompt::STEP_SYSTEM_PROMPT);
        let request = pilot(true).outgoing(request);
        assert!(request.system.ends_with("token=[REDACTED:token]"));
    }
}
