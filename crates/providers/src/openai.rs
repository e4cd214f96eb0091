//! OpenAI chat completions, which every OpenAI-compatible server (Ollama, vLLM, llama.cpp,
//! LM Studio) also speaks. Structured output through the field the configured mode names
//! (`structured_mode`): OpenAI's strict `response_format`, vLLM's `structured_outputs`,
//! llama.cpp's `json_schema`, or the schema in the instructions.

mod stream;
pub mod structured_mode;

use async_trait::async_trait;
use domain::llm::{LlmError, LlmProvider, LlmReply, LlmRequest, TextSink};
use llm::text::truncate;
use reqwest::header::AUTHORIZATION;
use serde_json::{json, Map, Value};

use super::{role_name, ProviderConfig, TEMPERATURE};
use crate::http;
use structured_mode::{add_schema_field, effective, system_text, StructuredMode};

pub struct OpenAiProvider {
    config: ProviderConfig,
    client: reqwest::Client,
}

impl OpenAiProvider {
    pub fn new(config: ProviderConfig) -> Result<Self, LlmError> {
        let client = http::build_client(config.timeout)?;
        Ok(Self { config, client })
    }

    /// The mode requests are sent in now (for `auto`, what the probe found, if it ran).
    pub fn structured_mode(&self) -> StructuredMode {
        effective(self.config.structured, &self.config.probed)
    }

    fn body(&self, request: &LlmRequest) -> Value {
        let mode = self.structured_mode();
        let mut messages = vec![json!({"role": "system", "content": system_text(mode, request)})];
        messages.extend(
            request
                .messages
                .iter()
                .map(|m| json!({"role": role_name(m.role), "content": m.content})),
        );
        let mut body = Map::new();
        body.insert("model".into(), json!(self.config.model));
        body.insert("messages".into(), Value::Array(messages));
        add_schema_field(mode, &mut body, request);
        // `max_tokens`, not `max_completion_tokens`: every compatible server accepts it.
        body.insert("max_tokens".into(), json!(request.max_output_tokens));
        body.insert("temperature".into(), json!(TEMPERATURE));
        Value::Object(body)
    }
}

#[async_trait]
impl LlmProvider for OpenAiProvider {
    fn name(&self) -> &str {
        "openai"
    }

    fn model(&self) -> &str {
        &self.config.model
    }

    async fn complete(&self, request: &LlmRequest) -> Result<LlmReply, LlmError> {
        let builder = self.post(self.body(request))?;
        let body = http::send_json(builder, self.config.timeout).await?;
        parse_reply(&body, &self.config.model)
    }

    async fn complete_streaming(
        &self,
        request: &LlmRequest,
        sink: &dyn TextSink,
    ) -> Result<LlmReply, LlmError> {
        let mut body = self.body(request);
        // The structured-output field stays whatever the mode put there; usage comes in a
        // last chunk only when asked for.
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
        let response = http::send_streaming(self.post(body)?, self.config.timeout).await?;
        let mut gathered = stream::Gathered::default();
        http::read_events(response, self.config.timeout, |event| {
            gathered.event(event, sink)
        })
        .await?;
        parse_reply(&gathered.into_completion()?, &self.config.model)
    }
}

impl OpenAiProvider {
    fn post(&self, body: Value) -> Result<reqwest::RequestBuilder, LlmError> {
        let url = http::join_url(&self.config.base_url, "chat/completions");
        let mut builder = self.client.post(url).json(&body);
        // Local servers need no key; sending an empty bearer would make some of them fail.
        if let Some(key) = self.config.key() {
            builder = builder.header(
                AUTHORIZATION,
                http::secret_header(&format!("Bearer {key}"))?,
            );
        }
        Ok(builder)
    }
}

fn parse_reply(body: &Value, configured_model: &str) -> Result<LlmReply, LlmError> {
    let choice = body
        .pointer("/choices/0")
        .ok_or_else(|| LlmError::InvalidResponse("the reply has no choices".into()))?;
    let message = choice
        .get("message")
        .ok_or_else(|| LlmError::InvalidResponse("the reply's choice has no message".into()))?;
    if let Some(refusal) = message.get("refusal").and_then(Value::as_str) {
        if !refusal.trim().is_empty() {
            return Err(LlmError::InvalidResponse(format!(
                "the model refused: {}",
                truncate(refusal.trim(), 200)
            )));
        }
    }
    let text = match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        // Some compatible servers answer with content parts.
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    };
    if text.trim().is_empty() {
        let reason = choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        return Err(LlmError::InvalidResponse(format!(
            "the reply is empty (finish reason: {reason})"
        )));
    }
    Ok(LlmReply {
        text,
        model: reply_model(body, configured_model),
        input_tokens: token_count(body, "/usage/prompt_tokens"),
        output_tokens: token_count(body, "/usage/completion_tokens"),
        // Counted inside `prompt_tokens`; servers without a prompt cache leave it out.
        cached_input_tokens: token_count(body, "/usage/prompt_tokens_details/cached_tokens"),
    })
}

/// The model that actually answered (a dated snapshot, say), falling back to the configured one.
fn reply_model(body: &Value, configured_model: &str) -> String {
    body.get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .unwrap_or(configured_model)
        .to_string()
}

/// Some local servers omit usage; zero is then the honest record.
fn token_count(body: &Value, pointer: &str) -> i64 {
    body.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_content_and_usage() {
        let body = json!({"model": "gpt-4.1-mini-2025-04-14", "choices": [{"message": {"role": "assistant", "content": "{}", "refusal": null}, "finish_reason": "stop"}],
                          "usage": {"prompt_tokens": 12, "completion_tokens": 3}});
        let reply = parse_reply(&body, "gpt-4.1-mini").unwrap();
        assert_eq!(reply.text, "{}");
        assert_eq!(reply.model, "gpt-4.1-mini-2025-04-14");
        assert_eq!((reply.input_tokens, reply.output_tokens), (12, 3));
    }

    #[test]
    fn missing_usage_counts_zero() {
        let body = json!({"choices": [{"message": {"content": "{}"}}]});
        let reply = parse_reply(&body, "llama3.1").unwrap();
        assert_eq!((reply.input_tokens, reply.output_tokens), (0, 0));
        assert_eq!(reply.model, "llama3.1");
    }
}
