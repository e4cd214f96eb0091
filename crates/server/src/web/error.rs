//! What a page request can fail with, answered as an HTML page (the API answers JSON).

use askama::Template;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use store::StoreError;

use crate::error::ApiError;
use crate::web::next;
use crate::web::page::{self, Layout};

#[derive(Debug)]
pub enum WebError {
    /// Not signed in: off to the sign-in page, coming back to `next` afterwards.
    SignIn {
        next: String,
    },
    /// The CSRF token or the origin check failed.
    Csrf,
    /// A form body that is not a url-encoded form.
    BadRequest,
    /// A field holds a NUL character, which no text is stored with (see `extract::refuse_nul`).
    NulText,
    TooLarge,
    Api(ApiError),
}

impl WebError {
    pub fn internal(cause: impl Into<String>) -> Self {
        WebError::Api(ApiError::internal(cause))
    }
}

impl From<ApiError> for WebError {
    fn from(err: ApiError) -> Self {
        WebError::Api(err)
    }
}

impl From<crate::web::cookies::BadCookie> for WebError {
    fn from(err: crate::web::cookies::BadCookie) -> Self {
        WebError::Api(ApiError::fault("a cookie could not be set", err))
    }
}

impl From<StoreError> for WebError {
    fn from(err: StoreError) -> Self {
        WebError::Api(err.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    heading: &'static str,
    message: String,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, heading, message) = match self {
            WebError::SignIn { next } => return page::see_other(&next::login_url(&next)),
            WebError::Csrf => (
                StatusCode::FORBIDDEN,
                "This form could not be accepted",
                "It has expired or was sent from another site. Go back, reload the page and try again.".to_string(),
            ),
            WebError::BadRequest => (
                StatusCode::BAD_REQUEST,
                "This form could not be read",
                "Go back, reload the page and try again.".to_string(),
            ),
            WebError::NulText => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "This form holds a character FlowPilot cannot keep",
                "A field contains a NUL character (U+0000), often from text copied out of a binary \
                 file. Remove it and send the form again."
                    .to_string(),
            ),
            WebError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "That was too much text",
                "Shorten what you pasted and try again.".to_string(),
            ),
            WebError::Api(err) => return api_error_page(err),
        };
        page::render(
            status,
            &ErrorPage {
                layout: Layout::bare(heading),
                heading,
                message,
            },
        )
    }
}

fn api_error_page(err: ApiError) -> Response {
    let status = err.status();
    let (heading, message) = match &err {
        ApiError::NotFound => ("Page not found", "There is nothing here.".to_string()),
        ApiError::Forbidden(msg) => ("Not allowed", msg.clone()),
        ApiError::Unavailable(msg) => ("Temporarily unavailable", msg.clone()),
        ApiError::TooManyRequests { retry_after, .. } => (
            "Too many requests",
            format!("Too many attempts, try again in {retry_after} seconds."),
        ),
        ApiError::Internal(cause) => {
            tracing::error!(%cause, "page request failed");
            (
                "Something went wrong",
                "FlowPilot could not finish this request. Try again in a moment.".to_string(),
            )
        }
        other => ("Something went wrong", other.to_string()),
    };
    let mut response = page::render(
        status,
        &ErrorPage {
            layout: Layout::bare(heading),
            heading,
            message,
        },
    );
    if let ApiError::TooManyRequests { retry_after, .. } = err {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(retry_after));
    }
    response
}
