//! `/pilot/{id}`: the guided session. The page is read with the same visibility rules as the
//! API (another tenant's session is a 404); every form posts to a route below it and goes
//! through the same session actions as the JSON API, so limits and conflicts behave alike.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::session::Transition;
use domain::User;
use serde::Deserialize;
use store::{SessionRecord, StepRecord};
use uuid::Uuid;

use crate::api::sessions::actions;
use crate::api::sessions::dto::{EscalateIn, ResolveIn, RespondIn};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::csrf::{CsrfForm, CsrfToken};
use crate::web::error::WebError;
use crate::web::fields;
use crate::web::notice::Trouble;
use crate::web::page::{render, see_other, Layout};
use crate::web::session_view::{self, CurrentStep, PastStep, SessionView, NOT_SOLVED};
use crate::web::user::WebUser;
use crate::web::why_matched;

/// What the engineer typed or chose that a failed submission must not lose, and where the
/// page should say what went wrong.
#[derive(Default)]
struct Draft {
    typed: String,
    answer_error: Option<String>,
    notice: Option<String>,
    dialog: &'static str,
    resolve_summary: Option<String>,
    resolve_error: Option<String>,
    escalate_reason: String,
    escalate_to: String,
    escalate_error: Option<String>,
}

pub struct Colleague {
    pub id: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "session.html")]
struct SessionPage {
    layout: Layout,
    s: SessionView,
    past: Vec<PastStep>,
    current: Option<CurrentStep>,
    colleagues: Vec<Colleague>,
    limit_reached: bool,
    draft: Draft,
    resolve_summary: String,
}

/// `id` as written in the path; anything that is not a UUID is simply not found.
pub fn session_id(raw: &str) -> Result<Uuid, WebError> {
    Uuid::parse_str(raw).map_err(|_| WebError::Api(ApiError::NotFound))
}

async fn colleagues(state: &AppState, user: &User) -> Result<Vec<Colleague>, WebError> {
    Ok(state
        .store
        .users_of_account(user.account_id)
        .await?
        .into_iter()
        .filter(|u| u.id != user.id && u.is_active && u.can_work())
        .map(|u| Colleague {
            id: u.id.to_string(),
            name: u.full_name,
        })
        .collect())
}

fn suggested_summary(steps: &[StepRecord]) -> Option<String> {
    steps
        .iter()
        .rev()
        .find(|s| s.output.step_type == domain::step::StepType::ResolutionSuggestion)
        .map(|s| {
            s.output
                .resolution_summary
                .clone()
                .unwrap_or_else(|| s.output.content.clone())
        })
}

async fn show_page(
    state: &AppState,
    user: &WebUser,
    csrf: &CsrfToken,
    id: Uuid,
    status: StatusCode,
    draft: Draft,
) -> Result<Response, WebError> {
    let (s, steps) = actions::for_page(state, &user.user, id).await?;
    Ok(render(
        status,
        &build(state, user, csrf, s, steps, draft).await?,
    ))
}

