//! The offline pilot (engine.md, "The offline engine"): walks the matched flow itself, with no
//! LLM. Deterministic: the same answers give the same steps.
//!
//! - [`state`]: where in the walk a step left the session.
//! - [`steps`]: turning flow nodes (and the pilot's own prompts) into steps.
//! - [`answers`]: understanding free text as one of a step's options, or as unclear; it
//!   reads words ([`words`]), people and groups ([`people`]), values ([`values`]) and action
//!   outcomes ([`outcomes`]).
//! - [`clarify`]: what to ask when an answer is not clear.
//! - [`confidence`]: confidence from match strength and the path taken.

mod answers;
mod clarify;
mod confidence;
mod outcomes;
mod people;
mod state;
mod steps;
mod values;
mod words;

use std::sync::Arc;

use async_trait::async_trait;
use domain::flow::FlowNode;

use crate::library::{FlowLibrary, MatchedFlow};
use crate::pilot::{Pilot, PilotError, PilotInput, PilotStep, Reply, StepAnswer};
use state::OfflineState;

pub use answers::{
    understand, ActionOutcome, AnswerReader, AnswerSimilarity, AskedStep, Choice, StepKind,
    Unclear, Understood,
};
pub use steps::{CONTINUE, ESCALATE, NOT_FIXED};

pub struct OfflinePilot {
    library: Arc<dyn FlowLibrary>,
    answers: AnswerReader,
}

impl OfflinePilot {
    pub fn new(library: Arc<dyn FlowLibrary>) -> Self {
        OfflinePilot {
            library,
            answers: AnswerReader::new(),
        }
    }

    /// Reads free-text answers with an embedder's similarity as extra evidence.
    pub fn with_answer_similarity(mut self, similarity: Arc<dyn AnswerSimilarity>) -> Self {
        self.answers = AnswerReader::with_similarity(similarity);
        self
    }

    /// What free text means on a question or action node.
    fn understood(&self, node: &FlowNode, text: &str) -> Understood {
        match AskedStep::from_node(node) {
            Some(step) => self.answers.read(&step, text),
            None => Understood::Unclear(Unclear::NothingFits),
        }
    }
}

#[async_trait]
impl Pilot for OfflinePilot {
    fn engine(&self) -> String {
        "offline".into()
    }

    fn uses_ai(&self) -> bool {
        false
    }

    /// The walker continues from the step being answered; its state says where in the flow.
    fn recent_steps(&self) -> usize {
        1
    }

    async fn first_step(&self, input: PilotInput<'_>) -> Result<PilotStep, PilotError> {
        Ok(self.open(&input).await)
    }

    async fn next_step(&self, input: PilotInput<'_>) -> Result<Reply, PilotError> {
        let Some(last) = input.history.last() else {
            return Ok(Reply::Next(self.open(&input).await));
        };
        let answer = last.answer.clone().unwrap_or_default();
        let state = OfflineState::from_value(&last.state);
        let depth = input.history.len();
        let current = input.matched.cloned();
        let next = match state {
            OfflineState::Triage => self.after_triage(&input, &answer, depth).await,
            OfflineState::Node { node } => match current {
                Some(flow) => {
                    return Ok(self.after_node(&input, flow, &node, &answer, depth).await)
                }
                None => {
                    self.rematch_or_escalate(&input, answer_text(&answer), depth)
                        .await
                }
            },
            OfflineState::OfferEscalation | OfflineState::AfterSolution => {
                if answer.selected_option.as_deref() == Some(CONTINUE)
                    || answer.selected_option.as_deref() == Some(NOT_FIXED)
                {
                    finish(steps::describe_again(depth), OfflineState::Rematch, None)
                } else if let Some(text) = answer_text(&answer) {
                    self.rematch_or_escalate(&input, Some(text), depth).await
                } else {
                    finish(
                        steps::escalation_offer(None, depth),
                        OfflineState::OfferEscalation,
                        None,
                    )
                }
            }
            OfflineState::Rematch => {
                self.rematch_or_escalate(&input, answer_text(&answer), depth)
                    .await
            }
        };
        Ok(Reply::Next(next))
    }
}

fn finish(
    output: domain::step::StepOutput,
    state: OfflineState,
    rematched: Option<MatchedFlow>,
) -> PilotStep {
    PilotStep {
        confidence_reasons: Vec::new(),
        output,
        state: state.to_value(),
        rematched,
        usage: Vec::new(),
    }
}

