//! A streamed `streamGenerateContent?alt=sse` reply: each `data:` event is a whole
//! `GenerateContentResponse` carrying the next piece of the candidate's text; the last one
//! carries the finish reason and the usage. There is no end marker: a stream whose events
//! never gave a finish reason was cut off. The events are gathered into one response, read
//! by the same code as an answer sent whole.

use domain::llm::{LlmError, TextSink};
use serde_json::{json, Value};

use crate::sse::SseEvent;

#[derive(Debug, Default)]
pub(super) struct Gathered {
    text: String,
    finish_reason: Option<String>,
    usage: Option<Value>,
    model: Option<String>,
    block_reason: Option<Value>,
}

impl Gathered {
    /// Reads one event, handing new answer text (not thoughts) to `sink`.
    pub(super) fn event(&mut self, event: SseEvent, sink: &dyn TextSink) -> Result<(), LlmError> {
        if event.data.trim().is_empty() {
            return Ok(());
        }
        let chunk: Value = serde_json::from_str(&event.data).map_err(|e| {
            LlmError::InvalidResponse(format!("a streamed chunk is not JSON ({e})"))
        })?;
        if let Some(message) = chunk.pointer("/error/message").and_then(Value::as_str) {
            return Err(LlmError::Upstream {
                status: chunk
                    .pointer("/error/code")
                    .and_then(Value::as_u64)
                    .filter(|code| (400..600).contains(code))
                    .unwrap_or(500) as u16,
                message: llm::text::truncate(message, 300),
            });
        }
        if let Some(feedback) = chunk.get("promptFeedback") {
            self.block_reason = Some(feedback.clone());
        }
        if let Some(model) = chunk.get("modelVersion").and_then(Value::as_str) {
            self.model = Some(model.to_string());
        }
        if let Some(usage) = chunk.get("usageMetadata").filter(|u| u.is_object()) {
            self.usage = Some(usage.clone());
        }
        let Some(candidate) = chunk.pointer("/candidates/0") else {
            return Ok(());
        };
        for part in candidate
            .pointer("/content/parts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if part.get("thought").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            if let Some(text) = part.get("text").and_then(Value::as_str) {
                if !text.is_empty() {
                    self.text.push_str(text);
                    sink.delta(text);
                }
            }
        }
        if let Some(reason) = candidate.get("finishReason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_string());
        }
        Ok(())
    }

    /// The response the events add up to.
    pub(super) fn into_response(self) -> Result<Value, LlmError> {
        let Some(reason) = self.finish_reason else {
            if let Some(feedback) = self.block_reason.filter(|_| self.text.is_empty()) {
                // A blocked prompt has no candidate at all: answered as the whole reply is.
                return Ok(json!({"promptFeedback": feedback}));
            }
            return Err(LlmError::InvalidResponse(format!(
                "the stream ended before the reply was complete ({} characters received)",
                self.text.chars().count()
            )));
        };
        let mut response = json!({
            "candidates": [{"content": {"parts": [{"text": self.text}]}, "finishReason": reason}],
        });
        if let Some(usage) = self.usage {
            response["usageMetadata"] = usage;
        }
        if let Some(model) = self.model {
            response["modelVersion"] = json!(model);
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Collect(Mutex<String>);

    impl TextSink for Collect {
        fn delta(&self, text: &str) {
            self.0.lock().unwrap().push_str(text);
        }
    }

    fn data(json: Value) -> SseEvent {
        SseEvent {
            event: None,
            data: json.to_string(),
        }
    }

    #[test]
    fn gathers_text_without_thoughts_and_the_last_usage() {
        let sink = Collect::default();
        let mut gathered = Gathered::default();
        for chunk in [
            json!({"candidates": [{"content": {"parts": [{"text": "hmm", "thought": true}]}}]}),
            json!({"candidates": [{"content": {"parts": [{"text": "{\"a\":"}]}}], "modelVersion": "gemini-x"}),
            json!({"candidates": [{"content": {"parts": [{"text": "1}"}]}, "finishReason": "STOP"}],
                   "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 3}}),
        ] {
            gathered.event(data(chunk), &sink).unwrap();
        }
        let response = gathered.into_response().unwrap();
        assert_eq!(
            response["candidates"][0]["content"]["parts"][0]["text"],
            "{\"a\":1}"
        );
        assert_eq!(response["usageMetadata"]["promptTokenCount"], 7);
        assert_eq!(response["modelVersion"], "gemini-x");
        assert_eq!(*sink.0.lock().unwrap(), "{\"a\":1}");
    }

    #[test]
    fn without_a_finish_reason_the_stream_was_cut_off() {
        let mut gathered = Gathered::default();
        let chunk = json!({"candidates": [{"content": {"parts": [{"text": "{\"a\":"}]}}]});
        gathered.event(data(chunk), &Collect::default()).unwrap();
        assert!(matches!(
            gathered.into_response(),
            Err(LlmError::InvalidResponse(m)) if m.contains("before the reply was complete")
        ));
    }
}
