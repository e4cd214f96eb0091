//! `/login`: sign in with email and password, under the same per-IP and per-email attempt
//! limits as `POST /api/v1/auth/login`.

use std::net::IpAddr;

use askama::Template;
use axum::extract::State;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use domain::User;
use serde::Deserialize;

use crate::auth::accounts;
use crate::client_addr::ClientAddr;
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::csrf::{CsrfForm, CsrfToken};
use crate::web::error::WebError;
use crate::web::fields::FieldErrors;
use crate::web::next::{self, AFTER_SIGN_IN};
use crate::web::page::{render, see_other, Layout};
use crate::web::sign_in::sign_in;
use crate::web::user::MaybeUser;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    email: String,
    password: String,
    next: String,
}

/// Deliberately without the password: it is never written back into a page.
#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    email: String,
    next: String,
    errors: FieldErrors,
    alert: Option<String>,
}

fn page(
    status: StatusCode,
    csrf: &CsrfToken,
    form: LoginForm,
    errors: FieldErrors,
    alert: Option<String>,
) -> Response {
    render(
        status,
        &LoginPage {
            layout: Layout::new("Sign in", csrf, None),
            email: form.email,
            next: next::local(Some(&form.next)).unwrap_or_default(),
            errors,
            alert,
        },
    )
}

pub async fn show(MaybeUser(user): MaybeUser, csrf: CsrfToken, uri: Uri) -> Response {
    let next = next::from_query(uri.query());
    if user.is_some() {
        return see_other(next.as_deref().unwrap_or(AFTER_SIGN_IN));
    }
    let form = LoginForm {
        next: next.unwrap_or_default(),
        ..LoginForm::default()
    };
    page(StatusCode::OK, &csrf, form, FieldErrors::default(), None)
}

/// Why a sign-in did not happen.
enum Refusal {
    /// Retry after this many seconds.
    Limited(u64),
    Denied(String),
    Failed(WebError),
}

impl From<ApiError> for Refusal {
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::TooManyRequests { retry_after, .. } => Refusal::Limited(retry_after),
            other => Refusal::Failed(other.into()),
        }
    }
}

pub async fn submit(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    csrf: CsrfToken,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<Response, WebError> {
    let mut errors = FieldErrors::default();
    if form.email.trim().is_empty() {
        errors.add("email", "Enter your email address.");
    }
    if form.password.is_empty() {
        errors.add("password", "Enter your password.");
    }
    if !errors.is_empty() {
        return Ok(page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &csrf,
            form,
            errors,
            None,
        ));
    }
    match authenticate(&state, client, &form).await {
        Ok(user) => sign_in(&state, user, &headers, &form.next).await,
        Err(Refusal::Limited(seconds)) => {
            let alert = format!("Too many attempts, try again in {seconds} seconds.");
            let mut response = page(
                StatusCode::TOO_MANY_REQUESTS,
                &csrf,
                form,
                errors,
                Some(alert),
            );
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
            Ok(response)
        }
        Err(Refusal::Denied(message)) => Ok(page(
            StatusCode::UNAUTHORIZED,
            &csrf,
            form,
            errors,
            Some(message),
        )),
        Err(Refusal::Failed(err)) => Err(err),
    }
}

/// The API's sign-in rules, shared with it.
async fn authenticate(state: &AppState, client: IpAddr, form: &LoginForm) -> Result<User, Refusal> {
    accounts::authenticate(state, client, &form.email, form.password.clone())
        .await
        .map_err(|err| match err {
            ApiError::Unauthorized(message) => Refusal::Denied(format!("{message}.")),
            other => other.into(),
        })
}
