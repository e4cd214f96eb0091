//! The overview's figures, computed in Rust from the rows the store hands over, so both
//! backends give the same numbers exactly. Every definition the spec leaves open is written
//! here and in docs/memory.md ("Analytics"); the two must say the same.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use domain::flow::FlowNode;
use domain::step::{StepOutput, StepType};
use serde::Serialize;
use serde_json::Value;
use store::{AnalyticsRows, SessionFact, StepFact};
use utoipa::ToSchema;
use uuid::Uuid;

/// Outcomes of a set of sessions (all of them, one domain's, one flow's).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Outcomes {
    /// Sessions started in the range.
    pub started: i64,
    pub resolved: i64,
    pub escalated: i64,
    pub abandoned: i64,
    /// Still active, paused or awaiting verification.
    pub open: i64,
    /// resolved / started; null without sessions.
    pub resolution_rate: Option<f64>,
    /// escalated / started; null without sessions.
    pub escalation_rate: Option<f64>,
    /// Time from start to resolution of the resolved sessions, in seconds: the nearest-rank
    /// 50th percentile (the value at rank ⌈0.5·n⌉ of the n times sorted ascending).
    pub mttr_p50_seconds: Option<i64>,
    /// The same at rank ⌈0.9·n⌉.
    pub mttr_p90_seconds: Option<i64>,
    /// The mean number of steps of the resolved sessions.
    pub steps_per_resolved: Option<f64>,
    /// Sessions rated.
    pub rated: i64,
    /// The mean rating of the rated sessions.
    pub rating_mean: Option<f64>,
    /// Sessions that matched no flow.
    pub unmatched: i64,
    /// (started − unmatched) / started: the share a flow covered.
    pub coverage: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DomainOutcomes {
    /// The session's problem domain; null when none was named.
    pub domain: Option<String>,
    pub outcomes: Outcomes,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FlowOutcomes {
    /// The matched flow; null for the sessions no flow matched.
    pub flow_id: Option<Uuid>,
    pub flow_name: Option<String>,
    pub outcomes: Outcomes,
}

/// One node of a flow: its traffic and where sessions left the flow.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NodeHealth {
    pub flow_id: Uuid,
    pub flow_name: Option<String>,
    pub node_id: String,
    /// `question`, `action`, `solution` or `escalate`; null when the flow no longer has it.
    pub node_type: Option<String>,
    pub node_text: Option<String>,
    /// Sessions that were shown this node.
    pub reached: i64,
    /// Times it was shown (a session may come back to it).
    pub shown: i64,
    /// Of those, the times it was answered.
    pub answered: i64,
    /// Sessions whose last flow node was this one, by how they ended.
    pub left_resolved: i64,
    pub left_escalated: i64,
    pub left_abandoned: i64,
    /// Answers in free text without an option: the engineer went off the flow.
    pub free_text: i64,
    /// free_text / answered.
    pub free_text_rate: Option<f64>,
    /// Times it was marked not relevant.
    pub not_relevant: i64,
    /// not_relevant / shown.
    pub not_relevant_rate: Option<f64>,
    /// Sessions escalated or abandoned here (left_escalated + left_abandoned).
    pub dead_end_sessions: i64,
    /// Sessions reached it and closed, and not one of them was resolved.
    pub dead_end: bool,
}

/// One band of the reliability table: resolution suggestions made at a confidence in
/// `[from, to)` (the top band includes 1.0) and how many were the fix.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ReliabilityBand {
    pub from: f64,
    pub to: f64,
    pub suggestions: i64,
    pub fixes: i64,
    /// fixes / suggestions: calibrated when it is close to the band's confidence.
    pub fix_rate: Option<f64>,
    pub mean_confidence: Option<f64>,
}

/// AI spend of the sessions of one engine.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EngineCost {
    /// `offline` or the provider and model the session ran on.
    pub engine: String,
    pub sessions: i64,
    pub resolved: i64,
    /// Ledger calls (successful or not) of those sessions.
    pub calls: i64,
    pub cost_usd: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// cost_usd / resolved: what one resolution cost, the spend on unresolved sessions included.
    pub cost_per_resolved_usd: Option<f64>,
    /// (input_tokens + output_tokens) / resolved.
    pub tokens_per_resolved: Option<f64>,
}

/// What `GET /analytics/overview` answers and the Analytics page shows.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Overview {
    /// Sessions started at or after this…
    pub from: DateTime<Utc>,
    /// …and before this.
    pub to: DateTime<Utc>,
    pub domain: Option<String>,
    /// `account` (an admin: every session of the account) or `own` (the caller's sessions).
    pub scope: String,
    pub totals: Outcomes,
    pub by_domain: Vec<DomainOutcomes>,
    pub by_flow: Vec<FlowOutcomes>,
    pub nodes: Vec<NodeHealth>,
    /// Ten bands of width 0.1, lowest first.
    pub reliability: Vec<ReliabilityBand>,
    pub cost_by_engine: Vec<EngineCost>,
}

