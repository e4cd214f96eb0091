//! The offline pilot (engine.md, "The offline engine"): walks the matched flow itself, with no
//! LLM. Deterministic: the same answers give the same steps.
//!
//! - [`state`]: where in the walk a step left the session, with the [`evidence`] the path
//!   has gathered (each answer and how it was given), carried forward from step to step.
//! - [`steps`]: turning flow nodes (and the pilot's own prompts) into steps.
//! - [`answers`]: understanding free text as one of a step's options, or as unclear; it
//!   reads words ([`words`]), people and groups ([`people`]), values ([`values`]) and action
//!   outcomes ([`outcomes`]).
//! - [`clarify`]: what to ask when an answer is not clear.
//! - [`belief`]: which of the flow's fixes the evidence points to; [`confidence`] turns that
//!   into each step's confidence and reasons, and [`handoff`] into the escalation hand-off.

mod answers;
mod belief;
mod clarify;
mod confidence;
mod evidence;
mod handoff;
mod marks;
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
use crate::pilot::{
    PastStep, Pilot, PilotError, PilotInput, PilotStep, Reply, SessionRecap, StepAnswer, Usage,
    WrittenEscalation,
};
use confidence::Assessed;
use evidence::{Evidence, How, Visit};
use state::{OfflineState, Stored};

pub use answers::{
    understand, ActionOutcome, AnswerReader, AnswerSimilarity, AskedStep, Choice, StepKind,
    Unclear, Understood,
};
pub use steps::{CONTINUE, ESCALATE, NOT_FIXED};

/// Why escalation is offered when nothing more specific is known.
const NO_FURTHER_STEP: &str = "The flow has no further step to try from here.";

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

    /// The walker continues from the step being answered; its state says where in the flow,
    /// and carries what the path before it showed.
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
        let Stored { at, evidence } = Stored::from_value(&last.state);
        if let Some(next) = self.after_marks(&input, last, &at, &evidence).await {
            return Ok(Reply::Next(next));
        }
        let current = input.matched.cloned();
        let next = match at {
            OfflineState::Triage => self.after_triage(&input, &answer, &evidence).await,
            OfflineState::Node { node } => match current {
                Some(flow) => {
                    return Ok(self
                        .after_node(&input, flow, &node, last, &answer, evidence)
                        .await)
                }
                None => {
                    self.rematch_or_escalate(&input, answer_text(&answer), &evidence)
                        .await
                }
            },
            OfflineState::OfferEscalation | OfflineState::AfterSolution => {
                if answer.selected_option.as_deref() == Some(CONTINUE)
                    || answer.selected_option.as_deref() == Some(NOT_FIXED)
                {
                    finish(
                        steps::describe_again(),
                        Stored::new(OfflineState::Rematch, evidence),
                        confidence::describe_again(),
                        None,
                    )
                } else if let Some(text) = answer_text(&answer) {
                    self.rematch_or_escalate(&input, Some(text), &evidence)
                        .await
                } else {
                    offer(None, OfflineState::OfferEscalation, evidence)
                }
            }
            OfflineState::Rematch => {
                self.rematch_or_escalate(&input, answer_text(&answer), &evidence)
                    .await
            }
        };
        Ok(Reply::Next(next))
    }

    /// The hand-off from the flow: the fixes still possible, what the answers ruled out,
    /// the branches not tried. Without a flow there is nothing to add to the deterministic
    /// package.
    async fn write_escalation(
        &self,
        recap: &SessionRecap<'_>,
    ) -> (Option<WrittenEscalation>, Vec<Usage>) {
        (self.handoff(recap), Vec::new())
    }
}

fn finish(
    mut output: domain::step::StepOutput,
    state: Stored,
    assessed: Assessed,
    rematched: Option<MatchedFlow>,
) -> PilotStep {
    output.confidence = assessed.confidence;
    PilotStep {
        confidence_reasons: assessed.reasons,
        output,
        state: state.to_value(),
        rematched,
        usage: Vec::new(),
    }
}

/// Suggesting escalation, for `reason` when there is one.
fn offer(reason: Option<&str>, at: OfflineState, evidence: Evidence) -> PilotStep {
    finish(
        steps::escalation_offer(reason),
        Stored::new(at, evidence),
        confidence::offer(reason.unwrap_or(NO_FURTHER_STEP)),
        None,
    )
}

