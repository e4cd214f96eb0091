//! A step the engineer said something of besides answering it (escalation.md "Fix
//! outcomes"): a suggested fix that did not (fully) work moves the walk to the most promising
//! branch the answers did not take, and a step marked not relevant is stepped over, its
//! reason read as what the engineer knows.

use domain::flow::FlowNode;
use domain::outcome::FixOutcome;

use super::answers::ActionOutcome;
use super::belief::{led_to, Belief, Reach};
use super::evidence::{Evidence, How, Visit};
use super::state::OfflineState;
use super::{clarify, handoff, lead_context, node_step, offer, OfflinePilot};
use crate::library::MatchedFlow;
use crate::pilot::{PastStep, PilotInput, PilotStep};

impl OfflinePilot {
    /// The next step after `last` when the engineer marked it; `None` when nothing was said
    /// of it that changes the walk.
    pub(super) async fn after_marks(
        &self,
        input: &PilotInput<'_>,
        last: &PastStep,
        at: &OfflineState,
        evidence: &Evidence,
    ) -> Option<PilotStep> {
        let outcome = last.marks.outcome.filter(|o| o.continues());
        let reason = last
            .marks
            .not_relevant
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        if outcome.is_none() && reason.is_none() {
            return None;
        }
        let step = input.history.len();
        let (OfflineState::Node { node: id }, Some(matched)) = (at, input.matched) else {
            // Outside a flow's nodes the reason is what the engineer now knows of the problem.
            return Some(self.rematch_or_escalate(input, reason, evidence).await);
        };
        let def = &matched.flow.definition;
        let evidence = evidence.for_flow(matched.flow.id);
        let node = def.nodes.get(id)?;
        match node {
            FlowNode::Solution { .. } => {
                let why = match (outcome, reason) {
                    (Some(FixOutcome::Partial), _) => "The suggested fix only partly worked.",
                    (_, Some(_)) => "The suggested fix was not relevant.",
                    _ => "The suggested fix did not solve it.",
                };
                Some(next_untried(matched, evidence.with_rejected(id, step), why))
            }
            FlowNode::Action { .. } => {
                // An action that does not apply is one the flow goes on without: as when it
                // could not be done.
                let visit = Visit {
                    node: id.clone(),
                    step,
                    value: ActionOutcome::CouldNotDo.value().to_string(),
                    how: How::NotDone,
                };
                let to = led_to(def, &visit)?;
                Some(node_step(
                    matched,
                    to,
                    def.nodes.get(to)?,
                    evidence.with_visit(visit),
                    None,
                ))
            }
            FlowNode::Question { options, .. } => {
                let reason = reason?;
                // "Not relevant: it is a Mac" may well say which option holds.
                let understood = self.understood(node, reason);
                if let Some(option) = understood
                    .value()
                    .and_then(|v| options.iter().find(|o| o.value == v))
                {
                    let visit = Visit {
                        node: id.clone(),
                        step,
                        value: option.value.clone(),
                        how: How::Typed,
                    };
                    if let Some(next) = def.nodes.get(&option.next) {
                        return Some(node_step(
                            matched,
                            &option.next,
                            next,
                            evidence.with_visit(visit),
                            None,
                        ));
                    }
                }
                if clarify::describes_a_problem(reason) {
                    let found = self.library.find(input.account_id, reason, None).await;
                    if let Some(best) = found.into_iter().find(|m| m.flow.id != matched.flow.id) {
                        return Some(self.enter_flow(&best, &evidence, false));
                    }
                }
                let why = format!("Step {step} was not relevant ({reason}).");
                Some(next_untried(matched, evidence, &why))
            }
            FlowNode::Escalate { .. } => None,
        }
    }
}

/// The most promising branch the answers did not take, towards fixes not yet tried: the
/// step it starts with, saying why the walk went back there. Escalation is offered when
/// every branch is tried.
fn next_untried(matched: &MatchedFlow, evidence: Evidence, why: &str) -> PilotStep {
    let def = &matched.flow.definition;
    let reach = Reach::of(def);
    let belief = Belief::of(def, &reach, matched.score, &evidence);
    // A step that was not done (or not relevant) is a branch to come back to only when
    // every answered step's other branches are tried: its own way on is what the engineer
    // could not, or saw no point to, take.
    let mut best: Option<(bool, f64, &str)> = None;
    for visit in &evidence.path {
        let taken = led_to(def, visit);
        let answered = visit.how != How::NotDone;
        for (target, _) in handoff::alternatives(def, visit) {
            if Some(target) == taken {
                continue;
            }
            let mass: f64 = reach
                .below(target)
                .into_iter()
                .filter(|s| !evidence.is_rejected(s))
                .map(|s| belief.of_fix(s))
                .sum();
            let better = best.is_none_or(|(a, m, _)| (answered, mass) > (a, m));
            if mass > 0.0 && better {
                best = Some((answered, mass, target));
            }
        }
    }
    let Some((_, _, target)) = best else {
        return offer(Some(why), OfflineState::AfterSolution, evidence);
    };
    let Some(node) = def.nodes.get(target) else {
        return offer(Some(why), OfflineState::AfterSolution, evidence);
    };
    let mut step = node_step(matched, target, node, evidence, None);
    lead_context(
        &mut step,
        format!("{why} Trying the next most likely branch of the flow."),
    );
    step
}
