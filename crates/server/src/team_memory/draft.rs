//! "Draft a flow from these": a draft flow document (flows.md) from a knowledge gap's
//! sessions, for an author to finish and save through the ordinary flow creation path.
//!
//! The steps are those of one representative session (a resolved one with the most typed
//! answers, else the first): the questions it answered with the options they offered and the
//! actions it did, in order. The end is what the gap's sessions ended with: each distinct fix a
//! solution, and an escalation when some were escalated; with more than one ending, a last
//! question asks which applies. Always a valid DAG: every node leads to the next, the last
//! to the endings.

use std::collections::BTreeMap;

use domain::flow::FlowDefinition;
use domain::session::SessionStatus;
use domain::step::{Step, StepType};
use serde_json::{json, Map, Value};
use store::RememberedSession;

use super::gaps::Gap;
use crate::error::{ApiError, ApiResult};

/// Keeps the draft within flows.md's limits (domain/src/flow/validate.rs `limits`).
const TEXT: usize = 2000;
const LABEL: usize = 200;
const TITLE: usize = 200;
const MAX_OPTIONS: usize = 6;
const MAX_STEPS: usize = 40;
const MAX_ENDINGS: usize = 5;

/// The session whose steps the draft follows.
pub fn representative<'a>(members: &[&'a RememberedSession]) -> Option<&'a RememberedSession> {
    members
        .iter()
        .copied()
        .filter(|s| s.status == SessionStatus::Resolved)
        .max_by_key(|s| s.answers.len())
        .or_else(|| members.first().copied())
}

pub fn build(
    gap: &Gap,
    members: &[&RememberedSession],
    steps: &[Step],
) -> ApiResult<FlowDefinition> {
    let mut nodes: Vec<(String, Value)> = Vec::new();
    let walked: Vec<&Step> = steps
        .iter()
        .filter(|s| s.output.step_type != StepType::ResolutionSuggestion)
        .filter(|s| !s.output.content.trim().is_empty())
        // Only the steps the session went through: answered, not skipped.
        .filter(|s| s.response.as_ref().is_some_and(|r| !r.answer.skipped))
        .take(MAX_STEPS)
        .collect();
    let ending_start = "end";
    for (i, step) in walked.iter().enumerate() {
        let next = if i + 1 < walked.len() {
            format!("step_{}", i + 2)
        } else {
            ending_start.to_string()
        };
        let mut options: Vec<(String, String)> = Vec::new();
        for o in &step.output.options {
            let value = slug(&o.value);
            if !value.is_empty()
                && !o.label.trim().is_empty()
                && !options.iter().any(|(v, _)| *v == value)
            {
                options.push((value, clip(&o.label, LABEL)));
            }
        }
        options.truncate(MAX_OPTIONS);
        let text = clip(&step.output.content, TEXT);
        let node = if step.output.step_type == StepType::Question && options.len() >= 2 {
            json!({"type": "question", "text": text, "options": options.iter().map(|(value, label)| {
                json!({"label": label, "value": value, "next": next})
            }).collect::<Vec<_>>()})
        } else {
            let mut action = json!({"type": "action", "text": text, "next": next});
            if let Some(expected) = step.output.expected_outcome.as_deref() {
                action["expected_outcome"] = json!(clip(expected, TEXT));
            }
            action
        };
        nodes.push((format!("step_{}", i + 1), node));
    }
    nodes.extend(endings(members, ending_start));
    let start = nodes
        .first()
        .map(|(id, _)| id.clone())
        .unwrap_or_else(|| ending_start.to_string());
    let title = capitalised(&gap.label());
    let summaries: Vec<String> = members
        .iter()
        .rev()
        .take(3)
        .map(|s| clip(s.problem_summary.as_deref().unwrap_or(&s.title), 300))
        .collect();
    let description = clip(
        &format!(
            "Drafted from {} session{} that matched no flow, for example: {}",
            members.len(),
            if members.len() == 1 { "" } else { "s" },
            summaries.join(" · ")
        ),
        5000,
    );
    let document = json!({
        "title": clip(&title, TITLE),
        "description": description,
        "domain": domain_of(members),
        "tags": gap.terms.iter().map(|t| clip(t, 64)).collect::<Vec<_>>(),
        "status": "draft",
        "start": start,
        "nodes": nodes.into_iter().collect::<Map<String, Value>>(),
    });
    let flow: FlowDefinition = serde_json::from_value(document)
        .map_err(|e| ApiError::fault("the drafted flow could not be read back", e))?;
    flow.validate()?;
    Ok(flow)
}