async fn build(
    state: &AppState,
    user: &WebUser,
    csrf: &CsrfToken,
    s: SessionRecord,
    steps: Vec<StepRecord>,
    draft: Draft,
) -> Result<SessionPage, WebError> {
    let flow = match s.matched_flow_id {
        Some(flow_id) => state.catalog.visible_flow(s.account_id, flow_id).await,
        None => None,
    };
    let intake = [
        s.intake_content.get("text").and_then(|t| t.as_str()),
        s.intake_content.get("log").and_then(|t| t.as_str()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("\n");
    let why = why_matched::explain(&intake, flow.as_ref(), s.match_score);
    let view = session_view::session(&s, user.user.id, why);
    let (past, current) = session_view::steps(&steps, view.active && view.owned);
    let limit_reached = view.active
        && steps.last().is_some_and(|st| st.response.is_some())
        && s.step_count >= state.settings.max_steps;
    let colleagues = if view.owned && !view.closed {
        colleagues(state, &user.user).await?
    } else {
        Vec::new()
    };
    let resolve_summary = draft
        .resolve_summary
        .clone()
        .or_else(|| suggested_summary(&steps))
        .unwrap_or_default();
    Ok(SessionPage {
        layout: Layout::new(&s.title, csrf, Some(&user.user)).current("pilot"),
        s: view,
        past,
        current,
        colleagues,
        limit_reached,
        draft,
        resolve_summary,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    /// `resolve` or `escalate`: the dialog to show open, for browsers without JavaScript.
    dialog: String,
}

pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    let id = session_id(&raw)?;
    let dialog = match q.dialog.as_str() {
        "resolve" => "resolve",
        "escalate" => "escalate",
        _ => "",
    };
    let draft = Draft {
        dialog,
        ..Draft::default()
    };
    show_page(&state, &user, &csrf, id, StatusCode::OK, draft).await
}

/// Empty fields are absent: a browser sends every text field, typed in or not.
fn present(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AnswerForm {
    step_id: String,
    selected_option: Option<String>,
    free_text_input: Option<String>,
    skipped: Option<String>,
    /// "Keep troubleshooting" on a suggestion that has no option for it.
    keep_troubleshooting: Option<String>,
}

pub async fn respond(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    CsrfForm(form): CsrfForm<AnswerForm>,
) -> Result<Response, WebError> {
    let id = session_id(&raw)?;
    let typed = form
        .free_text_input
        .clone()
        .unwrap_or_default()
        .replace("\r\n", "\n");
    let keep = form.keep_troubleshooting.is_some();
    let free_text = present(Some(typed.clone())).or_else(|| keep.then(|| NOT_SOLVED.to_string()));
    let skipped = form.skipped.as_deref() == Some("true");
    let selected_option = present(form.selected_option);
    if selected_option.is_none() && free_text.is_none() && !skipped {
        let draft = Draft {
            answer_error: Some("Pick an option or type an answer.".into()),
            ..Draft::default()
        };
        return show_page(
            &state,
            &user,
            &csrf,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            draft,
        )
        .await;
    }
    let Ok(step_id) = Uuid::parse_str(&form.step_id) else {
        return Err(WebError::BadRequest);
    };
    let body = RespondIn {
        step_id,
        selected_option,
        free_text_input: free_text,
        skipped: Some(skipped),
    };
    match actions::respond(&state, &user.user, id, body).await {
        Ok(_) => Ok(see_other(&format!("/pilot/{id}"))),
        Err(ApiError::Validation(errors)) => {
            let message = fields::sentences(errors);
            let draft = Draft {
                typed,
                answer_error: Some(message),
                ..Draft::default()
            };
            show_page(
                &state,
                &user,
                &csrf,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                draft,
            )
            .await
        }
        Err(err) => in_place(&state, &user, &csrf, id, err, |d| d.typed = typed).await,
    }
}

/// Answers a failure on the session page itself, keeping what `keep` puts back in the draft.
async fn in_place(
    state: &AppState,
    user: &WebUser,
    csrf: &CsrfToken,
    id: Uuid,
    err: ApiError,
    keep: impl FnOnce(&mut Draft),
) -> Result<Response, WebError> {
    let trouble = Trouble::from_api(err)?;
    let mut draft = Draft {
        notice: Some(trouble.message.clone()),
        ..Draft::default()
    };
    keep(&mut draft);
    let response = show_page(state, user, csrf, id, trouble.status, draft).await?;
    Ok(trouble.decorate(response))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResolveForm {
    resolution_summary: Option<String>,
    /// Sent by "Accept & resolve".
    used_suggested_resolution: Option<String>,
}

pub async fn resolve(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    CsrfForm(form): CsrfForm<ResolveForm>,
) -> Result<Response, WebError> {
    let id = session_id(&raw)?;
    let typed = form
        .resolution_summary
        .clone()
        .unwrap_or_default()
        .replace("\r\n", "\n");
    let accept = form.used_suggested_resolution.as_deref() == Some("true");
    let body = ResolveIn {
        resolution_summary: present(Some(typed.clone())),
        used_suggested_resolution: Some(accept),
    };
    match actions::resolve(&state, &user.user, id, body).await {
        Ok(_) => Ok(see_other(&format!("/pilot/{id}/documentation"))),
        Err(ApiError::Validation(errors)) => {
            let message = if typed.trim().is_empty() {
                "Describe what fixed the problem.".to_string()
            } else {
                fields::sentences(errors)
            };
            let draft = Draft {
                dialog: "resolve",
                resolve_summary: Some(typed),
                resolve_error: Some(message),
                ..Draft::default()
            };
            show_page(
                &state,
                &user,
                &csrf,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                draft,
            )
            .await
        }
        Err(err) => {
            in_place(&state, &user, &csrf, id, err, |d| {
                d.dialog = "resolve";
                d.resolve_summary = Some(typed);
            })
            .await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EscalateForm {
    escalation_reason: String,
    escalated_to_id: String,
}

pub async fn escalate(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    CsrfForm(form): CsrfForm<EscalateForm>,
) -> Result<Response, WebError> {
    let id = session_id(&raw)?;
    let reason = form.escalation_reason.replace("\r\n", "\n");
    let keep = |error: Option<String>| Draft {
        dialog: "escalate",
        escalate_reason: reason.clone(),
        escalate_to: form.escalated_to_id.clone(),
        escalate_error: error,
        ..Draft::default()
    };
    let target = match form.escalated_to_id.trim() {
        "" => None,
        raw_target => match Uuid::parse_str(raw_target) {
            Ok(t) => Some(t),
            Err(_) => {
                let draft = keep(Some("Pick a colleague from the list.".into()));
                return show_page(
                    &state,
                    &user,
                    &csrf,
                    id,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    draft,
                )
                .await;
            }
        },
    };
    let body = EscalateIn {
        escalation_reason: reason.clone(),
        escalated_to_id: target,
    };
    match actions::escalate(&state, &user.user, id, body).await {
        Ok(_) => Ok(see_other(&format!("/pilot/{id}/documentation"))),
        Err(ApiError::Validation(errors)) => {
            let message = if reason.trim().is_empty() {
                "Say why the session needs a colleague.".to_string()
            } else {
                fields::sentences(errors)
            };
            show_page(
                &state,
                &user,
                &csrf,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                keep(Some(message)),
            )
            .await
        }
        Err(err) => {
            let kept = keep(None);
            in_place(&state, &user, &csrf, id, err, |d| {
                d.dialog = kept.dialog;
                d.escalate_reason = kept.escalate_reason;
                d.escalate_to = kept.escalate_to;
            })
            .await
        }
    }
}

/// Only the CSRF token: pause and resume carry no fields.
#[derive(Debug, Default, Deserialize)]
pub struct EmptyForm {}

async fn change(
    state: AppState,
    user: WebUser,
    csrf: CsrfToken,
    raw: String,
    transition: Transition,
) -> Result<Response, WebError> {
    let id = session_id(&raw)?;
    match actions::move_to(&state, &user.user, id, transition).await {
        Ok(_) => Ok(see_other(&format!("/pilot/{id}"))),
        Err(err) => in_place(&state, &user, &csrf, id, err, |_| {}).await,
    }
}

pub async fn pause(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    change(state, user, csrf, raw, Transition::Pause).await
}

pub async fn resume(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    change(state, user, csrf, raw, Transition::Resume).await
}
