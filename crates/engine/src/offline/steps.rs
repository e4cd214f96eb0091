//! Steps the offline pilot shows: flow nodes turned into steps, and its own prompts.

use domain::flow::{domain_label, FlowNode};
use domain::step::{ActionType, StepOption, StepOutput, StepType};

use super::answers::ActionOutcome;
use super::confidence;
use crate::pilot::Intake;

/// Option value for "the suggested fix did not solve it".
pub const NOT_FIXED: &str = "not_fixed";
/// Option value for "let me describe it again / keep going".
pub const CONTINUE: &str = "continue";
/// Option value for "none of these; I want to escalate".
pub const ESCALATE: &str = "escalate";

fn option(label: &str, value: &str, hint: Option<&str>) -> StepOption {
    StepOption {
        label: label.into(),
        value: value.into(),
        followup_hint: hint.map(Into::into),
    }
}

fn blank(step_type: StepType, content: String, confidence: f64) -> StepOutput {
    StepOutput {
        step_type,
        content,
        context_message: None,
        reasoning: None,
        options: Vec::new(),
        allow_free_text: true,
        allow_skip: false,
        action_type: None,
        expected_outcome: None,
        resolution_summary: None,
        follow_up_recommendations: Vec::new(),
        confidence,
        problem_summary: None,
        problem_domain: None,
    }
}

/// A flow node as a step; its confidence is set by whoever knows the path to it.
pub fn from_node(node: &FlowNode) -> StepOutput {
    match node {
        FlowNode::Question {
            text,
            help,
            options,
        } => {
            let mut step = blank(StepType::Question, text.clone(), 0.0);
            step.context_message = help.clone();
            step.options = options
                .iter()
                .map(|o| option(&o.label, &o.value, None))
                .collect();
            step
        }
        FlowNode::Action {
            text,
            help,
            expected_outcome,
            ..
        } => {
            let mut step = blank(StepType::Action, text.clone(), 0.0);
            step.context_message = help.clone();
            step.action_type = Some(ActionType::Instruction);
            step.expected_outcome = expected_outcome.clone();
            step.allow_skip = true;
            step.options = ActionOutcome::ALL
                .iter()
                .map(|o| option(o.label(), o.value(), None))
                .collect();
            step
        }
        FlowNode::Solution {
            text,
            help,
            follow_up,
        } => {
            let mut step = blank(
                StepType::ResolutionSuggestion,
                first_sentence(text, 300),
                0.0,
            );
            step.context_message = help.clone();
            step.resolution_summary = Some(text.clone());
            step.follow_up_recommendations = follow_up.clone();
            step.options = vec![option(
                "Keep troubleshooting",
                NOT_FIXED,
                Some("The fix did not solve it"),
            )];
            step
        }
        FlowNode::Escalate { text, help } => {
            let mut step = escalation_offer(None);
            step.content = format!("Escalate: {text}");
            step.context_message = help.clone().or(step.context_message);
            step
        }
    }
}

/// The first question when nothing matched: which area is the problem in?
pub fn triage(domains: &[(String, i64)]) -> StepOutput {
    let mut step = blank(
        StepType::Question,
        "Which area does the problem belong to?".into(),
        confidence::TRIAGE,
    );
    step.context_message = Some(
        "No flow in the library matched the description closely enough. Pick the closest area, \
         or describe the problem in other words."
            .into(),
    );
    step.options = domains
        .iter()
        .map(|(d, n)| {
            option(
                &domain_label(d),
                d,
                Some(&format!("{n} flow{}", if *n == 1 { "" } else { "s" })),
            )
        })
        .collect();
    step
}

/// Suggests handing the session to a colleague.
pub fn escalation_offer(reason: Option<&str>) -> StepOutput {
    let mut step = blank(
        StepType::Action,
        "Escalate this session to a colleague with the hand-off package.".into(),
        confidence::ESCALATION,
    );
    step.action_type = Some(ActionType::Instruction);
    step.context_message = Some(match reason {
        Some(r) => format!("{r} Escalating hands over everything tried so far."),
        None => "Escalating hands over everything tried so far.".into(),
    });
    step.expected_outcome =
        Some("Use **Escalate** to choose a colleague and give the reason.".into());
    step.options = vec![option(
        "Keep troubleshooting",
        CONTINUE,
        Some("Describe the problem another way"),
    )];
    step
}

/// Asks the engineer to describe the problem again (free text only).
pub fn describe_again() -> StepOutput {
    let mut step = blank(
        StepType::Question,
        "What do you see now? Describe the problem in other words.".into(),
        confidence::TRIAGE,
    );
    step.context_message = Some("FlowPilot will look for a better-fitting flow.".into());
    step
}

pub fn problem_summary(intake: &Intake) -> String {
    let text = intake
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .or_else(|| {
            intake
                .log
                .as_deref()
                .and_then(|l| l.lines().map(str::trim).find(|l| !l.is_empty()))
        })
        .unwrap_or("Problem reported by the engineer");
    first_sentence(text, 200)
}

/// The first sentence (or line) of `text`, at most `max` characters.
pub fn first_sentence(text: &str, max: usize) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let end = line
        .char_indices()
        .find(|(i, c)| matches!(c, '.' | '!' | '?') && line[i + c.len_utf8()..].starts_with(' '))
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(line.len());
    let sentence = &line[..end];
    if sentence.chars().count() <= max {
        sentence.to_string()
    } else {
        let cut: String = sentence.chars().take(max.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_take_the_first_sentence() {
        let intake = Intake {
            text: Some("Outlook keeps asking for a password. Three laptops.".into()),
            log: None,
        };
        assert_eq!(
            problem_summary(&intake),
            "Outlook keeps asking for a password."
        );
        let intake = Intake {
            text: None,
            log: Some("\n  Event 4625 failed logon\nmore".into()),
        };
        assert_eq!(problem_summary(&intake), "Event 4625 failed logon");
    }
}
