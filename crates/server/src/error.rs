//! The one error type of the HTTP layer and its mapping to status codes (api.md, "Errors").

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::validation::{FieldError, ValidationErrors};
use serde_json::{json, Value};
use store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("Not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    /// A write carried the version it edits and the object has moved on since (409).
    #[error("This was changed meanwhile: it is now at version {current}, not {expected}")]
    StaleVersion { expected: i64, current: i64 },
    #[error("Request body too large (limit {0} bytes)")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("rate limited")]
    TooManyRequests { retry_after: u64, detail: Value },
    #[error("{message}")]
    BadGateway {
        message: String,
        retry_after: Option<u64>,
    },
    #[error("{0}")]
    Unavailable(String),
    /// A fault of the server itself: logged with its cause, answered with a plain message.
    #[error("internal error: {0}")]
    Internal(Fault),
}

/// What went wrong inside the server, with the error that caused it kept whole, so the log
/// shows the chain (a store error and the database error under it) and not only its top.
#[derive(Debug)]
pub struct Fault {
    what: String,
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)?;
        let mut next: Option<&(dyn std::error::Error + 'static)> = match &self.cause {
            Some(cause) => Some(cause.as_ref()),
            None => None,
        };
        // Many errors print their source in their own message already; say each thing once.
        let mut said = String::new();
        while let Some(err) = next {
            let text = err.to_string();
            if !said.contains(&text) {
                write!(f, ": {text}")?;
            }
            said = text;
            next = err.source();
        }
        Ok(())
    }
}

impl std::error::Error for Fault {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.cause {
            Some(cause) => Some(cause.as_ref()),
            None => None,
        }
    }
}

impl ApiError {
    /// A fault with no error under it: a rule of the server's own that did not hold.
    pub fn internal(what: impl Into<String>) -> Self {
        ApiError::Internal(Fault {
            what: what.into(),
            cause: None,
        })
    }

    /// A fault caused by `cause`, kept for the log.
    pub fn fault(
        what: impl Into<String>,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        ApiError::Internal(Fault {
            what: what.into(),
            cause: Some(cause.into()),
        })
    }

    pub fn forbidden() -> Self {
        ApiError::Forbidden("You do not have permission to do this".into())
    }

    pub fn field(path: &[&str], msg: impl Into<String>, kind: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::body(path, msg, kind)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) | ApiError::StaleVersion { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn detail(&self) -> Value {
        match self {
            ApiError::Validation(errors) => json!(errors),
            ApiError::TooManyRequests { detail, .. } => detail.clone(),
            // The version is named so a client can fetch it, merge and retry.
            ApiError::StaleVersion { current, .. } => json!({
                "msg": self.to_string(),
                "type": "stale_version",
                "current_version": current,
            }),
            ApiError::Internal(_) => json!("Internal server error"),
            other => json!(other.to_string()),
        }
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        ApiError::Validation(errors.0)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => ApiError::NotFound,
            // Handlers that expect a conflict say what it means; this is the fallback, and the
            // constraint's name is the database's business, not the client's.
            StoreError::Conflict(what) => {
                tracing::warn!(constraint = %what, "unexpected conflict");
                ApiError::Conflict("This conflicts with something that already exists".into())
            }
            StoreError::Database(sqlx_err) if is_unavailable(&sqlx_err) => {
                tracing::error!(error = %sqlx_err, "database unavailable");
                ApiError::Unavailable("The database is unavailable; try again shortly".into())
            }
            StoreError::Unavailable(cause) => {
                tracing::error!(%cause, "database unavailable");
                ApiError::Unavailable("The database is unavailable; try again shortly".into())
            }
            other => ApiError::fault("the database failed", other),
        }
    }
}

impl From<store::PublishError> for ApiError {
    fn from(err: store::PublishError) -> Self {
        match err {
            store::PublishError::Stale { expected, current } => {
                ApiError::StaleVersion { expected, current }
            }
            store::PublishError::NotFound => ApiError::NotFound,
            store::PublishError::Store(err) => err.into(),
        }
    }
}

/// A PSA that failed, refused or did not answer is the PSA's failure (502, with its
/// `Retry-After` when it gave one); a key that cannot open the stored credentials is the
/// server's configuration (503). Neither message carries a credential.
impl From<crate::psa::PsaProblem> for ApiError {
    fn from(problem: crate::psa::PsaProblem) -> Self {
        match &problem {
            crate::psa::PsaProblem::Call { source, .. } => ApiError::BadGateway {
                message: problem.to_string(),
                retry_after: source.retry_after(),
            },
            crate::psa::PsaProblem::Secret(err) => {
                tracing::error!(error = %err, "PSA credentials could not be opened");
                ApiError::Unavailable(format!("The PSA connection cannot be used: {err}"))
            }
        }
    }
}

fn is_unavailable(err: &store::SqlxError) -> bool {
    matches!(
        err,
        store::SqlxError::PoolTimedOut | store::SqlxError::PoolClosed | store::SqlxError::Io(_)
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(fault) = &self {
            tracing::error!(error = %fault, "request failed");
        }
        let retry_after = match &self {
            ApiError::TooManyRequests { retry_after, .. } => Some(*retry_after),
            ApiError::BadGateway { retry_after, .. } => *retry_after,
            _ => None,
        };
        let mut response = (status, axum::Json(json!({ "detail": self.detail() }))).into_response();
        let headers = response.headers_mut();
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let ApiError::StaleVersion { current, .. } = &self {
            if let Ok(tag) = HeaderValue::from_str(&format!("\"{current}\"")) {
                headers.insert(header::ETAG, tag);
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use store::StoreError;

    use super::ApiError;

    #[test]
    fn a_fault_keeps_its_whole_cause_for_the_log_and_tells_the_client_nothing() {
        let io = std::io::Error::other("disk went away");
        let err = ApiError::from(StoreError::Database(store::SqlxError::Io(io)));
        // I/O is "unavailable"; a protocol error is a fault with its chain.
        assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
        let err = ApiError::from(StoreError::Database(store::SqlxError::Protocol(
            "unexpected message 'Z'".into(),
        )));
        let ApiError::Internal(fault) = &err else {
            panic!("{err:?}")
        };
        let logged = fault.to_string();
        assert!(logged.starts_with("the database failed: "), "{logged}");
        assert_eq!(
            logged.matches("unexpected message 'Z'").count(),
            1,
            "{logged}"
        );
        assert!(std::error::Error::source(fault).is_some());
        assert_eq!(err.detail(), serde_json::json!("Internal server error"));
    }

    #[test]
    fn a_conflict_nobody_expected_does_not_name_the_constraint() {
        let err = ApiError::from(StoreError::Conflict("users_email_key".into()));
        assert_eq!(err.status(), StatusCode::CONFLICT);
        assert!(!err.to_string().contains("users_email_key"), "{err}");
    }

    #[test]
    fn a_database_that_cannot_answer_for_now_is_a_503_and_other_store_failures_a_500() {
        let status = |err: StoreError| ApiError::from(err).status();
        assert_eq!(
            status(StoreError::Unavailable("database is locked".into())),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(StoreError::Database(store::SqlxError::PoolTimedOut)),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(StoreError::Conflict("users.email".into())),
            StatusCode::CONFLICT
        );
        assert_eq!(
            status(StoreError::Sqlite(std::sync::Arc::new(
                store::SqliteError::InvalidQuery
            ))),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
