//! `/signup`: a new account and its admin, by the rules of `POST /api/v1/auth/register`
//! (the same checks, password hashing and store call), then signed in.

use std::net::IpAddr;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use domain::{User, ValidationErrors};
use serde::Deserialize;

use crate::auth::accounts;
use crate::client_addr::ClientAddr;
use crate::state::AppState;
use crate::web::csrf::{CsrfForm, CsrfToken};
use crate::web::error::WebError;
use crate::web::fields::{length_message, FieldErrors};
use crate::web::next::{self, AFTER_SIGN_IN};
use crate::web::page::{render, see_other, Layout};
use crate::web::sign_in::sign_in;
use crate::web::user::MaybeUser;

const NAME_MAX: usize = 200;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SignupForm {
    full_name: String,
    account_name: String,
    email: String,
    password: String,
    next: String,
}

/// Deliberately without the password: it is never written back into a page.
#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage {
    layout: Layout,
    open: bool,
    full_name: String,
    account_name: String,
    email: String,
    next: String,
    errors: FieldErrors,
}

fn page(
    status: StatusCode,
    csrf: &CsrfToken,
    open: bool,
    form: SignupForm,
    errors: FieldErrors,
) -> Response {
    render(
        status,
        &SignupPage {
            layout: Layout::new("Create account", csrf, None),
            open,
            full_name: form.full_name,
            account_name: form.account_name,
            email: form.email,
            next: next::local(Some(&form.next)).unwrap_or_default(),
            errors,
        },
    )
}

fn closed(csrf: &CsrfToken) -> Response {
    page(
        StatusCode::FORBIDDEN,
        csrf,
        false,
        SignupForm::default(),
        FieldErrors::default(),
    )
}

pub async fn show(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    csrf: CsrfToken,
    uri: Uri,
) -> Response {
    let next = next::from_query(uri.query());
    if user.is_some() {
        return see_other(next.as_deref().unwrap_or(AFTER_SIGN_IN));
    }
    if !state.settings.allow_signup {
        return closed(&csrf);
    }
    let form = SignupForm {
        next: next.unwrap_or_default(),
        ..SignupForm::default()
    };
    page(StatusCode::OK, &csrf, true, form, FieldErrors::default())
}

pub async fn submit(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    csrf: CsrfToken,
    CsrfForm(form): CsrfForm<SignupForm>,
) -> Result<Response, WebError> {
    if !state.settings.allow_signup {
        return Ok(closed(&csrf));
    }
    let errors = check(&form);
    if !errors.is_empty() {
        return Ok(page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &csrf,
            true,
            form,
            errors,
        ));
    }
    match create_admin(&state, client, &form).await? {
        Some(user) => {
            tracing::info!(user_id = %user.id, account_id = %user.account_id, "account registered from the web");
            sign_in(&state, user, &headers, &form.next).await
        }
        None => {
            let mut errors = FieldErrors::default();
            errors.add(
                "email",
                "An account with this email already exists. Sign in instead.",
            );
            Ok(page(StatusCode::CONFLICT, &csrf, true, form, errors))
        }
    }
}

/// The API's registration rules, worded for people.
fn check(form: &SignupForm) -> FieldErrors {
    let mut rules = ValidationErrors::new();
    rules.check_len(&["full_name"], form.full_name.trim(), 1, NAME_MAX);
    rules.check_len(&["account_name"], form.account_name.trim(), 1, NAME_MAX);
    accounts::check_credentials(&mut rules, &form.email, &form.password);
    let mut errors = FieldErrors::default();
    errors.absorb(
        rules,
        &["full_name", "account_name", "email", "password"],
        |field, kind| match (field, kind) {
            ("full_name", _) => length_message(kind, "Enter your full name.", NAME_MAX),
            ("account_name", _) => length_message(kind, "Enter your company's name.", NAME_MAX),
            ("email", _) => Some("Enter an email address like name@example.com.".into()),
            ("password", "string_too_short") => Some(format!(
                "Use at least {} characters.",
                domain::user::PASSWORD_MIN
            )),
            ("password", "string_too_long") => Some(format!(
                "Use at most {} characters.",
                domain::user::PASSWORD_MAX
            )),
            _ => None,
        },
    );
    errors
}

/// The new admin, or `None` when the email is taken.
async fn create_admin(
    state: &AppState,
    client: IpAddr,
    form: &SignupForm,
) -> Result<Option<User>, WebError> {
    let registration = accounts::Registration {
        client,
        email: &form.email,
        password: form.password.clone(),
        full_name: &form.full_name,
        account_name: &form.account_name,
    };
    Ok(accounts::register(state, registration).await?)
}
