//! The step contract (engine.md): what every engine, LLM or offline, produces for one step.

use serde::{Deserialize, Serialize};

use crate::confidence::clamp_confidence;

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
    /// A step reduced to its type and the problem summary and domain it set: what a pilot
    /// reads of a step it no longer shows in full. Never to be shown or stored.
    pub fn digest(
        step_type: StepType,
        problem_summary: Option<String>,
        problem_domain: Option<String>,
    ) -> StepOutput {
        StepOutput {
            step_type,
            content: String::new(),
            context_message: None,
            reasoning: None,
            options: Vec::new(),
            allow_free_text: false,
            allow_skip: false,
            action_type: None,
            expected_outcome: None,
            resolution_summary: None,
            follow_up_recommendations: Vec::new(),
            confidence: 0.0,
            problem_summary,
            problem_domain,
        }
    }

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
