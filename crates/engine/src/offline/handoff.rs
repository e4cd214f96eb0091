//! The offline hand-off (engine.md "The offline engine", escalation.md): the flow's fixes
//! still reachable from where the session stopped, most likely first; what the answers ruled
//! out; and the branches not tried, as next steps.

use std::collections::{BTreeMap, VecDeque};

use domain::documentation::{Hypothesis, Likelihood};
use domain::flow::{FlowDefinition, FlowNode};

use super::answers::ActionOutcome;
use super::belief::{led_to, Belief, Reach};
use super::evidence::{Evidence, How, Visit};
use super::steps::first_sentence;
use crate::library::MatchedFlow;
use crate::pilot::WrittenEscalation;

/// Where the session stopped.
pub struct Stop<'a> {
    /// The open step's node, or where the last answer led.
    pub node: Option<&'a str>,
    /// The open step's order, when the session stopped with a step unanswered.
    pub open_step: Option<usize>,
    /// What the engineer wrote on the last step that did not answer it.
    pub observations: &'a [String],
}

const MOST_HYPOTHESES: usize = 5;
const MOST_BRANCHES: usize = 4;
/// From this probability on, a cause outside the flow is named as a hypothesis.
const NAME_ELSEWHERE: f64 = 0.2;

pub fn write(matched: &MatchedFlow, evidence: &Evidence, stop: &Stop<'_>) -> WrittenEscalation {
    let def = &matched.flow.definition;
    let reach = Reach::of(def);
    let belief = Belief::of(def, &reach, matched.score, evidence);
    let untried = |s: &&str| !evidence.is_rejected(s);
    let ahead: Vec<&str> = stop
        .node
        .map(|n| reach.below(n).into_iter().filter(untried).collect())
        .unwrap_or_default();
    let excluded = |s: &str| {
        evidence.path.iter().find(|v| {
            reach.reaches(&v.node, s) && !led_to(def, v).is_some_and(|to| reach.reaches(to, s))
        })
    };

    // Nothing left ahead (the path ended in an escalation, or in a fix that did not work):
    // what remains are the fixes behind the branches not taken, each possible only if the
    // answer that led away from it was wrong.
    let steps_away = distances(def, stop.node);
    let away = |s: &str| steps_away.get(s).copied().unwrap_or(usize::MAX);
    let mut ranked: Vec<(String, f64, usize)> = if ahead.is_empty() {
        reach
            .solutions()
            .into_iter()
            .filter(untried)
            .map(|s| {
                let text = match excluded(s) {
                    Some(v) => format!(
                        "{} (only if step {} was not really “{}”)",
                        cause(def, s),
                        v.step,
                        answer_label(def, v)
                    ),
                    None => cause(def, s),
                };
                (text, belief.of_fix(s), away(s))
            })
            .collect()
    } else {
        ahead
            .iter()
            .map(|s| (cause(def, s), belief.of_fix(s), away(s)))
            .collect()
    };
    if belief.elsewhere >= NAME_ELSEWHERE || ranked.is_empty() {
        ranked.push((
            format!(
                "A cause the flow “{}” does not cover: its questions may not fit this problem.",
                def.title
            ),
            belief.elsewhere,
            usize::MAX,
        ));
    }
    // Of equally likely fixes, the one the next checks reach first comes first.
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    ranked.truncate(MOST_HYPOTHESES);
    let hypotheses: Vec<Hypothesis> = ranked
        .iter()
        .map(|(cause, p, _)| Hypothesis {
            cause: cause.clone(),
            likelihood: likelihood(*p),
        })
        .collect();

    let ruled_out: Vec<String> = reach
        .solutions()
        .into_iter()
        .filter(|s| untried(s) && !ahead.contains(s))
        .filter_map(|s| {
            excluded(s).map(|v| {
                format!(
                    "{} (step {}: {})",
                    cause(def, s),
                    v.step,
                    answer_label(def, v)
                )
            })
        })
        .collect();
    let tried: Vec<String> = evidence
        .rejected
        .iter()
        .map(|(s, step)| format!("{} (suggested at step {step})", cause(def, s)))
        .collect();

    let mut next = Vec::new();
    if let Some((id, node)) = stop.node.and_then(|n| def.nodes.get_key_value(n)) {
        match node {
            FlowNode::Escalate { text, .. } => {
                next.push(format!(
                    "The flow's advice at this point: {}",
                    clip(text, 400)
                ));
            }
            _ => {
                if let Some(step) = stop.open_step {
                    next.push(open_step(def, id, node, step));
                }
            }
        }
    }
    next.extend(untried_branches(def, &reach, &belief, evidence, &ahead));
    if !ruled_out.is_empty() {
        next.push(format!(
            "Already ruled out by the answers, no need to repeat: {}.",
            ruled_out.join("; ")
        ));
    }
    if !tried.is_empty() {
        next.push(format!("Tried and did not fix it: {}.", tried.join("; ")));
    }
    if next.is_empty() {
        next.push("Review the steps already taken before repeating any of them.".into());
    }

    WrittenEscalation {
        summary: summary(def, matched.score, evidence, stop, &ranked),
        hypotheses,
        suggested_next_steps: next,
    }
}

