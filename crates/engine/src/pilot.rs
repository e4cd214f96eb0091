//! The seam between the session loop and whatever produces steps.

use async_trait::async_trait;
use domain::documentation::Hypothesis;
use domain::step::{EarlierSteps, StepMarks, StepOutput};
use uuid::Uuid;

use crate::forming::StepTextSink;
use crate::library::MatchedFlow;

pub use domain::session::Intake;
/// The engineer's answer to a step (one type everywhere: `domain::step::Answer`).
pub use domain::step::Answer as StepAnswer;

/// A step already in the session, with the pilot's private state and its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct PastStep {
    pub output: StepOutput,
    pub state: serde_json::Value,
    pub answer: Option<StepAnswer>,
    /// Free text the engineer gave that did not answer the step (api.md `observations`).
    pub observations: Vec<String>,
    /// How a suggested fix turned out, or why the engineer found the step not relevant
    /// (escalation.md "Fix outcomes"): the next step takes both into account.
    pub marks: StepMarks,
}

/// The session so far, as a pilot is told it: the newest steps in full (as many as
/// [`Pilot::recent_steps`] asks for, or more), and the steps before them in brief.
#[derive(Debug, Clone, Copy)]
pub struct History<'a> {
    /// The steps before `recent`.
    pub earlier: &'a EarlierSteps,
    /// The newest steps in full, oldest first; the last one carries the answer being
    /// responded to.
    pub recent: &'a [PastStep],
}

impl<'a> History<'a> {
    /// Every step in full: a session short enough, or a test.
    pub fn whole(steps: &'a [PastStep]) -> History<'a> {
        static NONE: EarlierSteps = EarlierSteps {
            steps: 0,
            questions: 0,
            actions: 0,
            resolution_suggestions: 0,
            skipped: 0,
            problem_summary: None,
            problem_domain: None,
        };
        History {
            earlier: &NONE,
            recent: steps,
        }
    }

    /// Steps in the session so far.
    pub fn len(&self) -> usize {
        self.earlier.steps.max(0) as usize + self.recent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The latest step: the one being answered.
    pub fn last(&self) -> Option<&'a PastStep> {
        self.recent.last()
    }
}

pub struct PilotInput<'a> {
    pub account_id: Uuid,
    pub intake: &'a Intake,
    pub matched: Option<&'a MatchedFlow>,
    pub history: History<'a>,
    /// How many more steps the session may hold after this one.
    pub remaining_after: i64,
}

/// One call to a provider, successful or not, for the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    pub provider: String,
    pub model: String,
    pub purpose: String,
    /// Every input token, those read from the provider's prompt cache included.
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// Of `input_tokens`, those read from the provider's prompt cache.
    pub cached_input_tokens: i64,
    pub success: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PilotStep {
    pub output: StepOutput,
    /// Why the step has its confidence, in plain sentences (engine.md "Confidence").
    pub confidence_reasons: Vec<String>,
    /// Private state the pilot wants back with this step next time.
    pub state: serde_json::Value,
    /// Set when the pilot moved the session to another flow (the engineer described a
    /// different problem).
    pub rematched: Option<MatchedFlow>,
    pub usage: Vec<Usage>,
}

/// What a pilot makes of an answer.
// One reply per answer, moved once: boxing the step would save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The answer says which way to go: this is the next step.
    Next(PilotStep),
    /// The answer does not say which way to go. The pilot does not guess: the same step is
    /// asked again with `clarification` (what it needs), and the answer is kept on the step
    /// as an observation.
    Clarify {
        clarification: String,
        usage: Vec<Usage>,
    },
}

impl Reply {
    /// The next step, when the answer gave one.
    pub fn next(self) -> Option<PilotStep> {
        match self {
            Reply::Next(step) => Some(step),
            Reply::Clarify { .. } => None,
        }
    }

    pub fn usage(&self) -> &[Usage] {
        match self {
            Reply::Next(step) => &step.usage,
            Reply::Clarify { usage, .. } => usage,
        }
    }
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
    pub history: History<'a>,
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
    pub hypotheses: Vec<Hypothesis>,
    pub suggested_next_steps: Vec<String>,
}

#[async_trait]
pub trait Pilot: Send + Sync {
    /// What guided the session: `offline`, or `provider:model`.
    fn engine(&self) -> String;

    /// Whether this pilot calls an LLM (and so needs quota).
    fn uses_ai(&self) -> bool;

    /// How many of the newest steps it needs in full (at least 1, the one being answered);
    /// of the steps before them it reads only [`History::earlier`].
    fn recent_steps(&self) -> usize;

    /// Produces the session's first step (`history` is empty).
    async fn first_step(&self, input: PilotInput<'_>) -> Result<PilotStep, PilotError>;

    /// Reads the answer to the last step of `history` and produces the next step, or asks
    /// for the answer to be made clear.
    async fn next_step(&self, input: PilotInput<'_>) -> Result<Reply, PilotError>;

    /// [`first_step`](Self::first_step), handing `sink` the step's text while it is
    /// generated where the pilot streams; a pilot that does not answers whole.
    async fn first_step_forming(
        &self,
        input: PilotInput<'_>,
        _sink: &dyn StepTextSink,
    ) -> Result<PilotStep, PilotError> {
        self.first_step(input).await
    }

    /// [`next_step`](Self::next_step), handing `sink` the step's text while it is generated
    /// where the pilot streams; a pilot that does not answers whole.
    async fn next_step_forming(
        &self,
        input: PilotInput<'_>,
        _sink: &dyn StepTextSink,
    ) -> Result<Reply, PilotError> {
        self.next_step(input).await
    }

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
