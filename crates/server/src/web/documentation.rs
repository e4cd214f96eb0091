//! `/pilot/{id}/documentation`: the documentation of a resolved session (or the hand-off
//! package of an escalated one), its markdown to copy or download, and the rating form.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::documentation::Documentation;
use domain::session::Session;
use domain::session::{SessionStatus, Transition};
use serde::Deserialize;

use crate::error::ApiError;
use crate::sessions;
use crate::sessions::input::Rating;
use crate::state::AppState;
use crate::web::csrf::{CsrfForm, CsrfToken};
use crate::web::error::WebError;
use crate::web::fields;
use crate::web::markdown;
use crate::web::notice::Trouble;
use crate::web::page::{render, see_other, Layout};
use crate::web::session::session_id;
use crate::web::user::WebUser;

pub struct Star {
    pub value: i64,
    pub label: String,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "documentation.html")]
struct DocumentationPage {
    layout: Layout,
    id: String,
    heading: &'static str,
    title: String,
    html: String,
    markdown: String,
    can_rate: bool,
    stars: Vec<Star>,
    feedback: String,
    rated: bool,
    error: Option<String>,
}

fn stars(selected: Option<i64>) -> Vec<Star> {
    (1..=5)
        .map(|value| Star {
            value,
            label: if value == 1 {
                "1 star".into()
            } else {
                format!("{value} stars")
            },
            checked: selected == Some(value),
        })
        .collect()
}

struct RatingDraft {
    rating: Option<i64>,
    feedback: Option<String>,
    rated: bool,
    error: Option<String>,
}

fn page(
    csrf: &CsrfToken,
    user: &WebUser,
    s: Session,
    doc: Documentation,
    draft: RatingDraft,
) -> DocumentationPage {
    let md = doc.markdown;
    let escalated = s.status == SessionStatus::Escalated;
    let heading = if escalated {
        "Hand-off package"
    } else {
        "Documentation"
    };
    DocumentationPage {
        layout: Layout::new(heading, csrf, Some(&user.user)).current("pilot"),
        id: s.id.to_string(),
        heading,
        title: s.title.clone(),
        html: markdown::to_html(&md),
        markdown: md,
        can_rate: s.user_id == user.user.id
            && user.user.can_work()
            && s.status.apply(Transition::Rate).is_some(),
        stars: stars(draft.rating.or(s.rating)),
        feedback: draft.feedback.or(s.feedback.clone()).unwrap_or_default(),
        rated: draft.rated,
        error: draft.error,
    }
}

/// The session and its documentation; an open session has none yet, so its page is where
/// the engineer belongs.
async fn load(
    state: &AppState,
    user: &WebUser,
    raw: &str,
) -> Result<Result<(Session, Documentation), Response>, WebError> {
    let id = session_id(raw)?;
    let (mut s, _) = sessions::for_page(state, &user.user, id).await?;
    Ok(match s.documentation.take() {
        Some(doc) => Ok((s, doc)),
        None => Err(see_other(&format!("/pilot/{id}"))),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DocQuery {
    rated: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    Query(q): Query<DocQuery>,
) -> Result<Response, WebError> {
    let (s, doc) = match load(&state, &user, &raw).await? {
        Ok(found) => found,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let draft = RatingDraft {
        rating: None,
        feedback: None,
        rated: q.rated.is_some(),
        error: None,
    };
    Ok(render(StatusCode::OK, &page(&csrf, &user, s, doc, draft)))
}

/// The markdown as a file, named after the session so downloads do not overwrite each other.
pub async fn download(
    State(state): State<AppState>,
    user: WebUser,
    Path(raw): Path<String>,
) -> Result<Response, WebError> {
    let (s, doc) = match load(&state, &user, &raw).await? {
        Ok(found) => found,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let short: String = s.id.simple().to_string().chars().take(8).collect();
    let disposition = format!("attachment; filename=\"flowpilot-session-{short}.md\"");
    Ok((
        [
            (CONTENT_TYPE, "text/markdown; charset=utf-8".to_string()),
            (CONTENT_DISPOSITION, disposition),
        ],
        doc.markdown,
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RateForm {
    rating: String,
    feedback: String,
}

pub async fn rate(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    CsrfForm(form): CsrfForm<RateForm>,
) -> Result<Response, WebError> {
    let id = session_id(&raw)?;
    let feedback = fields::text_field(&form.feedback);
    let rating = form.rating.trim().parse::<i64>().ok();
    let again = |error: String| RatingDraft {
        rating,
        feedback: Some(feedback.clone()),
        rated: false,
        error: Some(error),
    };
    let Some(stars) = rating.filter(|r| (1..=5).contains(r)) else {
        let draft = again("Pick from 1 to 5 stars.".into());
        return rerender(
            &state,
            &user,
            &csrf,
            &raw,
            draft,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let body = Rating {
        rating: stars,
        feedback: Some(feedback.trim().to_string()).filter(|f| !f.is_empty()),
    };
    match sessions::rate(&state, &user.user, id, body).await {
        Ok(()) => Ok(see_other(&format!("/pilot/{id}/documentation?rated=1"))),
        Err(ApiError::Validation(errors)) => {
            let message = fields::sentences(errors);
            let draft = again(message);
            rerender(
                &state,
                &user,
                &csrf,
                &raw,
                draft,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(err) => {
            let trouble = Trouble::from_api(err)?;
            let status = trouble.status;
            let draft = again(trouble.message.clone());
            let response = rerender(&state, &user, &csrf, &raw, draft, status).await?;
            Ok(trouble.decorate(response))
        }
    }
}

async fn rerender(
    state: &AppState,
    user: &WebUser,
    csrf: &CsrfToken,
    raw: &str,
    draft: RatingDraft,
    status: StatusCode,
) -> Result<Response, WebError> {
    Ok(match load(state, user, raw).await? {
        Ok((s, doc)) => render(status, &page(csrf, user, s, doc, draft)),
        Err(elsewhere) => elsewhere,
    })
}
