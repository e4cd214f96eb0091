//! Which of the flow's fixes the answers point to: a probability for each solution node of
//! the flow, and for "a cause this flow does not cover", given how well the flow matched and
//! every answer on the path (docs/guidance.md, "Confidence").
//!
//! The model is the engineer's: someone who knows the situation answers each step the way
//! the true cause implies, except for slips, which are likelier in typed answers and in
//! answers that needed a second try. On a flow that does not fit, the answers follow no
//! cause and more of them need a second try. Bayes' rule over those few assumptions gives
//! the probabilities; the constants are the ones the calibration run checks.

use std::collections::{BTreeMap, BTreeSet};

use domain::flow::{FlowDefinition, FlowNode};

use super::answers::ActionOutcome;
use super::evidence::{Evidence, How, Visit};

/// How often an answer given each way is the engineer's true answer.
const PICKED_RIGHT: f64 = 0.97;
const TYPED_RIGHT: f64 = 0.95;
const CLARIFIED_RIGHT: f64 = 0.85;
/// How often a step needs a second try: on a flow that fits the problem, and on one that
/// does not (its questions do not quite apply).
const CLARIFIED_ON_FIT: f64 = 0.12;
const CLARIFIED_ON_MISFIT: f64 = 0.35;
/// A fix the engineer said did not work is rarely the cause after all (it may not have
/// been applied fully).
const REJECTED_STILL_CAUSE: f64 = 0.05;

/// How likely the matched flow covers the problem, from its match score: the matcher's
/// figures (docs/matching.md) put the right flow first for about nine in ten intakes above
/// the threshold; a flow picked below it, from the area the engineer chose, is a coin toss.
pub fn flow_fits(score: f64) -> f64 {
    let s = if score.is_finite() { score } else { 0.0 };
    0.5 + 0.45 * ((s - 0.3) / 0.5).clamp(0.0, 1.0)
}

/// The solution nodes reachable from each node of a flow.
pub struct Reach<'a> {
    def: &'a FlowDefinition,
    below: BTreeMap<&'a str, BTreeSet<&'a str>>,
}

impl<'a> Reach<'a> {
    pub fn of(def: &'a FlowDefinition) -> Reach<'a> {
        let mut below: BTreeMap<&'a str, BTreeSet<&'a str>> = BTreeMap::new();
        for id in def.nodes.keys() {
            fill(def, id, &mut below, &mut BTreeSet::new());
        }
        Reach { def, below }
    }

    /// The solutions reachable from `node`, itself included.
    pub fn below(&self, node: &str) -> BTreeSet<&'a str> {
        self.below.get(node).cloned().unwrap_or_default()
    }

    pub fn reaches(&self, node: &str, solution: &str) -> bool {
        self.below.get(node).is_some_and(|s| s.contains(solution))
    }

    /// Every solution node of the flow, in node order.
    pub fn solutions(&self) -> Vec<&'a str> {
        self.def
            .nodes
            .iter()
            .filter(|(_, n)| matches!(n, FlowNode::Solution { .. }))
            .map(|(id, _)| id.as_str())
            .collect()
    }
}

/// Depth-first with a guard, so that a flow stored with a cycle cannot recurse forever
/// (validation rejects cycles, but a reader should not depend on it).
fn fill<'a>(
    def: &'a FlowDefinition,
    id: &str,
    below: &mut BTreeMap<&'a str, BTreeSet<&'a str>>,
    on_stack: &mut BTreeSet<String>,
) {
    let Some((key, node)) = def.nodes.get_key_value(id) else {
        return;
    };
    if below.contains_key(key.as_str()) || !on_stack.insert(id.to_string()) {
        return;
    }
    let mut found = BTreeSet::new();
    if matches!(node, FlowNode::Solution { .. }) {
        found.insert(key.as_str());
    }
    for next in node.successors() {
        fill(def, next, below, on_stack);
        if let Some(more) = below.get(next) {
            found.extend(more.iter().copied());
        }
    }
    on_stack.remove(id);
    below.insert(key.as_str(), found);
}

/// Where an answered step led: the node the chosen option or outcome points to.
pub fn led_to<'a>(def: &'a FlowDefinition, visit: &Visit) -> Option<&'a str> {
    match def.nodes.get(&visit.node)? {
        FlowNode::Question { options, .. } => options
            .iter()
            .find(|o| o.value == visit.value)
            .map(|o| o.next.as_str()),
        FlowNode::Action {
            next, on_failure, ..
        } => match ActionOutcome::from_value(&visit.value) {
            Some(ActionOutcome::Worked) => Some(next.as_str()),
            Some(_) => Some(on_failure.as_deref().unwrap_or(next.as_str())),
            None => None,
        },
        FlowNode::Solution { .. } | FlowNode::Escalate { .. } => None,
    }
}

