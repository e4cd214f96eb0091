//! One structured-output exchange (engine.md): a call, and when the reply does not validate,
//! exactly one repair attempt that shows the model its own reply and what was wrong with it.

use domain::llm::{ChatMessage, ChatRole, LlmError, LlmProvider, LlmReply, LlmRequest, TextSink};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StructuredError {
    /// The provider failed; `usage` holds the calls that did answer before it failed.
    #[error("{error}")]
    Provider {
        error: LlmError,
        usage: Vec<LlmReply>,
    },
    /// Both the reply and its repair failed validation; `errors` are the repair's.
    #[error("the AI provider's answer did not follow the contract, even after a repair attempt: {}", errors.join("; "))]
    InvalidAfterRepair {
        errors: Vec<String>,
        usage: Vec<LlmReply>,
    },
    /// The one reply of [`call_structured_once`] failed validation (no repair was tried).
    #[error("the AI provider's answer did not follow the contract: {}", errors.join("; "))]
    Invalid {
        errors: Vec<String>,
        usage: Vec<LlmReply>,
    },
}

impl StructuredError {
    /// Every call that was answered, so the caller can record the tokens it paid for.
    pub fn usage(&self) -> &[LlmReply] {
        match self {
            StructuredError::Provider { usage, .. }
            | StructuredError::InvalidAfterRepair { usage, .. }
            | StructuredError::Invalid { usage, .. } => usage,
        }
    }
}

/// Calls `provider` and parses its reply with `parse`; on a validation failure, repairs once.
/// Returns the value and the usage of each call made, in order.
pub async fn call_structured<T>(
    provider: &dyn LlmProvider,
    request: &LlmRequest,
    parse: impl Fn(&str) -> Result<T, Vec<String>>,
) -> Result<(T, Vec<LlmReply>), StructuredError> {
    call_structured_streaming(provider, request, parse, None).await
}

/// One call and no repair: for a write-up that has a fallback of its own and must cost one
/// call at most (an escalation's hand-off package, escalation.md), where a repair would be a
/// second call for the same text.
pub async fn call_structured_once<T>(
    provider: &dyn LlmProvider,
    request: &LlmRequest,
    parse: impl Fn(&str) -> Result<T, Vec<String>>,
) -> Result<(T, Vec<LlmReply>), StructuredError> {
    let reply = match provider.complete(request).await {
        Ok(reply) => reply,
        Err(error) => {
            return Err(StructuredError::Provider {
                error,
                usage: Vec::new(),
            })
        }
    };
    match parse(&reply.text) {
        Ok(value) => Ok((value, vec![reply])),
        Err(errors) => Err(StructuredError::Invalid {
            errors,
            usage: vec![reply],
        }),
    }
}

/// [`call_structured`], handing `sink` the text of each call as the provider generates it
/// (where it streams); before the repair call the sink is told a new reply starts.
pub async fn call_structured_streaming<T>(
    provider: &dyn LlmProvider,
    request: &LlmRequest,
    parse: impl Fn(&str) -> Result<T, Vec<String>>,
    sink: Option<&dyn TextSink>,
) -> Result<(T, Vec<LlmReply>), StructuredError> {
    let mut usage = Vec::with_capacity(2);

    let first = match complete(provider, request, sink).await {
        Ok(reply) => reply,
        Err(error) => return Err(StructuredError::Provider { error, usage }),
    };
    let first_text = first.text.clone();
    usage.push(first);
    let errors = match parse(&first_text) {
        Ok(value) => return Ok((value, usage)),
        Err(errors) => errors,
    };
    tracing::warn!(
        provider = provider.name(),
        schema = %request.schema_name,
        errors = ?errors,
        "LLM reply failed validation; attempting one repair"
    );

    let repair = repair_request(request, &first_text, &errors);
    if let Some(sink) = sink {
        sink.restart();
    }
    let second = match complete(provider, &repair, sink).await {
        Ok(reply) => reply,
        Err(error) => return Err(StructuredError::Provider { error, usage }),
    };
    let second_text = second.text.clone();
    usage.push(second);
    match parse(&second_text) {
        Ok(value) => Ok((value, usage)),
        Err(errors) => {
            tracing::warn!(
                provider = provider.name(),
                schema = %request.schema_name,
                errors = ?errors,
                "LLM reply still invalid after repair"
            );
            Err(StructuredError::InvalidAfterRepair { errors, usage })
        }
    }
}

async fn complete(
    provider: &dyn LlmProvider,
    request: &LlmRequest,
    sink: Option<&dyn TextSink>,
) -> Result<LlmReply, LlmError> {
    match sink {
        Some(sink) => provider.complete_streaming(request, sink).await,
        None => provider.complete(request).await,
    }
}

/// The original request plus the bad reply and the list of what to fix.
pub fn repair_request(request: &LlmRequest, bad_reply: &str, errors: &[String]) -> LlmRequest {
    let mut repair = request.clone();
    // Some providers reject an empty assistant turn; the model still needs to see there was one.
    let shown_reply = if bad_reply.trim().is_empty() {
        "(empty reply)".to_string()
    } else {
        bad_reply.to_string()
    };
    repair.messages.push(ChatMessage {
        role: ChatRole::Assistant,
        content: shown_reply,
    });
    let list: String = errors.iter().map(|e| format!("- {e}\n")).collect();
    repair.messages.push(ChatMessage {
        role: ChatRole::User,
        content: format!(
            "Your previous reply does not follow the `{}` JSON schema:\n{list}\
             Answer again with only the corrected JSON object: no code fences, no prose.",
            request.schema_name
        ),
    });
    repair
}
