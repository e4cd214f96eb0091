//! What a closed session teaches the library (memory.md "The flywheel"): deterministic, pure
//! functions from a session's steps, answers and outcome, and the flow it followed, to one of
//!
//! - **reinforcement**: it followed its flow to a fix; statistics only, no proposal;
//! - **branch addition**: it left its flow (a free-text answer no option meant, steps the
//!   flow does not have) and was resolved: the current flow plus the branch that led to the
//!   fix, attached at the node where it left ([`branch`]);
//! - **new flow**: no flow matched and it was resolved: a flow built from its steps;
//! - **nothing**: it was not resolved, or there is nothing to learn from it.
//!
//! Each proposal carries a merge key: the same missing branch at the same node of the same
//! flow (the node, and the fix in [`domain::proposal::key_words`]) gives the same key, so
//! three sessions that found it are one proposal with three pieces of evidence.

mod branch;

#[cfg(test)]
mod tests;

use domain::flow::{Flow, FlowDefinition, FlowNode};
use domain::proposal::{key_words, ProposalKind};
use domain::session::SessionStatus;
use domain::step::{Answer, Step, StepType};
use serde_json::Value;
use uuid::Uuid;

use crate::offline::ActionOutcome;
use crate::position::shown_node;

/// One step of a closed session, as the analysis reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkedStep {
    /// The pilot's state: which flow node the step showed, if any.
    pub state: Value,
    pub step_type: StepType,
    pub content: String,
    pub expected_outcome: Option<String>,
    /// The options offered, as (label, value).
    pub options: Vec<(String, String)>,
    pub resolution_summary: Option<String>,
    pub follow_ups: Vec<String>,
    pub answer: Option<Answer>,
    /// Free text given that did not answer the step.
    pub observations: Vec<String>,
}

impl From<&Step> for WalkedStep {
    fn from(step: &Step) -> WalkedStep {
        WalkedStep {
            state: step.engine_state.clone(),
            step_type: step.output.step_type,
            content: step.output.content.clone(),
            expected_outcome: step.output.expected_outcome.clone(),
            options: step
                .output
                .options
                .iter()
                .map(|o| (o.label.clone(), o.value.clone()))
                .collect(),
            resolution_summary: step.output.resolution_summary.clone(),
            follow_ups: step.output.follow_up_recommendations.clone(),
            answer: step.response.as_ref().map(|r| r.answer.clone()),
            observations: step.observations.clone(),
        }
    }
}

/// A closed session: how it ended and what it went through.
#[derive(Debug, Clone)]
pub struct ClosedSession<'a> {
    pub status: SessionStatus,
    /// The fix that worked (resolved sessions).
    pub resolution_summary: Option<&'a str>,
    pub title: &'a str,
    pub problem_summary: Option<&'a str>,
    pub problem_domain: Option<&'a str>,
    pub steps: &'a [WalkedStep],
}

/// A proposal the analysis makes.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposed {
    pub kind: ProposalKind,
    /// The flow it changes (branch additions).
    pub flow_id: Option<Uuid>,
    /// The version of that flow it was made from.
    pub base_version: Option<i64>,
    pub merge_key: String,
    /// A full, valid flow document: the current flow plus the branch, or the new flow.
    pub definition: FlowDefinition,
    /// Where the branch is attached (branch additions).
    pub attached_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Analysis {
    Reinforcement { flow_id: Uuid },
    Proposal(Box<Proposed>),
    Nothing { why: String },
}

impl Analysis {
    fn nothing(why: &str) -> Analysis {
        Analysis::Nothing { why: why.into() }
    }
}

/// Where a step stood.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Place<'s> {
    /// A node of the flow analysed.
    Node(&'s str),
    /// One of the pilot's own prompts (triage, an offer to escalate, "describe it again"):
    /// neither on the flow nor a troubleshooting step of its own.
    Prompt,
    /// A step the flow does not have (a model-led step that asked no flow question).
    OffFlow,
}

