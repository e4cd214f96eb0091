//! The step contract (engine.md): what every engine, LLM or offline, produces for one step.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::confidence::{clamp_confidence, ConfidenceTier};
pub use crate::outcome::StepMarks;

/// The engineer's answer to a step: an option, free text, both, or a skip.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub selected_option: Option<String>,
    pub free_text_input: Option<String>,
    #[serde(default)]
    pub skipped: bool,
}

/// An answer as stored with its step.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub answer: Answer,
    pub responded_at: DateTime<Utc>,
}

/// One step of a session: what the engine produced, and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: Uuid,
    pub session_id: Uuid,
    pub step_order: i64,
    pub output: StepOutput,
    /// The pilot's own state, handed back to it with the answer.
    pub engine_state: serde_json::Value,
    pub response: Option<Response>,
    /// The steps before this one, in brief; `None` on steps stored before it was kept.
    pub earlier: Option<EarlierSteps>,
    /// Free text the engineer gave that did not answer the step, oldest first.
    pub observations: Vec<String>,
    /// What FlowPilot asked about the latest observation.
    pub clarification: Option<String>,
    /// Why the step has its confidence, in plain sentences.
    pub confidence_reasons: Vec<String>,
    /// How a suggested fix turned out, or why the step was not relevant.
    pub marks: StepMarks,
    pub created_at: DateTime<Utc>,
}

impl Step {
    pub fn confidence_tier(&self) -> ConfidenceTier {
        ConfidenceTier::from_score(self.output.confidence)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepType {
    Question,
    Action,
    ResolutionSuggestion,
}

impl StepType {
    pub fn as_str(self) -> &'static str {
        match self {
            StepType::Question => "question",
            StepType::Action => "action",
            StepType::ResolutionSuggestion => "resolution_suggestion",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Question, Self::Action, Self::ResolutionSuggestion]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionType {
    Instruction,
    Script,
    Verification,
    InfoRequest,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepOption {
    pub label: String,
    pub value: String,
    #[serde(default)]
    pub followup_hint: Option<String>,
}

/// One step as an engine produced it: the `flowpilot_step` schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepOutput {
    #[serde(rename = "type")]
    pub step_type: StepType,
    pub content: String,
    #[serde(default)]
    pub context_message: Option<String>,
    #[serde(default)]
    pub reasoning: Option<String>,
    #[serde(default)]
    pub options: Vec<StepOption>,
    #[serde(default)]
    pub allow_free_text: bool,
    #[serde(default)]
    pub allow_skip: bool,
    #[serde(default)]
    pub action_type: Option<ActionType>,
    #[serde(default)]
    pub expected_outcome: Option<String>,
    #[serde(default)]
    pub resolution_summary: Option<String>,
    #[serde(default)]
    pub follow_up_recommendations: Vec<String>,
    pub confidence: f64,
    #[serde(default)]
    pub problem_summary: Option<String>,
    #[serde(default)]
    pub problem_domain: Option<String>,
}

impl StepOutput {
    /// Applies the rules a reply may not change: option values unique, a question without
    /// options accepts free text, confidence clamped into [0, 1].
    pub fn normalize(&mut self) {
        self.confidence = clamp_confidence(self.confidence);
        let mut seen = std::collections::HashSet::new();
        for opt in &mut self.options {
            let base = if opt.value.trim().is_empty() {
                slug(&opt.label)
            } else {
                opt.value.trim().to_string()
            };
            let mut value = base.clone();
            let mut n = 2;
            while !seen.insert(value.clone()) {
                value = format!("{base}_{n}");
                n += 1;
            }
            opt.value = value;
        }
        if self.step_type == StepType::Question && self.options.is_empty() {
            self.allow_free_text = true;
        }
    }
}

/// A lower-case ASCII identifier made from a label, for option values.
pub fn slug(label: &str) -> String {
    let mut out = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let trimmed = out.trim_end_matches('_').to_string();
    if trimmed.is_empty() {
        "option".to_string()
    } else {
        trimmed
    }
}

/// What a pilot reads of the steps before the ones it is shown in full: how many there were
/// of each type, how many were skipped, and the latest non-blank problem summary and domain
/// they set. Kept on every stored step for the steps before it, so answering a step never
/// reads the whole session back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarlierSteps {
    pub steps: i64,
    pub questions: i64,
    pub actions: i64,
    pub resolution_suggestions: i64,
    pub skipped: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem_summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem_domain: Option<String>,
}

impl EarlierSteps {
    /// The summary for the step after `step`, once `step` has been answered.
    pub fn then(&self, step: &StepOutput, skipped: bool) -> EarlierSteps {
        let mut next = self.clone();
        next.steps += 1;
        match step.step_type {
            StepType::Question => next.questions += 1,
            StepType::Action => next.actions += 1,
            StepType::ResolutionSuggestion => next.resolution_suggestions += 1,
        }
        next.skipped += i64::from(skipped);
        // Blank values never replace an earlier one: a later step may leave them out.
        let set = |value: &Option<String>| value.clone().filter(|v| !v.trim().is_empty());
        if let Some(summary) = set(&step.problem_summary) {
            next.problem_summary = Some(summary);
        }
        if let Some(domain) = set(&step.problem_domain) {
            next.problem_domain = Some(domain);
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(options: Vec<(&str, &str)>) -> StepOutput {
        StepOutput {
            step_type: StepType::Question,
            content: "Which?".into(),
            context_message: None,
            reasoning: None,
            options: options
                .into_iter()
                .map(|(l, v)| StepOption {
                    label: l.into(),
                    value: v.into(),
                    followup_hint: None,
                })
                .collect(),
            allow_free_text: false,
            allow_skip: false,
            action_type: None,
            expected_outcome: None,
            resolution_summary: None,
            follow_up_recommendations: vec![],
            confidence: 1.7,
            problem_summary: None,
            problem_domain: None,
        }
    }

    #[test]
    fn normalize_makes_values_unique_and_clamps() {
        let mut s = question(vec![("Yes", "y"), ("Yes again", "y"), ("Blank label", " ")]);
        s.normalize();
        let values: Vec<_> = s.options.iter().map(|o| o.value.as_str()).collect();
        assert_eq!(values, ["y", "y_2", "blank_label"]);
        assert_eq!(s.confidence, 1.0);
    }

    #[test]
    fn question_without_options_becomes_free_text() {
        let mut s = question(vec![]);
        s.normalize();
        assert!(s.allow_free_text);
    }
}
