//! `/sessions`: the signed-in user's session history, with the visibility, paging and read
//! rate limit of `GET /api/v1/ai-sessions`. Filters arrive from a GET form; a value that is
//! not one of the choices (a stale or hand-edited URL) is ignored rather than refused.

use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use chrono::Utc;
use domain::flow::domain_label;
use domain::session::Session;
use domain::session::SessionStatus;
use store::SessionFilter;
use uuid::Uuid;

use crate::rate_limit::Action;
use crate::state::AppState;
use crate::web::csrf::CsrfToken;
use crate::web::error::WebError;
use crate::web::listing::{self, Pager, Params, PAGE_SIZE};
use crate::web::page::{render, Layout};
use crate::web::user::WebUser;

/// One `<option>` of the "Status" select.
struct Choice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

struct Row {
    id: Uuid,
    title: String,
    status: &'static str,
    status_label: &'static str,
    tier: String,
    domain: Option<String>,
    steps: i64,
    /// RFC 3339 for `<time datetime>`, and the same instant for people (UTC).
    created_iso: String,
    created: String,
    escalated_to_you: bool,
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    layout: Layout,
    statuses: Vec<Choice>,
    escalated_to_me: bool,
    filtered: bool,
    rows: Vec<Row>,
    pager: Pager,
}

pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    uri: Uri,
) -> Result<Response, WebError> {
    let params = Params::parse(uri.query());
    let status = params.get("status").and_then(SessionStatus::parse);
    let escalated_to_me = params.flag("escalated_to_me");
    let page = params.page();
    let me = &user.user;
    // The same bucket as the API list: switching between page and API gives no extra reads.
    state
        .limiter
        .check(Action::SessionRead, &format!("{}:list", me.id), Utc::now())
        .await?;
    let filter = SessionFilter {
        status,
        escalated_to_me,
        skip: listing::skip(page),
        limit: PAGE_SIZE,
    };
    let (sessions, total) = state
        .store
        .list_sessions(me.account_id, me.id, me.is_admin(), &filter)
        .await?;
    let status_value = status.map_or("", SessionStatus::as_str);
    let mine = if escalated_to_me { "1" } else { "" };
    let pager = Pager::new(
        "/sessions",
        &[("status", status_value), ("escalated_to_me", mine)],
        page,
        sessions.len(),
        total,
    );
    Ok(render(
        StatusCode::OK,
        &SessionsPage {
            layout: Layout::new("Sessions", &csrf, Some(me)).current("sessions"),
            statuses: choices(status),
            escalated_to_me,
            filtered: status.is_some() || escalated_to_me,
            rows: sessions.iter().map(|s| row(s, me.id)).collect(),
            pager,
        },
    ))
}

fn choices(current: Option<SessionStatus>) -> Vec<Choice> {
    let all = Choice {
        value: "",
        label: "All",
        selected: current.is_none(),
    };
    std::iter::once(all)
        .chain(SessionStatus::ALL.into_iter().map(|s| Choice {
            value: s.as_str(),
            label: label(s),
            selected: current == Some(s),
        }))
        .collect()
}

fn label(status: SessionStatus) -> &'static str {
    match status {
        SessionStatus::Active => "Active",
        SessionStatus::Paused => "Paused",
        SessionStatus::AwaitingVerification => "Waiting to verify",
        SessionStatus::Resolved => "Resolved",
        SessionStatus::Escalated => "Escalated",
        SessionStatus::Abandoned => "Abandoned",
    }
}

fn row(s: &Session, me: Uuid) -> Row {
    // Sessions started without a title are known by their problem summary.
    let title = [Some(s.title.as_str()), s.problem_summary.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|t| !t.is_empty())
        .unwrap_or("Untitled session")
        .to_string();
    Row {
        id: s.id,
        title,
        status: s.status.as_str(),
        status_label: label(s.status),
        tier: s.confidence_tier().as_str().into(),
        domain: s
            .problem_domain
            .as_deref()
            .filter(|d| !d.trim().is_empty())
            .map(domain_label),
        steps: s.step_count,
        created_iso: s.created_at.to_rfc3339(),
        created: s.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        escalated_to_you: s.escalated_to_id == Some(me),
    }
}
