//! Failures a page answers in place: the form is shown again with what the engineer typed
//! and a sentence saying what happened, instead of an error page that loses their work.

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

use crate::error::ApiError;
use crate::web::error::WebError;
use crate::web::fields;

#[derive(Debug)]
pub struct Trouble {
    pub status: StatusCode,
    pub message: String,
    retry_after: Option<u64>,
}

impl Trouble {
    /// The failures worth answering in place; anything else (not found, not allowed to see,
    /// a fault of the server) becomes the error page.
    pub fn from_api(err: ApiError) -> Result<Trouble, WebError> {
        let status = err.status();
        let (message, retry_after) = match err {
            ApiError::BadGateway {
                message,
                retry_after,
            } => (
                format!("The AI provider could not answer: {message} What you typed is still here; try again."),
                retry_after,
            ),
            ApiError::TooManyRequests {
                retry_after,
                detail,
            } => {
                // The rate limiter's detail is a sentence; the AI quota's is an object.
                let text = match (detail.as_str(), detail.get("message").and_then(|m| m.as_str())) {
                    (Some(sentence), _) => sentence.to_string(),
                    (None, Some(quota)) => format!(
                        "{quota}: FlowPilot cannot ask the AI for more steps until the limit resets. What you typed is still here."
                    ),
                    (None, None) => format!("Too many requests; try again in {retry_after} seconds."),
                };
                (text, Some(retry_after))
            }
            ApiError::Conflict(message) => (
                format!("{message}. The page now shows where the session stands."),
                None,
            ),
            ApiError::Forbidden(message) | ApiError::Unavailable(message) => (message, None),
            ApiError::Validation(errors) => (
                fields::sentences(errors),
                None,
            ),
            other => return Err(WebError::Api(other)),
        };
        Ok(Trouble {
            status,
            message,
            retry_after,
        })
    }

    /// Adds `Retry-After` when the failure named one.
    pub fn decorate(&self, mut response: Response) -> Response {
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