/// What the figures know of a flow beyond the session rows: its nodes.
pub type FlowNodes = HashMap<Uuid, std::collections::BTreeMap<String, FlowNode>>;

/// The value at rank ⌈p/100 · n⌉ (1-based) of `sorted`: the nearest-rank percentile.
pub fn nearest_rank(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn is(s: &SessionFact, status: &str) -> bool {
    s.status == status
}

fn closed(s: &SessionFact) -> bool {
    is(s, "resolved") || is(s, "escalated") || is(s, "abandoned")
}

/// A step's parsed output, or `None` for a row that does not read (it is left out, not fatal).
fn output(step: &StepFact) -> Option<StepOutput> {
    serde_json::from_str(&step.output).ok()
}

fn node_of(step: &StepFact) -> Option<String> {
    let state: Value = serde_json::from_str(&step.engine_state).ok()?;
    engine::position::shown_node(&state).map(str::to_string)
}

/// An answer in free text that picked no option.
fn off_flow_answer(step: &StepFact) -> bool {
    let Some(response) = step
        .response
        .as_deref()
        .and_then(|r| serde_json::from_str::<Value>(r).ok())
    else {
        return false;
    };
    let text = response
        .get("free_text_input")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.trim().is_empty());
    let option = response
        .get("selected_option")
        .and_then(Value::as_str)
        .is_some_and(|o| !o.is_empty());
    text && !option
}

fn outcomes(sessions: &[&SessionFact], steps_of: &HashMap<Uuid, Vec<&StepFact>>) -> Outcomes {
    let count = |status: &str| sessions.iter().filter(|s| is(s, status)).count() as i64;
    let started = sessions.len() as i64;
    let (resolved, escalated, abandoned) =
        (count("resolved"), count("escalated"), count("abandoned"));
    let resolved_sessions: Vec<&&SessionFact> =
        sessions.iter().filter(|s| is(s, "resolved")).collect();
    let mut times: Vec<i64> = resolved_sessions
        .iter()
        .filter_map(|s| s.resolved_at.map(|at| (at - s.created_at).num_seconds()))
        .collect();
    times.sort_unstable();
    let steps: i64 = resolved_sessions
        .iter()
        .map(|s| steps_of.get(&s.id).map_or(0, Vec::len) as i64)
        .sum();
    let ratings: Vec<i64> = sessions.iter().filter_map(|s| s.rating).collect();
    let unmatched = sessions
        .iter()
        .filter(|s| s.matched_flow_id.is_none())
        .count() as i64;
    Outcomes {
        started,
        resolved,
        escalated,
        abandoned,
        open: started - resolved - escalated - abandoned,
        resolution_rate: ratio(resolved, started),
        escalation_rate: ratio(escalated, started),
        mttr_p50_seconds: nearest_rank(&times, 50),
        mttr_p90_seconds: nearest_rank(&times, 90),
        steps_per_resolved: ratio(steps, resolved),
        rated: ratings.len() as i64,
        rating_mean: ratio(ratings.iter().sum(), ratings.len() as i64),
        unmatched,
        coverage: ratio(started - unmatched, started),
    }
}

fn node_type(node: &FlowNode) -> &'static str {
    match node {
        FlowNode::Question { .. } => "question",
        FlowNode::Action { .. } => "action",
        FlowNode::Solution { .. } => "solution",
        FlowNode::Escalate { .. } => "escalate",
    }
}

#[derive(Default)]
struct NodeTally {
    sessions: BTreeSet<Uuid>,
    shown: i64,
    answered: i64,
    free_text: i64,
    not_relevant: i64,
    left: BTreeMap<&'static str, i64>,
}

