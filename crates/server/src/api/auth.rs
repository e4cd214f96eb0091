//! Sign-up, sign-in, sign-out and "who am I".

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use domain::ValidationErrors;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::api::dto::{ErrorBody, UserOut};
use crate::auth::{accounts, CurrentUser};
use crate::client_addr::ClientAddr;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterIn {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[schema(min_length = 10, max_length = 128)]
    pub password: String,
    #[schema(min_length = 1, max_length = 200)]
    pub full_name: String,
    #[schema(min_length = 1, max_length = 200)]
    pub account_name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginIn {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthOut {
    pub user: UserOut,
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
}

impl From<accounts::SignedIn> for AuthOut {
    fn from(signed_in: accounts::SignedIn) -> Self {
        AuthOut {
            user: signed_in.user.into(),
            access_token: signed_in.token,
            token_type: "bearer".into(),
            expires_in: signed_in.expires_in,
        }
    }
}

/// Creates an account and its admin, and signs the admin in.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterIn, responses(
    (status = 201, body = AuthOut), (status = 403, body = ErrorBody, description = "Sign-up is closed"),
    (status = 409, body = ErrorBody, description = "The email is taken"),
    (status = 429, body = ErrorBody, description = "Too many sign-ups from this client address; see Retry-After")))]
pub async fn register(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<RegisterIn>,
) -> ApiResult<(StatusCode, Json<AuthOut>)> {
    if !state.settings.allow_signup {
        return Err(ApiError::Forbidden(
            "Sign-up is disabled on this server".into(),
        ));
    }
    let mut errors = ValidationErrors::new();
    accounts::check_credentials(&mut errors, &body.email, &body.password);
    errors.check_len(&["full_name"], body.full_name.trim(), 1, 200);
    errors.check_len(&["account_name"], body.account_name.trim(), 1, 200);
    errors.into_result()?;

    let registration = accounts::Registration {
        client,
        email: &body.email,
        password: body.password,
        full_name: &body.full_name,
        account_name: &body.account_name,
    };
    let Some(user) = accounts::register(&state, registration).await? else {
        return Err(ApiError::Conflict(
            "A user with this email already exists".into(),
        ));
    };
    Ok((
        StatusCode::CREATED,
        Json(accounts::sign_in(&state, user).await?.into()),
    ))
}

/// Signs in with email and password; at most 10 attempts a minute per client IP and per email.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginIn, responses(
    (status = 200, body = AuthOut),
    (status = 401, body = ErrorBody, description = "Unknown email, wrong password or a deactivated user"),
    (status = 429, body = ErrorBody, description = "Too many attempts; see Retry-After")))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<LoginIn>,
) -> ApiResult<Json<AuthOut>> {
    let user = accounts::authenticate(&state, client, &body.email, body.password).await?;
    Ok(Json(accounts::sign_in(&state, user).await?.into()))
}

/// Revokes the token used for this request.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("bearer" = [])), responses(
    (status = 204, description = "Signed out")))]
pub async fn logout(State(state): State<AppState>, current: CurrentUser) -> ApiResult<StatusCode> {
    state
        .store
        .revoke_token(&current.token_digest, Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])), responses(
    (status = 200, body = UserOut)))]
pub async fn me(current: CurrentUser) -> Json<UserOut> {
    Json(current.user.into())
}
