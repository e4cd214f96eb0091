//! Anthropic Messages API. Structured output through a single forced tool whose
//! `input_schema` is the contract: the tool call's `input` is the JSON object.

mod stream;

use async_trait::async_trait;
use domain::llm::{LlmError, LlmProvider, LlmReply, LlmRequest, TextSink};
use serde_json::{json, Value};

use super::{role_name, ProviderConfig, TEMPERATURE};
use crate::http;

const API_VERSION: &str = "2023-06-01";

pub struct AnthropicProvider {
    config: ProviderConfig,
    client: reqwest::Client,
}

impl AnthropicProvider {
    pub fn new(config: ProviderConfig) -> Result<Self, LlmError> {
        let client = http::build_client(config.timeout)?;
        Ok(Self { config, client })
    }

    fn body(&self, request: &LlmRequest) -> Value {
        let marks = cache_marks(request);
        let messages: Vec<Value> = request
            .messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let content = if marks.messages.contains(&i) {
                    json!([{"type": "text", "text": m.content, "cache_control": ephemeral()}])
                } else {
                    json!(m.content)
                };
                json!({"role": role_name(m.role), "content": content})
            })
            .collect();
        let system = if marks.system {
            json!([{"type": "text", "text": request.system, "cache_control": ephemeral()}])
        } else {
            json!(request.system)
        };
        json!({
            "model": self.config.model,
            "max_tokens": request.max_output_tokens,
            "system": system,
            "messages": messages,
            "tools": [{
                "name": request.schema_name,
                "description": format!(
                    "Record your answer as one `{}` object. Always answer by calling this tool.",
                    request.schema_name
                ),
                "input_schema": request.schema,
            }],
            "tool_choice": {"type": "tool", "name": request.schema_name},
            "temperature": TEMPERATURE,
        })
    }
}

/// Anthropic's prompt-cache breakpoint: the prefix up to and including the marked block is
/// written to the cache (5 minutes, renewed on each read).
fn ephemeral() -> Value {
    json!({"type": "ephemeral"})
}

/// Where a request's cache breakpoints go. Anthropic caches only up to a block marked with
/// `cache_control` (tools, then system, then messages, in that order), looks a little way back
/// from each mark for an earlier entry, and takes at most four marks: the system prompt (with the
/// tool before it, the same in every request), the end of what stays for the whole session, and
/// the end of what the next request repeats. A request that declares no stable prefix is a
/// one-off call and writes nothing to the cache, which would cost more than it saves.
struct CacheMarks {
    system: bool,
    messages: Vec<usize>,
}

fn cache_marks(request: &LlmRequest) -> CacheMarks {
    let prefix = request.stable_prefix;
    let count = request.messages.len();
    let mut messages: Vec<usize> = [prefix.session, prefix.turns]
        .into_iter()
        .filter(|&n| n > 0 && n <= count)
        .map(|n| n - 1)
        .collect();
    messages.dedup();
    CacheMarks {
        system: prefix.session > 0 || prefix.turns > 0,
        messages,
    }
}

#[async_trait]
impl LlmProvider for AnthropicProvider {
    fn name(&self) -> &str {
        "anthropic"
    }

    fn model(&self) -> &str {
        &self.config.model
    }

    async fn complete(&self, request: &LlmRequest) -> Result<LlmReply, LlmError> {
        let url = http::join_url(&self.config.base_url, "v1/messages");
        let mut builder = self
            .client
            .post(url)
            .header("anthropic-version", API_VERSION)
            .json(&self.body(request));
        if let Some(key) = self.config.key() {
            builder = builder.header("x-api-key", http::secret_header(key)?);
        }
        let body = http::send_json(builder, self.config.timeout).await?;
        parse_reply(&body, &request.schema_name, &self.config.model)
    }

