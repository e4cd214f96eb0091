use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use domain::flow::{Flow, FlowDefinition, FlowNode, FlowOption, FlowStatus};
use domain::outcome::FixOutcome;
use domain::step::{StepMarks, StepType};
use domain::ConfidenceTier;
use uuid::Uuid;

use super::*;
use crate::pilot::{History, Intake, PastStep, PilotInput, SessionRecap, StepAnswer};

fn flow(title: &str, domain: &str, nodes: Vec<(&str, FlowNode)>) -> Flow {
    stored(FlowDefinition {
        title: title.into(),
        description: String::new(),
        domain: domain.into(),
        tags: vec![],
        status: FlowStatus::Published,
        start: nodes[0].0.into(),
        nodes: nodes
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<BTreeMap<_, _>>(),
        unreviewed: Default::default(),
    })
}

fn stored(definition: FlowDefinition) -> Flow {
    let now = Utc::now();
    Flow {
        // Named by its title, so that the same flow built twice is the same flow.
        id: Uuid::from_u128(
            definition
                .title
                .bytes()
                .fold(0xcbf2_9ce4_8422_2325, |h, b| {
                    (h ^ u128::from(b)).wrapping_mul(0x100_0000_01b3)
                }),
        ),
        account_id: None,
        definition,
        version: 1,
        usage_count: 0,
        success_rate: None,
        last_matched_at: None,
        created_by: None,
        created_at: now,
        updated_at: now,
    }
}

fn q(text: &str, options: &[(&str, &str, &str)]) -> FlowNode {
    FlowNode::Question {
        text: text.into(),
        help: None,
        options: options
            .iter()
            .map(|(l, v, n)| FlowOption {
                label: l.to_string(),
                value: v.to_string(),
                next: n.to_string(),
            })
            .collect(),
    }
}

fn outlook() -> Flow {
    flow(
        "Outlook keeps asking for a password",
        "email_m365",
        vec![
            (
                "q_scope",
                q(
                    "Is it one user or several?",
                    &[
                        ("One user", "one", "a_creds"),
                        ("Several users", "many", "e_tenant"),
                    ],
                ),
            ),
            (
                "a_creds",
                FlowNode::Action {
                    text: "Clear the saved credentials in Credential Manager.".into(),
                    help: None,
                    expected_outcome: Some("Outlook prompts once, then connects".into()),
                    next: "s_creds".into(),
                    on_failure: Some("e_tenant".into()),
                },
            ),
            (
                "s_creds",
                FlowNode::Solution {
                    text: "Stale cached credentials caused the prompts. Clearing them fixed it."
                        .into(),
                    help: None,
                    follow_up: vec!["Check for a recent password change".into()],
                },
            ),
            (
                "e_tenant",
                FlowNode::Escalate {
                    text: "Needs the tenant admin".into(),
                    help: None,
                },
            ),
        ],
    )
}

fn printer() -> Flow {
    flow(
        "Printer shows offline",
        "printing",
        vec![
            (
                "q_one",
                q(
                    "Is it one printer or all?",
                    &[
                        ("One printer", "one", "s_fix"),
                        ("All printers", "all", "s_fix"),
                    ],
                ),
            ),
            (
                "s_fix",
                FlowNode::Solution {
                    text: "Restart the spooler.".into(),
                    help: None,
                    follow_up: vec![],
                },
            ),
        ],
    )
}

