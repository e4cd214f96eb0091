//! `/escalations`: the queue (escalation.md), the same use case as `GET /api/v1/escalations`.
//! Live by server-sent events (`/escalations/events`, read by escalations.js, which reloads
//! the list when the account's queue changes); without JavaScript a normal page that
//! refreshes itself. Claim and pick-up are forms, like every change in the UI.

use std::convert::Infallible;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use domain::escalation::human_duration;
use futures::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use crate::error::ApiError;
use crate::sessions::escalation as actions;
use crate::state::AppState;
use crate::web::assets;
use crate::web::csrf::{CsrfForm, CsrfToken};
use crate::web::error::WebError;
use crate::web::listing::Params;
use crate::web::page::{render, see_other, Layout};
use crate::web::user::WebUser;

struct Choice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

struct Line {
    session_id: Uuid,
    title: String,
    reason: String,
    target: String,
    escalated_by: String,
    escalated_iso: String,
    age: String,
    claimed_by: Option<String>,
    claimed_age: Option<String>,
    /// Claimed by the viewer and not picked up yet: the pick-up buttons.
    mine_to_pick_up: bool,
    picked_up: Option<&'static str>,
    may_claim: bool,
}

#[derive(Template)]
#[template(path = "escalations.html")]
struct QueuePage {
    layout: Layout,
    script: &'static str,
    scopes: Vec<Choice>,
    statuses: Vec<Choice>,
    /// The query the page was asked with, for the refresh link and the live reload.
    query: String,
    lines: Vec<Line>,
    notice: Option<String>,
}

const SCOPES: [(&str, &str); 3] = [
    ("mine", "Mine"),
    ("team", "My team"),
    ("account", "Everyone's"),
];
const STATUSES: [(&str, &str); 3] = [
    ("open", "Unclaimed"),
    ("claimed", "Claimed"),
    ("all", "All"),
];

fn choices(all: &[(&'static str, &'static str)], current: &str) -> Vec<Choice> {
    all.iter()
        .map(|&(value, label)| Choice {
            value,
            label,
            selected: value == current,
        })
        .collect()
}

pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    uri: Uri,
) -> Result<Response, WebError> {
    page(&state, &user, &csrf, uri.query(), StatusCode::OK, None).await
}