    async fn complete_streaming(
        &self,
        request: &LlmRequest,
        sink: &dyn TextSink,
    ) -> Result<LlmReply, LlmError> {
        let url = http::join_url(&self.config.base_url, "v1/messages");
        let mut body = self.body(request);
        body["stream"] = json!(true);
        let mut builder = self
            .client
            .post(url)
            .header("anthropic-version", API_VERSION)
            .json(&body);
        if let Some(key) = self.config.key() {
            builder = builder.header("x-api-key", http::secret_header(key)?);
        }
        let response = http::send_streaming(builder, self.config.timeout).await?;
        let mut gathered = stream::Gathered::new(&request.schema_name);
        http::read_events(response, self.config.timeout, |event| {
            gathered.event(event, sink)
        })
        .await?;
        parse_reply(
            &gathered.into_message()?,
            &request.schema_name,
            &self.config.model,
        )
    }
}

fn parse_reply(
    body: &Value,
    tool_name: &str,
    configured_model: &str,
) -> Result<LlmReply, LlmError> {
    let blocks = body
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| LlmError::InvalidResponse("the reply has no content".into()))?;
    let stop_reason = body
        .get("stop_reason")
        .and_then(Value::as_str)
        .unwrap_or("unknown");

    let tool_input = blocks
        .iter()
        .find(|b| {
            b.get("type").and_then(Value::as_str) == Some("tool_use")
                && b.get("name").and_then(Value::as_str) == Some(tool_name)
        })
        .and_then(|b| b.get("input"));
    let text = match tool_input {
        Some(input) => input.to_string(),
        None => {
            // A model that ignored the forced tool may still have written the JSON as text;
            // the parser will say whether it did.
            if stop_reason == "max_tokens" || stop_reason == "refusal" {
                return Err(LlmError::InvalidResponse(format!(
                    "the reply stopped without an answer (stop reason: {stop_reason})"
                )));
            }
            blocks
                .iter()
                .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n")
        }
    };
    if text.trim().is_empty() {
        return Err(LlmError::InvalidResponse(format!(
            "the reply is empty (stop reason: {stop_reason})"
        )));
    }
    let count = |field: &str| {
        body.get("usage")
            .and_then(|u| u.get(field))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    let cache_read = count("cache_read_input_tokens");
    Ok(LlmReply {
        text,
        model: body
            .get("model")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .unwrap_or(configured_model)
            .to_string(),
        // Anthropic reports cache reads and writes apart from `input_tokens`; the port counts
        // every input token in `input_tokens`.
        input_tokens: count("input_tokens") + cache_read + count("cache_creation_input_tokens"),
        output_tokens: count("output_tokens"),
        cached_input_tokens: cache_read,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_the_named_tool_call_over_text() {
        let body = json!({
            "model": "claude-sonnet-4-5-20250929",
            "content": [
                {"type": "text", "text": "Let me think."},
                {"type": "tool_use", "id": "toolu_1", "name": "flowpilot_step", "input": {"a": 1}}
            ],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 100, "output_tokens": 20}
        });
        let reply = parse_reply(&body, "flowpilot_step", "claude-sonnet-4-5").unwrap();
        assert_eq!(reply.text, r#"{"a":1}"#);
        assert_eq!((reply.input_tokens, reply.output_tokens), (100, 20));
        assert_eq!(reply.model, "claude-sonnet-4-5-20250929");
    }

    #[test]
    fn falls_back_to_text_blocks() {
        let body =
            json!({"content": [{"type": "text", "text": "{\"a\": 1}"}], "stop_reason": "end_turn"});
        let reply = parse_reply(&body, "flowpilot_step", "m").unwrap();
        assert_eq!(reply.text, "{\"a\": 1}");
    }

    #[test]
    fn truncated_reply_without_tool_call_is_invalid() {
        let body =
            json!({"content": [{"type": "text", "text": "{\"a\": "}], "stop_reason": "max_tokens"});
        let err = parse_reply(&body, "flowpilot_step", "m").unwrap_err();
        assert!(matches!(err, LlmError::InvalidResponse(m) if m.contains("max_tokens")));
    }
}
