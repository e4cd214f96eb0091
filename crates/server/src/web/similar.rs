//! Similar sessions on the pages (memory.md): "Seen before: 3 times this month, fixed twice
//! by …" and the list, on the intake's preview step (`POST /pilot/similar`, no JavaScript
//! needed: the intake form's second button) and in the session page's sidebar.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use domain::session::{Session, SessionStatus};
use domain::step::Step;
use domain::User;

use crate::state::AppState;
use crate::team_memory::similar::{self, SeenBefore, SimilarSession, DEFAULT_LIMIT, TEXT_MAX};
use crate::web::csrf::{CsrfForm, CsrfToken};
use crate::web::error::WebError;
use crate::web::fields::FieldErrors;
use crate::web::page::{render, Layout};
use crate::web::pilot::IntakeForm;
use crate::web::user::WebUser;

/// One similar session as a list item.
pub struct SimilarItem {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub resolved: bool,
    /// The fix, or why it was escalated.
    pub ending: Option<String>,
    pub flow: Option<(String, String)>,
    pub age: String,
    pub owner: String,
    /// "outlook, password · same flow"
    pub why: String,
}

/// What the intake preview and the sidebar show.
pub struct SimilarPanel {
    pub headline: String,
    pub items: Vec<SimilarItem>,
}

impl SimilarPanel {
    fn new(found: Vec<SimilarSession>) -> Self {
        let seen = SeenBefore::new(found, Utc::now());
        let headline = if seen.items.is_empty() {
            "Not seen before: no closed session of your account reads like this.".to_string()
        } else {
            seen.headline()
        };
        SimilarPanel {
            headline,
            items: seen.items.into_iter().map(item).collect(),
        }
    }
}

fn item(s: SimilarSession) -> SimilarItem {
    let resolved = s.outcome == SessionStatus::Resolved;
    let mut why = s.shared_terms.join(", ");
    if s.same_flow {
        if !why.is_empty() {
            why.push_str(" · ");
        }
        why.push_str("same flow");
    }
    SimilarItem {
        id: s.id.to_string(),
        title: s.title,
        summary: s.problem_summary,
        resolved,
        ending: if resolved { s.fix } else { s.escalation_reason },
        flow: s.flow.map(|(id, title)| (id.to_string(), title)),
        age: s.age,
        owner: s.owner_name,
        why,
    }
}

/// The sidebar's panel: for engineers and admins, when the account has seen it before.
/// Team memory is a help, never a reason for the page to fail: a failure leaves it out.
pub async fn sidebar(
    state: &AppState,
    user: &User,
    s: &Session,
    steps: &[Step],
) -> Option<SimilarPanel> {
    if !user.can_work() {
        return None;
    }
    match similar::like_session(state, s, steps, DEFAULT_LIMIT).await {
        Ok(found) if !found.is_empty() => Some(SimilarPanel::new(found)),
        Ok(_) => None,
        Err(err) => {
            tracing::warn!(%err, session_id = %s.id, "similar sessions left out of the page");
            None
        }
    }
}

#[derive(Template)]
#[template(path = "similar_intake.html")]
struct PreviewPage {
    layout: Layout,
    text: String,
    log: String,
    errors: FieldErrors,
    similar: Option<SimilarPanel>,
}

/// `POST /pilot/similar`: the intake as typed, checked against the account's closed
/// sessions before it starts; the page starts the session from there.
pub async fn check(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    CsrfForm(form): CsrfForm<IntakeForm>,
) -> Result<Response, WebError> {
    let form = form.normalized();
    let layout = Layout::new("Seen before?", &csrf, Some(&user.user)).current("pilot");
    let mut errors = FieldErrors::default();
    let text = form.text.trim();
    if text.is_empty() {
        errors.add("text", "Describe the problem in a few words.");
    } else if text.chars().count() > TEXT_MAX {
        errors.add("text", format!("Use at most {TEXT_MAX} characters."));
    }
    if !errors.is_empty() || !user.user.can_work() {
        if !user.user.can_work() {
            errors.add(
                "text",
                "Viewers cannot start sessions. Ask an admin of your account for the engineer role.",
            );
        }
        let status = if user.user.can_work() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::FORBIDDEN
        };
        return Ok(render(
            status,
            &PreviewPage {
                layout,
                text: form.text,
                log: form.log,
                errors,
                similar: None,
            },
        ));
    }
    let found = similar::for_text(&state, &user.user, text, DEFAULT_LIMIT).await?;
    Ok(render(
        StatusCode::OK,
        &PreviewPage {
            layout,
            text: form.text,
            log: form.log,
            errors,
            similar: Some(SimilarPanel::new(found)),
        },
    ))
}
