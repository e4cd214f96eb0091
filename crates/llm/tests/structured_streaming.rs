//! `call_structured_streaming`: the sink sees each call's text, and is told a new reply
//! starts before the repair, so a preview of the invalid reply is not mistaken for the step.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

mod support;

use std::sync::Mutex;

use domain::llm::TextSink;
use flowpilot_llm::{call_structured_streaming, parse_step, StructuredError};
use support::{invalid_step, step_request, valid_step, ScriptedProvider};

#[derive(Default)]
struct Seen(Mutex<Vec<String>>);

impl TextSink for Seen {
    fn delta(&self, text: &str) {
        self.0.lock().unwrap().push(format!("delta {text}"));
    }
    fn restart(&self) {
        self.0.lock().unwrap().push("restart".into());
    }
}

#[tokio::test]
async fn a_provider_that_does_not_stream_hands_its_whole_text_to_the_sink() {
    let text = valid_step().to_string();
    let provider = ScriptedProvider::new(vec![ScriptedProvider::reply(&text, 10, 5)]);
    let seen = Seen::default();

    let (_, usage) = call_structured_streaming(
        &provider,
        &step_request(),
        |t| parse_step(t, true),
        Some(&seen),
    )
    .await
    .unwrap();

    assert_eq!(usage.len(), 1);
    assert_eq!(*seen.0.lock().unwrap(), vec![format!("delta {text}")]);
}

#[tokio::test]
async fn the_repair_restarts_the_sink_and_a_second_failure_still_fails() {
    let valid = valid_step().to_string();
    let provider = ScriptedProvider::new(vec![
        ScriptedProvider::reply(&invalid_step(), 10, 5),
        ScriptedProvider::reply(&valid, 12, 6),
    ]);
    let seen = Seen::default();

    call_structured_streaming(
        &provider,
        &step_request(),
        |t| parse_step(t, true),
        Some(&seen),
    )
    .await
    .unwrap();

    assert_eq!(
        *seen.0.lock().unwrap(),
        vec![
            format!("delta {}", invalid_step()),
            "restart".to_string(),
            format!("delta {valid}"),
        ]
    );

    let twice = ScriptedProvider::new(vec![
        ScriptedProvider::reply(&invalid_step(), 10, 5),
        ScriptedProvider::reply(&invalid_step(), 10, 5),
    ]);
    let err = call_structured_streaming(
        &twice,
        &step_request(),
        |t| parse_step(t, true),
        Some(&Seen::default()),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StructuredError::InvalidAfterRepair { .. }));
}
