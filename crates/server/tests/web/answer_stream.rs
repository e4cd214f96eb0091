//! The answer form as the page's script sends it (`POST /pilot/{id}/respond/stream`): with a
//! provider that streams slowly the events carry the next step's text as it is written, then
//! the final event names the page with the stored, validated step; the JSON API still answers
//! the whole step without streaming; a provider that drops the connection mid-stream is a
//! `trouble` event that stores and counts nothing; the offline engine sends the final event
//! alone; and the stream keeps the plain post's CSRF defence.

#[path = "../../../providers/tests/support/local_servers.rs"]
mod local_servers;
#[path = "../../../providers/tests/support/streaming.rs"]
mod streaming;

use std::sync::Arc;
use std::time::Duration;

use flowpilot_server::settings::ProviderChoice;
use providers::StructuredMode;
use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::browser::{attribute_after, Browser, Page};
use super::helpers::{spawn_app, spawn_app_with, Backend};
use local_servers::{conforming_step, Seen};
use streaming::{openai_events, Reply, Stream, StreamingServer};

const OUTLOOK: &str = "Outlook keeps asking for a password on three laptops";

/// One server-sent event of the answer stream.
#[derive(Debug)]
struct Sent {
    name: String,
    data: Value,
}

fn events(body: &str) -> Vec<Sent> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut name = "message".to_string();
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = n.trim().to_string();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push(d.strip_prefix(' ').unwrap_or(d).to_string());
                }
            }
            (!data.is_empty()).then(|| Sent {
                name,
                data: serde_json::from_str(&data.join("\n")).unwrap_or(Value::Null),
            })
        })
        .collect()
}

/// The text the `delta` events gave `field`, joined.
fn forming(events: &[Sent], field: &str) -> String {
    events
        .iter()
        .filter(|e| e.name == "delta" && e.data["field"] == field)
        .filter_map(|e| e.data["text"].as_str())
        .collect()
}

async fn start(b: &Browser) -> String {
    b.get("/pilot").await;
    let started = b.submit("/pilot", &[("text", OUTLOOK), ("log", "")]).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    started
        .location()
        .and_then(|l| l.strip_prefix("/pilot/"))
        .expect("the session page")
        .to_string()
}

fn step_id(page: &Page) -> String {
    attribute_after(&page.body, "name=\"step_id\" value=\"").expect("a step_id field")
}

fn first_option(page: &Page) -> String {
    attribute_after(&page.body, "name=\"selected_option\" value=\"").expect("an option")
}

/// Posts the answer form to the stream as the page's script does.
async fn stream_answer(b: &Browser, id: &str, fields: &[(&str, &str)]) -> Page {
    let page = b.get(&format!("/pilot/{id}")).await;
    assert!(
        page.body
            .contains(&format!("data-stream=\"/pilot/{id}/respond/stream\"")),
        "the answer form names its stream"
    );
    let step = step_id(&page);
    let mut all = vec![("step_id", step.as_str())];
    all.extend_from_slice(fields);
    b.submit(&format!("/pilot/{id}/respond/stream"), &all).await
}

/// A fake OpenAI-compatible server: asked to stream, it streams a step that follows the
/// request's schema in small pieces with `pause` between them (dropping the connection after
/// `drop_after` events when set); asked for a whole answer, it answers whole.
async fn slow_provider(pause: Duration, drop_after: Option<usize>) -> StreamingServer {
    StreamingServer::planned(Arc::new(move |body: &Value| {
        let seen = Seen {
            path: "/v1/chat/completions".into(),
            body: body.clone(),
        };
        let schema = body
            .pointer("/response_format/json_schema/schema")
            .cloned()
            .unwrap_or(Value::Null);
        let step = conforming_step(&schema, &seen).to_string();
        if body["stream"] == true {
            let stream = Stream::new(openai_events(&step, 40, (300, 80)), pause);
            Reply::Stream(match drop_after {
                Some(n) => stream.dropped_after(n),
                None => stream,
            })
        } else {
            Reply::Whole(json!({
                "id": "chatcmpl-whole", "object": "chat.completion", "model": "stream-model",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": step}}],
                "usage": {"prompt_tokens": 300, "completion_tokens": 80}
            }))
        }
    }))
    .await
}

async fn llm_browser(server: &StreamingServer) -> Browser {
    let url = format!("{}/v1", server.base_url);
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.llm_provider = ProviderChoice::OpenAi;
        s.openai.base_url = Some(url);
        s.openai_structured = StructuredMode::Strict;
        s.llm_timeout_secs = 10;
    })
    .await;
    let b = Browser::on(app);
    b.sign_up("Ada", "ada@example.com").await;
    b
}