fn answer_text(answer: &StepAnswer) -> Option<&str> {
    answer
        .free_text_input
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

impl OfflinePilot {
    /// The session's first step: the matched flow's start, or triage.
    async fn open(&self, input: &PilotInput<'_>) -> PilotStep {
        let summary = steps::problem_summary(input.intake);
        match input.matched {
            Some(matched) => {
                let mut step = self.enter_flow(matched, 0);
                step.output.problem_summary = Some(summary);
                step.output.problem_domain = Some(matched.flow.definition.domain.clone());
                step.rematched = None;
                step
            }
            None => {
                let domains = self.library.domains(input.account_id).await;
                let mut output = steps::triage(&domains);
                output.problem_summary = Some(summary);
                output.problem_domain = Some("unknown".into());
                finish(output, OfflineState::Triage, None)
            }
        }
    }

    /// The step for a flow's start node, announcing the switch.
    fn enter_flow(&self, matched: &MatchedFlow, depth: usize) -> PilotStep {
        let def = &matched.flow.definition;
        let node_id = def.start.clone();
        match def.nodes.get(&node_id) {
            Some(node) => {
                let mut output = steps::from_node(node, matched.score, depth);
                output.context_message = Some(format!(
                    "Following the flow **{}** (match {:.0}%).{}",
                    def.title,
                    matched.score * 100.0,
                    output
                        .context_message
                        .map(|c| format!("\n\n{c}"))
                        .unwrap_or_default()
                ));
                finish(
                    output,
                    OfflineState::for_node(node, &node_id),
                    Some(matched.clone()),
                )
            }
            None => finish(
                steps::escalation_offer(None, depth),
                OfflineState::OfferEscalation,
                None,
            ),
        }
    }

    async fn after_triage(
        &self,
        input: &PilotInput<'_>,
        answer: &StepAnswer,
        depth: usize,
    ) -> PilotStep {
        let base = input.intake.match_text();
        if let Some(domain) = answer.selected_option.as_deref() {
            let text = match answer_text(answer) {
                Some(extra) => format!("{base}\n{extra}"),
                None => base,
            };
            return match self
                .library
                .best_in_domain(input.account_id, &text, domain)
                .await
            {
                Some(found) => self.enter_flow(&found, depth),
                None => finish(
                    steps::escalation_offer(
                        Some("There is no flow for that area in the library yet."),
                        depth,
                    ),
                    OfflineState::OfferEscalation,
                    None,
                ),
            };
        }
        self.rematch_or_escalate(input, answer_text(answer), depth)
            .await
    }

    async fn after_node(
        &self,
        input: &PilotInput<'_>,
        matched: MatchedFlow,
        node_id: &str,
        answer: &StepAnswer,
        depth: usize,
    ) -> Reply {
        let def = &matched.flow.definition;
        let Some(node) = def.nodes.get(node_id) else {
            return Reply::Next(finish(
                steps::escalation_offer(None, depth),
                OfflineState::OfferEscalation,
                None,
            ));
        };
        if answer.selected_option.as_deref() == Some(ESCALATE) {
            return Reply::Next(finish(
                steps::escalation_offer(None, depth),
                OfflineState::OfferEscalation,
                None,
            ));
        }
        // What the free text says, when no option was picked; `None` when it is not clear.
        let typed = match (&answer.selected_option, answer_text(answer)) {
            (None, Some(text)) if !answer.skipped => Some((text, self.understood(node, text))),
            _ => None,
        };
        let typed_value = typed.as_ref().and_then(|(_, u)| u.value());
        let next = match node {
            FlowNode::Question { options, .. } => {
                let chosen = answer
                    .selected_option
                    .as_deref()
                    .and_then(|v| options.iter().find(|o| o.value == v))
                    .map(|o| o.value.clone())
                    .or_else(|| typed_value.map(str::to_string));
                chosen
                    .and_then(|v| options.iter().find(|o| o.value == v))
                    .map(|option| option.next.clone())
            }
            FlowNode::Action {
                next, on_failure, ..
            } => {
                let outcome = if answer.skipped {
                    Some(ActionOutcome::CouldNotDo)
                } else {
                    answer
                        .selected_option
                        .as_deref()
                        .and_then(ActionOutcome::from_value)
                        .or_else(|| typed_value.and_then(ActionOutcome::from_value))
                };
                outcome.map(|o| match o {
                    ActionOutcome::Worked => next.clone(),
                    ActionOutcome::NoChange | ActionOutcome::CouldNotDo => {
                        on_failure.clone().unwrap_or_else(|| next.clone())
                    }
                })
            }
            FlowNode::Solution { .. } => {
                return Reply::Next(finish(
                    steps::escalation_offer(Some("The suggested fix did not solve it."), depth),
                    OfflineState::AfterSolution,
                    None,
                ));
            }
            FlowNode::Escalate { .. } => {
                return Reply::Next(finish(
                    steps::escalation_offer(None, depth),
                    OfflineState::OfferEscalation,
                    None,
                ));
            }
        };
        match next.and_then(|id| def.nodes.get(&id).map(|n| (id, n))) {
            Some((id, next_node)) => {
                let output = steps::from_node(next_node, matched.score, depth);
                Reply::Next(finish(output, OfflineState::for_node(next_node, &id), None))
            }
            None => match typed {
                Some((text, understood)) => {
                    self.rematch_or_clarify(input, &matched, node, text, &understood)
                        .await
                }
                // Nothing to go on (a flow whose branch points nowhere): the same node again.
                None => {
                    let output = steps::from_node(node, matched.score, depth);
                    Reply::Next(finish(output, OfflineState::for_node(node, node_id), None))
                }
            },
        }
    }

    /// An answer that does not say which way to go. It moves the session to another flow
    /// only when it clearly describes another problem; otherwise the step is asked again.
    async fn rematch_or_clarify(
        &self,
        input: &PilotInput<'_>,
        current: &MatchedFlow,
        node: &FlowNode,
        text: &str,
        understood: &Understood,
    ) -> Reply {
        if clarify::describes_a_problem(text) {
            let found = self.library.find(input.account_id, text, None).await;
            if let Some(best) = found.into_iter().find(|m| m.flow.id != current.flow.id) {
                return Reply::Next(self.enter_flow(&best, input.history.len()));
            }
        }
        Reply::Clarify {
            clarification: clarify::question(node, understood),
            usage: Vec::new(),
        }
    }

    async fn rematch_or_escalate(
        &self,
        input: &PilotInput<'_>,
        text: Option<&str>,
        depth: usize,
    ) -> PilotStep {
        if let Some(text) = text {
            let query = format!("{}\n{text}", input.intake.match_text());
            if let Some(best) = self
                .library
                .find(input.account_id, &query, None)
                .await
                .into_iter()
                .next()
            {
                return self.enter_flow(&best, depth);
            }
        }
        finish(
            steps::escalation_offer(
                Some("Nothing in the flow library fits what you described."),
                depth,
            ),
            OfflineState::OfferEscalation,
            None,
        )
    }
}

#[cfg(test)]
mod tests;