/// The probabilities the evidence gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Belief {
    /// Each solution node of the flow with its probability of being the cause.
    pub fixes: Vec<(String, f64)>,
    /// The probability that the cause is one this flow does not cover.
    pub elsewhere: f64,
}

impl Belief {
    pub fn of(def: &FlowDefinition, reach: &Reach<'_>, score: f64, evidence: &Evidence) -> Belief {
        let solutions = reach.solutions();
        let fits = if solutions.is_empty() {
            0.0
        } else {
            flow_fits(score)
        };
        let mut elsewhere = 1.0 - fits;
        let mut fixes: Vec<(String, f64)> = solutions
            .iter()
            .map(|s| {
                let prior = fits / solutions.len() as f64;
                let rejected = if evidence.is_rejected(s) {
                    REJECTED_STILL_CAUSE
                } else {
                    1.0
                };
                (s.to_string(), prior * rejected)
            })
            .collect();
        for visit in &evidence.path {
            elsewhere *= likelihood(def, reach, visit, None);
            for (s, p) in &mut fixes {
                *p *= likelihood(def, reach, visit, Some(s));
            }
        }
        let total = elsewhere + fixes.iter().map(|(_, p)| p).sum::<f64>();
        if total > 0.0 && total.is_finite() {
            elsewhere /= total;
            for (_, p) in &mut fixes {
                *p /= total;
            }
        }
        Belief { fixes, elsewhere }
    }

    pub fn of_fix(&self, node: &str) -> f64 {
        self.fixes
            .iter()
            .find(|(s, _)| s == node)
            .map_or(0.0, |(_, p)| *p)
    }
}

/// How likely this answer is if `cause` is the true one (`None`: a cause outside the flow).
fn likelihood(def: &FlowDefinition, reach: &Reach<'_>, visit: &Visit, cause: Option<&str>) -> f64 {
    let Some(node) = def.nodes.get(&visit.node) else {
        return 1.0;
    };
    let right = match visit.how {
        How::Picked => PICKED_RIGHT,
        How::Typed => TYPED_RIGHT,
        How::Clarified => CLARIFIED_RIGHT,
        // What was not done says nothing about the cause.
        How::NotDone => return 1.0,
    };
    let second_try = if cause.is_some() {
        CLARIFIED_ON_FIT
    } else {
        CLARIFIED_ON_MISFIT
    };
    let how = if visit.how == How::Clarified {
        second_try
    } else {
        1.0 - second_try
    };
    // The branches a consistent engineer could take, and whether this answer is one.
    let (branches, consistent, chosen) = match node {
        FlowNode::Question { options, .. } => {
            let Some(chosen) = options.iter().position(|o| o.value == visit.value) else {
                return 1.0;
            };
            let consistent: Vec<bool> = options
                .iter()
                .map(|o| cause.is_some_and(|c| reach.reaches(&o.next, c)))
                .collect();
            (options.len(), consistent, chosen)
        }
        FlowNode::Action {
            next, on_failure, ..
        } => {
            let failure = on_failure.as_deref().unwrap_or(next);
            let worked = match ActionOutcome::from_value(&visit.value) {
                Some(ActionOutcome::Worked) => true,
                Some(ActionOutcome::NoChange) => false,
                _ => return 1.0,
            };
            if failure == next {
                return how / 2.0;
            }
            // An engineer who knows the cause sees the action work when the cause lies
            // behind `next`, and no change when it lies only behind `on_failure`.
            let consistent = match cause {
                Some(c) if reach.reaches(next, c) => vec![true, false],
                Some(c) if reach.reaches(failure, c) => vec![false, true],
                _ => vec![false, false],
            };
            (2, consistent, if worked { 0 } else { 1 })
        }
        FlowNode::Solution { .. } | FlowNode::Escalate { .. } => return 1.0,
    };
    let fitting = consistent.iter().filter(|c| **c).count();
    let branch = if fitting == 0 || fitting == branches {
        // The cause is not behind this step (or behind every branch): any answer will do.
        1.0 / branches as f64
    } else if consistent[chosen] {
        right / fitting as f64
    } else {
        (1.0 - right) / (branches - fitting) as f64
    };
    branch * how
}
