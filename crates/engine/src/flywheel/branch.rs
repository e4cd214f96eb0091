//! Building the flow a proposal carries: the steps a session took off the flow turned into
//! nodes, ending in the fix that worked, hung from the node where it left (or made into a
//! flow of their own).

use std::collections::BTreeMap;

use domain::flow::{limits, FlowDefinition, FlowNode, FlowOption, FlowStatus};
use domain::step::{slug, StepType};

use super::{place, Place, WalkedStep};

/// One step of a branch, as a node will say it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Link {
    /// A question and the answer that led on.
    Question { text: String, answer: String },
    Action {
        text: String,
        expected_outcome: Option<String>,
    },
}

/// The label of the way into a branch when the session gave no words of its own.
const SOMETHING_ELSE: &str = "Something else";

fn clip(text: &str, max: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", text[..at].trim_end())
            .chars()
            .take(max)
            .collect(),
        None => text.to_string(),
    }
}

/// The troubleshooting steps among `steps` that no flow node stands for, in order: questions
/// with the answer given, actions. Suggestions are left out: the one that worked is the fix,
/// and the others did not.
pub(super) fn chain(steps: &[WalkedStep]) -> Vec<Link> {
    steps
        .iter()
        .filter(|s| place(s, None) == Place::OffFlow)
        .filter_map(|s| match s.step_type {
            StepType::Question => {
                let answer = s.answer.as_ref().filter(|a| !a.skipped)?;
                let picked = answer.selected_option.as_deref().map(|v| {
                    s.options
                        .iter()
                        .find(|(_, value)| value == v)
                        .map_or(v.to_string(), |(label, _)| label.clone())
                });
                let said = picked
                    .or_else(|| answer.free_text_input.clone())
                    .filter(|t| !t.trim().is_empty())?;
                Some(Link::Question {
                    text: clip(&s.content, limits::NODE_TEXT),
                    answer: clip(&said, limits::LABEL),
                })
            }
            StepType::Action => Some(Link::Action {
                text: clip(&s.content, limits::NODE_TEXT),
                expected_outcome: s
                    .expected_outcome
                    .as_deref()
                    .map(|e| clip(e, limits::NODE_TEXT)),
            }),
            StepType::ResolutionSuggestion => None,
        })
        .collect()
}

/// A short, stable tag from the merge key, so a proposal's node ids are the same each time
/// it is built and do not collide with the flow's own.
fn tag(merge_key: &str) -> String {
    // FNV-1a: stable across builds and platforms, unlike the standard library's hasher.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in merge_key.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{:06x}", hash & 0x00ff_ffff)
}

/// Node ids `{prefix}_1`, `{prefix}_2`, … that `taken` does not use.
struct Ids<'t> {
    prefix: String,
    taken: &'t BTreeMap<String, FlowNode>,
    n: usize,
}

impl Ids<'_> {
    fn next(&mut self, name: &str) -> String {
        loop {
            self.n += 1;
            let id = format!("{}_{name}{}", self.prefix, self.n);
            if !self.taken.contains_key(&id) {
                return id;
            }
        }
    }
}

/// The nodes of `links` followed by the fix, added to `nodes`; returns the first one's id.
fn add_chain(
    nodes: &mut BTreeMap<String, FlowNode>,
    ids: &mut Ids<'_>,
    links: &[Link],
    fix: &str,
    follow_ups: &[String],
) -> String {
    let own: Vec<String> = links.iter().map(|_| ids.next("step")).collect();
    let fix_id = ids.next("fix");
    let other_id = links
        .iter()
        .any(|l| matches!(l, Link::Question { .. }))
        .then(|| ids.next("other"));
    let mut added = BTreeMap::new();
    for (i, link) in links.iter().enumerate() {
        let next = own.get(i + 1).cloned().unwrap_or_else(|| fix_id.clone());
        let node = match link {
            Link::Question { text, answer } => {
                let value = clip(&slug(answer), 48);
                let other = if value == slug(SOMETHING_ELSE) {
                    "other_answer".to_string()
                } else {
                    slug(SOMETHING_ELSE)
                };
                FlowNode::Question {
                    text: text.clone(),
                    help: None,
                    options: vec![
                        FlowOption {
                            label: answer.clone(),
                            value,
                            next,
                        },
                        FlowOption {
                            label: SOMETHING_ELSE.into(),
                            value: other,
                            next: other_id.clone().unwrap_or_default(),
                        },
                    ],
                }
            }
            Link::Action {
                text,
                expected_outcome,
            } => FlowNode::Action {
                text: text.clone(),
                help: None,
                expected_outcome: expected_outcome.clone(),
                next,
                on_failure: None,
            },
        };
        added.insert(own[i].clone(), node);
    }
    added.insert(
        fix_id.clone(),
        FlowNode::Solution {
            text: clip(fix, limits::NODE_TEXT),
            help: None,
            follow_up: follow_ups
                .iter()
                .take(limits::MAX_FOLLOW_UPS)
                .map(|f| clip(f, limits::NODE_TEXT))
                .collect(),
        },
    );
    if let Some(other) = other_id {
        added.insert(
            other,
            FlowNode::Escalate {
                text: "This branch does not cover it yet: escalate with what you found.".into(),
                help: None,
            },
        );
    }
    nodes.extend(added);
    own.first().cloned().unwrap_or(fix_id)
}