/// The branches the answers did not take that lead to fixes not already ahead, the most
/// promising first.
fn untried_branches(
    def: &FlowDefinition,
    reach: &Reach<'_>,
    belief: &Belief,
    evidence: &Evidence,
    ahead: &[&str],
) -> Vec<String> {
    let mut seen: Vec<&str> = Vec::new();
    let mut found: Vec<(f64, String)> = Vec::new();
    for visit in &evidence.path {
        let taken = led_to(def, visit);
        for (target, text) in alternatives(def, visit) {
            if Some(target) == taken || seen.contains(&target) {
                continue;
            }
            seen.push(target);
            let mass: f64 = reach
                .below(target)
                .into_iter()
                .filter(|s| !evidence.is_rejected(s) && !ahead.contains(s))
                .map(|s| belief.of_fix(s))
                .sum();
            if mass > 0.0 {
                found.push((mass, text));
            }
        }
    }
    found.sort_by(|a, b| b.0.total_cmp(&a.0));
    found
        .into_iter()
        .take(MOST_BRANCHES)
        .map(|(_, t)| t)
        .collect()
}

/// The other ways an answered step could have gone: (where to, as a next step).
pub(super) fn alternatives<'a>(def: &'a FlowDefinition, visit: &Visit) -> Vec<(&'a str, String)> {
    let n = visit.step;
    match def.nodes.get(&visit.node) {
        Some(FlowNode::Question { options, .. }) => {
            let chosen = answer_label(def, visit);
            options
                .iter()
                .filter(|o| o.value != visit.value)
                .map(|o| {
                    (
                        o.next.as_str(),
                        format!(
                            "Step {n} was answered “{chosen}”; if that is in doubt, “{}” leads \
                             to {}",
                            o.label,
                            describe(def, &o.next)
                        ),
                    )
                })
                .collect()
        }
        Some(FlowNode::Action {
            text,
            next,
            on_failure,
            ..
        }) => {
            let Some(failure) = on_failure.as_deref() else {
                return Vec::new();
            };
            match (visit.how, ActionOutcome::from_value(&visit.value)) {
                (How::NotDone, _) => vec![(
                    next.as_str(),
                    format!(
                        "Step {n} could not be done: {} If it can be done and works, the flow \
                         goes on to {}",
                        first_sentence(text, 200),
                        describe(def, next)
                    ),
                )],
                (_, Some(ActionOutcome::Worked)) => vec![(
                    failure,
                    format!(
                        "If the result of step {n} does not hold, the flow goes on to {}",
                        describe(def, failure)
                    ),
                )],
                _ => vec![(
                    next.as_str(),
                    format!(
                        "If step {n} did help after all, the flow goes on to {}",
                        describe(def, next)
                    ),
                )],
            }
        }
        _ => Vec::new(),
    }
}

/// A node as the place a branch leads to, ending the sentence.
fn describe(def: &FlowDefinition, id: &str) -> String {
    match def.nodes.get(id) {
        Some(FlowNode::Question { text, .. }) => format!("the question “{}”", clip(text, 200)),
        Some(FlowNode::Action { text, .. }) => {
            format!("the check: {}", first_sentence(text, 200))
        }
        Some(FlowNode::Solution { .. }) => format!("the fix: {}", cause(def, id)),
        Some(FlowNode::Escalate { .. }) | None => "an escalation.".into(),
    }
}

