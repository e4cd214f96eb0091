//! A streamed Messages reply (`stream: true`): `message_start` (model, input usage),
//! per content block a `content_block_start`, its deltas (`input_json_delta` pieces of the
//! forced tool's input, `text_delta` for text) and `content_block_stop`, then
//! `message_delta` (stop reason, output usage) and `message_stop`. The events are gathered
//! into the shape of a whole message, so the reply is read by the same code as one sent whole.

use std::ops::ControlFlow;

use domain::llm::{LlmError, TextSink};
use serde_json::{json, Map, Value};

use crate::sse::SseEvent;

#[derive(Debug)]
struct Block {
    kind: String,
    name: Option<String>,
    /// The text of a text block, or the partial JSON of a tool's input.
    text: String,
}

/// What the events said so far.
#[derive(Debug)]
pub(super) struct Gathered<'a> {
    /// Only the forced tool's input is handed to the sink: that is the step.
    tool_name: &'a str,
    model: Option<String>,
    blocks: Vec<Block>,
    stop_reason: Option<String>,
    usage: Map<String, Value>,
    stopped: bool,
}

impl<'a> Gathered<'a> {
    pub(super) fn new(tool_name: &'a str) -> Self {
        Self {
            tool_name,
            model: None,
            blocks: Vec::new(),
            stop_reason: None,
            usage: Map::new(),
            stopped: false,
        }
    }

    /// Reads one event, handing new tool input to `sink`.
    pub(super) fn event(
        &mut self,
        event: SseEvent,
        sink: &dyn TextSink,
    ) -> Result<ControlFlow<()>, LlmError> {
        if event.data.trim().is_empty() {
            return Ok(ControlFlow::Continue(()));
        }
        let data: Value = serde_json::from_str(&event.data).map_err(|e| {
            LlmError::InvalidResponse(format!("a streamed event is not JSON ({e})"))
        })?;
        // The `type` in the data names the event as well as the `event:` line does.
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .or(event.event.as_deref())
            .unwrap_or_default();
        match kind {
            "message_start" => {
                let message = data.get("message").cloned().unwrap_or(Value::Null);
                if let Some(model) = message.get("model").and_then(Value::as_str) {
                    self.model = Some(model.to_string());
                }
                self.add_usage(message.get("usage"));
            }
            "content_block_start" => {
                let block = data.get("content_block").cloned().unwrap_or(Value::Null);
                self.blocks.push(Block {
                    kind: block
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("text")
                        .to_string(),
                    name: block
                        .get("name")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    text: block
                        .get("text")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                });
            }
            "content_block_delta" => self.delta(&data, sink),
            "message_delta" => {
                if let Some(reason) = data.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(reason.to_string());
                }
                self.add_usage(data.get("usage"));
            }
            "message_stop" => {
                self.stopped = true;
                return Ok(ControlFlow::Break(()));
            }
            "error" => return Err(stream_error(&data)),
            _ => {} // ping, content_block_stop, and whatever a later API version adds
        }
        Ok(ControlFlow::Continue(()))
    }

    fn delta(&mut self, data: &Value, sink: &dyn TextSink) {
        let position = match data.get("index").and_then(Value::as_u64) {
            Some(index) => index as usize,
            None => self.blocks.len().saturating_sub(1),
        };
        let Some(block) = self.blocks.get_mut(position) else {
            return;
        };
        let delta = data.get("delta").cloned().unwrap_or(Value::Null);
        match delta.get("type").and_then(Value::as_str) {
            Some("input_json_delta") => {
                let piece = delta
                    .get("partial_json")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                block.text.push_str(piece);
                if block.name.as_deref() == Some(self.tool_name) && !piece.is_empty() {
                    sink.delta(piece);
                }
            }
            Some("text_delta") => {
                block.text.push_str(
                    delta
                        .get("text")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                );
            }
            _ => {} // thinking and signature deltas are not the answer
        }
    }

    /// Later usage reports (`message_delta`) overwrite the counts they carry.
    fn add_usage(&mut self, usage: Option<&Value>) {
        if let Some(usage) = usage.and_then(Value::as_object) {
            for (key, value) in usage {
                if !value.is_null() {
                    self.usage.insert(key.clone(), value.clone());
                }
            }
        }
    }

    /// The message the events add up to. A stream that ended before `message_stop` was
    /// cut off: its text is not a whole reply.
    pub(super) fn into_message(self) -> Result<Value, LlmError> {
        if !self.stopped {
            let received: usize = self.blocks.iter().map(|b| b.text.chars().count()).sum();
            return Err(LlmError::InvalidResponse(format!(
                "the stream ended before the reply was complete ({received} characters received)"
            )));
        }
        let content: Vec<Value> = self
            .blocks
            .into_iter()
            .map(|block| match block.kind.as_str() {
                "tool_use" => {
                    let raw = if block.text.trim().is_empty() {
                        "{}"
                    } else {
                        block.text.as_str()
                    };
                    match serde_json::from_str::<Value>(raw) {
                        Ok(input) => {
                            json!({"type": "tool_use", "name": block.name, "input": input})
                        }
                        // Not whole JSON (a reply cut at max_tokens): kept as text, so the
                        // parser and the repair see what the model wrote.
                        Err(_) => json!({"type": "text", "text": block.text}),
                    }
                }
                "text" => json!({"type": "text", "text": block.text}),
                other => json!({"type": other}),
            })
            .collect();
        let mut message = json!({
            "content": content,
            "stop_reason": self.stop_reason,
            "usage": Value::Object(self.usage),
        });
        if let Some(model) = self.model {
            message["model"] = json!(model);
        }
        Ok(message)
    }
}