/// A value for a new option of `options`, from its label, unique among them.
fn unique_value(options: &[FlowOption], label: &str) -> String {
    let base = clip(&slug(label), 48);
    let mut value = base.clone();
    let mut n = 2;
    while options.iter().any(|o| o.value == value) {
        value = format!("{base}_{n}");
        n += 1;
    }
    value
}

/// `def` with the branch (`links`, then the fix) hung from node `at`: a new option of a
/// question (labelled with what the engineer said), or an action's way on when it fails.
/// `None` when the node has no room for another way on.
pub(super) fn attach(
    def: &FlowDefinition,
    at: &str,
    said: Option<&str>,
    links: &[Link],
    fix: &str,
    follow_ups: &[String],
    merge_key: &str,
) -> Option<FlowDefinition> {
    let mut out = def.clone();
    let original = def.nodes.clone();
    let mut ids = Ids {
        prefix: format!("p{}", tag(merge_key)),
        taken: &original,
        n: 0,
    };
    let label = clip(said.unwrap_or(SOMETHING_ELSE), limits::LABEL);
    let first = add_chain(&mut out.nodes, &mut ids, links, fix, follow_ups);
    match out.nodes.get_mut(at)? {
        FlowNode::Question { options, .. } => {
            if options.len() >= limits::MAX_OPTIONS {
                return None;
            }
            let value = unique_value(options, &label);
            options.push(FlowOption {
                label,
                value,
                next: first,
            });
        }
        FlowNode::Action {
            on_failure, text, ..
        } => match on_failure.clone() {
            None => *on_failure = Some(first),
            Some(failing) => {
                // The flow already goes on when this fails: ask which of the two it is.
                let ask = ids.next("ask");
                let question = FlowNode::Question {
                    text: clip(&format!("What happened after: {text}"), limits::NODE_TEXT),
                    help: None,
                    options: vec![
                        FlowOption {
                            label: "It still fails".into(),
                            value: "still_fails".into(),
                            next: failing,
                        },
                        FlowOption {
                            value: match clip(&slug(&label), 48) {
                                v if v == "still_fails" => "other".into(),
                                v => v,
                            },
                            label,
                            next: first,
                        },
                    ],
                };
                *on_failure = Some(ask.clone());
                out.nodes.insert(ask, question);
            }
        },
        FlowNode::Solution { .. } | FlowNode::Escalate { .. } => return None,
    }
    // Written from what sessions did, not by a model: nothing here awaits review.
    Some(out)
}

/// A flow of its own from a session no flow matched: its steps, then the fix. `None` only
/// if the document cannot be read back, which validation would refuse anyway.
pub(super) fn new_flow(
    summary: &str,
    domain: &str,
    links: &[Link],
    fix: &str,
    follow_ups: &[String],
    merge_key: &str,
) -> Option<FlowDefinition> {
    let empty = BTreeMap::new();
    let mut ids = Ids {
        prefix: format!("n{}", tag(merge_key)),
        taken: &empty,
        n: 0,
    };
    let mut nodes = BTreeMap::new();
    let start = add_chain(&mut nodes, &mut ids, links, fix, follow_ups);
    // Read as a document, so the flow's other fields take the defaults a document gets.
    serde_json::from_value(serde_json::json!({
        "title": clip(summary, limits::TITLE),
        "description": clip(
            &format!("Drafted from a resolved session that no flow matched: {summary}"),
            limits::DESCRIPTION,
        ),
        "domain": domain,
        "status": FlowStatus::Published.as_str(),
        "start": start,
        "nodes": serde_json::to_value(&nodes).ok()?,
    }))
    .ok()
}
