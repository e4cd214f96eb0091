//! Test doubles for the structured call loop: a provider that answers with scripted replies
//! and records what it was asked, and the step request and valid step the tests share. The
//! fake HTTP servers for the wire formats are in `flowpilot-providers`' tests.
#![allow(dead_code)] // each test binary uses its own part of the support code

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;
use domain::llm::{ChatMessage, ChatRole, LlmError, LlmProvider, LlmReply, LlmRequest};
use serde_json::{json, Value};

pub fn step_request() -> LlmRequest {
    LlmRequest {
        system: "You are FlowPilot, a senior MSP engineer.".into(),
        messages: vec![ChatMessage {
            role: ChatRole::User,
            content: "Outlook keeps asking for a password.".into(),
        }],
        schema_name: flowpilot_llm::STEP_SCHEMA_NAME.into(),
        schema: flowpilot_llm::step_schema(),
        max_output_tokens: 800,
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

/// A provider that answers with scripted replies and records the requests it got.
pub struct ScriptedProvider {
    replies: Mutex<VecDeque<Result<LlmReply, LlmError>>>,
    pub requests: Mutex<Vec<LlmRequest>>,
}

impl ScriptedProvider {
    pub fn new(replies: Vec<Result<LlmReply, LlmError>>) -> Self {
        Self {
            replies: Mutex::new(replies.into()),
            requests: Mutex::new(Vec::new()),
        }
    }

    pub fn reply(text: &str, input_tokens: i64, output_tokens: i64) -> Result<LlmReply, LlmError> {
        Ok(LlmReply {
            text: text.to_string(),
            model: "fake-model".into(),
            input_tokens,
            output_tokens,
        })
    }

    pub fn requests(&self) -> Vec<LlmRequest> {
        self.requests.lock().unwrap().clone()
    }
}

#[async_trait]
impl LlmProvider for ScriptedProvider {
    fn name(&self) -> &str {
        "fake"
    }

    fn model(&self) -> &str {
        "fake-model"
    }

    async fn complete(&self, request: &LlmRequest) -> Result<LlmReply, LlmError> {
        self.requests.lock().unwrap().push(request.clone());
        self.replies
            .lock()
            .unwrap()
            .pop_front()
            .expect("the test scripted too few replies")
    }
}