/// The node `id` and what follows it: the fixes the sessions found and the escalation, or a
/// question choosing among them.
fn endings(members: &[&RememberedSession], id: &str) -> Vec<(String, Value)> {
    // Distinct fixes, the most frequent first, then by first appearance.
    let mut fixes: Vec<(String, usize)> = Vec::new();
    let mut escalation: Option<String> = None;
    for s in members {
        match s.status {
            SessionStatus::Resolved => {
                if let Some(fix) = s.resolution_summary.as_deref().map(str::trim) {
                    match fixes.iter_mut().find(|(f, _)| f.eq_ignore_ascii_case(fix)) {
                        Some((_, n)) => *n += 1,
                        None if !fix.is_empty() => fixes.push((fix.to_string(), 1)),
                        None => {}
                    }
                }
            }
            SessionStatus::Escalated => {
                escalation = escalation.or_else(|| s.escalation_reason.clone());
            }
            _ => {}
        }
    }
    fixes.sort_by_key(|f| std::cmp::Reverse(f.1));
    fixes.truncate(MAX_ENDINGS);
    let mut ends: Vec<(String, String, Value)> = fixes
        .iter()
        .enumerate()
        .map(|(i, (fix, _))| {
            (
                format!("fix_{}", i + 1),
                clip(fix, LABEL),
                json!({"type": "solution", "text": clip(fix, TEXT)}),
            )
        })
        .collect();
    if escalation.is_some() || ends.is_empty() {
        let text = match escalation {
            Some(reason) => format!("Escalate, as sessions before did: {}", clip(&reason, 1800)),
            None => "No fix was recorded for these sessions yet: escalate with what you found."
                .to_string(),
        };
        ends.push((
            "escalate".into(),
            "None of these".into(),
            json!({"type": "escalate", "text": text}),
        ));
    }
    if ends.len() == 1 {
        let (_, _, node) = ends.remove(0);
        return vec![(id.to_string(), node)];
    }
    let options: Vec<Value> = ends
        .iter()
        .map(|(node, label, _)| json!({"label": label, "value": node, "next": node}))
        .collect();
    let mut out = vec![(
        id.to_string(),
        json!({"type": "question", "text": "Which of the fixes found before applies?", "options": options}),
    )];
    out.extend(ends.into_iter().map(|(node, _, value)| (node, value)));
    out
}

/// The problem domain most of the sessions have; `general` when none says.
fn domain_of(members: &[&RememberedSession]) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for d in members.iter().filter_map(|s| s.problem_domain.as_deref()) {
        let d = slug(d).replace('-', "_");
        // "unknown" is what a session says when nothing told it the domain.
        if !d.is_empty() && d != "unknown" && d.len() <= 64 {
            *counts.entry(d).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .fold(None, |best: Option<(String, usize)>, (d, n)| match best {
            Some((_, bn)) if bn >= n => best,
            _ => Some((d, n)),
        })
        .map_or_else(|| "general".to_string(), |(d, _)| d)
}

/// Lower-case letters, digits, `_` and `-`: what flows.md accepts as an option value or
/// a domain.
fn slug(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_matches('_')
        .chars()
        .take(64)
        .collect()
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "Untitled gap".into(),
    }
}

fn clip(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max - 1).collect();
    format!("{}…", cut.trim_end())
}
