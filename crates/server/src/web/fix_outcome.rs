//! The fix-outcome and "not relevant" forms of the session page (escalation.md "Fix
//! outcomes"), and what the pilot page lists of fixes waiting to be verified. Plain forms
//! with the CSRF token: they work without JavaScript.

use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, NaiveDateTime, Utc};
use domain::outcome::FixOutcome;
use domain::session::{Session, SessionStatus};
use domain::step::Step;
use serde::Deserialize;

use crate::error::ApiError;
use crate::sessions;
use crate::sessions::input::{FixReport, NotRelevant};
use crate::state::AppState;
use crate::web::csrf::{CsrfForm, CsrfToken};
use crate::web::error::WebError;
use crate::web::notice::Trouble;
use crate::web::page::see_other;
use crate::web::session::{session_id, show_outcome_again};
use crate::web::user::WebUser;

/// `datetime-local`'s value (no zone: the form says the time is UTC, as the server cannot
/// know the browser's zone without JavaScript).
const LOCAL_FORMAT: &str = "%Y-%m-%dT%H:%M";

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OutcomeForm {
    outcome: String,
    note: String,
    check_back_at: String,
}

/// The fix-outcome form's fields as sent, shown in it again when it comes back with an
/// error, so the engineer's note is not lost.
#[derive(Debug, Default)]
pub struct OutcomeDraft {
    pub note: String,
    pub check_back_at: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NotRelevantForm {
    reason: String,
}

fn step_id(raw: &str) -> Result<uuid::Uuid, WebError> {
    uuid::Uuid::parse_str(raw).map_err(|_| WebError::Api(ApiError::NotFound))
}

/// The check-back time typed in the form: blank is none (the default applies); one that
/// does not read as a time is said so on the page.
fn check_back(raw: &str) -> Result<Option<DateTime<Utc>>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    NaiveDateTime::parse_from_str(raw, LOCAL_FORMAT)
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"))
        .map(|t| Some(t.and_utc()))
        .map_err(|_| "Give the check-back time as a date and time.".to_string())
}

async fn finish(
    state: &AppState,
    user: &WebUser,
    csrf: &CsrfToken,
    id: uuid::Uuid,
    result: crate::error::ApiResult<sessions::Answered>,
    sent: OutcomeDraft,
) -> Result<Response, WebError> {
    match result {
        Ok(_) => Ok(see_other(&format!("/pilot/{id}"))),
        Err(err) => {
            let trouble = Trouble::from_api(err)?;
            let response = show_outcome_again(
                state,
                user,
                csrf,
                id,
                trouble.status,
                trouble.message.clone(),
                sent,
            )
            .await?;
            Ok(trouble.decorate(response))
        }
    }
}

pub async fn outcome(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path((raw, raw_step)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<OutcomeForm>,
) -> Result<Response, WebError> {
    let id = session_id(&raw)?;
    let step = step_id(&raw_step)?;
    let sent = OutcomeDraft {
        note: form.note.clone(),
        check_back_at: form.check_back_at.clone(),
    };
    let check_back_at = match check_back(&form.check_back_at) {
        // Only "waiting to verify" reads the time; the other buttons send it along unused.
        Ok(at) => at.filter(|_| form.outcome == FixOutcome::AwaitingVerification.as_str()),
        Err(message) => {
            let status = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            return show_outcome_again(&state, &user, &csrf, id, status, message, sent).await;
        }
    };
    let report = FixReport {
        step_id: step,
        outcome: form.outcome,
        note: Some(form.note).filter(|n| !n.trim().is_empty()),
        check_back_at,
    };
    let result = sessions::record_outcome(&state, &user.user, id, report).await;
    finish(&state, &user, &csrf, id, result, sent).await
}

pub async fn not_relevant(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path((raw, raw_step)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<NotRelevantForm>,
) -> Result<Response, WebError> {
    let id = session_id(&raw)?;
    let marked = NotRelevant {
        step_id: step_id(&raw_step)?,
        reason: form.reason,
    };
    let result = sessions::not_relevant(&state, &user.user, id, marked).await;
    finish(&state, &user, &csrf, id, result, OutcomeDraft::default()).await
}

/// A fix waiting to be verified, as the session page shows it.
pub struct Waiting {
    pub step_id: String,
    pub fix: String,
    pub note: Option<String>,
    pub check_back: Option<String>,
}

/// The fix a session awaiting verification waits on; none for any other session.
pub async fn waiting(
    state: &AppState,
    s: &Session,
    steps: &[Step],
) -> Result<Option<Waiting>, WebError> {
    if s.status != SessionStatus::AwaitingVerification {
        return Ok(None);
    }
    let Some(fix) = steps.last().filter(|st| st.response.is_none()) else {
        return Ok(None);
    };
    let at = state
        .store
        .check_back_at(s.id)
        .await
        .map_err(ApiError::from)?;
    Ok(Some(Waiting {
        step_id: fix.id.to_string(),
        fix: fix
            .output
            .resolution_summary
            .clone()
            .unwrap_or_else(|| fix.output.content.clone()),
        note: fix.marks.outcome_note.clone(),
        check_back: at.map(when),
    }))
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%a %e %b, %H:%M UTC").to_string()
}

/// A line of the pilot page's "Waiting to verify" list.
pub struct WaitingRow {
    pub id: String,
    pub title: String,
    pub check_back: Option<String>,
    pub due: bool,
}

/// The signed-in engineer's sessions waiting for a fix to be verified, soonest first.
pub async fn waiting_rows(state: &AppState, user: &WebUser) -> Result<Vec<WaitingRow>, WebError> {
    let now = Utc::now();
    let rows = state
        .store
        .awaiting_verification(user.user.id)
        .await
        .map_err(ApiError::from)?;
    Ok(rows
        .into_iter()
        .map(|(s, at)| WaitingRow {
            id: s.id.to_string(),
            title: s
                .problem_summary
                .clone()
                .filter(|t| s.title.trim().is_empty() && !t.trim().is_empty())
                .unwrap_or(s.title),
            check_back: at.map(when),
            due: at.is_some_and(|at| at <= now),
        })
        .collect())
}
