//! A streamed chat completion (`stream: true`): `data:` chunks each carrying a delta of the
//! message, the usage in a last chunk without choices (`stream_options.include_usage`), then
//! `data: [DONE]`. The chunks are gathered into the shape of a whole completion, so the reply
//! is read and checked by the same code as an answer sent whole.

use std::ops::ControlFlow;

use domain::llm::{LlmError, TextSink};
use serde_json::{json, Value};

use crate::sse::SseEvent;

/// What the chunks said so far.
#[derive(Debug, Default)]
pub(super) struct Gathered {
    model: Option<String>,
    content: String,
    refusal: String,
    finish_reason: Option<String>,
    usage: Option<Value>,
    done: bool,
}

impl Gathered {
    /// Reads one event, handing new content to `sink`.
    pub(super) fn event(
        &mut self,
        event: SseEvent,
        sink: &dyn TextSink,
    ) -> Result<ControlFlow<()>, LlmError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(ControlFlow::Break(()));
        }
        if data.is_empty() {
            return Ok(ControlFlow::Continue(()));
        }
        let chunk: Value = serde_json::from_str(data).map_err(|e| {
            LlmError::InvalidResponse(format!("a streamed chunk is not JSON ({e})"))
        })?;
        if let Some(error) = chunk.get("error") {
            // A server that fails after it started answering says so in the stream.
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .or_else(|| error.as_str())
                .unwrap_or("the stream reported an error");
            return Err(LlmError::Upstream {
                status: error
                    .get("code")
                    .and_then(Value::as_u64)
                    .filter(|code| (400..600).contains(code))
                    .unwrap_or(500) as u16,
                message: llm::text::truncate(message, 300),
            });
        }
        if let Some(model) = chunk.get("model").and_then(Value::as_str) {
            if !model.is_empty() {
                self.model = Some(model.to_string());
            }
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(usage.clone());
        }
        if let Some(choice) = chunk.pointer("/choices/0") {
            if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str) {
                if !text.is_empty() {
                    self.content.push_str(text);
                    sink.delta(text);
                }
            }
            if let Some(text) = choice.pointer("/delta/refusal").and_then(Value::as_str) {
                self.refusal.push_str(text);
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.finish_reason = Some(reason.to_string());
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// The completion the chunks add up to. A stream that ended before `[DONE]` and
    /// without a finish reason was cut off: its text is not a whole reply.
    pub(super) fn into_completion(self) -> Result<Value, LlmError> {
        if !self.done && self.finish_reason.is_none() {
            return Err(LlmError::InvalidResponse(format!(
                "the stream ended before the reply was complete ({} characters received)",
                self.content.chars().count()
            )));
        }
        let refusal = (!self.refusal.is_empty()).then_some(self.refusal);
        let mut completion = json!({
            "choices": [{
                "message": {"role": "assistant", "content": self.content, "refusal": refusal},
                "finish_reason": self.finish_reason,
            }],
        });
        if let Some(model) = self.model {
            completion["model"] = json!(model);
        }
        if let Some(usage) = self.usage {
            completion["usage"] = usage;
        }
        Ok(completion)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Collect(Mutex<Vec<String>>);

    impl TextSink for Collect {
        fn delta(&self, text: &str) {
            self.0.lock().unwrap().push(text.to_string());
        }
    }

    fn data(json: Value) -> SseEvent {
        SseEvent {
            event: None,
            data: json.to_string(),
        }
    }

    #[test]
    fn gathers_deltas_usage_and_model() {
        let sink = Collect::default();
        let mut gathered = Gathered::default();
        for chunk in [
            json!({"model": "m-1", "choices": [{"delta": {"role": "assistant", "content": ""}}]}),
            json!({"model": "m-1", "choices": [{"delta": {"content": "{\"a\":"}}]}),
            json!({"model": "m-1", "choices": [{"delta": {"content": "1}"}, "finish_reason": "stop"}]}),
            json!({"model": "m-1", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4}}),
        ] {
            assert!(gathered.event(data(chunk), &sink).unwrap().is_continue());
        }
        let done = SseEvent {
            event: None,
            data: "[DONE]".into(),
        };
        assert!(gathered.event(done, &sink).unwrap().is_break());
        let completion = gathered.into_completion().unwrap();
        assert_eq!(completion["choices"][0]["message"]["content"], "{\"a\":1}");
        assert_eq!(completion["usage"]["prompt_tokens"], 9);
        assert_eq!(completion["model"], "m-1");
        assert_eq!(*sink.0.lock().unwrap(), vec!["{\"a\":", "1}"]);
    }

    #[test]
    fn a_stream_cut_off_is_not_a_reply() {
        let sink = Collect::default();
        let mut gathered = Gathered::default();
        let chunk = json!({"choices": [{"delta": {"content": "{\"type\": \"quest"}}]});
        assert!(gathered.event(data(chunk), &sink).unwrap().is_continue());
        let err = gathered.into_completion().unwrap_err();
        assert!(
            matches!(err, LlmError::InvalidResponse(m) if m.contains("before the reply was complete"))
        );
    }

    #[test]
    fn an_error_in_the_stream_is_the_providers_failure() {
        let mut gathered = Gathered::default();
        let chunk = json!({"error": {"message": "model overloaded", "code": 503}});
        let err = gathered
            .event(data(chunk), &Collect::default())
            .unwrap_err();
        assert_eq!(
            err,
            LlmError::Upstream {
                status: 503,
                message: "model overloaded".into()
            }
        );
    }
}