fn nodes(
    sessions: &[&SessionFact],
    steps_of: &HashMap<Uuid, Vec<&StepFact>>,
    flows: &FlowNodes,
) -> Vec<NodeHealth> {
    let mut tally: BTreeMap<(Uuid, String), NodeTally> = BTreeMap::new();
    let mut names: HashMap<Uuid, Option<String>> = HashMap::new();
    for s in sessions {
        // A step's node belongs to the flow the session followed: the one it matched.
        let Some(flow_id) = s.matched_flow_id else {
            continue;
        };
        names.insert(flow_id, s.matched_flow_name.clone());
        let mut last_node = None;
        for step in steps_of.get(&s.id).into_iter().flatten() {
            let Some(node) = node_of(step) else { continue };
            let t = tally.entry((flow_id, node.clone())).or_default();
            t.sessions.insert(s.id);
            t.shown += 1;
            if step.response.is_some() {
                t.answered += 1;
            }
            if off_flow_answer(step) {
                t.free_text += 1;
            }
            if step.not_relevant_reason.is_some() {
                t.not_relevant += 1;
            }
            last_node = Some(node);
        }
        let end = match s.status.as_str() {
            "resolved" => "resolved",
            "escalated" => "escalated",
            "abandoned" => "abandoned",
            _ => continue,
        };
        if let Some(node) = last_node {
            if let Some(t) = tally.get_mut(&(flow_id, node)) {
                *t.left.entry(end).or_default() += 1;
            }
        }
    }
    let status: HashMap<Uuid, &str> = sessions.iter().map(|s| (s.id, s.status.as_str())).collect();
    let mut out: Vec<NodeHealth> = tally
        .into_iter()
        .map(|((flow_id, node_id), t)| {
            let node = flows.get(&flow_id).and_then(|nodes| nodes.get(&node_id));
            let left = |end: &str| t.left.get(end).copied().unwrap_or(0);
            let ends: Vec<&str> = t
                .sessions
                .iter()
                .filter_map(|id| status.get(id).copied())
                .collect();
            let any_closed = ends
                .iter()
                .any(|e| matches!(*e, "resolved" | "escalated" | "abandoned"));
            NodeHealth {
                flow_id,
                flow_name: names.get(&flow_id).cloned().flatten(),
                node_type: node.map(|n| node_type(n).to_string()),
                node_text: node.map(|n| n.text().to_string()),
                reached: t.sessions.len() as i64,
                shown: t.shown,
                answered: t.answered,
                left_resolved: left("resolved"),
                left_escalated: left("escalated"),
                left_abandoned: left("abandoned"),
                free_text: t.free_text,
                free_text_rate: ratio(t.free_text, t.answered),
                not_relevant: t.not_relevant,
                not_relevant_rate: ratio(t.not_relevant, t.shown),
                dead_end_sessions: left("escalated") + left("abandoned"),
                dead_end: any_closed && !ends.contains(&"resolved"),
                node_id,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (
            &a.flow_name,
            a.flow_id,
            std::cmp::Reverse(a.reached),
            &a.node_id,
        )
            .cmp(&(
                &b.flow_name,
                b.flow_id,
                std::cmp::Reverse(b.reached),
                &b.node_id,
            ))
    });
    out
}

const BANDS: usize = 10;

/// The band of a confidence: ⌊10·p⌋, the top band holding 1.0. The small nudge keeps a
/// confidence written as 0.3 in band 3 whatever its binary rounding.
fn band(p: f64) -> usize {
    ((p.clamp(0.0, 1.0) * BANDS as f64 + 1e-9).floor() as usize).min(BANDS - 1)
}

fn reliability(
    sessions: &[&SessionFact],
    steps_of: &HashMap<Uuid, Vec<&StepFact>>,
) -> Vec<ReliabilityBand> {
    let mut bands = [(0i64, 0i64, 0.0f64); BANDS];
    for s in sessions {
        let suggestions: Vec<(&StepFact, StepOutput)> = steps_of
            .get(&s.id)
            .into_iter()
            .flatten()
            .filter_map(|st| output(st).map(|o| (*st, o)))
            .filter(|(_, o)| o.step_type == StepType::ResolutionSuggestion)
            .collect();
        let last = suggestions.len().checked_sub(1);
        for (i, (step, out)) in suggestions.iter().enumerate() {
            // An open session's suggestion is not decided yet, unless its outcome says so.
            if !closed(s) && step.outcome.is_none() {
                continue;
            }
            let text = out.resolution_summary.as_deref().unwrap_or(&out.content);
            let used = is(s, "resolved")
                && Some(i) == last
                && s.resolution_summary.as_deref() == Some(text);
            let fix = used || step.outcome.as_deref() == Some("worked");
            let b = &mut bands[band(out.confidence)];
            b.0 += 1;
            b.1 += i64::from(fix);
            b.2 += out.confidence;
        }
    }
    bands
        .iter()
        .enumerate()
        .map(|(i, &(suggestions, fixes, sum))| ReliabilityBand {
            from: i as f64 / BANDS as f64,
            to: (i + 1) as f64 / BANDS as f64,
            suggestions,
            fixes,
            fix_rate: ratio(fixes, suggestions),
            mean_confidence: (suggestions > 0).then(|| sum / suggestions as f64),
        })
        .collect()
}

fn costs(sessions: &[&SessionFact], rows: &AnalyticsRows) -> Vec<EngineCost> {
    let engine_of: HashMap<Uuid, &str> =
        sessions.iter().map(|s| (s.id, s.engine.as_str())).collect();
    let mut by: BTreeMap<&str, EngineCost> = BTreeMap::new();
    for s in sessions {
        let e = by.entry(s.engine.as_str()).or_insert_with(|| EngineCost {
            engine: s.engine.clone(),
            sessions: 0,
            resolved: 0,
            calls: 0,
            cost_usd: 0.0,
            input_tokens: 0,
            output_tokens: 0,
            cost_per_resolved_usd: None,
            tokens_per_resolved: None,
        });
        e.sessions += 1;
        e.resolved += i64::from(is(s, "resolved"));
    }
    for u in &rows.usage {
        let Some(e) = engine_of.get(&u.session_id).and_then(|e| by.get_mut(e)) else {
            continue;
        };
        e.calls += 1;
        e.cost_usd += u.cost_usd;
        e.input_tokens += u.input_tokens;
        e.output_tokens += u.output_tokens;
    }
    by.into_values()
        .map(|mut e| {
            e.cost_per_resolved_usd = (e.resolved > 0).then(|| e.cost_usd / e.resolved as f64);
            e.tokens_per_resolved = ratio(e.input_tokens + e.output_tokens, e.resolved);
            e
        })
        .collect()
}

/// Every figure of the overview over `rows` (the store's, already narrowed to the scope).
pub fn compute(
    rows: &AnalyticsRows,
    flows: &FlowNodes,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    domain: Option<String>,
    scope: &str,
) -> Overview {
    let sessions: Vec<&SessionFact> = rows.sessions.iter().collect();
    let mut steps_of: HashMap<Uuid, Vec<&StepFact>> = HashMap::new();
    for step in &rows.steps {
        steps_of.entry(step.session_id).or_default().push(step);
    }
    let mut domains: BTreeMap<Option<&str>, Vec<&SessionFact>> = BTreeMap::new();
    let mut flows_of: BTreeMap<Option<Uuid>, Vec<&SessionFact>> = BTreeMap::new();
    for s in &sessions {
        domains
            .entry(s.problem_domain.as_deref())
            .or_default()
            .push(s);
        flows_of.entry(s.matched_flow_id).or_default().push(s);
    }
    let mut by_domain: Vec<DomainOutcomes> = domains
        .into_iter()
        .map(|(domain, group)| DomainOutcomes {
            domain: domain.map(str::to_string),
            outcomes: outcomes(&group, &steps_of),
        })
        .collect();
    by_domain.sort_by(|a, b| {
        (std::cmp::Reverse(a.outcomes.started), &a.domain)
            .cmp(&(std::cmp::Reverse(b.outcomes.started), &b.domain))
    });
    let mut by_flow: Vec<FlowOutcomes> = flows_of
        .into_iter()
        .map(|(flow_id, group)| FlowOutcomes {
            flow_id,
            // The name it had when the newest of these sessions matched it.
            flow_name: group.iter().rev().find_map(|s| s.matched_flow_name.clone()),
            outcomes: outcomes(&group, &steps_of),
        })
        .collect();
    by_flow.sort_by(|a, b| {
        (
            std::cmp::Reverse(a.outcomes.started),
            &a.flow_name,
            a.flow_id,
        )
            .cmp(&(
                std::cmp::Reverse(b.outcomes.started),
                &b.flow_name,
                b.flow_id,
            ))
    });
    Overview {
        from,
        to,
        domain,
        scope: scope.to_string(),
        totals: outcomes(&sessions, &steps_of),
        by_domain,
        by_flow,
        nodes: nodes(&sessions, &steps_of, flows),
        reliability: reliability(&sessions, &steps_of),
        cost_by_engine: costs(&sessions, rows),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_takes_the_value_at_the_rank_rounded_up() {
        let times = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
        assert_eq!(nearest_rank(&times, 50), Some(50));
        assert_eq!(nearest_rank(&times, 90), Some(90));
        assert_eq!(nearest_rank(&[7, 9, 30], 50), Some(9));
        assert_eq!(nearest_rank(&[7, 9, 30], 90), Some(30));
        assert_eq!(nearest_rank(&[42], 90), Some(42));
        assert_eq!(nearest_rank(&[], 50), None);
    }

    #[test]
    fn confidences_fall_in_their_tenth() {
        assert_eq!(band(0.0), 0);
        assert_eq!(band(0.3), 3);
        assert_eq!(band(0.7), 7);
        assert_eq!(band(0.79), 7);
        assert_eq!(band(0.8), 8);
        assert_eq!(band(1.0), 9);
    }
}
