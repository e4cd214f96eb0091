//! Streaming calls (`complete_streaming`) against fakes that stream slowly and that drop the
//! connection mid-stream: the text reaches the sink as it is generated, the reply returned is
//! the whole text with its usage, and a stream cut off is an error, never a short reply.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

#[path = "support/streaming.rs"]
mod streaming;
mod support;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use domain::llm::{LlmError, LlmProvider, TextSink};
use flowpilot_providers::{AnthropicProvider, GeminiProvider, OpenAiProvider, StructuredMode};
use llm::parse_step;
use streaming::{anthropic_events, gemini_events, openai_events, Stream, StreamingServer};
use support::{config, step_request, valid_step};

/// Every delta, with when it came.
#[derive(Default)]
struct Recorder(Mutex<Vec<(Instant, String)>>);

impl Recorder {
    fn text(&self) -> String {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, t)| t.as_str())
            .collect()
    }
    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    fn first_at(&self) -> Option<Instant> {
        self.0.lock().unwrap().first().map(|(at, _)| *at)
    }
}

impl TextSink for Recorder {
    fn delta(&self, text: &str) {
        self.0
            .lock()
            .unwrap()
            .push((Instant::now(), text.to_string()));
    }
}

const PAUSE: Duration = Duration::from_millis(15);

#[tokio::test]
async fn openai_streams_the_reply_as_it_is_generated() {
    let text = valid_step().to_string();
    let server = StreamingServer::start(vec![Stream::new(
        openai_events(&text, 12, (321, 54)),
        PAUSE,
    )])
    .await;
    let provider = OpenAiProvider::new(config(
        &format!("{}/v1", server.base_url),
        "gpt-4.1-mini",
        Some("k"),
    ))
    .unwrap();
    let sink = Recorder::default();

    let reply = provider
        .complete_streaming(&step_request(), &sink)
        .await
        .unwrap();
    let finished = Instant::now();

    assert_eq!(reply.text, text);
    assert!(parse_step(&reply.text, true).is_ok());
    assert_eq!((reply.input_tokens, reply.output_tokens), (321, 54));
    assert_eq!(reply.model, "stream-model");
    assert_eq!(sink.text(), text, "the sink saw every piece, in order");
    assert_eq!(sink.count(), 12);
    assert!(sink.first_at().unwrap() < finished);

    let sent = &server.seen()[0];
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"]["include_usage"], true);
    assert_eq!(sent["response_format"]["json_schema"]["strict"], true);
    assert_eq!(
        sent["response_format"]["json_schema"]["schema"],
        llm::step_schema()
    );
}

#[tokio::test]
async fn each_structured_mode_keeps_its_field_when_streaming() {
    let text = valid_step().to_string();
    let server =
        StreamingServer::start(vec![Stream::new(openai_events(&text, 3, (1, 1)), PAUSE)]).await;
    for (mode, field) in [
        (StructuredMode::Vllm, "/structured_outputs/json"),
        (StructuredMode::LlamaCpp, "/json_schema"),
    ] {
        let mut settings = config(&server.base_url, "local", None);
        settings.structured = mode;
        let provider = OpenAiProvider::new(settings).unwrap();
        provider
            .complete_streaming(&step_request(), &Recorder::default())
            .await
            .unwrap();
        let sent = server.seen().pop().unwrap();
        assert_eq!(sent["stream"], true);
        assert!(
            sent.pointer(field).is_some_and(|s| s.is_object()),
            "{mode:?}"
        );
    }
}

#[tokio::test]
async fn openai_dropped_mid_stream_is_an_error_not_a_short_reply() {
    let text = valid_step().to_string();
    let events = openai_events(&text, 10, (5, 5));
    let server = StreamingServer::start(vec![Stream::new(events, PAUSE).dropped_after(5)]).await;
    let provider = OpenAiProvider::new(config(&server.base_url, "m", None)).unwrap();
    let sink = Recorder::default();

    let err = provider
        .complete_streaming(&step_request(), &sink)
        .await
        .unwrap_err();

    assert_eq!(
        err,
        LlmError::InvalidResponse("the connection was cut before the reply was complete".into())
    );
    assert!(sink.count() > 0 && sink.text().len() < text.len());
}

