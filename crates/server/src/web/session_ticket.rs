//! The session page's ticket: a card in the sidebar (number, summary, company, a link to the
//! ticket in the PSA, or why it could not be read) and, on a running session of the viewer's
//! without a readable ticket, a form to link one (`POST /pilot/{id}/link-ticket`). Once the
//! session is closed the card shows the write-back's push status (pending, posted, failed
//! with the reason) and, when it failed, the retry button (`POST /pilot/{id}/psa-push/retry`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::session::Session;
use domain::User;
use serde::Deserialize;

use crate::error::ApiError;
use crate::psa::connections;
use crate::sessions;
use crate::sessions::input::LinkTicket;
use crate::sessions::write_back::PushStatus;
use crate::state::AppState;
use crate::web::csrf::{CsrfForm, CsrfToken, EmptyForm};
use crate::web::error::WebError;
use crate::web::page::see_other;
use crate::web::psa_settings::psa_notice;
use crate::web::session::{session_id, show_with_notice};
use crate::web::ticket_picker::ConnectionChoice;
use crate::web::user::WebUser;

pub struct TicketCard {
    pub number: String,
    pub summary: Option<String>,
    pub company: Option<String>,
    /// Only an http(s) address: the PSA's answer must not put a script link in the page.
    pub url: Option<String>,
    pub notice: Option<String>,
    pub push: Option<PushCard>,
}

/// The write-back as the card shows it.
pub struct PushCard {
    /// `pending`, `posted` or `failed`.
    pub status: &'static str,
    pub remote_id: Option<String>,
    pub last_error: Option<String>,
    pub attempts: i64,
    /// A failed push, and a viewer who may retry it.
    pub may_retry: bool,
}

pub struct LinkForm {
    pub connections: Vec<ConnectionChoice>,
}

/// The card and the link form for the page; the form only for the owner of a running session
/// whose account has a connection and whose ticket is not read yet.
pub async fn sidebar(
    state: &AppState,
    s: &Session,
    viewer: &User,
    may_link: bool,
) -> Result<(Option<TicketCard>, Option<LinkForm>), WebError> {
    let link = sessions::ticket::of_session(state, s.id).await?;
    let push = match &link {
        Some(_) => sessions::write_back::push(state, s.id)
            .await?
            .map(|p| PushCard {
                status: p.status.as_str(),
                may_retry: p.status == PushStatus::Failed && viewer.can_work(),
                remote_id: p.remote_id,
                last_error: p.last_error,
                attempts: p.attempts,
            }),
        None => None,
    };
    let card = link.as_ref().map(|l| TicketCard {
        number: l.label().to_string(),
        summary: l.summary.clone(),
        company: l.company.clone(),
        url: l
            .url
            .clone()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
        notice: l.read_error.clone(),
        push,
    });
    let readable = link.as_ref().is_some_and(|l| l.was_read());
    if !may_link || readable || !viewer.can_work() {
        return Ok((card, None));
    }
    let found = connections::list(state, viewer).await?;
    let form = (!found.is_empty()).then(|| LinkForm {
        connections: found
            .iter()
            .enumerate()
            .map(|(i, c)| ConnectionChoice {
                id: c.id.to_string(),
                name: format!("{} ({})", c.name, c.kind.display_name()),
                selected: link.as_ref().map_or(i == 0, |l| l.connection_id == c.id),
            })
            .collect(),
    });
    Ok((card, form))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LinkTicketForm {
    connection_id: String,
    ticket_id: String,
}

pub async fn link(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    CsrfForm(form): CsrfForm<LinkTicketForm>,
) -> Result<Response, WebError> {
    let id = session_id(&raw)?;
    let (Ok(connection_id), ticket_id) = (
        uuid::Uuid::parse_str(form.connection_id.trim()),
        form.ticket_id.trim().to_string(),
    ) else {
        return Err(WebError::BadRequest);
    };
    if ticket_id.is_empty() {
        let message = "Type the ticket's number or id.".to_string();
        return show_with_notice(
            &state,
            &user,
            &csrf,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            message,
        )
        .await;
    }
    let body = LinkTicket {
        connection_id,
        ticket_id,
    };
    match sessions::ticket::link(&state, &user.user, id, body).await {
        Ok(_) => Ok(see_other(&format!("/pilot/{id}"))),
        Err(err @ (ApiError::NotFound | ApiError::Forbidden(_))) => Err(WebError::Api(err)),
        Err(err) => {
            let (status, message) = psa_notice(err)?;
            show_with_notice(&state, &user, &csrf, id, status, message).await
        }
    }
}

/// The retry button of a failed write-back: queued again, then the page (with the push
/// pending); nothing to retry shows the page with a notice saying so.
pub async fn retry_push(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
    CsrfForm(_form): CsrfForm<EmptyForm>,
) -> Result<Response, WebError> {
    let id = session_id(&raw)?;
    match sessions::write_back::retry(&state, &user.user, id).await {
        Ok(_) => Ok(see_other(&format!("/pilot/{id}"))),
        Err(ApiError::Conflict(message)) => {
            show_with_notice(&state, &user, &csrf, id, StatusCode::CONFLICT, message).await
        }
        Err(err) => Err(WebError::Api(err)),
    }
}