fn place<'s>(step: &'s WalkedStep, def: Option<&FlowDefinition>) -> Place<'s> {
    if let Some(node) = shown_node(&step.state) {
        return match def {
            Some(d) if d.nodes.contains_key(node) => Place::Node(node),
            // A node of another flow (the session moved on from it): not this flow's steps.
            _ => Place::Prompt,
        };
    }
    if step.state.get("at").is_some() {
        Place::Prompt
    } else {
        Place::OffFlow
    }
}

/// The words an answer gave when they were not one of the step's options, if any.
fn typed(step: &WalkedStep) -> Option<String> {
    let answer = step.answer.as_ref();
    let free = answer
        .filter(|a| !a.skipped)
        .and_then(|a| a.free_text_input.as_deref())
        .map(str::trim)
        .filter(|t| !t.is_empty());
    free.or_else(|| {
        step.observations
            .iter()
            .map(|o| o.trim())
            .find(|o| !o.is_empty())
    })
    .map(str::to_string)
}

/// Whether the answer picked one of the node's own ways on.
fn picked_a_way(node: &FlowNode, answer: Option<&Answer>) -> bool {
    let Some(value) = answer.and_then(|a| a.selected_option.as_deref()) else {
        return false;
    };
    match node {
        FlowNode::Question { options, .. } => options.iter().any(|o| o.value == value),
        FlowNode::Action { .. } => ActionOutcome::from_value(value).is_some(),
        FlowNode::Solution { .. } | FlowNode::Escalate { .. } => false,
    }
}

/// Where a session left its flow, and the words it left with.
#[derive(Debug, Clone, PartialEq)]
struct Departure {
    node: String,
    text: Option<String>,
    /// The steps after it that the branch is made of.
    from_step: usize,
}

fn departure(def: &FlowDefinition, steps: &[WalkedStep]) -> (Option<Departure>, Vec<String>) {
    let places: Vec<Place<'_>> = steps.iter().map(|s| place(s, Some(def))).collect();
    let mut path: Vec<String> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        match places[i] {
            Place::Prompt => {}
            Place::OffFlow => {
                let node = path.last().cloned();
                return (
                    node.map(|node| Departure {
                        text: steps[..i]
                            .iter()
                            .rev()
                            .find(|s| place(s, Some(def)) != Place::Prompt)
                            .and_then(typed),
                        node,
                        from_step: i,
                    }),
                    path,
                );
            }
            Place::Node(id) => {
                path.push(id.to_string());
                let Some(node) = def.nodes.get(id) else {
                    continue;
                };
                let next = places[i + 1..]
                    .iter()
                    .find(|p| !matches!(p, Place::Prompt))
                    .copied();
                let went_on = match next {
                    Some(Place::Node(m)) => node.successors().contains(&m),
                    _ => false,
                };
                if went_on || picked_a_way(node, step.answer.as_ref()) {
                    continue;
                }
                if let Some(text) = typed(step) {
                    if node.is_terminal() {
                        continue;
                    }
                    return (
                        Some(Departure {
                            node: id.to_string(),
                            text: Some(text),
                            from_step: i + 1,
                        }),
                        path,
                    );
                }
            }
        }
    }
    (None, path)
}

