//! `/pilot`: the intake. A valid submission starts a session through the same path as
//! `POST /api/v1/ai-sessions` and lands on the session page.

use askama::Template;
use axum::extract::State;
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
use crate::web::user::WebUser;

/// The limits of `POST /api/v1/ai-sessions` (`intake_content.text` and `.log`).
const TEXT_MAX: usize = 10_000;
const LOG_MAX: usize = 200_000;

/// Named as the API's `intake_content` fields: `text` (required here) and `log` (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct IntakeForm {
    pub text: String,
    pub log: String,
}

impl IntakeForm {
    pub fn normalized(self) -> Self {
        IntakeForm {
            text: text_field(&self.text),
            log: text_field(&self.log),
        }
    }
}

#[derive(Template)]
#[template(path = "pilot.html")]
struct PilotPage {
    layout: Layout,
    text: String,
    log: String,
    errors: FieldErrors,
    notice: Option<String>,
}

fn page(
    status: StatusCode,
    csrf: &CsrfToken,
    user: &WebUser,
    form: IntakeForm,
    errors: FieldErrors,
    notice: Option<String>,
) -> Response {
    render(
        status,
        &PilotPage {
            layout: Layout::new("Pilot", csrf, Some(&user.user)).current("pilot"),
            text: form.text,
            log: form.log,
            errors,
            notice,
        },
    )
}

pub async fn show(user: WebUser, csrf: CsrfToken) -> Response {
    page(
        StatusCode::OK,
        &csrf,
        &user,
        IntakeForm::default(),
        FieldErrors::default(),
        None,
    )
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
        return Ok(page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &csrf,
            &user,
            form,
            errors,
            None,
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
        ));
    }
    let text = form.text.trim().to_string();
    let log = Some(form.log.clone()).filter(|l| !l.trim().is_empty());
    let body = NewSession {
        intake_type: if log.is_some() {
            "combined"
        } else {
            "free_text"
        }
        .into(),
        text: Some(text),
        log,
        title: None,
        ..NewSession::default()
    };
    match sessions::start(&state, &user.user, body).await {
        Ok(started) => Ok(see_other(&format!("/pilot/{}", started.session.id))),
        Err(ApiError::Validation(found)) => {
            let mut errors = FieldErrors::default();
            for e in found {
                let field = if e.loc.iter().any(|l| l.as_str() == Some("log")) {
                    "log"
                } else {
                    "text"
                };
                errors.add(field, e.msg);
            }
            Ok(page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &csrf,
                &user,
                form,
                errors,
                None,
            ))
        }
        Err(err) => {
            // Whatever went wrong, the engineer keeps what they typed.
            let trouble = Trouble::from_api(err)?;
            let notice = trouble.message.clone();
            let response = page(
                trouble.status,
                &csrf,
                &user,
                form,
                FieldErrors::default(),
                Some(notice),
            );
            Ok(trouble.decorate(response))
        }
    }
}

fn check(form: &IntakeForm) -> FieldErrors {
    let mut errors = FieldErrors::default();
    let text = form.text.trim().chars().count();
    if text == 0 {
        errors.add("text", "Describe the problem in a few words.");
    } else if text > TEXT_MAX {
        errors.add("text", format!("Use at most {TEXT_MAX} characters."));
    }
    if form.log.chars().count() > LOG_MAX {
        errors.add("log", format!("Paste at most {LOG_MAX} characters of log."));
    }
    errors
}
