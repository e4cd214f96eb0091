//! A running summary of a session's steps, kept on every step row for the steps before it, so
//! answering a step never has to read the whole session back (docs/benchmarks.md).

use domain::step::{StepOutput, StepType};
use serde::{Deserialize, Serialize};

/// What the pilots read of the steps before a given one once those are no longer shown in
/// full: how many there were of each type, how many were skipped, and the latest non-blank
/// problem summary and domain they set.
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
