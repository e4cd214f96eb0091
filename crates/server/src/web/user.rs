//! Who is signed in, from the `fp_session` cookie. The same access tokens as the API's
//! bearer tokens, checked the same way (`auth::token::digest`, `Store::user_by_token`).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;
use domain::User;

use crate::auth::token;
use crate::state::AppState;
use crate::web::cookies;
use crate::web::error::WebError;

/// The signed-in, active user; others are sent to the sign-in page and brought back.
#[derive(Debug, Clone)]
pub struct WebUser {
    pub user: User,
}

/// The signed-in user, if any.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<WebUser>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let Some(raw) = cookies::get(&parts.headers, cookies::SESSION).filter(|t| !t.is_empty())
        else {
            return Ok(MaybeUser(None));
        };
        let user = state
            .store
            .user_by_token(&token::digest(raw), Utc::now())
            .await?;
        Ok(MaybeUser(user.map(|user| WebUser { user })))
    }
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        match MaybeUser::from_request_parts(parts, state).await? {
            MaybeUser(Some(user)) => Ok(user),
            MaybeUser(None) => Err(WebError::SignIn {
                next: parts
                    .uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_string(),
            }),
        }
    }
}
