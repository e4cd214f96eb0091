//! What the engineer says of a step besides answering it (escalation.md "Fix outcomes"): how
//! a suggested fix turned out, and that a step was not relevant. On the open step either
//! answers it through the same claim as `respond` (one request wins) and the next step is
//! produced knowing it; on an earlier step it is recorded. `worked` resolves the session as
//! resolve does; `awaiting_verification` parks it until the engineer checks back.

use chrono::{DateTime, Utc};
use domain::outcome::{self, FixOutcome, StepMarks};
use domain::session::{SessionStatus, Transition};
use domain::step::{Answer, Response, Step, StepType};
use domain::{SessionId, StepId, User, ValidationErrors};
use store::{Closing, SessionWindow, StepAdvance, StepClaim};
use uuid::Uuid;

use super::answer::{answer_open, open_step, Answered};
use super::input::{FixReport, NotRelevant, Resolution};
use super::{access, close, limit};
use crate::error::ApiError;
use crate::rate_limit::Action;
use crate::state::AppState;

fn checked_outcome(body: &FixReport, now: DateTime<Utc>) -> Result<FixOutcome, ApiError> {
    let mut errors = ValidationErrors::new();
    let outcome = FixOutcome::parse(&body.outcome);
    if outcome.is_none() {
        errors.push(domain::FieldError::body(
            &["outcome"],
            "Input should be 'worked', 'failed', 'partial' or 'awaiting_verification'",
            "enum",
        ));
    }
    if let Some(note) = &body.note {
        errors.check_len(&["note"], note, 0, outcome::NOTE_MAX);
    }
    if let Some(at) = body.check_back_at {
        if outcome != Some(FixOutcome::AwaitingVerification) {
            errors.push(domain::FieldError::body(
                &["check_back_at"],
                "check_back_at goes with the outcome awaiting_verification",
                "value_error",
            ));
        } else if at <= now {
            errors.push(domain::FieldError::body(
                &["check_back_at"],
                "check_back_at must be in the future",
                "value_error",
            ));
        } else if at > outcome::latest_check_back(now) {
            errors.push(domain::FieldError::body(
                &["check_back_at"],
                "check_back_at must be within 31 days; escalate a fix that takes longer",
                "value_error",
            ));
        }
    }
    errors.into_result()?;
    outcome.ok_or_else(|| ApiError::internal("an outcome that passed its check is missing"))
}

fn checked_reason(reason: &str) -> Result<String, ApiError> {
    let reason = reason.trim();
    let mut errors = ValidationErrors::new();
    errors.check_len(&["reason"], reason, 1, outcome::REASON_MAX);
    if reason.contains(['\n', '\r']) {
        errors.push(domain::FieldError::body(
            &["reason"],
            "The reason is one line",
            "value_error",
        ));
    }
    errors.into_result()?;
    Ok(reason.to_string())
}

/// The note as kept: trimmed, none when blank.
fn kept_note(note: Option<&str>) -> Option<String> {
    note.map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}

/// The session with its newest steps, owned by `user`, and the step `step_id` of it
/// (404 when it is not one of the session's).
async fn with_step(
    state: &AppState,
    user: &User,
    id: Uuid,
    step_id: Uuid,
) -> Result<(SessionWindow, Step), ApiError> {
    let recent = state.pilot.recent_steps().max(1) as i64;
    let window = access::owned_window(state, user, id, recent).await?;
    let step = match window.steps.iter().find(|s| s.id == step_id) {
        Some(step) => step.clone(),
        None => state
            .store
            .steps(id)
            .await?
            .into_iter()
            .find(|s| s.id == step_id)
            .ok_or(ApiError::NotFound)?,
    };
    Ok((window, step))
}

/// Whether `step` is the one the session waits on: the latest, unanswered.
fn is_open(window: &SessionWindow, step: &Step) -> bool {
    step.response.is_none()
        && step.step_order == window.session.step_count
        && window.steps.last().is_some_and(|last| last.id == step.id)
}

/// The answer an outcome or "not relevant" gives a step: nothing typed or picked, the
/// marks say it.
fn marked_answer() -> Answer {
    Answer::default()
}

