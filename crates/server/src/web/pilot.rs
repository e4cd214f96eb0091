//! `/pilot`: the intake. The form is final; starting a guided session is wired in once the
//! sessions API exists (until then a valid submission is answered with a calm notice).

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use crate::web::csrf::{CsrfForm, CsrfToken};
use crate::web::fields::FieldErrors;
use crate::web::page::{render, Layout};
use crate::web::user::WebUser;

/// The limits of `POST /api/v1/ai-sessions` (`intake_content.text` and `.log`).
const TEXT_MAX: usize = 10_000;
const LOG_MAX: usize = 200_000;

pub const NOT_AVAILABLE: &str = "Guided sessions are not available on this server yet.";

/// Named as the API's `intake_content` fields: `text` (required here) and `log` (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct IntakeForm {
    pub text: String,
    pub log: String,
}

impl IntakeForm {
    /// Browsers send line breaks as CRLF; count and keep them as the single character
    /// `maxlength` counted in the page.
    pub fn normalized(self) -> Self {
        IntakeForm {
            text: self.text.replace("\r\n", "\n"),
            log: self.log.replace("\r\n", "\n"),
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
    user: WebUser,
    csrf: CsrfToken,
    CsrfForm(form): CsrfForm<IntakeForm>,
) -> Response {
    let form = form.normalized();
    let errors = check(&form);
    if !errors.is_empty() {
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &csrf,
            &user,
            form,
            errors,
            None,
        );
    }
    if !user.user.can_work() {
        let notice =
            "Viewers cannot start sessions. Ask an admin of your account for the engineer role.";
        return page(
            StatusCode::FORBIDDEN,
            &csrf,
            &user,
            form,
            errors,
            Some(notice.into()),
        );
    }
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        &csrf,
        &user,
        form,
        errors,
        Some(NOT_AVAILABLE.into()),
    )
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
