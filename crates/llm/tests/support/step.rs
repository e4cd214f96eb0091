//! The step request and the steps the structured-call tests share: here, and in
//! `flowpilot-providers`' wire-format tests, which include this file with `#[path]`. The
//! including module brings `STEP_SCHEMA_NAME` and `step_schema` into scope (the contract
//! crate is named differently in the two crates).

use domain::llm::{ChatMessage, ChatRole, LlmRequest};
use serde_json::{json, Value};

use super::{step_schema, STEP_SCHEMA_NAME};

pub fn step_request() -> LlmRequest {
    LlmRequest {
        system: "You are FlowPilot, a senior MSP engineer.".into(),
        messages: vec![ChatMessage {
            role: ChatRole::User,
            content: "Outlook keeps asking for a password.".into(),
        }],
        schema_name: STEP_SCHEMA_NAME.into(),
        schema: step_schema(),
        max_output_tokens: 800,
        stable_prefix: Default::default(),
    }
}

/// A valid first step, with every field present as a strict provider returns it.
pub fn valid_step() -> Value {
    json!({
        "type": "question",
        "content": "Does it happen in Outlook desktop, OWA, or both?",
        "context_message": "Separates a client problem from an account problem.",
        "reasoning": null,
        "options": [
            {"label": "Outlook desktop only", "value": "desktop", "followup_hint": null},
            {"label": "OWA too", "value": "both", "followup_hint": null}
        ],
        "allow_free_text": true,
        "allow_skip": false,
        "action_type": null,
        "expected_outcome": null,
        "resolution_summary": null,
        "follow_up_recommendations": [],
        "confidence": 0.3,
        "problem_summary": "Outlook repeatedly prompts for credentials",
        "problem_domain": "email"
    })
}

/// A step that breaks two rules, so the repair message must list both.
pub fn invalid_step() -> String {
    let mut step = valid_step();
    step["type"] = json!("poll");
    step["problem_domain"] = json!(null);
    step.to_string()
}
