//! What an engineer can do to a session, whatever the front end: the JSON API (`api/`) and
//! the web pages (`web/`) are siblings on top of this layer and both come through here, so
//! access rules, rate limits and refunds are the same for a click in the browser and a call to
//! the API. It takes its own input types (`input`), never an HTTP shape.
//!
//! A reading guide: `start` (the intake to the first step), `answer` (an answer to the next
//! step), `close` (resolve, escalate and their documentation), `history` (what the pilot is
//! told of the steps so far), `ledger` (provider calls counted and recorded), `access` (who
//! may see and change a session), `ticket` (the PSA ticket a session starts from or is linked
//! to), `escalation` (the queue, claim, pick-up and briefing after an escalation),
//! `outcome` (how a suggested fix turned out, and steps marked not relevant).

mod access;
mod answer;
mod close;
pub mod escalation;
mod history;
pub mod input;
mod ledger;
mod outcome;
mod start;
pub mod ticket;
pub mod write_back;

use chrono::Utc;
use domain::documentation::Documentation;
use domain::session::Session;
use domain::session::Transition;
use domain::step::Step;
use domain::{FieldError, User, ValidationErrors};
use engine::StepTextSink;
use store::Closing;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::rate_limit::{Action, Permit};
use crate::state::AppState;
pub use answer::{is_resolution, Answered};
pub use close::{answer_text, psa_preview, suggested_resolution};
pub use escalation::{EscalationEvent, EscalationEvents};
use input::{Escalation, NewSession, Rating, Resolution, Respond};
pub use outcome::{not_relevant, record_outcome};
pub use start::Started;

/// Counts a request against the caller's per-endpoint limit.
pub async fn limit(
    state: &AppState,
    action: Action,
    user: Uuid,
    endpoint: &str,
) -> ApiResult<Permit> {
    state
        .limiter
        .check(action, &format!("{user}:{endpoint}"), Utc::now())
        .await
}

/// Gives the rate-limit hit back when the provider failed: retrying must stay possible.
async fn refund_on_provider_error<T>(
    state: &AppState,
    permit: Permit,
    result: ApiResult<T>,
) -> ApiResult<T> {
    if matches!(result, Err(ApiError::BadGateway { .. })) {
        state.limiter.refund(permit).await;
    }
    result
}

pub async fn start(state: &AppState, user: &User, body: NewSession) -> ApiResult<Started> {
    start_forming(state, user, body, None).await
}

/// [`start`], showing `sink` the first step's text while the pilot writes it.
#[tracing::instrument(skip_all, fields(user_id = %user.id, session_id = tracing::field::Empty))]
pub async fn start_forming(
    state: &AppState,
    user: &User,
    body: NewSession,
    sink: Option<&dyn StepTextSink>,
) -> ApiResult<Started> {
    let permit = limit(state, Action::SessionCreate, user.id, "create").await?;
    let started =
        refund_on_provider_error(state, permit, start::start(state, user, body, sink).await)
            .await?;
    tracing::Span::current().record("session_id", tracing::field::display(started.session.id));
    Ok(started)
}

pub async fn respond(
    state: &AppState,
    user: &User,
    id: Uuid,
    body: Respond,
) -> ApiResult<Answered> {
    respond_forming(state, user, id, body, None).await
}

/// [`respond`], showing `sink` the next step's text while the pilot writes it. What is
/// stored and answered is the same: the whole validated step.
#[tracing::instrument(skip_all, fields(user_id = %user.id, session_id = %id))]
pub async fn respond_forming(
    state: &AppState,
    user: &User,
    id: Uuid,
    body: Respond,
    sink: Option<&dyn StepTextSink>,
) -> ApiResult<Answered> {
    // As many of the newest steps as the pilot reads in full; the oldest of them carries the
    // summary of the rest.
    let recent = state.pilot.recent_steps().max(1) as i64;
    let window = access::owned_window(state, user, id, recent).await?;
    let permit = limit(state, Action::SessionWrite, user.id, "respond").await?;
    refund_on_provider_error(
        state,
        permit,
        answer::respond(state, user, window, body, sink).await,
    )
    .await
}

