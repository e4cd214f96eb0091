use axum::extract::State;
use axum::Json;
use chrono::Utc;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::quota::{self, QuotaStatus};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ai_quota))
}

/// The caller's AI usage against their limits (null limit: unlimited).
#[utoipa::path(get, path = "/ai-quota", tag = "quota", security(("bearer" = [])), responses(
    (status = 200, body = QuotaStatus)))]
pub async fn ai_quota(
    State(state): State<AppState>,
    current: CurrentUser,
) -> ApiResult<Json<QuotaStatus>> {
    let status = quota::status(&state, &current.user, Utc::now()).await?;
    Ok(Json(status))
}
