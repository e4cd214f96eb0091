//! Turning the outcome of a structured call into ledger rows and errors for the engineer.
//!
//! Every call that answered cost tokens and is recorded. Only the call whose reply was
//! accepted is `success`: the quota counts successful rows, and api.md says a failed call does
//! not count toward it, so an invalid reply that needed a repair is recorded but not counted.

use domain::llm::{LlmError, LlmProvider, LlmReply};
use llm::StructuredError;

use super::text::clip_line;
use crate::pilot::{PilotError, Usage};

/// Purpose of the second call of an exchange, made because the first reply did not validate.
pub(super) const REPAIR_PURPOSE: &str = "repair";

/// One ledger row per answered call, in order: the first under `purpose`, a repair under
/// [`REPAIR_PURPOSE`]; when `accepted`, the last one is the success.
pub(super) fn usage_rows(
    provider: &dyn LlmProvider,
    replies: &[LlmReply],
    purpose: &str,
    accepted: bool,
) -> Vec<Usage> {
    let last = replies.len().checked_sub(1);
    replies
        .iter()
        .enumerate()
        .map(|(i, reply)| Usage {
            provider: provider.name().to_string(),
            // The reply names the exact snapshot that answered, which prices more precisely
            // than the configured alias; some servers leave it empty.
            model: if reply.model.trim().is_empty() {
                provider.model().to_string()
            } else {
                reply.model.clone()
            },
            purpose: if i == 0 { purpose } else { REPAIR_PURPOSE }.to_string(),
            input_tokens: reply.input_tokens.max(0),
            output_tokens: reply.output_tokens.max(0),
            cached_input_tokens: reply
                .cached_input_tokens
                .clamp(0, reply.input_tokens.max(0)),
            success: accepted && Some(i) == last,
        })
        .collect()
}

/// The pilot's error for a failed step exchange, with every answered call in its usage.
pub(super) fn step_error(
    provider: &dyn LlmProvider,
    error: StructuredError,
    purpose: &str,
) -> PilotError {
    let usage = usage_rows(provider, error.usage(), purpose, false);
    match error {
        StructuredError::Provider { error, .. } => PilotError::Provider {
            message: provider_message(&error),
            retry_after: error.retry_after(),
            usage,
        },
        StructuredError::InvalidAfterRepair { errors, .. }
        | StructuredError::Invalid { errors, .. } => PilotError::InvalidReply { errors, usage },
    }
}

/// What the engineer reads when the provider failed: what happened and what to do about it.
pub(super) fn provider_message(error: &LlmError) -> String {
    match error {
        LlmError::Timeout(seconds) => {
            format!("The AI provider did not answer within {seconds} seconds; try again.")
        }
        LlmError::RateLimited {
            retry_after: Some(seconds),
        } => format!("The AI provider is rate limiting requests; try again in {seconds} seconds."),
        LlmError::RateLimited { retry_after: None } => {
            "The AI provider is rate limiting requests; try again shortly.".to_string()
        }
        LlmError::Upstream { status, message } => format!(
            "The AI provider failed (HTTP {status}): {}",
            clip_line(message, 300)
        ),
        LlmError::Transport(message) => {
            format!(
                "Could not reach the AI provider: {}",
                clip_line(message, 300)
            )
        }
        LlmError::InvalidResponse(message) => format!(
            "The AI provider sent an answer FlowPilot could not read: {}",
            clip_line(message, 300)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use domain::llm::LlmRequest;

    struct Named;

    #[async_trait]
    impl LlmProvider for Named {
        fn name(&self) -> &str {
            "openai"
        }
        fn model(&self) -> &str {
            "gpt-4.1-mini"
        }
        async fn complete(&self, _request: &LlmRequest) -> Result<LlmReply, LlmError> {
            Err(LlmError::Timeout(1))
        }
    }

    fn reply(model: &str, input: i64) -> LlmReply {
        LlmReply {
            text: String::new(),
            model: model.into(),
            input_tokens: input,
            output_tokens: 7,
            cached_input_tokens: 0,
        }
    }

    #[test]
    fn only_the_accepted_call_is_a_success() {
        let rows = usage_rows(
            &Named,
            &[reply("", 10), reply("gpt-4.1-mini-2025-04-14", 20)],
            "step",
            true,
        );
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].purpose.as_str(), rows[0].success), ("step", false));
        assert_eq!(
            (rows[1].purpose.as_str(), rows[1].success),
            ("repair", true)
        );
        assert_eq!(rows[0].model, "gpt-4.1-mini");
        assert_eq!(rows[1].model, "gpt-4.1-mini-2025-04-14");
        assert_eq!(rows[1].input_tokens, 20);
        let failed = usage_rows(&Named, &[reply("", 10), reply("", 20)], "step", false);
        assert!(failed.iter().all(|u| !u.success));
        assert!(usage_rows(&Named, &[], "step", true).is_empty());
    }

    #[test]
    fn provider_messages_say_what_to_do() {
        assert_eq!(
            provider_message(&LlmError::RateLimited {
                retry_after: Some(30)
            }),
            "The AI provider is rate limiting requests; try again in 30 seconds."
        );
        assert_eq!(
            provider_message(&LlmError::Timeout(60)),
            "The AI provider did not answer within 60 seconds; try again."
        );
        assert_eq!(
            provider_message(&LlmError::Upstream {
                status: 503,
                message: "overloaded".into()
            }),
            "The AI provider failed (HTTP 503): overloaded"
        );
    }
}
