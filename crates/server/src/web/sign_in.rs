//! Turning a verified user into a signed-in browser: a new access token (the API's own
//! `accounts::sign_in`) in the session cookie, then on to where they were going.

use axum::http::header::SET_COOKIE;
use axum::http::HeaderMap;
use axum::response::Response;
use domain::User;

use crate::auth::accounts;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::next::{self, AFTER_SIGN_IN};
use crate::web::page::see_other;
use crate::web::{cookies, csrf};

pub async fn sign_in(
    state: &AppState,
    user: User,
    headers: &HeaderMap,
    next: &str,
) -> Result<Response, WebError> {
    let issued = accounts::sign_in(state, user).await?;
    let secure = cookies::is_https(headers);
    let target = next::local(Some(next)).unwrap_or_else(|| AFTER_SIGN_IN.to_string());
    let session = cookies::set(
        cookies::SESSION,
        &issued.token,
        Some(issued.expires_in),
        secure,
    )?;
    // A new CSRF token for the signed-in browser: one planted before sign-in (by a sibling
    // subdomain, say) is worthless afterwards.
    let csrf = cookies::set(cookies::CSRF, &csrf::generate(), None, secure)?;
    let mut response = see_other(&target);
    response.headers_mut().append(SET_COOKIE, session);
    response.headers_mut().append(SET_COOKIE, csrf);
    Ok(response)
}
