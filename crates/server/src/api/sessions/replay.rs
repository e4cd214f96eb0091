//! Rebuilding what the pilots need from a stored session.

use engine::{Intake, PastStep, StepAnswer};
use store::{SessionRecord, StepRecord};

pub fn history(steps: &[StepRecord]) -> Vec<PastStep> {
    steps
        .iter()
        .map(|s| PastStep {
            output: s.output.clone(),
            state: s.engine_state.clone(),
            answer: s.response.as_ref().map(|r| StepAnswer {
                selected_option: r.selected_option.clone(),
                free_text_input: r.free_text_input.clone(),
                skipped: r.skipped,
            }),
        })
        .collect()
}

pub fn intake(s: &SessionRecord) -> Intake {
    Intake {
        text: s
            .intake_content
            .get("text")
            .and_then(|v| v.as_str())
            .map(String::from),
        log: s
            .intake_content
            .get("log")
            .and_then(|v| v.as_str())
            .map(String::from),
    }
}