/// A node of the matched flow as a step, its confidence weighed on `evidence`.
fn node_step(
    matched: &MatchedFlow,
    id: &str,
    node: &FlowNode,
    evidence: Evidence,
    rematched: Option<MatchedFlow>,
) -> PilotStep {
    let assessed = confidence::for_node(matched, id, &evidence);
    finish(
        steps::from_node(node),
        Stored::new(OfflineState::for_node(node, id), evidence),
        assessed,
        rematched,
    )
}

/// Says why FlowPilot went where it did before what the node itself says, a paragraph
/// apart, so the engineer reads the reason first.
fn lead_context(step: &mut PilotStep, lead: String) {
    let own = step.output.context_message.take();
    step.output.context_message = Some(match own {
        Some(own) => format!("{lead}\n\n{own}"),
        None => lead,
    });
}

fn answer_text(answer: &StepAnswer) -> Option<&str> {
    answer
        .free_text_input
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// What an answer to a node says.
struct Reading<'t> {
    /// The way it goes, when the answer says.
    visit: Option<Visit>,
    /// The free text and how it was understood, when no option was picked.
    typed: Option<(&'t str, Understood)>,
}

impl OfflinePilot {
    /// The session's first step: the matched flow's start, or triage.
    async fn open(&self, input: &PilotInput<'_>) -> PilotStep {
        let summary = steps::problem_summary(input.intake);
        match input.matched {
            Some(matched) => {
                let mut step = self.enter_flow(matched, &Evidence::default(), false);
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
                finish(
                    output,
                    Stored::new(OfflineState::Triage, Evidence::default()),
                    confidence::triage(),
                    None,
                )
            }
        }
    }

    /// The step for a flow's start node, announcing the switch.
    fn enter_flow(&self, matched: &MatchedFlow, before: &Evidence, by_area: bool) -> PilotStep {
        let def = &matched.flow.definition;
        let evidence = Evidence::entering(matched.flow.id, by_area, before);
        let node_id = def.start.clone();
        match def.nodes.get(&node_id) {
            Some(node) => {
                let mut step = node_step(matched, &node_id, node, evidence, Some(matched.clone()));
                lead_context(
                    &mut step,
                    format!(
                        "Following the flow **{}** (match {:.0}%).",
                        def.title,
                        matched.score * 100.0
                    ),
                );
                step
            }
            None => offer(None, OfflineState::OfferEscalation, evidence),
        }
    }

    async fn after_triage(
        &self,
        input: &PilotInput<'_>,
        answer: &StepAnswer,
        evidence: &Evidence,
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
                Some(found) => self.enter_flow(&found, evidence, true),
                None => offer(
                    Some("There is no flow for that area in the library yet."),
                    OfflineState::OfferEscalation,
                    evidence.clone(),
                ),
            };
        }
        self.rematch_or_escalate(input, answer_text(answer), evidence)
            .await
    }

    /// What `answer` to `node` (the session's `step`th step) says, and how firmly: an
    /// answer given after the engineer was asked again (`observations` on the step) counts
    /// for less.
    fn read<'t>(
        &self,
        node: &FlowNode,
        node_id: &str,
        step: usize,
        answer: &'t StepAnswer,
        observations: &[String],
    ) -> Reading<'t> {
        let typed = match (&answer.selected_option, answer_text(answer)) {
            (None, Some(text)) if !answer.skipped => Some((text, self.understood(node, text))),
            _ => None,
        };
        let typed_value = typed.as_ref().and_then(|(_, u)| u.value());
        let how = |picked: bool| match (observations.is_empty(), picked) {
            (false, _) => How::Clarified,
            (true, true) => How::Picked,
            (true, false) => How::Typed,
        };
        let chosen = match node {
            FlowNode::Question { options, .. } => {
                let offered = |v: &&str| options.iter().any(|o| o.value == *v);
                answer
                    .selected_option
                    .as_deref()
                    .filter(offered)
                    .map(|v| (v.to_string(), how(true)))
                    .or_else(|| {
                        typed_value
                            .filter(offered)
                            .map(|v| (v.to_string(), how(false)))
                    })
            }
            FlowNode::Action { .. } => {
                let outcome = if answer.skipped {
                    Some((ActionOutcome::CouldNotDo, How::NotDone))
                } else {
                    answer
                        .selected_option
                        .as_deref()
                        .and_then(ActionOutcome::from_value)
                        .map(|o| (o, how(true)))
                        .or_else(|| {
                            typed_value
                                .and_then(ActionOutcome::from_value)
                                .map(|o| (o, how(false)))
                        })
                };
                outcome.map(|(o, h)| {
                    let h = if o == ActionOutcome::CouldNotDo {
                        How::NotDone
                    } else {
                        h
                    };
                    (o.value().to_string(), h)
                })
            }
            FlowNode::Solution { .. } | FlowNode::Escalate { .. } => None,
        };
        Reading {
            visit: chosen.map(|(value, how)| Visit {
                node: node_id.to_string(),
                step,
                value,
                how,
            }),
            typed,
        }
    }

    async fn after_node(
        &self,
        input: &PilotInput<'_>,
        matched: MatchedFlow,
        node_id: &str,
        last: &PastStep,
        answer: &StepAnswer,
        evidence: Evidence,
    ) -> Reply {
        let def = &matched.flow.definition;
        let evidence = evidence.for_flow(matched.flow.id);
        let Some(node) = def.nodes.get(node_id) else {
            return Reply::Next(offer(None, OfflineState::OfferEscalation, evidence));
        };
        if answer.selected_option.as_deref() == Some(ESCALATE) {
            return Reply::Next(offer(None, OfflineState::OfferEscalation, evidence));
        }
        let step = input.history.len();
        match node {
            FlowNode::Solution { .. } => {
                return Reply::Next(offer(
                    Some("The suggested fix did not solve it."),
                    OfflineState::AfterSolution,
                    evidence.with_rejected(node_id, step),
                ));
            }
            FlowNode::Escalate { .. } => {
                return Reply::Next(offer(None, OfflineState::OfferEscalation, evidence));
            }
            FlowNode::Question { .. } | FlowNode::Action { .. } => {}
        }
        let reading = self.read(node, node_id, step, answer, &last.observations);
        let next = reading.visit.and_then(|visit| {
            let to = belief::led_to(def, &visit)?;
            Some((to, def.nodes.get(to)?, visit))
        });
        match next {
            Some((id, next_node, visit)) => Reply::Next(node_step(
                &matched,
                id,
                next_node,
                evidence.with_visit(visit),
                None,
            )),
            None => match reading.typed {
                Some((text, understood)) => {
                    self.rematch_or_clarify(input, &matched, node, text, &understood, &evidence)
                        .await
                }
                // Nothing to go on (a flow whose branch points nowhere): the same node again.
                None => Reply::Next(node_step(&matched, node_id, node, evidence, None)),
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
        evidence: &Evidence,
    ) -> Reply {
        // An answer that points at some of the options ("only Dave, everyone else is fine"
        // is between one and several) answers the question, however long it is.
        let points_nowhere = matches!(understood, Understood::Unclear(Unclear::NothingFits));
        if points_nowhere && clarify::describes_a_problem(text) {
            let found = self.library.find(input.account_id, text, None).await;
            if let Some(best) = found.into_iter().find(|m| m.flow.id != current.flow.id) {
                return Reply::Next(self.enter_flow(&best, evidence, false));
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
        evidence: &Evidence,
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
                return self.enter_flow(&best, evidence, false);
            }
        }
        offer(
            Some("Nothing in the flow library fits what you described."),
            OfflineState::OfferEscalation,
            evidence.clone(),
        )
    }

    /// The hand-off for a session that stopped where its last step left it. An answer
    /// given to that step (the step limit was reached) counts as one more visit.
    fn handoff(&self, recap: &SessionRecap<'_>) -> Option<WrittenEscalation> {
        let matched = recap.matched?;
        let last = recap.history.last()?;
        let def = &matched.flow.definition;
        let Stored { at, evidence } = Stored::from_value(&last.state);
        let mut evidence = evidence.for_flow(matched.flow.id);
        let step = recap.history.len();
        let mut open = None;
        let stop = match &at {
            OfflineState::Node { node: id } => {
                let node = def.nodes.get(id)?;
                let visit = last
                    .answer
                    .as_ref()
                    .and_then(|answer| self.read(node, id, step, answer, &last.observations).visit);
                match visit {
                    Some(visit) => {
                        let to = belief::led_to(def, &visit).unwrap_or(id).to_string();
                        evidence = evidence.with_visit(visit);
                        Some(to)
                    }
                    None => {
                        if last.answer.is_some() && matches!(node, FlowNode::Solution { .. }) {
                            evidence = evidence.with_rejected(id, step);
                        } else {
                            open = Some(step);
                        }
                        Some(id.clone())
                    }
                }
            }
            _ => evidence
                .path
                .last()
                .and_then(|v| belief::led_to(def, v))
                .map(str::to_string),
        };
        Some(handoff::write(
            matched,
            &evidence,
            &handoff::Stop {
                node: stop.as_deref(),
                open_step: open,
                observations: &last.observations,
            },
        ))
    }
}

#[cfg(test)]
mod tests;
