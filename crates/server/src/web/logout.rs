//! `POST /logout`: revokes the session's token and drops the cookie.

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;

use crate::auth::token;
use crate::state::AppState;
use crate::web::cookies;
use crate::web::csrf::CsrfForm;
use crate::web::error::WebError;
use crate::web::page::see_other;

/// The sign-out form has only its CSRF token.
#[derive(Deserialize)]
pub struct NoFields {}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, WebError> {
    if let Some(raw) = cookies::get(&headers, cookies::SESSION).filter(|t| !t.is_empty()) {
        state
            .store
            .revoke_token(&token::digest(raw), Utc::now())
            .await?;
    }
    let mut response = see_other("/");
    response.headers_mut().append(
        SET_COOKIE,
        cookies::clear(cookies::SESSION, cookies::is_https(&headers))?,
    );
    Ok(response)
}