/// Records the outcome of the suggested fix `body.step_id` of session `id`.
#[tracing::instrument(skip_all, fields(user_id = %user.id, session_id = %id))]
pub async fn record_outcome(
    state: &AppState,
    user: &User,
    id: Uuid,
    body: FixReport,
) -> Result<Answered, ApiError> {
    let now = Utc::now();
    let outcome = checked_outcome(&body, now)?;
    let (window, step) = with_step(state, user, id, body.step_id).await?;
    if step.output.step_type != StepType::ResolutionSuggestion {
        return Err(ApiError::field(
            &["step_id"],
            "Only a suggested fix (a resolution_suggestion step) takes an outcome; mark other \
             steps not relevant instead",
            "value_error",
        ));
    }
    if let Some(said) = step
        .marks
        .outcome
        .filter(|o| *o != FixOutcome::AwaitingVerification)
    {
        // Only a fix still waiting to be verified takes a later outcome; otherwise the first
        // one said stands, which is also what makes two clicks at once end with one winner.
        return Err(ApiError::Conflict(format!(
            "This fix's outcome is already recorded: {}",
            said.as_str()
        )));
    }
    limit(state, Action::SessionWrite, user.id, "outcome").await?;
    let marks = StepMarks {
        outcome: Some(outcome),
        outcome_note: kept_note(body.note.as_deref()),
        not_relevant: None,
    };
    let open = is_open(&window, &step);
    match outcome {
        FixOutcome::Worked => worked(state, user, window, &step, marks, open).await,
        FixOutcome::Failed | FixOutcome::Partial if open => {
            let window = back_to_work(state, user, window).await?;
            let current = open_step(&window, step.id)?.clone();
            answer_open(state, user, &window, &current, marked_answer(), marks, None).await
        }
        FixOutcome::Failed | FixOutcome::Partial => record(state, window, &step, &marks).await,
        FixOutcome::AwaitingVerification => {
            if !open {
                return Err(ApiError::Conflict(
                    "Only the open suggested fix can wait for verification".into(),
                ));
            }
            let at = body
                .check_back_at
                .unwrap_or_else(|| outcome::default_check_back(now));
            wait_for_verification(state, window, &step, marks.outcome_note.as_deref(), at).await
        }
    }
}

/// Marks step `body.step_id` of session `id` not relevant.
#[tracing::instrument(skip_all, fields(user_id = %user.id, session_id = %id))]
pub async fn not_relevant(
    state: &AppState,
    user: &User,
    id: Uuid,
    body: NotRelevant,
) -> Result<Answered, ApiError> {
    let reason = checked_reason(&body.reason)?;
    let (window, step) = with_step(state, user, id, body.step_id).await?;
    if step.marks.not_relevant.is_some() {
        // Said once per step; a second click that comes after the first has answered the
        // open step finds it marked, as one that comes during it finds it claimed.
        return Err(ApiError::Conflict(
            "This step is already marked not relevant".into(),
        ));
    }
    limit(state, Action::SessionWrite, user.id, "not-relevant").await?;
    let marks = StepMarks {
        not_relevant: Some(reason),
        ..StepMarks::default()
    };
    let takes_answers = matches!(
        window.session.status,
        SessionStatus::Active | SessionStatus::AwaitingVerification
    );
    if is_open(&window, &step) && takes_answers {
        let window = back_to_work(state, user, window).await?;
        let current = open_step(&window, step.id)?.clone();
        return answer_open(state, user, &window, &current, marked_answer(), marks, None).await;
    }
    record(state, window, &step, &marks).await
}

/// A session awaiting verification goes back to active before its open step is answered
/// (continuing it, escalation.md); an active one is as it is. Conditional, so of two
/// requests one moves it, and both then meet at the step's claim.
async fn back_to_work(
    state: &AppState,
    user: &User,
    window: SessionWindow,
) -> Result<SessionWindow, ApiError> {
    if window.session.status != SessionStatus::AwaitingVerification {
        return Ok(window);
    }
    state
        .store
        .transition_session(
            window.session.id,
            &[SessionStatus::AwaitingVerification],
            SessionStatus::Active,
            &Closing::default(),
            Utc::now(),
        )
        .await?;
    let recent = state.pilot.recent_steps().max(1) as i64;
    access::owned_window(state, user, window.session.id, recent).await
}

