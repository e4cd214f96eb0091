//! Google Gemini `generateContent`. Structured output through `responseMimeType` and a
//! `responseSchema`, which takes Gemini's OpenAPI subset rather than JSON Schema.

mod stream;

use std::ops::ControlFlow;

use async_trait::async_trait;
use domain::llm::{ChatRole, LlmError, LlmProvider, LlmReply, LlmRequest, TextSink};
use serde_json::{json, Map, Value};

use super::{ProviderConfig, TEMPERATURE};
use crate::http;

pub struct GeminiProvider {
    config: ProviderConfig,
    client: reqwest::Client,
}

impl GeminiProvider {
    pub fn new(config: ProviderConfig) -> Result<Self, LlmError> {
        let client = http::build_client(config.timeout)?;
        Ok(Self { config, client })
    }

    fn body(&self, request: &LlmRequest) -> Value {
        let contents: Vec<Value> = request
            .messages
            .iter()
            .map(|m| {
                let role = match m.role {
                    ChatRole::User => "user",
                    ChatRole::Assistant => "model",
                };
                json!({"role": role, "parts": [{"text": m.content}]})
            })
            .collect();
        json!({
            "systemInstruction": {"parts": [{"text": request.system}]},
            "contents": contents,
            "generationConfig": {
                "responseMimeType": "application/json",
                "responseSchema": to_gemini_schema(&request.schema),
                "temperature": TEMPERATURE,
                "maxOutputTokens": request.max_output_tokens,
            }
        })
    }
}

#[async_trait]
impl LlmProvider for GeminiProvider {
    fn name(&self) -> &str {
        "gemini"
    }

    fn model(&self) -> &str {
        &self.config.model
    }

    async fn complete(&self, request: &LlmRequest) -> Result<LlmReply, LlmError> {
        let builder = self.post(request, "generateContent")?;
        let body = http::send_json(builder, self.config.timeout).await?;
        parse_reply(&body, &self.config.model)
    }

    async fn complete_streaming(
        &self,
        request: &LlmRequest,
        sink: &dyn TextSink,
    ) -> Result<LlmReply, LlmError> {
        let builder = self.post(request, "streamGenerateContent?alt=sse")?;
        let response = http::send_streaming(builder, self.config.timeout).await?;
        let mut gathered = stream::Gathered::default();
        http::read_events(response, self.config.timeout, |event| {
            gathered
                .event(event, sink)
                .map(|()| ControlFlow::Continue(()))
        })
        .await?;
        parse_reply(&gathered.into_response()?, &self.config.model)
    }
}

impl GeminiProvider {
    /// A request to the model's `method` (`generateContent`, or its streaming sibling).
    fn post(
        &self,
        request: &LlmRequest,
        method: &str,
    ) -> Result<reqwest::RequestBuilder, LlmError> {
        // Accept both `gemini-2.5-flash` and the API's own `models/gemini-2.5-flash`.
        let model = self.config.model.trim_start_matches("models/");
        let url = http::join_url(
            &self.config.base_url,
            &format!("v1beta/models/{model}:{method}"),
        );
        // The key goes in a header, never the query string, so it cannot end up in a logged URL.
        let mut builder = self.client.post(url).json(&self.body(request));
        if let Some(key) = self.config.key() {
            builder = builder.header("x-goog-api-key", http::secret_header(key)?);
        }
        Ok(builder)
    }
}

/// Converts a strict-mode JSON Schema into Gemini's schema: upper-case types, `nullable: true`
/// instead of `["string", "null"]`, no `additionalProperties`, and `propertyOrdering` (taken
/// from `required`, which the contracts list in reading order) because Gemini otherwise emits
/// properties alphabetically.
pub fn to_gemini_schema(schema: &Value) -> Value {
    let Some(obj) = schema.as_object() else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in obj {
        match key.as_str() {
            "type" => {
                let (ty, nullable) = gemini_type(value);
                if let Some(ty) = ty {
                    out.insert("type".into(), Value::String(ty));
                }
                if nullable {
                    out.insert("nullable".into(), Value::Bool(true));
                }
            }
            "enum" => {
                let values: Vec<Value> = value
                    .as_array()
                    .map(|v| v.iter().filter(|e| !e.is_null()).cloned().collect())
                    .unwrap_or_default();
                out.insert("enum".into(), Value::Array(values));
            }
            "properties" => {
                let props: Map<String, Value> = value
                    .as_object()
                    .map(|p| {
                        p.iter()
                            .map(|(name, sub)| (name.clone(), to_gemini_schema(sub)))
                            .collect()
                    })
                    .unwrap_or_default();
                out.insert("properties".into(), Value::Object(props));
            }
            "items" => {
                out.insert("items".into(), to_gemini_schema(value));
            }
            "required" | "description" | "format" | "minItems" | "maxItems" | "minimum"
            | "maximum" => {
                out.insert(key.clone(), value.clone());
            }
            // additionalProperties, $schema, title, …: not part of Gemini's subset.
            _ => {}
        }
    }
    if let Some(required) = obj.get("required") {
        if obj.contains_key("properties") {
            out.insert("propertyOrdering".into(), required.clone());
        }
    }
    Value::Object(out)
}