/// What `session` teaches about `flow` (the flow it followed, as it stands now; `None` when
/// no flow matched).
pub fn analyse(session: &ClosedSession<'_>, flow: Option<&Flow>) -> Analysis {
    if session.status != SessionStatus::Resolved {
        return Analysis::nothing("only resolved sessions are analysed");
    }
    let Some(fix) = session
        .resolution_summary
        .map(str::trim)
        .filter(|f| !f.is_empty())
    else {
        return Analysis::nothing("the session has no resolution summary");
    };
    let follow_ups = follow_ups_of(session.steps, fix);
    let Some(flow) = flow else {
        return new_flow(session, fix, &follow_ups);
    };
    let def = &flow.definition;
    let (left, path) = departure(def, session.steps);
    let left = left.or_else(|| rejected_solution(def, session.steps, &path, fix));
    let Some(left) = left else {
        return Analysis::Reinforcement { flow_id: flow.id };
    };
    // A branch hangs from a question or an action: leaving at a fix hangs it from the step
    // that led there.
    let attach = path
        .iter()
        .rev()
        .skip_while(|id| *id != &left.node)
        .find(|id| def.nodes.get(*id).is_some_and(|n| !n.is_terminal()))
        .cloned();
    let Some(attach) = attach else {
        return Analysis::nothing("the session left the flow before its first question");
    };
    let merge_key = format!("branch:{}:{attach}:{}", flow.id, key_words(fix));
    let chain = branch::chain(&session.steps[left.from_step.min(session.steps.len())..]);
    let built = branch::attach(
        def,
        &attach,
        left.text.as_deref(),
        &chain,
        fix,
        &follow_ups,
        &merge_key,
    );
    let Some(definition) = built else {
        return Analysis::nothing("the node where the session left has no room for another way on");
    };
    checked(Proposed {
        kind: ProposalKind::BranchAddition,
        flow_id: Some(flow.id),
        base_version: Some(flow.version),
        merge_key,
        definition,
        attached_at: Some(attach),
    })
}

/// A session that reached one of the flow's fixes, was told it did not work, and was then
/// resolved another way: it left the flow at that fix.
fn rejected_solution(
    def: &FlowDefinition,
    steps: &[WalkedStep],
    path: &[String],
    fix: &str,
) -> Option<Departure> {
    let last = path.last()?;
    let FlowNode::Solution { text, .. } = def.nodes.get(last)? else {
        return None;
    };
    let at = steps
        .iter()
        .rposition(|s| place(s, Some(def)) == Place::Node(last))?;
    let answered = steps[at].answer.is_some();
    if !answered || key_words(text) == key_words(fix) {
        return None;
    }
    Some(Departure {
        node: last.clone(),
        text: steps[at..].iter().find_map(typed),
        from_step: at + 1,
    })
}

/// The follow-ups of the suggestion that was the fix, when the fix is one of the suggestions.
fn follow_ups_of(steps: &[WalkedStep], fix: &str) -> Vec<String> {
    steps
        .iter()
        .rev()
        .filter(|s| s.step_type == StepType::ResolutionSuggestion)
        .find(|s| {
            let said = s.resolution_summary.as_deref().unwrap_or(&s.content);
            key_words(said) == key_words(fix) || key_words(&s.content) == key_words(fix)
        })
        .map(|s| s.follow_ups.clone())
        .unwrap_or_default()
}

fn new_flow(session: &ClosedSession<'_>, fix: &str, follow_ups: &[String]) -> Analysis {
    let domain = domain_name(session.problem_domain);
    let summary = session
        .problem_summary
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(session.title);
    let merge_key = format!("new:{domain}:{}", key_words(fix));
    let chain = branch::chain(session.steps);
    let Some(definition) = branch::new_flow(summary, &domain, &chain, fix, follow_ups, &merge_key)
    else {
        return Analysis::nothing("the new flow could not be written as a document");
    };
    checked(Proposed {
        kind: ProposalKind::NewFlow,
        flow_id: None,
        base_version: None,
        merge_key,
        definition,
        attached_at: None,
    })
}

/// A domain as flows spell it (lower-case letters, digits, `_` and `-`); `general` when the
/// session never said.
fn domain_name(domain: Option<&str>) -> String {
    let slug: String = domain
        .unwrap_or_default()
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let slug = slug.trim_matches(|c| c == '_' || c == '-').to_string();
    let slug: String = slug.chars().take(64).collect();
    if slug.is_empty() || slug == "unknown" {
        "general".into()
    } else {
        slug
    }
}

/// A proposal is only made when its document passes the rules every flow passes.
fn checked(proposed: Proposed) -> Analysis {
    match proposed.definition.validate() {
        Ok(()) => Analysis::Proposal(Box::new(proposed)),
        Err(errors) => Analysis::Nothing {
            why: format!("the proposed flow would not be valid: {errors:?}"),
        },
    }
}