async fn page(
    state: &AppState,
    user: &WebUser,
    csrf: &CsrfToken,
    query: Option<&str>,
    status_code: StatusCode,
    notice: Option<String>,
) -> Result<Response, WebError> {
    let params = Params::parse(query);
    // A stale or hand-edited value falls back to the default, as on the other list pages.
    let scope = params
        .get("scope")
        .filter(|s| SCOPES.iter().any(|(v, _)| v == s))
        .unwrap_or("mine");
    let status = params
        .get("status")
        .filter(|s| STATUSES.iter().any(|(v, _)| v == s))
        .unwrap_or("open");
    let me = &user.user;
    let (entries, names) = actions::queue(state, me, Some(scope), Some(status)).await?;
    let now = Utc::now();
    let lines = entries
        .iter()
        .map(|entry| {
            let e = &entry.escalation;
            Line {
                session_id: e.session_id,
                title: entry.title.clone(),
                reason: e.reason.clone(),
                target: names.target(e.target),
                escalated_by: names.user(e.escalated_by),
                escalated_iso: e.escalated_at.to_rfc3339(),
                age: human_duration(now - e.escalated_at),
                claimed_by: e.claimed_by.map(|c| {
                    if c == me.id {
                        "you".to_string()
                    } else {
                        names.user(c)
                    }
                }),
                claimed_age: e.time_to_claim().map(human_duration),
                mine_to_pick_up: e.claimed_by == Some(me.id)
                    && e.picked_up.is_none()
                    && entry.session_status == "escalated",
                picked_up: e.picked_up.map(|m| m.as_str()),
                may_claim: !e.is_claimed() && e.may_claim(me).is_ok(),
            }
        })
        .collect();
    Ok(render(
        status_code,
        &QueuePage {
            layout: Layout::new("Escalations", csrf, Some(me)).current("escalations"),
            script: assets::url("escalations.js"),
            scopes: choices(&SCOPES, scope),
            statuses: choices(&STATUSES, status),
            query: format!("scope={scope}&status={status}"),
            lines,
            notice,
        },
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PickupForm {
    mode: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct NoFields {}

/// What the queue says when a claim or a pick-up is refused; anything else is an error page.
async fn refused(
    state: &AppState,
    user: &WebUser,
    csrf: &CsrfToken,
    err: ApiError,
) -> Result<Response, WebError> {
    let code = match &err {
        ApiError::Conflict(_) => StatusCode::CONFLICT,
        ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
        ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => return Err(err.into()),
    };
    let message = match &err {
        ApiError::Validation(_) => "Choose to continue the session or to start fresh.".into(),
        other => other.to_string(),
    };
    page(
        state,
        user,
        csrf,
        Some("scope=mine&status=all"),
        code,
        Some(message),
    )
    .await
}

pub async fn claim(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, WebError> {
    let id = crate::web::session::session_id(&raw)?;
    match actions::claim(&state, &user.user, id).await {
        Ok(_) => Ok(see_other(&format!("/pilot/{id}"))),
        Err(err) => refused(&state, &user, &csrf, err).await,
    }
}

pub async fn pickup(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    CsrfForm(form): CsrfForm<PickupForm>,
) -> Result<Response, WebError> {
    let id = crate::web::session::session_id(&raw)?;
    match actions::pickup(&state, &user.user, id, &form.mode).await {
        Ok(picked) => Ok(see_other(&format!("/pilot/{}", picked.session.id))),
        Err(err) => refused(&state, &user, &csrf, err).await,
    }
}

/// The account's queue changes as server-sent events (`changed`), for escalations.js.
pub async fn events(State(state): State<AppState>, user: WebUser) -> Response {
    let account = user.user.account_id;
    let receiver = state.escalation_events.subscribe();
    let stream = changes(receiver, account);
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn changes(
    receiver: tokio::sync::broadcast::Receiver<actions::EscalationEvent>,
    account: Uuid,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(receiver, move |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(e) if e.account_id == account => {
                    let event = Event::default()
                        .event("changed")
                        .data(format!("{} {}", e.kind, e.session_id));
                    return Some((Ok(event), rx));
                }
                Ok(_) => continue,
                // Fell behind: whatever was missed, the page reloads the list anyway.
                Err(RecvError::Lagged(_)) => {
                    return Some((Ok(Event::default().event("changed").data("lagged")), rx))
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
}

pub struct BriefFact {
    pub(crate) label: String,
    pub(crate) value: String,
}

pub struct BriefLine {
    pub(crate) order: i64,
    /// HTML (inline Markdown, escaped).
    pub(crate) asked: String,
    pub(crate) showed: Option<String>,
}

pub struct BriefCause {
    pub(crate) cause: String,
    pub(crate) likelihood: &'static str,
    pub(crate) steps: Vec<String>,
}

/// The briefing at the top of an escalated session's page (`briefing.html`).
pub struct BriefingCard {
    pub(crate) session_id: Uuid,
    pub(crate) reason: String,
    pub(crate) problem: String,
    pub(crate) environment: Vec<BriefFact>,
    pub(crate) steps: Vec<BriefLine>,
    pub(crate) ruled_out: Vec<String>,
    pub(crate) hypotheses: Vec<BriefCause>,
    pub(crate) confidence_tier: &'static str,
    pub(crate) confidence_pct: i64,
    pub(crate) target: String,
    pub(crate) escalated_by: String,
    pub(crate) waited: String,
    pub(crate) claimed_by: Option<String>,
    pub(crate) may_claim: bool,
    pub(crate) mine_to_pick_up: bool,
    pub(crate) metrics: Option<String>,
}

/// The briefing card of `s`, while it is escalated.
pub async fn card(
    state: &AppState,
    user: &domain::User,
    s: &domain::session::Session,
    steps: &[domain::step::Step],
) -> Result<Option<BriefingCard>, WebError> {
    if s.status != domain::session::SessionStatus::Escalated {
        return Ok(None);
    }
    let Some((e, b, names)) = actions::briefing_for_page(state, user, s, steps).await? else {
        return Ok(None);
    };
    let inline = crate::web::markdown::inline;
    let metrics = match (e.time_to_claim(), e.claim_to_first_answer()) {
        (Some(claim), Some(answer)) => Some(format!(
            "Claimed after {}; first answer {} later.",
            human_duration(claim),
            human_duration(answer)
        )),
        (Some(claim), None) => Some(format!("Claimed after {}.", human_duration(claim))),
        _ => None,
    };
    Ok(Some(BriefingCard {
        session_id: s.id,
        reason: b.reason,
        problem: b.problem,
        environment: b
            .environment
            .into_iter()
            .map(|f| BriefFact {
                label: f.label,
                value: f.value,
            })
            .collect(),
        steps: b
            .steps
            .into_iter()
            .map(|st| BriefLine {
                order: st.step_order,
                // The whole step is on the page below; the briefing says enough to place it.
                asked: inline(&clip_words(&st.asked, 160)),
                showed: st.showed,
            })
            .collect(),
        ruled_out: b.ruled_out,
        hypotheses: b
            .hypotheses
            .into_iter()
            .map(|h| BriefCause {
                cause: h.cause,
                likelihood: h.likelihood.as_str(),
                steps: h.suggested_steps.iter().map(|t| inline(t)).collect(),
            })
            .collect(),
        confidence_tier: b.confidence_tier,
        confidence_pct: (b.confidence_score * 100.0).round() as i64,
        target: names.target(e.target),
        escalated_by: names.user(e.escalated_by),
        waited: human_duration(e.age(Utc::now())),
        claimed_by: e.claimed_by.map(|c| {
            if c == user.id {
                "you".into()
            } else {
                names.user(c)
            }
        }),
        may_claim: !e.is_claimed() && e.may_claim(user).is_ok(),
        mine_to_pick_up: e.claimed_by == Some(user.id) && e.picked_up.is_none(),
        metrics,
    }))
}

/// `text` cut at a word before `max` characters, with an ellipsis.
fn clip_words(text: &str, max: usize) -> String {
    let Some((at, _)) = text.char_indices().nth(max) else {
        return text.to_string();
    };
    let cut = text[..at].rfind(' ').unwrap_or(at);
    format!("{}…", text[..cut].trim_end())
}
