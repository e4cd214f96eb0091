//! `/pilot`: the intake. A valid submission starts a session through the same path as
//! `POST /api/v1/ai-sessions` and lands on the session page. With a PSA connected, the page
//! also picks a ticket to start from (`ticket_picker`): the session is then a `psa_ticket`
//! one, and the description becomes optional.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use crate::error::ApiError;
use crate::sessions;
use crate::sessions::input::NewSession;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::notice::Trouble;

use crate::web::csrf::{CsrfForm, CsrfToken};
use crate::web::fields::{text_field, FieldErrors};
use crate::web::page::{render, see_other, Layout};
use crate::web::ticket_picker::{self, Picker};
use crate::web::user::WebUser;

/// The limits of `POST /api/v1/ai-sessions` (`intake_content.text` and `.log`).
const TEXT_MAX: usize = 10_000;
const LOG_MAX: usize = 200_000;

/// Named as the API's `intake_content` fields: `text` (required unless a ticket is picked),
/// `log` (optional), `connection_id` and `ticket_id` (a picked ticket); `q` is the picker's
/// search, kept so the list comes back with an error.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct IntakeForm {
    pub text: String,
    pub log: String,
    pub connection_id: String,
    pub ticket_id: String,
    pub q: String,
}

impl IntakeForm {
    pub fn normalized(self) -> Self {
        IntakeForm {
            text: text_field(&self.text),
            log: text_field(&self.log),
            ..self
        }
    }

    fn ticket(&self) -> Option<(uuid::Uuid, String)> {
        let connection = uuid::Uuid::parse_str(self.connection_id.trim()).ok()?;
        let ticket = self.ticket_id.trim();
        (!ticket.is_empty()).then(|| (connection, ticket.to_string()))
    }
}

/// The picker's search form: `connection`, `q`; `search` says the form was sent.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PickerQuery {
    connection: String,
    q: String,
    search: String,
}

#[derive(Template)]
#[template(path = "pilot.html")]
struct PilotPage {
    layout: Layout,
    text: String,
    log: String,
    errors: FieldErrors,
    notice: Option<String>,
    picker: Option<Picker>,
    /// The engineer's sessions whose fix waits to be verified (escalation.md).
    waiting: Vec<crate::web::fix_outcome::WaitingRow>,
}

impl PilotPage {
    /// Whether the description is required: unless tickets are offered to pick from.
    fn text_required(&self) -> bool {
        self.picker.as_ref().is_none_or(|p| p.tickets.is_empty())
    }
}

// Each argument is a part of the page the handlers fill differently; a struct would only
// rename them.
#[allow(clippy::too_many_arguments)]
fn page(
    status: StatusCode,
    csrf: &CsrfToken,
    user: &WebUser,
    form: IntakeForm,
    errors: FieldErrors,
    notice: Option<String>,
    picker: Option<Picker>,
    waiting: Vec<crate::web::fix_outcome::WaitingRow>,
) -> Response {
    render(
        status,
        &PilotPage {
            layout: Layout::new("Pilot", csrf, Some(&user.user)).current("pilot"),
            text: form.text,
            log: form.log,
            errors,
            notice,
            picker,
            waiting,
        },
    )
}

/// The picker as the form left it: the same search, the picked ticket still checked.
async fn picker_for(
    state: &AppState,
    user: &WebUser,
    form: &IntakeForm,
) -> Result<Option<Picker>, WebError> {
    let searched = !form.connection_id.is_empty();
    ticket_picker::build(
        state,
        &user.user,
        &form.connection_id,
        &form.q,
        searched,
        &form.ticket_id,
    )
    .await
}

pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Query(q): Query<PickerQuery>,
) -> Result<Response, WebError> {
    let searched = !q.search.is_empty() || !q.q.is_empty();
    let picker = if user.user.can_work() {
        ticket_picker::build(&state, &user.user, &q.connection, &q.q, searched, "").await?
    } else {
        None
    };
    let waiting = crate::web::fix_outcome::waiting_rows(&state, &user).await?;
    Ok(page(
        StatusCode::OK,
        &csrf,
        &user,
        IntakeForm::default(),
        FieldErrors::default(),
        None,
        picker,
        waiting,
    ))
}

pub async fn submit(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    CsrfForm(form): CsrfForm<IntakeForm>,
) -> Result<Response, WebError> {
    let form = form.normalized();
    let errors = check(&form);
    if !errors.is_empty() {
        let picker = picker_for(&state, &user, &form).await?;
        return Ok(page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &csrf,
            &user,
            form,
            errors,
            None,
            picker,
            Vec::new(),
        ));
    }
    if !user.user.can_work() {
        let notice =
            "Viewers cannot start sessions. Ask an admin of your account for the engineer role.";
        return Ok(page(
            StatusCode::FORBIDDEN,
            &csrf,
            &user,
            form,
            errors,
            Some(notice.into()),
            None,
            Vec::new(),
        ));
    }
    let text = Some(form.text.trim().to_string()).filter(|t| !t.is_empty());
    let log = Some(form.log.clone()).filter(|l| !l.trim().is_empty());
    let ticket = form.ticket();
    let intake_type = match (&ticket, &log) {
        (Some(_), _) => "psa_ticket",
        (None, Some(_)) => "combined",
        (None, None) => "free_text",
    };
    let body = NewSession {
        intake_type: intake_type.into(),
        text,
        log,
        title: None,
        connection_id: ticket.as_ref().map(|(c, _)| *c),
        ticket_id: ticket.map(|(_, t)| t),
    };
    match sessions::start(&state, &user.user, body).await {
        Ok(started) => Ok(see_other(&format!("/pilot/{}", started.session.id))),
        Err(ApiError::Validation(found)) => {
            let mut errors = FieldErrors::default();
            for e in found {
                let field = if e.loc.iter().any(|l| l.as_str() == Some("log")) {
                    "log"
                } else if e.loc.iter().any(|l| l.as_str() == Some("ticket_id")) {
                    "ticket"
                } else {
                    "text"
                };
                errors.add(field, e.msg);
            }
            let picker = picker_for(&state, &user, &form).await?;
            Ok(page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &csrf,
                &user,
                form,
                errors,
                None,
                picker,
                Vec::new(),
            ))
        }
        Err(err) => {
            // Whatever went wrong, the engineer keeps what they typed.
            let (status, notice, retry) = match err {
                // Only a connection of another account, or one deleted meanwhile.
                ApiError::NotFound => (
                    StatusCode::NOT_FOUND,
                    "That PSA connection is gone; search the tickets again.".to_string(),
                    None,
                ),
                other => {
                    let trouble = Trouble::from_api(other)?;
                    (trouble.status, trouble.message.clone(), Some(trouble))
                }
            };
            let picker = picker_for(&state, &user, &form).await?;
            let response = page(
                status,
                &csrf,
                &user,
                form,
                FieldErrors::default(),
                Some(notice),
                picker,
                Vec::new(),
            );
            let Some(trouble) = retry else {
                return Ok(response);
            };
            Ok(trouble.decorate(response))
        }
    }
}

fn check(form: &IntakeForm) -> FieldErrors {
    let mut errors = FieldErrors::default();
    let text = form.text.trim().chars().count();
    if text == 0 && form.ticket().is_none() {
        errors.add("text", "Describe the problem in a few words.");
    } else if text > TEXT_MAX {
        errors.add("text", format!("Use at most {TEXT_MAX} characters."));
    }
    if form.log.chars().count() > LOG_MAX {
        errors.add("log", format!("Paste at most {LOG_MAX} characters of log."));
    }
    errors
}
