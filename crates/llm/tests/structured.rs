//! `call_structured`: one call, one repair attempt, and every call's usage reported.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

mod support;

use domain::llm::{ChatRole, LlmError};
use flowpilot_llm::{call_structured, parse_step, StructuredError};
use support::{invalid_step, step_request, valid_step, ScriptedProvider};

fn first_step(text: &str) -> Result<domain::step::StepOutput, Vec<String>> {
    parse_step(text, true)
}

#[tokio::test]
async fn a_valid_reply_needs_one_call() {
    let provider = ScriptedProvider::new(vec![ScriptedProvider::reply(
        &valid_step().to_string(),
        100,
        20,
    )]);

    let (step, usage) = call_structured(&provider, &step_request(), first_step)
        .await
        .unwrap();

    assert_eq!(step.problem_domain.as_deref(), Some("email"));
    assert_eq!(usage.len(), 1);
    assert_eq!((usage[0].input_tokens, usage[0].output_tokens), (100, 20));
    assert_eq!(provider.requests().len(), 1);
}

#[tokio::test]
async fn an_invalid_reply_is_repaired_with_the_validation_errors() {
    let provider = ScriptedProvider::new(vec![
        ScriptedProvider::reply(&invalid_step(), 100, 20),
        ScriptedProvider::reply(&format!("```json\n{}\n```", valid_step()), 140, 25),
    ]);

    let (step, usage) = call_structured(&provider, &step_request(), first_step)
        .await
        .unwrap();

    assert_eq!(step.content, valid_step()["content"]);
    let tokens: Vec<(i64, i64)> = usage
        .iter()
        .map(|u| (u.input_tokens, u.output_tokens))
        .collect();
    assert_eq!(tokens, [(100, 20), (140, 25)]);

    let requests = provider.requests();
    assert_eq!(requests.len(), 2);
    let original = &requests[0];
    let repair = &requests[1];
    assert_eq!(repair.system, original.system);
    assert_eq!(repair.schema_name, original.schema_name);
    assert_eq!(repair.messages.len(), original.messages.len() + 2);
    assert_eq!(
        repair.messages[..original.messages.len()],
        original.messages[..]
    );
    let bad_reply = &repair.messages[original.messages.len()];
    assert_eq!(bad_reply.role, ChatRole::Assistant);
    assert_eq!(bad_reply.content, invalid_step());
    let instruction = &repair.messages[original.messages.len() + 1];
    assert_eq!(instruction.role, ChatRole::User);
    assert!(
        instruction.content.contains("`type` is \"poll\""),
        "{}",
        instruction.content
    );
    assert!(
        instruction.content.contains("`problem_domain`"),
        "{}",
        instruction.content
    );
    assert!(instruction.content.contains("only the corrected JSON"));
}

#[tokio::test]
async fn invalid_twice_fails_with_the_errors_and_both_usages() {
    let provider = ScriptedProvider::new(vec![
        ScriptedProvider::reply("Sure, here you go!", 100, 5),
        ScriptedProvider::reply(&invalid_step(), 130, 30),
    ]);

    let err = call_structured(&provider, &step_request(), first_step)
        .await
        .unwrap_err();

    match &err {
        StructuredError::InvalidAfterRepair { errors, usage } => {
            assert_eq!(errors.len(), 2, "{errors:?}");
            assert_eq!(usage.len(), 2);
        }
        other => panic!("expected InvalidAfterRepair, got {other:?}"),
    }
    assert_eq!(err.usage().len(), 2);
    assert_eq!(provider.requests().len(), 2);
}

#[tokio::test]
async fn a_provider_error_fails_at_once_without_usage() {
    let provider = ScriptedProvider::new(vec![Err(LlmError::RateLimited {
        retry_after: Some(9),
    })]);

    let err = call_structured(&provider, &step_request(), first_step)
        .await
        .unwrap_err();

    assert_eq!(
        err,
        StructuredError::Provider {
            error: LlmError::RateLimited {
                retry_after: Some(9)
            },
            usage: vec![]
        }
    );
}

#[tokio::test]
async fn a_provider_error_during_repair_keeps_the_first_usage() {
    let provider = ScriptedProvider::new(vec![
        ScriptedProvider::reply(&invalid_step(), 100, 20),
        Err(LlmError::Timeout(60)),
    ]);

    let err = call_structured(&provider, &step_request(), first_step)
        .await
        .unwrap_err();

    assert!(matches!(
        &err,
        StructuredError::Provider {
            error: LlmError::Timeout(60),
            ..
        }
    ));
    assert_eq!(err.usage().len(), 1);
}
