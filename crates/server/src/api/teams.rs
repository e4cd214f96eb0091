use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use domain::ValidationErrors;
use serde::{Deserialize, Serialize};
use store::StoreError;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::api::dto::ErrorBody;
use crate::auth::{AdminUser, CurrentUser};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_teams, create_team))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TeamIn {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamOut {
    pub id: Uuid,
    pub name: String,
}

/// The teams of the caller's account.
#[utoipa::path(get, path = "/teams", tag = "teams", security(("bearer" = [])), responses(
    (status = 200, body = Vec<TeamOut>)))]
pub async fn list_teams(
    State(state): State<AppState>,
    current: CurrentUser,
) -> ApiResult<Json<Vec<TeamOut>>> {
    let teams = state
        .store
        .teams_of_account(current.user.account_id)
        .await?;
    Ok(Json(
        teams
            .into_iter()
            .map(|t| TeamOut {
                id: t.id,
                name: t.name,
            })
            .collect(),
    ))
}

/// Creates a team in the admin's account.
#[utoipa::path(post, path = "/teams", tag = "teams", security(("bearer" = [])), request_body = TeamIn, responses(
    (status = 201, body = TeamOut), (status = 403, body = ErrorBody, description = "Not an account admin"),
    (status = 409, body = ErrorBody, description = "A team with this name exists")))]
pub async fn create_team(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(body): ApiJson<TeamIn>,
) -> ApiResult<(StatusCode, Json<TeamOut>)> {
    let name = body.name.trim();
    let mut errors = ValidationErrors::new();
    errors.check_len(&["name"], name, 1, 200);
    errors.into_result()?;
    match state
        .store
        .create_team(admin.account_id, name, Utc::now())
        .await
    {
        Ok(team) => Ok((
            StatusCode::CREATED,
            Json(TeamOut {
                id: team.id,
                name: team.name,
            }),
        )),
        Err(StoreError::Conflict(_)) => Err(ApiError::Conflict(
            "A team with this name already exists".into(),
        )),
        Err(other) => Err(other.into()),
    }
}