#[tokio::test]
async fn openai_stream_that_ends_without_done_is_cut_off() {
    let text = valid_step().to_string();
    let mut events = openai_events(&text, 4, (5, 5));
    // The body ends properly, but after the content and before the finish reason.
    events.truncate(4);
    let server = StreamingServer::start(vec![Stream::new(events, PAUSE)]).await;
    let provider = OpenAiProvider::new(config(&server.base_url, "m", None)).unwrap();

    let err = provider
        .complete_streaming(&step_request(), &Recorder::default())
        .await
        .unwrap_err();

    assert!(
        matches!(&err, LlmError::InvalidResponse(m) if m.contains("before the reply was complete")),
        "{err:?}"
    );
}

#[tokio::test]
async fn anthropic_streams_the_forced_tools_input() {
    let text = valid_step().to_string();
    let server = StreamingServer::start(vec![Stream::new(
        anthropic_events("flowpilot_step", &text, 9, (410, 66)),
        PAUSE,
    )])
    .await;
    let provider =
        AnthropicProvider::new(config(&server.base_url, "claude-sonnet-4-5", Some("k"))).unwrap();
    let sink = Recorder::default();

    let reply = provider
        .complete_streaming(&step_request(), &sink)
        .await
        .unwrap();

    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&reply.text).unwrap(),
        valid_step()
    );
    assert!(parse_step(&reply.text, true).is_ok());
    assert_eq!((reply.input_tokens, reply.output_tokens), (410, 66));
    assert_eq!(reply.model, "claude-stream");
    assert_eq!(sink.text(), text);
    assert_eq!(sink.count(), 9);
    let sent = &server.seen()[0];
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["tool_choice"]["name"], "flowpilot_step");
}

#[tokio::test]
async fn anthropic_dropped_mid_stream_is_an_error() {
    let text = valid_step().to_string();
    let events = anthropic_events("flowpilot_step", &text, 9, (1, 1));
    let server = StreamingServer::start(vec![Stream::new(events, PAUSE).dropped_after(6)]).await;
    let provider = AnthropicProvider::new(config(&server.base_url, "claude", None)).unwrap();

    let err = provider
        .complete_streaming(&step_request(), &Recorder::default())
        .await
        .unwrap_err();

    assert_eq!(
        err,
        LlmError::InvalidResponse("the connection was cut before the reply was complete".into())
    );
}

#[tokio::test]
async fn an_error_status_before_streaming_maps_as_ever() {
    let server = support::FakeServer::start(vec![support::Scripted::json(
        429,
        serde_json::json!({"error": {"message": "slow down"}}),
    )
    .with_header("retry-after", "7")])
    .await;
    let provider = OpenAiProvider::new(config(&server.base_url, "m", None)).unwrap();

    let err = provider
        .complete_streaming(&step_request(), &Recorder::default())
        .await
        .unwrap_err();

    assert_eq!(
        err,
        LlmError::RateLimited {
            retry_after: Some(7)
        }
    );
}

#[tokio::test]
async fn gemini_streams_the_candidates_text() {
    let text = valid_step().to_string();
    let server =
        StreamingServer::start(vec![Stream::new(gemini_events(&text, 7, (222, 33)), PAUSE)]).await;
    let provider =
        GeminiProvider::new(config(&server.base_url, "gemini-2.5-flash", Some("k"))).unwrap();
    let sink = Recorder::default();

    let reply = provider
        .complete_streaming(&step_request(), &sink)
        .await
        .unwrap();

    assert_eq!(reply.text, text);
    assert_eq!((reply.input_tokens, reply.output_tokens), (222, 33));
    assert_eq!(reply.model, "gemini-stream");
    assert_eq!(sink.text(), text);
    assert_eq!(sink.count(), 7);
    assert_eq!(
        server.seen()[0]["generationConfig"]["responseMimeType"],
        "application/json"
    );
}

#[tokio::test]
async fn gemini_dropped_mid_stream_is_an_error() {
    let text = valid_step().to_string();
    let events = gemini_events(&text, 7, (1, 1));
    let server = StreamingServer::start(vec![Stream::new(events, PAUSE).dropped_after(3)]).await;
    let provider = GeminiProvider::new(config(&server.base_url, "gemini-2.5-flash", None)).unwrap();

    let err = provider
        .complete_streaming(&step_request(), &Recorder::default())
        .await
        .unwrap_err();

    assert_eq!(
        err,
        LlmError::InvalidResponse("the connection was cut before the reply was complete".into())
    );
}
