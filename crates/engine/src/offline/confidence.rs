//! Each step's confidence and the plain sentences that say why (engine.md "Confidence").
//!
//! A resolution suggestion's confidence is the probability [`Belief`] gives its fix: the
//! calibration run (crates/engine/tests/calibration.rs) checks that suggestions made at p are
//! the fix about a share p of the time. A question or action has the probability of the
//! likeliest fix still reachable from it, which grows as the answers narrow the flow down; it
//! stays below `guided`, which is for a fix with a way to verify it.

use domain::flow::FlowNode;
use domain::ConfidenceTier;

use super::belief::{Belief, Reach};
use super::evidence::{Evidence, How};
use crate::library::MatchedFlow;

pub const TRIAGE: f64 = 0.15;
pub const ESCALATION: f64 = 0.5;
/// Highest confidence of a question or action: just below `guided`.
const BEFORE_A_FIX: f64 = ConfidenceTier::GUIDED_FROM - 0.01;
/// From this probability of a cause outside the flow on, the reasons say so.
const LOOSE_FIT: f64 = 0.25;

/// A step's confidence with its reasons.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessed {
    pub confidence: f64,
    pub reasons: Vec<String>,
}

/// A node of the matched flow shown as a step, after the answers in `evidence`.
pub fn for_node(matched: &MatchedFlow, node_id: &str, evidence: &Evidence) -> Assessed {
    let def = &matched.flow.definition;
    let reach = Reach::of(def);
    let belief = Belief::of(def, &reach, matched.score, evidence);
    let total = reach.solutions().len();
    let mut reasons = vec![match_reason(&def.title, matched.score, evidence.by_area)];
    reasons.extend(answers_reason(evidence));
    let confidence = match def.nodes.get(node_id) {
        Some(FlowNode::Solution { .. }) => {
            let p = belief.of_fix(node_id);
            if evidence.is_rejected(node_id) {
                reasons.push("This fix was suggested before and did not work.".into());
            } else if belief.fixes.iter().all(|(_, q)| *q <= p) {
                reasons.push(match total {
                    0 | 1 => "Your answers lead to the flow's only fix.".to_string(),
                    n => format!(
                        "Your answers point to this fix ahead of the flow's {} other{}.",
                        n - 1,
                        plural(n - 1, " fix", " fixes")
                    ),
                });
            } else {
                reasons.push(
                    "This is where the path leads, though the answers fit another fix of the \
                     flow better."
                        .into(),
                );
            }
            p
        }
        Some(FlowNode::Question { .. } | FlowNode::Action { .. }) => {
            let open: Vec<&str> = reach
                .below(node_id)
                .into_iter()
                .filter(|s| !evidence.is_rejected(s))
                .collect();
            reasons.push(match (open.len(), total) {
                (_, 0) => "This flow has no fix to suggest; it ends in an escalation.".into(),
                (0, _) => {
                    "No fix of the flow is left on this path; it ends in an escalation.".into()
                }
                (1, 1) => "The flow's only fix is still possible from here.".into(),
                (1, n) => format!("One of the flow's {n} fixes is still possible from here."),
                (r, n) => format!("{r} of the flow's {n} fixes are still possible from here."),
            });
            open.iter()
                .map(|s| belief.of_fix(s))
                .fold(0.0, f64::max)
                .min(BEFORE_A_FIX)
        }
        Some(FlowNode::Escalate { .. }) | None => {
            return offer("The flow says to escalate at this point.");
        }
    };
    if belief.elsewhere >= LOOSE_FIT {
        reasons.push(
            "The answers fit this flow only loosely; the cause may be one it does not cover."
                .into(),
        );
    }
    let confidence = confidence.clamp(0.0, 1.0);
    if matches!(def.nodes.get(node_id), Some(FlowNode::Solution { .. }))
        && confidence < ConfidenceTier::GUIDED_FROM
    {
        reasons.push("Below 0.8, so this is a hypothesis to check, not a confirmed fix.".into());
    }
    Assessed {
        confidence,
        reasons,
    }
}

/// The triage question: nothing is known yet.
pub fn triage() -> Assessed {
    Assessed {
        confidence: TRIAGE,
        reasons: vec![
            "No flow matched the description closely enough.".into(),
            "Nothing is narrowed down yet; the area you pick chooses the flow.".into(),
        ],
    }
}

