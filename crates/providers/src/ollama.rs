//! Ollama's native chat API (`POST /api/chat`, `stream: false`). Its OpenAI-compatible endpoint
//! accepts `response_format` without always constraining decoding to it; the native `format`
//! field takes the JSON Schema and turns it into a grammar, so a small local model cannot leave
//! the schema.

use async_trait::async_trait;
use domain::llm::{LlmError, LlmProvider, LlmReply, LlmRequest};
use reqwest::header::AUTHORIZATION;
use serde_json::{json, Value};

use super::{role_name, ProviderConfig, TEMPERATURE};
use crate::http;

pub struct OllamaProvider {
    config: ProviderConfig,
    client: reqwest::Client,
}

impl OllamaProvider {
    pub fn new(config: ProviderConfig) -> Result<Self, LlmError> {
        let client = http::build_client(config.timeout)?;
        Ok(Self { config, client })
    }

    fn body(&self, request: &LlmRequest) -> Value {
        let mut messages = vec![json!({"role": "system", "content": request.system})];
        messages.extend(
            request
                .messages
                .iter()
                .map(|m| json!({"role": role_name(m.role), "content": m.content})),
        );
        json!({
            "model": self.config.model,
            "messages": messages,
            "stream": false,
            "format": request.schema,
            "options": {
                "temperature": TEMPERATURE,
                "num_predict": request.max_output_tokens,
            },
        })
    }
}

#[async_trait]
impl LlmProvider for OllamaProvider {
    fn name(&self) -> &str {
        "ollama"
    }

    fn model(&self) -> &str {
        &self.config.model
    }

    async fn complete(&self, request: &LlmRequest) -> Result<LlmReply, LlmError> {
        let url = http::join_url(&self.config.base_url, "api/chat");
        let mut builder = self.client.post(url).json(&self.body(request));
        // Ollama itself takes no key; one set here is for a proxy in front of it.
        if let Some(key) = self.config.key() {
            builder = builder.header(
                AUTHORIZATION,
                http::secret_header(&format!("Bearer {key}"))?,
            );
        }
        let body = http::send_json(builder, self.config.timeout).await?;
        parse_reply(&body, &self.config.model)
    }
}

fn parse_reply(body: &Value, configured_model: &str) -> Result<LlmReply, LlmError> {
    // Some versions answer a failed load with 200 and `{"error": …}`.
    if let Some(error) = body.get("error").and_then(Value::as_str) {
        return Err(LlmError::InvalidResponse(format!(
            "Ollama reported an error: {}",
            llm::text::truncate(error.trim(), 200)
        )));
    }
    let text = body
        .pointer("/message/content")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if text.trim().is_empty() {
        let reason = body
            .get("done_reason")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        return Err(LlmError::InvalidResponse(format!(
            "the reply is empty (done reason: {reason})"
        )));
    }
    Ok(LlmReply {
        text,
        model: body
            .get("model")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .unwrap_or(configured_model)
            .to_string(),
        // Ollama omits `prompt_eval_count` when the whole prompt came from its cache.
        input_tokens: body
            .get("prompt_eval_count")
            .and_then(Value::as_i64)
            .unwrap_or(0),
        output_tokens: body.get("eval_count").and_then(Value::as_i64).unwrap_or(0),
        // Ollama reuses its loaded context but does not report how much of the prompt it reused.
        cached_input_tokens: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_content_and_counts() {
        let body = json!({"model": "llama3.2:3b", "message": {"role": "assistant", "content": "{}"},
                          "done": true, "done_reason": "stop", "prompt_eval_count": 41, "eval_count": 9});
        let reply = parse_reply(&body, "x").unwrap();
        assert_eq!(reply.text, "{}");
        assert_eq!(reply.model, "llama3.2:3b");
        assert_eq!((reply.input_tokens, reply.output_tokens), (41, 9));
    }

    #[test]
    fn an_empty_reply_says_why() {
        let body = json!({"message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "length"});
        let error = parse_reply(&body, "x").unwrap_err();
        assert!(error.to_string().contains("done reason: length"), "{error}");
        let failed = parse_reply(&json!({"error": "model not loaded"}), "x").unwrap_err();
        assert!(failed.to_string().contains("model not loaded"));
    }
}