/// A library that "matches" a flow when the text mentions its keyword.
struct Library(Vec<(&'static str, Flow)>);

#[async_trait]
impl FlowLibrary for Library {
    async fn find(&self, _account: Uuid, text: &str, domain: Option<&str>) -> Vec<MatchedFlow> {
        let t = text.to_lowercase();
        self.0
            .iter()
            .filter(|(k, f)| t.contains(k) && domain.is_none_or(|d| f.definition.domain == d))
            .map(|(_, f)| MatchedFlow {
                flow: f.clone(),
                score: 0.7,
            })
            .collect()
    }
    async fn best_in_domain(
        &self,
        _account: Uuid,
        _text: &str,
        domain: &str,
    ) -> Option<MatchedFlow> {
        self.0
            .iter()
            .find(|(_, f)| f.definition.domain == domain)
            .map(|(_, f)| MatchedFlow {
                flow: f.clone(),
                score: 0.3,
            })
    }
    async fn domains(&self, _account: Uuid) -> Vec<(String, i64)> {
        self.0
            .iter()
            .map(|(_, f)| (f.definition.domain.clone(), 1))
            .collect()
    }
    async fn flow(&self, _account: Uuid, id: Uuid) -> Option<Flow> {
        self.0
            .iter()
            .find(|(_, f)| f.id == id)
            .map(|(_, f)| f.clone())
    }
}

/// Drives the pilot like the session loop does, keeping the current flow.
struct Walk {
    pilot: OfflinePilot,
    intake: Intake,
    matched: Option<MatchedFlow>,
    history: Vec<PastStep>,
    /// What the pilot asked when the last answer was not clear.
    clarification: Option<String>,
    /// Each step's confidence reasons, in step order.
    reasons: Vec<Vec<String>>,
}

impl Walk {
    async fn start(text: &str, matched: Option<MatchedFlow>) -> Walk {
        let pilot = OfflinePilot::new(Arc::new(Library(vec![
            ("outlook", outlook()),
            ("printer", printer()),
        ])));
        let mut walk = Walk {
            pilot,
            intake: Intake {
                text: Some(text.into()),
                log: None,
            },
            matched,
            history: vec![],
            clarification: None,
            reasons: vec![],
        };
        walk.step().await;
        walk
    }

    /// A session on a built-in flow (the text of its YAML file), matched strongly.
    async fn built_in(yaml: &str) -> Walk {
        let mut defs = domain::flow::parse_flow_documents(yaml, domain::flow::FlowFormat::Yaml)
            .expect("a built-in flow parses");
        let built = stored(defs.remove(0));
        let mut walk = Walk {
            pilot: OfflinePilot::new(Arc::new(Library(vec![]))),
            intake: Intake {
                text: Some(built.definition.title.clone()),
                log: None,
            },
            matched: strong(built),
            history: vec![],
            clarification: None,
            reasons: vec![],
        };
        walk.step().await;
        walk
    }

    async fn escalate(&self) -> crate::pilot::WrittenEscalation {
        let recap = SessionRecap {
            account_id: Uuid::nil(),
            intake: &self.intake,
            matched: self.matched.as_ref(),
            history: History::whole(&self.history),
            resolution_summary: None,
            escalation_reason: Some("Needs someone with tenant rights"),
        };
        let (written, usage) = self.pilot.write_escalation(&recap).await;
        assert!(usage.is_empty(), "no AI is used");
        written.expect("the offline pilot writes the hand-off from the flow")
    }

    async fn step(&mut self) {
        let input = PilotInput {
            account_id: Uuid::nil(),
            intake: &self.intake,
            matched: self.matched.as_ref(),
            history: History::whole(&self.history),
            remaining_after: 10,
        };
        let reply = if self.history.is_empty() {
            Reply::Next(
                self.pilot
                    .first_step(input)
                    .await
                    .expect("offline never fails"),
            )
        } else {
            self.pilot
                .next_step(input)
                .await
                .expect("offline never fails")
        };
        self.clarification = None;
        let step = match reply {
            Reply::Next(step) => step,
            Reply::Clarify { clarification, .. } => {
                // As the session loop does: the answer becomes an observation on the same step.
                let current = self.history.last_mut().unwrap();
                let answer = current.answer.take().unwrap_or_default();
                current.observations.extend(answer.free_text_input);
                self.clarification = Some(clarification);
                return;
            }
        };
        if let Some(m) = step.rematched.clone() {
            self.matched = Some(m);
        }
        self.reasons.push(step.confidence_reasons.clone());
        self.history.push(PastStep {
            output: step.output,
            state: step.state,
            answer: None,
            observations: Vec::new(),
            marks: Default::default(),
        });
    }

    async fn answer(&mut self, answer: StepAnswer) -> &PastStep {
        self.history.last_mut().unwrap().answer = Some(answer);
        self.step().await;
        self.history.last().unwrap()
    }

    async fn choose(&mut self, value: &str) -> &PastStep {
        self.answer(StepAnswer {
            selected_option: Some(value.into()),
            ..Default::default()
        })
        .await
    }

    async fn say(&mut self, text: &str) -> &PastStep {
        self.answer(StepAnswer {
            free_text_input: Some(text.into()),
            ..Default::default()
        })
        .await
    }

    fn current(&self) -> &PastStep {
        self.history.last().unwrap()
    }

    /// Answers the current step with what was said of it (a fix's outcome, not relevant).
    async fn mark(&mut self, marks: StepMarks) -> &PastStep {
        let last = self.history.last_mut().unwrap();
        last.answer = Some(StepAnswer::default());
        last.marks = marks;
        self.step().await;
        self.history.last().unwrap()
    }
}

fn not_relevant(reason: &str) -> StepMarks {
    StepMarks {
        not_relevant: Some(reason.into()),
        ..StepMarks::default()
    }
}

fn strong(flow: Flow) -> Option<MatchedFlow> {
    Some(MatchedFlow { flow, score: 0.75 })
}

#[tokio::test]
async fn a_matched_flow_starts_at_its_first_question_keeping_the_option_values() {
    let walk = Walk::start(
        "Outlook keeps asking for a password on three laptops. Help.",
        strong(outlook()),
    )
    .await;
    let first = &walk.current().output;
    assert_eq!(first.step_type, StepType::Question);
    assert_eq!(first.content, "Is it one user or several?");
    let values: Vec<_> = first.options.iter().map(|o| o.value.as_str()).collect();
    assert_eq!(values, ["one", "many"]);
    assert_eq!(
        first.problem_summary.as_deref(),
        Some("Outlook keeps asking for a password on three laptops.")
    );
    assert_eq!(first.problem_domain.as_deref(), Some("email_m365"));
}

#[tokio::test]
async fn actions_branch_on_their_outcome_and_a_strong_solution_is_guided() {
    let mut walk = Walk::start("outlook prompts", strong(outlook())).await;
    let action = walk.choose("one").await.output.clone();
    assert_eq!(action.step_type, StepType::Action);
    assert_eq!(
        action.expected_outcome.as_deref(),
        Some("Outlook prompts once, then connects")
    );
    let values: Vec<_> = action.options.iter().map(|o| o.value.as_str()).collect();
    assert_eq!(values, ["done_worked", "done_no_change", "could_not_do"]);

    let solution = walk.choose("done_worked").await.output.clone();
    assert_eq!(solution.step_type, StepType::ResolutionSuggestion);
    assert!(solution
        .resolution_summary
        .as_deref()
        .unwrap()
        .contains("Stale cached credentials"));
    assert_eq!(
        solution.follow_up_recommendations,
        ["Check for a recent password change"]
    );
    assert_eq!(
        ConfidenceTier::from_score(solution.confidence),
        ConfidenceTier::Guided
    );

    let mut walk = Walk::start("outlook prompts", strong(outlook())).await;
    walk.choose("one").await;
    let escalate = walk.choose("done_no_change").await.output.clone();
    assert!(
        escalate.content.contains("Needs the tenant admin"),
        "on_failure leads to the escalate node"
    );
}

#[tokio::test]
async fn skipping_an_action_counts_as_could_not_do_it() {
    let mut walk = Walk::start("outlook", strong(outlook())).await;
    walk.choose("one").await;
    let next = walk
        .answer(StepAnswer {
            skipped: true,
            ..Default::default()
        })
        .await;
    assert!(next.output.content.contains("tenant admin"));
}

#[tokio::test]
async fn with_no_match_it_triages_by_domain_then_walks_the_chosen_domain() {
    let mut walk = Walk::start("something odd is happening", None).await;
    let triage = walk.current().output.clone();
    assert_eq!(triage.step_type, StepType::Question);
    let values: Vec<_> = triage.options.iter().map(|o| o.value.as_str()).collect();
    assert_eq!(values, ["email_m365", "printing"]);
    assert_eq!(
        ConfidenceTier::from_score(triage.confidence),
        ConfidenceTier::Discovery
    );

    let next = walk.choose("printing").await.output.clone();
    assert_eq!(next.content, "Is it one printer or all?");
    assert_eq!(
        walk.matched.as_ref().unwrap().flow.definition.title,
        "Printer shows offline"
    );
}

#[tokio::test]
async fn free_text_maps_to_a_clear_option() {
    let mut walk = Walk::start("outlook", strong(outlook())).await;
    let next = walk.say("just one user").await;
    assert_eq!(next.output.step_type, StepType::Action);
}

#[tokio::test]
async fn free_text_after_an_action_reads_its_outcome() {
    let mut walk = Walk::start("outlook", strong(outlook())).await;
    walk.say("just me").await;
    let next = walk.say("sorted it").await.output.clone();
    assert_eq!(next.step_type, StepType::ResolutionSuggestion);

    let mut walk = Walk::start("outlook", strong(outlook())).await;
    walk.say("only the one user").await;
    let next = walk.say("didn't help, same prompts").await.output.clone();
    assert!(next.content.contains("tenant admin"), "{}", next.content);
}

#[tokio::test]
async fn free_text_about_another_problem_switches_flow() {
    let mut walk = Walk::start("outlook", strong(outlook())).await;
    let next = walk
        .say("actually the printer in accounting is the real issue")
        .await
        .output
        .clone();
    assert_eq!(next.content, "Is it one printer or all?");
    assert_eq!(
        walk.matched.as_ref().unwrap().flow.definition.domain,
        "printing"
    );
}

#[tokio::test]
async fn free_text_that_fits_nothing_asks_again_on_the_same_step_keeping_the_text() {
    let mut walk = Walk::start("outlook", strong(outlook())).await;
    walk.say("the moon is full tonight").await;
    assert_eq!(walk.history.len(), 1, "no step is added");
    let step = walk.current();
    assert_eq!(step.output.content, "Is it one user or several?");
    assert!(step.answer.is_none(), "the step is still unanswered");
    assert_eq!(step.observations, ["the moon is full tonight"]);
    let asked = walk.clarification.clone().unwrap();
    assert!(asked.contains("“One user”"), "{asked}");

    let next = walk.choose("one").await.output.clone();
    assert_eq!(next.step_type, StepType::Action);
    assert!(walk.clarification.is_none());
}

#[tokio::test]
async fn an_unclear_outcome_after_an_action_is_asked_again_not_repeated_as_a_new_step() {
    let mut walk = Walk::start("outlook", strong(outlook())).await;
    walk.choose("one").await;
    walk.say("service health is all green, no incidents").await;
    assert_eq!(walk.history.len(), 2, "no duplicate step");
    assert_eq!(walk.current().output.step_type, StepType::Action);
    let asked = walk.clarification.clone().unwrap();
    assert!(asked.contains("whether it worked"), "{asked}");
}

#[tokio::test]
async fn a_sentence_that_answers_the_question_keeps_the_session_on_its_flow() {
    let mut walk = Walk::start("outlook", strong(outlook())).await;
    walk.say("Only Dave is affected, the printer and everyone else is fine")
        .await;
    assert_eq!(
        walk.matched.as_ref().unwrap().flow.definition.domain,
        "email_m365"
    );
}

#[tokio::test]
async fn a_short_answer_never_moves_the_session_to_another_flow() {
    let mut walk = Walk::start("outlook", strong(outlook())).await;
    walk.say("the printer").await;
    assert_eq!(
        walk.matched.as_ref().unwrap().flow.definition.domain,
        "email_m365"
    );
    assert!(walk.clarification.is_some());
}

#[tokio::test]
async fn the_same_answers_give_the_same_steps() {
    let mut a = Walk::start("outlook", strong(outlook())).await;
    let mut b = Walk::start("outlook", strong(outlook())).await;
    for choice in ["one", "done_no_change"] {
        a.choose(choice).await;
        b.choose(choice).await;
    }
    let outputs = |w: &Walk| {
        w.history
            .iter()
            .map(|s| (s.output.clone(), s.state.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(outputs(&a), outputs(&b));
}

const OUTLOOK: &str = include_str!("../../../../flows/outlook-password-prompts.yaml");

#[tokio::test]
async fn every_step_says_why_it_has_its_confidence() {
    let mut walk = Walk::start("outlook", strong(outlook())).await;
    walk.say("the moon is full tonight").await;
    walk.say("just me").await;
    walk.choose("done_worked").await;
    walk.choose(NOT_FIXED).await;
    walk.choose(CONTINUE).await;
    assert_eq!(walk.reasons.len(), walk.history.len());
    for (step, reasons) in walk.history.iter().zip(&walk.reasons) {
        assert!(!reasons.is_empty(), "{}", step.output.content);
    }
    assert!(
        walk.reasons[0][0].contains("strongly (75%)"),
        "{:?}",
        walk.reasons[0]
    );
    // The fix was reached after one answer that needed a second try.
    assert!(
        walk.reasons[2].iter().any(|r| r.contains("second try")),
        "{:?}",
        walk.reasons[2]
    );
}

#[tokio::test]
async fn an_unclear_answer_lowers_the_confidence_of_the_fix_it_leads_to() {
    let mut firm = Walk::start("outlook", strong(outlook())).await;
    firm.choose("one").await;
    let sure = firm.choose("done_worked").await.output.confidence;

    let mut unsure = Walk::start("outlook", strong(outlook())).await;
    unsure.say("not sure, maybe").await;
    unsure.choose("one").await;
    let doubted = unsure.choose("done_worked").await.output.confidence;
    assert!(doubted < sure, "{doubted} < {sure}");
}

#[tokio::test]
async fn evidence_travels_in_the_step_state_not_in_the_history() {
    // The session loop shows the offline pilot only the step being answered.
    let mut walk = Walk::start("outlook", strong(outlook())).await;
    walk.say("the moon is full tonight").await;
    walk.choose("one").await;
    let whole = walk.choose("done_worked").await.output.clone();
    let mut answered = walk.history[1].clone();
    answered.answer = Some(StepAnswer {
        selected_option: Some("done_worked".into()),
        ..Default::default()
    });
    let earlier = domain::step::EarlierSteps {
        steps: 1,
        ..Default::default()
    };
    let input = PilotInput {
        account_id: Uuid::nil(),
        intake: &walk.intake,
        matched: walk.matched.as_ref(),
        history: History {
            earlier: &earlier,
            recent: std::slice::from_ref(&answered),
        },
        remaining_after: 10,
    };
    let again = walk.pilot.next_step(input).await.unwrap().next().unwrap();
    assert_eq!(again.output, whole);
}

#[tokio::test]
async fn escalating_partway_hands_over_the_fixes_still_reachable_most_likely_first() {
    let mut walk = Walk::built_in(OUTLOOK).await;
    walk.choose("one").await;
    let open = walk.choose("done_no_change").await.output.content.clone();
    assert!(
        open.starts_with("Reset the Microsoft 365 sign-in broker"),
        "{open}"
    );

    let handoff = walk.escalate().await;
    let causes: Vec<&str> = handoff
        .hypotheses
        .iter()
        .map(|h| h.cause.as_str())
        .collect();
    assert!(
        causes[0].starts_with("A broken Web Account Manager"),
        "the next check's fix first: {causes:?}"
    );
    assert!(causes
        .iter()
        .any(|c| c.contains("legacy (basic) authentication")));
    assert!(causes
        .iter()
        .any(|c| c.starts_with("Autodiscover pointed Outlook")));
    assert!(
        !causes
            .iter()
            .any(|c| c.contains("Stale cached credentials") || c.contains("service incident")),
        "ruled-out fixes are not hypotheses: {causes:?}"
    );
    for h in &handoff.hypotheses {
        assert!(["high", "medium", "low"].contains(&h.likelihood.as_str()));
    }

    let next = handoff.suggested_next_steps.join("\n");
    assert!(next.contains("Continue from the open step 3"), "{next}");
    assert!(
        next.contains("“Several users”"),
        "the branch not taken: {next}"
    );
    assert!(
        next.contains("ruled out") && next.contains("Stale cached credentials"),
        "{next}"
    );
    assert!(handoff
        .summary
        .contains("Outlook keeps asking for a password"));
}

#[tokio::test]
async fn a_fix_that_did_not_work_is_handed_over_as_tried_not_as_a_hypothesis() {
    let mut walk = Walk::built_in(OUTLOOK).await;
    walk.choose("one").await;
    walk.choose("done_worked").await;
    walk.choose(NOT_FIXED).await;
    let handoff = walk.escalate().await;
    assert!(
        !handoff
            .hypotheses
            .iter()
            .any(|h| h.cause.contains("Stale cached credentials")),
        "{:?}",
        handoff.hypotheses
    );
    assert!(handoff
        .hypotheses
        .iter()
        .any(|h| h.cause.contains("Web Account Manager")));
    assert!(handoff
        .suggested_next_steps
        .iter()
        .any(|s| s.starts_with("Tried and did not fix it: Stale cached credentials")));
    // The branch the "worked" answer skipped is the way on.
    assert!(
        handoff
            .suggested_next_steps
            .iter()
            .any(|s| s.contains("If the result of step 2 does not hold")),
        "{:?}",
        handoff.suggested_next_steps
    );
}

#[tokio::test]
async fn without_a_flow_the_offline_hand_off_adds_nothing() {
    let walk = Walk::start("something odd is happening", None).await;
    let recap = SessionRecap {
        account_id: Uuid::nil(),
        intake: &walk.intake,
        matched: None,
        history: History::whole(&walk.history),
        resolution_summary: None,
        escalation_reason: Some("stuck"),
    };
    assert!(walk.pilot.write_escalation(&recap).await.0.is_none());
}

#[tokio::test]
async fn a_fix_that_did_not_work_goes_to_an_untried_branch_or_offers_escalation() {
    let mut walk = Walk::start("outlook", strong(outlook())).await;
    walk.choose("one").await;
    walk.choose("done_worked").await;
    let failed = StepMarks {
        outcome: Some(FixOutcome::Failed),
        outcome_note: Some("still prompts".into()),
        not_relevant: None,
    };
    let next = walk.mark(failed).await.output.clone();
    // Every other branch of this flow ends in escalation: nothing left to try.
    assert!(next.content.contains("Escalate"), "{}", next.content);
    assert!(
        next.context_message
            .as_deref()
            .unwrap()
            .contains("did not solve it"),
        "{next:?}"
    );
}

#[tokio::test]
async fn not_relevant_steps_are_stepped_over_with_their_reason_read() {
    // An action that does not apply goes on as one that could not be done.
    let mut walk = Walk::start("outlook", strong(outlook())).await;
    walk.choose("one").await;
    let next = walk
        .mark(not_relevant("no saved credentials on this laptop"))
        .await;
    assert!(next.output.content.contains("tenant admin"));

    // A question whose reason says which option holds follows it.
    let mut walk = Walk::start("outlook", strong(outlook())).await;
    let next = walk.mark(not_relevant("just one user, obviously")).await;
    assert_eq!(next.output.step_type, StepType::Action);
    assert!(next.output.content.contains("Credential Manager"));
}