/// Asking for the problem in other words: the last flow did not lead to a fix.
pub fn describe_again() -> Assessed {
    Assessed {
        confidence: TRIAGE,
        reasons: vec![
            "The flow did not lead to a fix, so the cause is open again.".into(),
            "A new description lets FlowPilot look for a better-fitting flow.".into(),
        ],
    }
}

/// Suggesting escalation, because of `why` (a sentence).
pub fn offer(why: &str) -> Assessed {
    Assessed {
        confidence: ESCALATION,
        reasons: vec![
            why.to_string(),
            "A colleague with the hand-off package is the likeliest way forward.".into(),
        ],
    }
}

fn match_reason(title: &str, score: f64, by_area: bool) -> String {
    let percent = (score.clamp(0.0, 1.0) * 100.0).round();
    if by_area {
        return format!(
            "The flow “{title}” was picked from the area you chose, not matched from the \
             description, so it may not fit."
        );
    }
    let how = if score >= 0.75 {
        "strongly"
    } else if score >= 0.5 {
        "fairly well"
    } else {
        "only weakly"
    };
    format!("The description matches the flow “{title}” {how} ({percent}%).")
}

fn answers_reason(evidence: &Evidence) -> Vec<String> {
    let n = evidence.path.len();
    if n == 0 {
        return vec!["Nothing has been answered in this flow yet.".into()];
    }
    let count = |how: How| evidence.path.iter().filter(|v| v.how == how).count();
    let (again, not_done) = (count(How::Clarified), count(How::NotDone));
    let mut out = Vec::new();
    if again == 0 && not_done == 0 {
        out.push(if n == 1 {
            "The answer so far was clear.".to_string()
        } else {
            format!("All {n} answers so far were clear.")
        });
    }
    if again > 0 {
        out.push(format!(
            "{again} of {n} answers needed a second try, so {} for less.",
            plural(again, "it counts", "they count")
        ));
    }
    if not_done > 0 {
        out.push(format!(
            "{not_done} {} could not be done, so the flow went on without {} result.",
            plural(not_done, "step", "steps"),
            plural(not_done, "its", "their")
        ));
    }
    out
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::Utc;
    use domain::flow::{Flow, FlowDefinition, FlowOption, FlowStatus};
    use uuid::Uuid;

    use super::*;
    use crate::offline::evidence::Visit;

    fn solution(text: &str) -> FlowNode {
        FlowNode::Solution {
            text: text.into(),
            help: None,
            follow_up: vec![],
        }
    }

    /// Q: one user → action (worked → s_creds, no change → s_broker); several → s_outage.
    fn matched(score: f64) -> MatchedFlow {
        let nodes: BTreeMap<String, FlowNode> = [
            (
                "q_scope",
                FlowNode::Question {
                    text: "One user or several?".into(),
                    help: None,
                    options: vec![
                        FlowOption {
                            label: "One user".into(),
                            value: "one".into(),
                            next: "a_creds".into(),
                        },
                        FlowOption {
                            label: "Several".into(),
                            value: "many".into(),
                            next: "s_outage".into(),
                        },
                    ],
                },
            ),
            (
                "a_creds",
                FlowNode::Action {
                    text: "Clear the saved credentials.".into(),
                    help: None,
                    expected_outcome: None,
                    next: "s_creds".into(),
                    on_failure: Some("s_broker".into()),
                },
            ),
            ("s_creds", solution("Stale credentials.")),
            ("s_broker", solution("A broken sign-in broker.")),
            ("s_outage", solution("A service outage.")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let now = Utc::now();
        MatchedFlow {
            score,
            flow: Flow {
                id: Uuid::nil(),
                account_id: None,
                definition: FlowDefinition {
                    title: "Password prompts".into(),
                    description: String::new(),
                    domain: "email_m365".into(),
                    tags: vec![],
                    status: FlowStatus::Published,
                    start: "q_scope".into(),
                    nodes,
                    unreviewed: Default::default(),
                },
                version: 1,
                usage_count: 0,
                success_rate: None,
                last_matched_at: None,
                created_by: None,
                created_at: now,
                updated_at: now,
            },
        }
    }

    fn answered(answers: &[(&str, &str, How)]) -> Evidence {
        answers
            .iter()
            .enumerate()
            .fold(Evidence::default(), |e, (i, (node, value, how))| {
                e.with_visit(Visit {
                    node: node.to_string(),
                    step: i + 1,
                    value: value.to_string(),
                    how: *how,
                })
            })
    }

    fn tier(a: &Assessed) -> ConfidenceTier {
        ConfidenceTier::from_score(a.confidence)
    }

    #[test]
    fn a_fix_reached_by_clear_answers_after_a_strong_match_is_guided() {
        let clear = answered(&[
            ("q_scope", "one", How::Picked),
            ("a_creds", "done_worked", How::Typed),
        ]);
        let fix = for_node(&matched(0.8), "s_creds", &clear);
        assert_eq!(tier(&fix), ConfidenceTier::Guided, "{fix:?}");
        assert!(fix.reasons.iter().any(|r| r.contains("strongly")));
        assert!(fix.reasons.iter().any(|r| r.contains("were clear")));
    }

    #[test]
    fn a_weak_match_or_unclear_answers_make_the_same_fix_a_hypothesis() {
        let clear = answered(&[
            ("q_scope", "one", How::Picked),
            ("a_creds", "done_worked", How::Picked),
        ]);
        let weak = for_node(&matched(0.3), "s_creds", &clear);
        assert_eq!(tier(&weak), ConfidenceTier::Exploring, "{weak:?}");
        assert!(weak.reasons.iter().any(|r| r.contains("hypothesis")));

        let unsure = answered(&[
            ("q_scope", "one", How::Clarified),
            ("a_creds", "done_worked", How::Clarified),
        ]);
        let strong = for_node(&matched(0.8), "s_creds", &clear);
        let doubted = for_node(&matched(0.8), "s_creds", &unsure);
        assert!(doubted.confidence < strong.confidence);
        assert!(doubted.reasons.iter().any(|r| r.contains("second try")));
    }

    #[test]
    fn a_fix_after_an_action_that_could_not_be_done_is_less_sure() {
        let known = answered(&[
            ("q_scope", "one", How::Picked),
            ("a_creds", "done_no_change", How::Picked),
        ]);
        let unknown = answered(&[
            ("q_scope", "one", How::Picked),
            ("a_creds", "could_not_do", How::NotDone),
        ]);
        let flow = matched(0.8);
        assert!(
            for_node(&flow, "s_broker", &unknown).confidence
                < for_node(&flow, "s_broker", &known).confidence
        );
    }

    #[test]
    fn questions_and_actions_never_claim_guidance_and_grow_as_the_flow_narrows() {
        let flow = matched(1.0);
        let start = for_node(&flow, "q_scope", &Evidence::default());
        let narrowed = for_node(
            &flow,
            "a_creds",
            &answered(&[("q_scope", "one", How::Picked)]),
        );
        assert!(start.confidence < narrowed.confidence);
        assert!(narrowed.confidence < ConfidenceTier::GUIDED_FROM);
        assert!(narrowed
            .reasons
            .iter()
            .any(|r| r == "2 of the flow's 3 fixes are still possible from here."));
        assert_eq!(tier(&triage()), ConfidenceTier::Discovery);
    }

    #[test]
    fn a_fix_that_did_not_work_is_not_suggested_with_confidence_again() {
        let tried = answered(&[
            ("q_scope", "one", How::Picked),
            ("a_creds", "done_worked", How::Picked),
        ])
        .with_rejected("s_creds", 3);
        let again = for_node(&matched(0.8), "s_creds", &tried);
        assert!(again.confidence < 0.5, "{again:?}");
        assert!(again.reasons.iter().any(|r| r.contains("did not work")));
    }

    #[test]
    fn every_step_says_why() {
        let flow = matched(0.6);
        let evidence = answered(&[("q_scope", "one", How::Picked)]);
        for node in ["q_scope", "a_creds", "s_creds", "s_outage"] {
            let a = for_node(&flow, node, &evidence);
            assert!(a.reasons.len() >= 2, "{node}: {a:?}");
            assert!(a.reasons.iter().all(|r| r.ends_with('.')));
        }
    }
}
