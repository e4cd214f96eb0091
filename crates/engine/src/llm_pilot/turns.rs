//! The session as chat turns: each step as the assistant's turn, the engineer's answer (with
//! what to produce next) as the user's.
//!
//! A turn is rendered from its own step alone (and the numbers it carries), never from what
//! came after it, so it reads the same byte for byte in every later request of the session:
//! the requests only ever append, which is what a provider's prefix cache serves
//! (docs/guidance.md, "How the prompt is laid out").

use llm::FlowChoices;
use serde_json::{json, Map, Value};

use super::context::{render_answer, CONTENT_CHARS, DETAIL_CHARS, LABEL_CHARS, PROBLEM_CHARS};
use super::text::{clip, clip_line};
use crate::pilot::PastStep;
use domain::outcome::{FixOutcome, StepMarks};

/// Below this many remaining steps the model is told to converge.
const FEW_STEPS_LEFT: i64 = 3;
const OBSERVATIONS_CHARS: usize = 600;

/// The step as the model would have written it, reduced to what the rest of the session needs:
/// its kind, its text, its options and where it stands. Reasoning and the engineer-facing
/// context are left out; they explain the step but decide nothing later. JSON, in the contract's
/// own field names, so a model that imitates its earlier turns still answers the contract.
pub(super) fn assistant_turn(step: &PastStep, flow_node: Option<&str>) -> String {
    let o = &step.output;
    let mut turn = Map::new();
    turn.insert("type".into(), json!(o.step_type.as_str()));
    turn.insert(
        "content".into(),
        json!(clip(o.content.trim(), CONTENT_CHARS)),
    );
    if let Some(action) = o.action_type {
        turn.insert("action_type".into(), json!(action));
    }
    let detail = |text: &Option<String>| {
        text.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| clip_line(t, DETAIL_CHARS))
    };
    if let Some(expected) = detail(&o.expected_outcome) {
        turn.insert("expected_outcome".into(), json!(expected));
    }
    if let Some(summary) = detail(&o.resolution_summary) {
        turn.insert("resolution_summary".into(), json!(summary));
    }
    if !o.options.is_empty() {
        let options: Vec<Value> = o
            .options
            .iter()
            .take(llm::contract::MAX_OPTIONS)
            .map(|opt| json!({"label": clip_line(&opt.label, LABEL_CHARS), "value": clip_line(&opt.value, LABEL_CHARS)}))
            .collect();
        turn.insert("options".into(), Value::Array(options));
    }
    // Two decimals: what the model said, without float noise.
    turn.insert(
        "confidence".into(),
        json!((o.confidence.clamp(0.0, 1.0) * 100.0).round() / 100.0),
    );
    if let Some(summary) = problem(o.problem_summary.as_deref()) {
        turn.insert("problem_summary".into(), json!(summary));
    }
    if let Some(domain) = problem(o.problem_domain.as_deref()) {
        turn.insert("problem_domain".into(), json!(domain));
    }
    if let Some(node) = flow_node {
        turn.insert("flow_node".into(), json!(node));
    }
    Value::Object(turn).to_string()
}

fn problem(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| clip_line(t, PROBLEM_CHARS))
}

/// The engineer's answer to step `number`, then the task of the step after it.
pub(super) fn user_turn(number: usize, step: &PastStep, next: &Task<'_>) -> String {
    let answer = match step.answer.as_ref() {
        // An outcome or "not relevant" with nothing typed: the marks below are the answer.
        Some(a) if !step.marks.is_empty() && *a == crate::pilot::StepAnswer::default() => {
            "(given below)".to_string()
        }
        answer => render_answer(&step.output, answer),
    };
    let mut out = format!("Engineer's answer to step {number}: {answer}\n");
    let observations: Vec<&str> = step
        .observations
        .iter()
        .map(|o| o.trim())
        .filter(|o| !o.is_empty())
        .collect();
    if !observations.is_empty() {
        out.push_str(&format!(
            "Also noted on that step: {}\n",
            clip_line(&observations.join("; "), OBSERVATIONS_CHARS)
        ));
    }
    out.push_str(&marks_said(&step.marks));
    out.push('\n');
    out.push_str(&next.render());
    out
}

/// What the engineer said of the step besides answering it: how the suggested fix turned
/// out, and that the step was not relevant and why. Said plainly, with what the next step
/// must do about it, so the model neither suggests the same fix again nor keeps to a line
/// the engineer ruled out.
fn marks_said(marks: &StepMarks) -> String {
    let mut out = String::new();
    if let Some(outcome) = marks.outcome {
        let said = match outcome {
            FixOutcome::Worked => "the suggested fix worked",
            FixOutcome::Failed => {
                "the suggested fix did NOT work; do not suggest it again, try the next most \
                 likely cause"
            }
            FixOutcome::Partial => {
                "the suggested fix only partly worked; the problem is not fully solved, find \
                 what remains"
            }
            FixOutcome::AwaitingVerification => {
                "the suggested fix is applied and waiting to be verified"
            }
        };
        out.push_str(&format!("Outcome of that fix: {said}\n"));
        if let Some(note) = marks
            .outcome_note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            out.push_str(&format!(
                "Engineer's note on the outcome: {}\n",
                clip_line(note, OBSERVATIONS_CHARS)
            ));
        }
    }
    if let Some(reason) = marks.not_relevant.as_deref().map(str::trim) {
        out.push_str(&format!(
            "The engineer marked that step not relevant: \"{}\". Do not pursue it; take the \
             reason into account.\n",
            clip_line(reason, OBSERVATIONS_CHARS)
        ));
    }
    out
}

