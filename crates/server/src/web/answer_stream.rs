//! `POST /pilot/{id}/respond/stream`: the answer form as the page's script sends it,
//! answered with server-sent events so the engineer watches the next step being written.
//!
//! The request is the plain form post's (same cookie, CSRF form, fields) and goes through
//! the same session action, so rate limits, quota, conflicts and refunds are the plain
//! post's too. While the pilot writes, `delta` events carry the text an engineer reads
//! (`{"field": "content", "text": "…"}`, appended per field); `restart` says a repair began
//! and the text so far is void. Exactly one final event follows: `step`
//! (`{"location": "/pilot/{id}"}`, the page that shows the stored, validated step) or
//! `trouble` (`{"status", "message", "location"}`, what the plain post would have shown in
//! place). The offline engine writes nothing as it goes: its stream is the final event alone.
//!
//! The answer runs in a task of its own: an engineer who closes the tab mid-stream still gets
//! the step the provider was paid for, on the page, next time.

use std::convert::Infallible;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use engine::StepTextSink;
use llm::FormingText;
use serde_json::json;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tracing::Instrument;

use crate::error::ApiError;
use crate::sessions;
use crate::state::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::error::WebError;
use crate::web::notice::Trouble;
use crate::web::session::{session_id, AnswerForm, NO_ANSWER};
use crate::web::user::WebUser;

pub async fn respond(
    State(state): State<AppState>,
    user: WebUser,
    Path(raw): Path<String>,
    CsrfForm(form): CsrfForm<AnswerForm>,
) -> Result<Response, WebError> {
    let id = session_id(&raw)?;
    let page = format!("/pilot/{id}");
    let (events, received) = unbounded_channel();
    match form.answer()? {
        None => {
            let _ = events.send(trouble(StatusCode::UNPROCESSABLE_ENTITY, NO_ANSWER, &page));
        }
        Some(body) => {
            // The request's span (its request id) follows the answer into its task.
            let answering = async move {
                let sink = Forward(events.clone());
                let result =
                    sessions::respond_forming(&state, &user.user, id, body, Some(&sink)).await;
                let _ = events.send(finished(result.map(|_| ()), &page));
            };
            tokio::spawn(answering.instrument(tracing::Span::current()));
        }
    }
    Ok(stream(received))
}

/// The events as an SSE response. Keep-alive comments hold a slow provider's silence open
/// through proxies; `X-Accel-Buffering: no` asks nginx not to hold the events back.
fn stream(received: UnboundedReceiver<Event>) -> Response {
    let events = futures::stream::unfold(received, |mut received| async move {
        received
            .recv()
            .await
            .map(|event| (Ok::<Event, Infallible>(event), received))
    });
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response();
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// The final event for the action's outcome.
fn finished(result: Result<(), ApiError>, page: &str) -> Event {
    match result {
        Ok(()) => step(page),
        Err(err) => match Trouble::from_api(err) {
            Ok(trouble_) => trouble(trouble_.status, &trouble_.message, page),
            // Not found, not allowed, a fault: the page itself says so, as it would after
            // the plain post.
            Err(_) => step(page),
        },
    }
}

fn step(page: &str) -> Event {
    Event::default()
        .event("step")
        .data(json!({"location": page}).to_string())
}

fn trouble(status: StatusCode, message: &str, page: &str) -> Event {
    Event::default()
        .event("trouble")
        .data(json!({"status": status.as_u16(), "message": message, "location": page}).to_string())
}

/// Hands the forming text to the response as `delta` events. A send fails only once the
/// client is gone, and then there is no one to tell.
struct Forward(UnboundedSender<Event>);

impl StepTextSink for Forward {
    fn text(&self, piece: &FormingText) {
        let data = json!({"field": piece.field.name(), "text": piece.text});
        let _ = self
            .0
            .send(Event::default().event("delta").data(data.to_string()));
    }

    fn restart(&self) {
        let _ = self.0.send(Event::default().event("restart").data("{}"));
    }
}
