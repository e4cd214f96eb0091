//! The account's users: list, create and change (admins only for changes).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use domain::user::normalize_email;
use domain::{FieldError, Role, ValidationErrors};
use serde::Deserialize;
use store::{NewUser, StoreError, UserPatch};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::api::dto::{ErrorBody, UserOut};
use crate::auth::{accounts, password, AdminUser, CurrentUser};
use crate::error::{ApiError, ApiResult};
use crate::extract::{double_option, ApiJson, ApiPath};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(update_user))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateUserIn {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[schema(min_length = 10, max_length = 128)]
    pub password: String,
    #[schema(min_length = 1, max_length = 200)]
    pub full_name: String,
    #[schema(value_type = RoleName, example = "engineer")]
    pub role: Role,
    pub team_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateUserIn {
    #[schema(value_type = Option<RoleName>)]
    pub role: Option<Role>,
    pub is_active: Option<bool>,
    /// null removes the user from their team.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub team_id: Option<Option<Uuid>>,
    #[schema(min_length = 1, max_length = 200)]
    pub full_name: Option<String>,
}

/// A role as the API spells it (documentation only: handlers parse [`Role`]).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum RoleName {
    Viewer,
    Engineer,
    Admin,
}

/// The users of the caller's account.
#[utoipa::path(get, path = "/users", tag = "users", security(("bearer" = [])), responses(
    (status = 200, body = Vec<UserOut>)))]
pub async fn list_users(
    State(state): State<AppState>,
    current: CurrentUser,
) -> ApiResult<Json<Vec<UserOut>>> {
    let users = state
        .store
        .users_of_account(current.user.account_id)
        .await?;
    Ok(Json(users.into_iter().map(UserOut::from).collect()))
}

async fn check_team(
    state: &AppState,
    account_id: Uuid,
    team_id: Option<Uuid>,
    errors: &mut ValidationErrors,
) -> ApiResult<()> {
    if let Some(team_id) = team_id {
        if !state.store.team_in_account(account_id, team_id).await? {
            errors.push(FieldError::body(
                &["team_id"],
                "No such team in this account",
                "value_error",
            ));
        }
    }
    Ok(())
}

/// Adds a user to the admin's account.
#[utoipa::path(post, path = "/users", tag = "users", security(("bearer" = [])), request_body = CreateUserIn, responses(
    (status = 201, body = UserOut), (status = 403, body = ErrorBody, description = "Not an account admin"),
    (status = 409, body = ErrorBody, description = "The email is taken")))]
pub async fn create_user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(body): ApiJson<CreateUserIn>,
) -> ApiResult<(StatusCode, Json<UserOut>)> {
    let mut errors = ValidationErrors::new();
    accounts::check_credentials(&mut errors, &body.email, &body.password);
    errors.check_len(&["full_name"], body.full_name.trim(), 1, 200);
    check_team(&state, admin.account_id, body.team_id, &mut errors).await?;
    errors.into_result()?;

    let password_hash = password::hash(body.password).await?;
    let new = NewUser {
        email: normalize_email(&body.email),
        full_name: body.full_name.trim().to_string(),
        password_hash,
        role: body.role,
        team_id: body.team_id,
        is_super_admin: false,
    };
    match state
        .store
        .create_user(admin.account_id, new, Utc::now())
        .await
    {
        Ok(user) => Ok((StatusCode::CREATED, Json(user.into()))),
        Err(StoreError::Conflict(_)) => Err(ApiError::Conflict(
            "A user with this email already exists".into(),
        )),
        Err(other) => Err(other.into()),
    }
}

/// Changes a user of the admin's account. Admins cannot demote or deactivate themselves.
#[utoipa::path(patch, path = "/users/{id}", tag = "users", security(("bearer" = [])), request_body = UpdateUserIn,
    params(("id" = Uuid, Path, description = "User id")), responses(
    (status = 200, body = UserOut), (status = 403, body = ErrorBody, description = "Not an account admin"),
    (status = 422, body = ErrorBody, description = "A field is invalid, or an admin demotes or deactivates themself")))]
pub async fn update_user(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<UpdateUserIn>,
) -> ApiResult<Json<UserOut>> {
    let target = match state.store.user(id).await {
        Ok(user) if user.account_id == admin.account_id => user,
        Ok(_) | Err(StoreError::NotFound) => return Err(ApiError::NotFound),
        Err(other) => return Err(other.into()),
    };
    let mut errors = ValidationErrors::new();
    if target.id == admin.id {
        if body.role.is_some_and(|r| r != Role::Admin) {
            errors.push(FieldError::body(
                &["role"],
                "You cannot demote yourself",
                "value_error",
            ));
        }
        if body.is_active == Some(false) {
            errors.push(FieldError::body(
                &["is_active"],
                "You cannot deactivate yourself",
                "value_error",
            ));
        }
    }
    if let Some(name) = &body.full_name {
        errors.check_len(&["full_name"], name.trim(), 1, 200);
    }
    check_team(
        &state,
        admin.account_id,
        body.team_id.flatten(),
        &mut errors,
    )
    .await?;
    errors.into_result()?;

    let patch = UserPatch {
        role: body.role,
        is_active: body.is_active,
        team_id: body.team_id,
        full_name: body.full_name.map(|n| n.trim().to_string()),
        is_super_admin: None,
    };
    let user = state.store.update_user(target.id, patch).await?;
    tracing::info!(admin = %admin.id, user = %user.id, "user updated");
    Ok(Json(user.into()))
}