fn open_step(def: &FlowDefinition, id: &str, node: &FlowNode, step: usize) -> String {
    match node {
        FlowNode::Question { text, options, .. } => format!(
            "Continue from the open step {step}, the question “{}” ({}).",
            clip(text, 200),
            options
                .iter()
                .map(|o| format!("“{}”", o.label))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        FlowNode::Action { text, .. } => format!(
            "Continue from the open step {step}: {}",
            first_sentence(text, 300)
        ),
        FlowNode::Solution { .. } => format!(
            "Try the fix suggested at step {step}, not yet confirmed: {}",
            cause(def, id)
        ),
        FlowNode::Escalate { text, .. } => format!("The flow's advice: {}", clip(text, 400)),
    }
}

fn summary(
    def: &FlowDefinition,
    score: f64,
    evidence: &Evidence,
    stop: &Stop<'_>,
    ranked: &[(String, f64, usize)],
) -> String {
    let answered = evidence.path.len();
    let mut out = format!(
        "Offline guidance followed the flow “{}” (match {:.0}%) through {answered} answered \
         step{}",
        def.title,
        score.clamp(0.0, 1.0) * 100.0,
        if answered == 1 { "" } else { "s" }
    );
    match (stop.open_step, stop.node.and_then(|n| def.nodes.get(n))) {
        (Some(step), Some(node)) => {
            out.push_str(&format!(
                " and stopped at step {step}: {}",
                first_sentence(node.text(), 200)
            ));
        }
        (None, Some(FlowNode::Escalate { .. })) => {
            out.push_str(", to the point where the flow says to escalate.");
        }
        _ if !evidence.rejected.is_empty() => {
            out.push_str("; the fix it suggested did not solve the problem.");
        }
        _ => out.push('.'),
    }
    if !out.ends_with('.') {
        out.push('.');
    }
    if let Some((cause, p, _)) = ranked.first() {
        out.push_str(&format!(
            " Most likely ({}): {cause}",
            likelihood(*p).as_str()
        ));
        if !out.ends_with('.') {
            out.push('.');
        }
    }
    if !stop.observations.is_empty() {
        let notes: Vec<String> = stop
            .observations
            .iter()
            .map(|o| format!("“{}”", clip(o, 200)))
            .collect();
        out.push_str(&format!(
            " The engineer also wrote on the last step: {}.",
            notes.join("; ")
        ));
    }
    out
}

/// How many steps each node is from `from`, along the flow.
fn distances<'a>(def: &'a FlowDefinition, from: Option<&str>) -> BTreeMap<&'a str, usize> {
    let mut out: BTreeMap<&'a str, usize> = BTreeMap::new();
    let Some(start) = from
        .and_then(|id| def.nodes.get_key_value(id))
        .map(|(k, _)| k.as_str())
    else {
        return out;
    };
    let mut queue = VecDeque::from([(start, 0usize)]);
    while let Some((id, d)) = queue.pop_front() {
        if out.contains_key(id) {
            continue;
        }
        out.insert(id, d);
        if let Some(node) = def.nodes.get(id) {
            for next in node.successors() {
                if let Some((key, _)) = def.nodes.get_key_value(next) {
                    queue.push_back((key.as_str(), d + 1));
                }
            }
        }
    }
    out
}

/// A fix as a cause: the solution's first sentence.
fn cause(def: &FlowDefinition, id: &str) -> String {
    def.nodes
        .get(id)
        .map(|n| first_sentence(n.text(), 300))
        .unwrap_or_else(|| id.to_string())
}

/// An answered step's answer in the words the engineer saw.
fn answer_label(def: &FlowDefinition, visit: &Visit) -> String {
    if visit.how == How::NotDone {
        return "could not be done".into();
    }
    match def.nodes.get(&visit.node) {
        Some(FlowNode::Question { options, .. }) => options
            .iter()
            .find(|o| o.value == visit.value)
            .map_or_else(|| visit.value.clone(), |o| o.label.clone()),
        _ => ActionOutcome::from_value(&visit.value)
            .map_or_else(|| visit.value.clone(), |o| o.label().to_string()),
    }
}

fn likelihood(p: f64) -> Likelihood {
    if p >= 0.5 {
        Likelihood::High
    } else if p >= 0.15 {
        Likelihood::Medium
    } else {
        Likelihood::Low
    }
}

/// Collapses whitespace and cuts at `max` characters.
fn clip(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    }
}