#[tracing::instrument(skip_all, fields(user_id = %user.id, session_id = %id))]
pub async fn resolve(
    state: &AppState,
    user: &User,
    id: Uuid,
    body: Resolution,
) -> ApiResult<Documentation> {
    let session = access::owned(state, user, id).await?;
    limit(state, Action::SessionWrite, user.id, "resolve").await?;
    close::resolve(state, user, session, body).await
}

#[tracing::instrument(skip_all, fields(user_id = %user.id, session_id = %id))]
pub async fn escalate(
    state: &AppState,
    user: &User,
    id: Uuid,
    body: Escalation,
) -> ApiResult<Documentation> {
    let session = access::owned(state, user, id).await?;
    limit(state, Action::SessionWrite, user.id, "escalate").await?;
    close::escalate(state, user, session, body).await
}

/// A session the caller may see, with its steps.
#[tracing::instrument(skip_all, fields(user_id = %user.id, session_id = %id))]
pub async fn detail(state: &AppState, user: &User, id: Uuid) -> ApiResult<(Session, Vec<Step>)> {
    let s = access::visible(state, user, id).await?;
    limit(state, Action::SessionRead, user.id, "detail").await?;
    let steps = state.store.steps(id).await?;
    Ok((s, steps))
}

/// A session the caller may see, with its steps, for the web page. Not counted against the
/// read limit: every form post on the page is followed by this read (post, redirect, get),
/// and the posts are limited already.
#[tracing::instrument(skip_all, fields(user_id = %user.id, session_id = %id))]
pub async fn for_page(state: &AppState, user: &User, id: Uuid) -> ApiResult<(Session, Vec<Step>)> {
    let s = access::visible(state, user, id).await?;
    let steps = state.store.steps(id).await?;
    Ok((s, steps))
}

/// The stored documentation (or hand-off package) of a closed session.
#[tracing::instrument(skip_all, fields(user_id = %user.id, session_id = %id))]
pub async fn documentation(
    state: &AppState,
    user: &User,
    id: Uuid,
) -> ApiResult<(Session, Documentation)> {
    let mut s = access::visible(state, user, id).await?;
    limit(state, Action::SessionRead, user.id, "documentation").await?;
    let doc = s.documentation.take().ok_or(ApiError::NotFound)?;
    Ok((s, doc))
}

/// Rates a closed session (again overwrites).
#[tracing::instrument(skip_all, fields(user_id = %user.id, session_id = %id))]
pub async fn rate(state: &AppState, user: &User, id: Uuid, body: Rating) -> ApiResult<()> {
    let s = access::owned(state, user, id).await?;
    let mut errors = ValidationErrors::new();
    if !(1..=5).contains(&body.rating) {
        errors.push(FieldError::body(
            &["rating"],
            "Input should be between 1 and 5",
            "value_error",
        ));
    }
    if let Some(f) = &body.feedback {
        errors.check_len(&["feedback"], f, 0, 2000);
    }
    errors.into_result()?;
    limit(state, Action::SessionWrite, user.id, "rate").await?;
    if !state
        .store
        .rate_session(
            s.id,
            body.rating,
            body.feedback.as_deref(),
            &Transition::Rate.allowed_from(),
            Utc::now(),
        )
        .await?
    {
        return Err(ApiError::Conflict(format!(
            "A {} session cannot be rated yet",
            s.status.as_str()
        )));
    }
    Ok(())
}

/// Applies a status change the domain's state machine allows; 409 otherwise.
#[tracing::instrument(skip_all, fields(user_id = %user.id, session_id = %id))]
pub async fn move_to(
    state: &AppState,
    user: &User,
    id: Uuid,
    transition: Transition,
) -> ApiResult<Session> {
    let s = access::owned(state, user, id).await?;
    let refused = || {
        ApiError::Conflict(format!(
            "A {} session does not allow this",
            s.status.as_str()
        ))
    };
    let to = s.status.apply(transition).ok_or_else(refused)?;
    let from = transition.allowed_from();
    if !state
        .store
        .transition_session(s.id, &from, to, &Closing::default(), Utc::now())
        .await?
    {
        return Err(refused());
    }
    Ok(state.store.session(id).await?)
}
