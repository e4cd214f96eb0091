//! The seam between the session loop and whatever produces steps.

use async_trait::async_trait;
use domain::step::StepOutput;
use uuid::Uuid;

use crate::library::MatchedFlow;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Intake {
    pub text: Option<String>,
    pub log: Option<String>,
}

impl Intake {
    /// The text to match flows against: the description, then the log's first lines.
    pub fn match_text(&self) -> String {
        let mut out = self.text.clone().unwrap_or_default();
        if let Some(log) = &self.log {
            let head: String = log.lines().take(20).collect::<Vec<_>>().join("\n");
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&head);
        }
        out
    }
}

/// The engineer's answer to a step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepAnswer {
    pub selected_option: Option<String>,
    pub free_text_input: Option<String>,
    pub skipped: bool,
}

/// A step already in the session, with the pilot's private state and its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct PastStep {
    pub output: StepOutput,
    pub state: serde_json::Value,
    pub answer: Option<StepAnswer>,
}

pub struct PilotInput<'a> {
    pub account_id: Uuid,
    pub intake: &'a Intake,
    pub matched: Option<&'a MatchedFlow>,
    /// Every step so far, oldest first; the last one carries the answer being responded to.
    pub history: &'a [PastStep],
    /// How many more steps the session may hold after this one.
    pub remaining_after: i64,
}

/// One call to a provider, successful or not, for the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    pub provider: String,
    pub model: String,
    pub purpose: String,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub success: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PilotStep {
    pub output: StepOutput,
    /// Private state the pilot wants back with this step next time.
    pub state: serde_json::Value,
    /// Set when the pilot moved the session to another flow (the engineer described a
    /// different problem).
    pub rematched: Option<MatchedFlow>,
    pub usage: Vec<Usage>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PilotError {
    #[error("{message}")]
    Provider {
        message: String,
        retry_after: Option<u64>,
        usage: Vec<Usage>,
    },
    #[error("the AI provider's answer was not a valid step, even after a repair attempt: {}", errors.join("; "))]
    InvalidReply {
        errors: Vec<String>,
        usage: Vec<Usage>,
    },
}

impl PilotError {
    pub fn usage(&self) -> &[Usage] {
        match self {
            PilotError::Provider { usage, .. } | PilotError::InvalidReply { usage, .. } => usage,
        }
    }
}

/// A finished (or finishing) session, for writing its documentation or hand-off.
pub struct SessionRecap<'a> {
    pub account_id: Uuid,
    pub intake: &'a Intake,
    pub matched: Option<&'a MatchedFlow>,
    pub history: &'a [PastStep],
    pub resolution_summary: Option<&'a str>,
    pub escalation_reason: Option<&'a str>,
}

/// The `flowpilot_documentation` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenDocumentation {
    pub title: String,
    pub root_cause: String,
    pub resolution_summary: String,
    pub follow_up_recommendations: Vec<String>,
}

/// The `flowpilot_escalation` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenEscalation {
    pub summary: String,
    /// (cause, likelihood)
    pub hypotheses: Vec<(String, String)>,
    pub suggested_next_steps: Vec<String>,
}

#[async_trait]
pub trait Pilot: Send + Sync {
    /// What guided the session: `offline`, or `provider:model`.
    fn engine(&self) -> String;

    /// Whether this pilot calls an LLM (and so needs quota).
    fn uses_ai(&self) -> bool;

    /// Produces the next step: the first one when `history` is empty.
    async fn next_step(&self, input: PilotInput<'_>) -> Result<PilotStep, PilotError>;

    /// Optionally writes the root cause and resolution text (LLM pilots); `None` means the
    /// deterministic documentation is used. Never fails: resolving must not depend on AI.
    async fn write_documentation(
        &self,
        _recap: &SessionRecap<'_>,
    ) -> (Option<WrittenDocumentation>, Vec<Usage>) {
        (None, Vec::new())
    }

    /// Optionally writes the escalation hand-off (LLM pilots); `None` means deterministic.
    async fn write_escalation(
        &self,
        _recap: &SessionRecap<'_>,
    ) -> (Option<WrittenEscalation>, Vec<Usage>) {
        (None, Vec::new())
    }
}