/// An `error` event: the provider failed after it started answering.
fn stream_error(data: &Value) -> LlmError {
    let kind = data
        .pointer("/error/type")
        .and_then(Value::as_str)
        .unwrap_or("error");
    let message = data
        .pointer("/error/message")
        .and_then(Value::as_str)
        .unwrap_or("the stream reported an error");
    match kind {
        "rate_limit_error" => LlmError::RateLimited { retry_after: None },
        // Anthropic answers an overload with HTTP 529 when it has not started streaming.
        "overloaded_error" => LlmError::Upstream {
            status: 529,
            message: llm::text::truncate(message, 300),
        },
        _ => LlmError::Upstream {
            status: 500,
            message: llm::text::truncate(message, 300),
        },
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

    fn event(name: &str, data: Value) -> SseEvent {
        SseEvent {
            event: Some(name.to_string()),
            data: data.to_string(),
        }
    }

    fn events(partials: &[&str], stop: bool) -> Vec<SseEvent> {
        let mut events = vec![
            event(
                "message_start",
                json!({"type": "message_start", "message": {"model": "claude-x", "content": [], "usage": {"input_tokens": 50, "output_tokens": 1}}}),
            ),
            event(
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Calling the tool."}}),
            ),
            event(
                "content_block_start",
                json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t1", "name": "flowpilot_step", "input": {}}}),
            ),
        ];
        for p in partials {
            events.push(event("content_block_delta", json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": p}})));
        }
        events.push(event("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 30}})));
        if stop {
            events.push(event("message_stop", json!({"type": "message_stop"})));
        }
        events
    }

    #[test]
    fn gathers_the_tool_input_and_hands_only_it_to_the_sink() {
        let sink = Collect::default();
        let mut gathered = Gathered::new("flowpilot_step");
        for e in events(&["{\"a\": ", "1, \"b\"", ": \"x\"}"], true) {
            let _ = gathered.event(e, &sink).unwrap();
        }
        let message = gathered.into_message().unwrap();
        assert_eq!(message["content"][1]["input"], json!({"a": 1, "b": "x"}));
        assert_eq!(message["content"][0]["text"], "Calling the tool.");
        assert_eq!(
            message["usage"],
            json!({"input_tokens": 50, "output_tokens": 30})
        );
        assert_eq!(message["model"], "claude-x");
        assert_eq!(*sink.0.lock().unwrap(), "{\"a\": 1, \"b\": \"x\"}");
    }

    #[test]
    fn a_stream_without_message_stop_is_cut_off() {
        let mut gathered = Gathered::new("flowpilot_step");
        for e in events(&["{\"a\": "], false) {
            let _ = gathered.event(e, &Collect::default()).unwrap();
        }
        assert!(
            matches!(gathered.into_message(), Err(LlmError::InvalidResponse(m)) if m.contains("before the reply was complete"))
        );
    }

    #[test]
    fn an_error_event_fails_the_call() {
        let mut gathered = Gathered::new("flowpilot_step");
        let error = event(
            "error",
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        );
        assert_eq!(
            gathered.event(error, &Collect::default()).unwrap_err(),
            LlmError::Upstream {
                status: 529,
                message: "Overloaded".into()
            }
        );
    }
}