/// `worked`: the session resolved with this fix, as resolve with
/// `used_suggested_resolution` (documentation, the flow's resolved count, the ticket's
/// write-back). The open step is claimed first so that a concurrent outcome cannot also
/// win, and answered with the outcome once the session is resolved.
async fn worked(
    state: &AppState,
    user: &User,
    window: SessionWindow,
    step: &Step,
    marks: StepMarks,
    open: bool,
) -> Result<Answered, ApiError> {
    let session = window.session;
    if session.status.apply(Transition::Resolve).is_none() {
        return Err(ApiError::Conflict(format!(
            "The session is {}; only an open session can be resolved",
            session.status.as_str()
        )));
    }
    let fix = step
        .output
        .resolution_summary
        .clone()
        .unwrap_or_else(|| step.output.content.clone());
    let resolution = Resolution {
        summary: Some(fix),
        use_suggested: true,
        psa_note: None,
    };
    let now = Utc::now();
    if !open {
        close::resolve_marked(
            state,
            user,
            session.clone(),
            resolution,
            Some((step.id, &marks)),
        )
        .await?;
        state
            .store
            .mark_step(SessionId(session.id), StepId(step.id), &marks, Utc::now())
            .await?;
        return resolved(state, session.id).await;
    }
    let claim = state
        .store
        .claim_step_in(
            SessionId(session.id),
            StepId(step.id),
            now,
            now + chrono::Duration::seconds(state.settings.llm_timeout_secs as i64 * 3 + 30),
            None,
            &Transition::Resolve.allowed_from(),
        )
        .await?;
    if claim != StepClaim::Claimed {
        return Err(ApiError::Conflict(
            "This step is being answered by another request".into(),
        ));
    }
    if let Err(err) = close::resolve_marked(
        state,
        user,
        session.clone(),
        resolution,
        Some((step.id, &marks)),
    )
    .await
    {
        if let Err(release) = state.store.release_step(StepId(step.id)).await {
            tracing::warn!(%release, "could not release a step claim");
        }
        return Err(err);
    }
    let response = Response {
        answer: marked_answer(),
        responded_at: Utc::now(),
    };
    let advance = StepAdvance {
        confidence_score: session.confidence_score,
        matched_flow: None,
        input_tokens: 0,
        output_tokens: 0,
    };
    state
        .store
        .answer_step_marked(
            SessionId(session.id),
            StepId(step.id),
            &response,
            None,
            &advance,
            &[],
            &marks,
        )
        .await?;
    resolved(state, session.id).await
}

async fn resolved(state: &AppState, id: Uuid) -> Result<Answered, ApiError> {
    Ok(Answered {
        session: state.store.session(id).await?,
        next: None,
        clarification: None,
    })
}

/// `awaiting_verification`: the session waits, its open step still open with the outcome
/// on it, until the engineer records another outcome, resolves, escalates or continues.
async fn wait_for_verification(
    state: &AppState,
    window: SessionWindow,
    step: &Step,
    note: Option<&str>,
    at: DateTime<Utc>,
) -> Result<Answered, ApiError> {
    let session = &window.session;
    let from = Transition::AwaitVerification.allowed_from();
    if !state
        .store
        .await_verification(
            SessionId(session.id),
            StepId(step.id),
            note,
            at,
            &from,
            Utc::now(),
        )
        .await?
    {
        return Err(ApiError::Conflict(format!(
            "The session is {} or its fix is being answered by another request",
            session.status.as_str()
        )));
    }
    let mut waiting = step.clone();
    waiting.marks = StepMarks {
        outcome: Some(FixOutcome::AwaitingVerification),
        outcome_note: note.map(str::to_string),
        not_relevant: step.marks.not_relevant.clone(),
    };
    Ok(Answered {
        session: state.store.session(session.id).await?,
        next: Some(waiting),
        clarification: None,
    })
}

/// Records `marks` on a step that is not (or no longer) the open one; the session is as it
/// was, and the answer names its open step, if any.
async fn record(
    state: &AppState,
    window: SessionWindow,
    step: &Step,
    marks: &StepMarks,
) -> Result<Answered, ApiError> {
    let session_id = window.session.id;
    state
        .store
        .mark_step(SessionId(session_id), StepId(step.id), marks, Utc::now())
        .await?;
    let next = window
        .steps
        .last()
        .filter(|last| last.response.is_none())
        .map(|last| {
            let mut last = last.clone();
            if last.id == step.id {
                if marks.outcome.is_some() {
                    last.marks.outcome = marks.outcome;
                    last.marks.outcome_note = marks.outcome_note.clone();
                }
                if marks.not_relevant.is_some() {
                    last.marks.not_relevant = marks.not_relevant.clone();
                }
            }
            last
        });
    Ok(Answered {
        session: state.store.session(session_id).await?,
        next,
        clarification: None,
    })
}
