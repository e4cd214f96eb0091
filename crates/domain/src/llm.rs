//! The LLM port: what the engine needs from a provider, independent of its wire format.

use async_trait::async_trait;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatRole {
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub role: ChatRole,
    pub content: String,
}

/// One structured-output call: the provider must answer a single JSON object that follows
/// `schema`, announced to the provider under `schema_name` (e.g. `flowpilot_step`).
#[derive(Debug, Clone)]
pub struct LlmRequest {
    pub system: String,
    pub messages: Vec<ChatMessage>,
    pub schema_name: String,
    pub schema: serde_json::Value,
    pub max_output_tokens: u32,
    /// Where the part of the request the next request of the same session repeats ends.
    pub stable_prefix: StablePrefix,
}

/// The prefix of a request (tools and schema, system prompt, then `messages[..n]`) that later
/// requests of the same session send again byte for byte, so a provider's prompt cache can
/// serve it. Counts of `messages`; `session <= turns <= messages.len()`. All zero: nothing is
/// known to repeat (a one-off call).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StablePrefix {
    /// `messages[..session]` are the same in every request of the session (intake, flow).
    pub session: usize,
    /// `messages[..turns]` open the next request too (the session so far, up to its newest
    /// turn); only a fold of earlier steps into a summary changes them.
    pub turns: usize,
}

/// The provider's answer: the raw text it produced (JSON, possibly fenced) and its usage report.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmReply {
    pub text: String,
    pub model: String,
    /// Every input token of the call, those served from a prompt cache included.
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// Of `input_tokens`, those the provider read from its prompt cache (billed at its cached
    /// rate); 0 where the provider does not say.
    pub cached_input_tokens: i64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    #[error("the AI provider did not answer within {0} seconds")]
    Timeout(u64),
    #[error("the AI provider is rate limiting requests")]
    RateLimited { retry_after: Option<u64> },
    #[error("the AI provider failed with HTTP {status}: {message}")]
    Upstream { status: u16, message: String },
    #[error("could not reach the AI provider: {0}")]
    Transport(String),
    #[error("the AI provider sent an answer FlowPilot could not read: {0}")]
    InvalidResponse(String),
}

impl LlmError {
    /// Seconds the caller may wait before retrying, when the provider said so.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            LlmError::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}

/// Receives a reply's text while the provider generates it, for showing it as it forms.
/// What it receives is a preview: the reply returned at the end is what counts, and is
/// validated as a whole.
pub trait TextSink: Send + Sync {
    /// The next piece of the reply's text, appended to the pieces before it.
    fn delta(&self, text: &str);
    /// A new reply starts (the repair call): the pieces so far are not the answer.
    fn restart(&self) {}
}

#[async_trait]
pub trait LlmProvider: Send + Sync {
    /// `openai`, `anthropic` or `gemini`.
    fn name(&self) -> &str;
    /// The model this provider is configured to call.
    fn model(&self) -> &str;
    async fn complete(&self, request: &LlmRequest) -> Result<LlmReply, LlmError>;
    /// Like [`complete`](Self::complete), handing `sink` the text as it is generated where
    /// the provider streams. A provider that does not stream answers whole and hands the
    /// text over in one piece.
    async fn complete_streaming(
        &self,
        request: &LlmRequest,
        sink: &dyn TextSink,
    ) -> Result<LlmReply, LlmError> {
        let reply = self.complete(request).await?;
        sink.delta(&reply.text);
        Ok(reply)
    }
}
