//! Test doubles for the structured call loop: a provider that answers with scripted replies
//! and records what it was asked, and the step request and valid step the tests share. The
//! fake HTTP servers for the wire formats are in `flowpilot-providers`' tests.
#![allow(dead_code)] // each test binary uses its own part of the support code

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;
use domain::llm::{LlmError, LlmProvider, LlmReply, LlmRequest};

pub use flowpilot_llm::{step_schema, STEP_SCHEMA_NAME};

#[path = "step.rs"]
mod step;
#[allow(unused_imports)] // each test binary uses its own part of the support code
pub use step::{invalid_step, step_request, valid_step};
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
            cached_input_tokens: 0,
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