/// What the model is asked to produce: step `number`, with how many may follow it and the flow
/// question the last answer leads to, if any.
pub(super) struct Task<'a> {
    pub number: usize,
    pub remaining_after: i64,
    pub due: Option<&'a str>,
}

impl Task<'_> {
    pub(super) fn render(&self) -> String {
        let mut task = String::from("## Your task\n");
        match self.number {
            0 | 1 => {
                task.push_str("Produce the first step. Set problem_summary and problem_domain.\n")
            }
            n => task.push_str(&format!(
                "Produce step {n}, responding to the engineer's answer to step {}.\n",
                n - 1
            )),
        }
        match self.remaining_after {
            i64::MIN..=0 => task.push_str(
                "This is the last step this session may hold: propose a resolution if the \
                 evidence supports it; otherwise recommend escalating and say what the next \
                 engineer should check first.\n",
            ),
            n if n <= FEW_STEPS_LEFT => task.push_str(&format!(
                "Only {n} more step(s) may follow this one: converge on a resolution or on escalation.\n"
            )),
            _ => {}
        }
        if let Some(due) = self.due {
            task.push_str(&format!(
                "The engineer's answer leads to the flow's question {due}: ask it now (flow_node \
                 \"{due}\"), offering exactly its options.\n"
            ));
        }
        task
    }
}

/// The flow question due after `step` was answered, given the flow's `choices`.
pub(super) fn due_after(
    choices: &FlowChoices,
    step: &PastStep,
    asked: Option<&str>,
) -> Option<String> {
    let node = asked?;
    let selected = step.answer.as_ref()?.selected_option.as_deref()?;
    choices
        .clone()
        .after_answer(node, selected)
        .due()
        .map(str::to_string)
}

/// Characters of a rendered turn, for the token budget.
pub(super) fn chars(text: &str) -> usize {
    text.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::step::{StepOption, StepOutput, StepType};

    fn step() -> PastStep {
        PastStep {
            output: StepOutput {
                step_type: StepType::Question,
                content: "Does it happen to every user?".into(),
                context_message: Some("why".repeat(50)),
                reasoning: Some("because".repeat(50)),
                options: vec![
                    StepOption {
                        label: "Every user".into(),
                        value: "all".into(),
                        followup_hint: Some("hint".into()),
                    },
                    StepOption {
                        label: "Some".into(),
                        value: "some".into(),
                        followup_hint: None,
                    },
                ],
                allow_free_text: true,
                allow_skip: true,
                action_type: None,
                expected_outcome: None,
                resolution_summary: None,
                follow_up_recommendations: vec![],
                confidence: 0.354_999,
                problem_summary: Some("Outlook prompts".into()),
                problem_domain: Some("email".into()),
            },
            state: Value::Null,
            answer: Some(crate::pilot::StepAnswer {
                selected_option: Some("all".into()),
                free_text_input: None,
                skipped: false,
            }),
            observations: vec!["the laptop is on Wi-Fi".into()],
            marks: Default::default(),
        }
    }

    #[test]
    fn a_step_turn_keeps_what_decides_the_session_and_drops_the_rationale() {
        let turn = assistant_turn(&step(), Some("scope"));
        let parsed: Value = serde_json::from_str(&turn).expect("JSON");
        assert_eq!(parsed["type"], "question");
        assert_eq!(
            parsed["options"][0],
            json!({"label": "Every user", "value": "all"})
        );
        assert_eq!(parsed["confidence"], json!(0.35));
        assert_eq!(parsed["flow_node"], "scope");
        assert_eq!(parsed["problem_domain"], "email");
        assert!(parsed.get("reasoning").is_none() && parsed.get("context_message").is_none());
        // What a model imitating it would answer still parses as a step.
        assert!(llm::parse_step(&turn, true).is_ok(), "{turn}");
    }

    #[test]
    fn a_fix_that_did_not_work_and_a_step_not_relevant_are_told_to_the_model() {
        let mut fix = step();
        fix.answer = None;
        fix.observations.clear();
        fix.marks = StepMarks {
            outcome: Some(FixOutcome::Failed),
            outcome_note: Some("still prompts after the reset".into()),
            not_relevant: None,
        };
        let task = Task {
            number: 2,
            remaining_after: 10,
            due: None,
        };
        let turn = user_turn(1, &fix, &task);
        assert!(
            turn.contains("Outcome of that fix: the suggested fix did NOT work")
                && turn.contains("Engineer's note on the outcome: still prompts after the reset"),
            "{turn}"
        );
        fix.marks = StepMarks {
            not_relevant: Some("the user has no VPN".into()),
            ..StepMarks::default()
        };
        let turn = user_turn(1, &fix, &task);
        assert!(
            turn.contains("marked that step not relevant: \"the user has no VPN\""),
            "{turn}"
        );
    }

    #[test]
    fn an_answer_turn_says_what_was_answered_and_what_to_produce() {
        let task = Task {
            number: 4,
            remaining_after: 2,
            due: Some("client"),
        };
        let turn = user_turn(3, &step(), &task);
        assert_eq!(
            turn,
            "Engineer's answer to step 3: chose \"Every user\"\n\
             Also noted on that step: the laptop is on Wi-Fi\n\n\
             ## Your task\n\
             Produce step 4, responding to the engineer's answer to step 3.\n\
             Only 2 more step(s) may follow this one: converge on a resolution or on escalation.\n\
             The engineer's answer leads to the flow's question client: ask it now (flow_node \
             \"client\"), offering exactly its options.\n"
        );
    }
}