#[tokio::test]
async fn the_stream_shows_the_step_forming_then_the_page_with_the_validated_step() {
    let server = slow_provider(Duration::from_millis(5), None).await;
    let b = llm_browser(&server).await;
    let id = start(&b).await;
    let page = b.get(&format!("/pilot/{id}")).await;
    let option = first_option(&page);

    let streamed = stream_answer(&b, &id, &[("selected_option", &option)]).await;

    assert_eq!(streamed.status, StatusCode::OK, "{}", streamed.body);
    let content_type = streamed
        .headers
        .get(CONTENT_TYPE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    let sent = events(&streamed.body);
    let deltas = sent.iter().filter(|e| e.name == "delta").count();
    assert!(deltas > 5, "the text came in pieces: {}", streamed.body);
    let last = sent.last().unwrap();
    assert_eq!(last.name, "step", "{}", streamed.body);
    assert_eq!(last.data["location"], format!("/pilot/{id}"));
    assert_eq!(
        sent.iter()
            .filter(|e| e.name == "step" || e.name == "trouble")
            .count(),
        1,
        "one final event, after every delta"
    );

    // What formed is what was stored: the page now shows it as the current step.
    let content = forming(&sent, "content");
    assert_eq!(content, "Does it happen in Outlook desktop, OWA, or both?");
    assert!(!forming(&sent, "context_message").is_empty());
    assert!(!forming(&sent, "options.0.label").is_empty());
    assert_eq!(
        forming(&sent, "reasoning"),
        "",
        "the rationale is not shown"
    );
    let after = b.get(&format!("/pilot/{id}")).await;
    assert!(after.body.contains("Step 2"), "{}", after.body);
    assert_ne!(step_id(&after), step_id(&page));
    assert!(server.seen().iter().any(|body| body["stream"] == true));

    // The JSON API answers the whole validated step, and asks the provider for it whole.
    let member = b.app.login("ada@example.com").await;
    let (status, detail) = b
        .app
        .get(&format!("/ai-sessions/{id}"), &member.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let current = detail["steps"].as_array().unwrap().last().unwrap().clone();
    let requests_before = server.seen().len();
    let (status, answered) = b
        .app
        .post(
            &format!("/ai-sessions/{id}/respond"),
            &member.token,
            json!({"step_id": current["step_id"], "selected_option": current["options"][0]["value"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    assert_eq!(answered["next_step"]["step_order"], 3);
    assert!(answered["next_step"]["content"].is_object());
    let api_request = &server.seen()[requests_before];
    assert_ne!(api_request["stream"], true, "the JSON API does not stream");
}

#[tokio::test]
async fn a_provider_dropping_the_stream_is_trouble_that_stores_and_counts_nothing() {
    let server = slow_provider(Duration::from_millis(2), Some(12)).await;
    let b = llm_browser(&server).await;
    let id = start(&b).await;
    let member = b.app.login("ada@example.com").await;
    let (_, quota_before) = b.app.get("/ai-quota", &member.token).await;
    let page = b.get(&format!("/pilot/{id}")).await;
    let option = first_option(&page);

    let streamed = stream_answer(&b, &id, &[("selected_option", &option)]).await;

    assert_eq!(streamed.status, StatusCode::OK);
    let sent = events(&streamed.body);
    let last = sent.last().unwrap();
    assert_eq!(last.name, "trouble", "{}", streamed.body);
    assert_eq!(last.data["status"], 502);
    assert!(last.data["message"]
        .as_str()
        .unwrap()
        .contains("The AI provider could not answer"));
    let after = b.get(&format!("/pilot/{id}")).await;
    assert_eq!(step_id(&after), step_id(&page), "the step is still open");
    assert!(!after.body.contains("Step 2"));
    let (_, quota_after) = b.app.get("/ai-quota", &member.token).await;
    assert_eq!(quota_after["daily_used"], quota_before["daily_used"]);
}

#[tokio::test]
async fn offline_the_stream_is_the_final_event_alone_and_an_empty_answer_is_trouble() {
    let b = Browser::on(spawn_app(Backend::Sqlite).await);
    b.sign_up("Ada", "ada@example.com").await;
    let id = start(&b).await;

    let empty = stream_answer(&b, &id, &[("free_text_input", "  ")]).await;
    let sent = events(&empty.body);
    assert_eq!(sent.len(), 1, "{}", empty.body);
    assert_eq!(sent[0].name, "trouble");
    assert_eq!(sent[0].data["status"], 422);
    assert_eq!(sent[0].data["message"], "Pick an option or type an answer.");

    let streamed = stream_answer(&b, &id, &[("selected_option", "one")]).await;
    let sent = events(&streamed.body);
    assert_eq!(sent.len(), 1, "{}", streamed.body);
    assert_eq!(sent[0].name, "step");
    let after = b.get(&format!("/pilot/{id}")).await;
    assert!(after.body.contains("Step 2"));
}

#[tokio::test]
async fn the_stream_refuses_a_post_without_the_csrf_token() {
    let b = Browser::on(spawn_app(Backend::Sqlite).await);
    b.sign_up("Ada", "ada@example.com").await;
    let id = start(&b).await;
    let page = b.get(&format!("/pilot/{id}")).await;
    let step = step_id(&page);

    let refused = Browser::send(
        b.client
            .post(b.url(&format!("/pilot/{id}/respond/stream")))
            .form(&[("step_id", step.as_str()), ("selected_option", "one")]),
    )
    .await;

    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let after = b.get(&format!("/pilot/{id}")).await;
    assert_eq!(step_id(&after), step);
}