fn gemini_type(value: &Value) -> (Option<String>, bool) {
    match value {
        Value::String(t) => (Some(t.to_ascii_uppercase()), false),
        Value::Array(types) => {
            let nullable = types.iter().any(|t| t.as_str() == Some("null"));
            let ty = types
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .map(str::to_ascii_uppercase);
            (ty, nullable)
        }
        _ => (None, false),
    }
}

fn parse_reply(body: &Value, configured_model: &str) -> Result<LlmReply, LlmError> {
    let Some(candidate) = body.pointer("/candidates/0") else {
        let reason = body
            .pointer("/promptFeedback/blockReason")
            .and_then(Value::as_str);
        return Err(LlmError::InvalidResponse(match reason {
            Some(reason) => format!("the prompt was blocked ({reason})"),
            None => "the reply has no candidates".into(),
        }));
    };
    let finish_reason = candidate
        .get("finishReason")
        .and_then(Value::as_str)
        .unwrap_or("STOP");
    // MAX_TOKENS still carries text; the parser decides whether it is usable.
    if !matches!(
        finish_reason,
        "STOP" | "MAX_TOKENS" | "FINISH_REASON_UNSPECIFIED"
    ) {
        return Err(LlmError::InvalidResponse(format!(
            "the reply was blocked (finish reason: {finish_reason})"
        )));
    }
    let text: String = candidate
        .pointer("/content/parts")
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                // Thinking models return their thoughts as parts too; they are not the answer.
                .filter(|p| p.get("thought").and_then(Value::as_bool) != Some(true))
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if text.trim().is_empty() {
        return Err(LlmError::InvalidResponse(format!(
            "the reply is empty (finish reason: {finish_reason})"
        )));
    }
    let count = |pointer: &str| body.pointer(pointer).and_then(Value::as_i64).unwrap_or(0);
    Ok(LlmReply {
        text,
        model: body
            .get("modelVersion")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .unwrap_or(configured_model)
            .to_string(),
        input_tokens: count("/usageMetadata/promptTokenCount"),
        // Thinking tokens are billed as output.
        output_tokens: count("/usageMetadata/candidatesTokenCount")
            + count("/usageMetadata/thoughtsTokenCount"),
        // Implicit caching: counted inside `promptTokenCount`.
        cached_input_tokens: count("/usageMetadata/cachedContentTokenCount"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use llm::contract;

    #[test]
    fn converts_the_step_schema() {
        let schema = to_gemini_schema(&contract::step_schema());
        assert_eq!(schema["type"], "OBJECT");
        assert!(schema.get("additionalProperties").is_none());
        assert_eq!(schema["propertyOrdering"][0], "type");
        let summary = &schema["properties"]["problem_summary"];
        assert_eq!(summary["type"], "STRING");
        assert_eq!(summary["nullable"], true);
        let action = &schema["properties"]["action_type"];
        assert_eq!(action["enum"].as_array().map(Vec::len), Some(4));
        let option = &schema["properties"]["options"]["items"];
        assert!(option.get("additionalProperties").is_none());
        assert_eq!(option["properties"]["followup_hint"]["nullable"], true);
        let text = schema.to_string();
        assert!(!text.contains("null\""), "no type arrays left: {text}");
    }

    #[test]
    fn skips_thought_parts_and_counts_thinking_tokens() {
        let body = json!({
            "candidates": [{"content": {"role": "model", "parts": [
                {"text": "thinking...", "thought": true}, {"text": "{\"a\":1}"}
            ]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 50, "candidatesTokenCount": 10, "thoughtsTokenCount": 5},
            "modelVersion": "gemini-2.5-flash"
        });
        let reply = parse_reply(&body, "gemini-2.5-flash").unwrap();
        assert_eq!(reply.text, "{\"a\":1}");
        assert_eq!((reply.input_tokens, reply.output_tokens), (50, 15));
    }

    #[test]
    fn blocked_prompt_is_invalid() {
        let body = json!({"promptFeedback": {"blockReason": "SAFETY"}});
        let err = parse_reply(&body, "m").unwrap_err();
        assert!(matches!(err, LlmError::InvalidResponse(m) if m.contains("SAFETY")));
    }
}
