use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use chrono::Utc;
use domain::User;

use crate::auth::token;
use crate::error::ApiError;
use crate::state::AppState;

/// The signed-in, active user, from `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    /// Digest of the token that authenticated this request (what logout revokes).
    pub token_digest: String,
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(found) = parts.extensions.get::<CurrentUser>() {
            return Ok(found.clone());
        }
        let token = bearer_token(parts)
            .ok_or_else(|| ApiError::Unauthorized("Not authenticated".into()))?;
        let token_digest = token::digest(token);
        let user = state
            .store
            .user_by_token(&token_digest, Utc::now())
            .await?
            .ok_or_else(|| ApiError::Unauthorized("Invalid, expired or revoked token".into()))?;
        let current = CurrentUser { user, token_digest };
        parts.extensions.insert(current.clone());
        Ok(current)
    }
}

fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A user whose role lets them change things (engineer or admin); viewers get 403.
#[derive(Debug, Clone)]
pub struct WorkingUser(pub User);

impl FromRequestParts<AppState> for WorkingUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let CurrentUser { user, .. } = CurrentUser::from_request_parts(parts, state).await?;
        if user.can_work() {
            Ok(WorkingUser(user))
        } else {
            Err(ApiError::Forbidden("Viewers cannot make changes".into()))
        }
    }
}

/// An account admin.
#[derive(Debug, Clone)]
pub struct AdminUser(pub User);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let CurrentUser { user, .. } = CurrentUser::from_request_parts(parts, state).await?;
        if user.is_admin() {
            Ok(AdminUser(user))
        } else {
            Err(ApiError::Forbidden(
                "Only account admins can do this".into(),
            ))
        }
    }
}

/// An instance operator.
#[derive(Debug, Clone)]
pub struct SuperAdmin(pub User);

impl FromRequestParts<AppState> for SuperAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let CurrentUser { user, .. } = CurrentUser::from_request_parts(parts, state).await?;
        if user.is_super_admin {
            Ok(SuperAdmin(user))
        } else {
            Err(ApiError::Forbidden("Only super admins can do this".into()))
        }
    }
}
