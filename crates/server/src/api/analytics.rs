//! `GET /analytics/overview` (memory.md "Flow health and analytics").

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::analytics::{self, Overview};
use crate::api::dto::ErrorBody;
use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::ApiQuery;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(overview))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverviewParams {
    /// Sessions started at or after this: a date (`2026-11-01`, from its midnight UTC) or an
    /// RFC 3339 time. Default: 30 days before `to`.
    pub from: Option<String>,
    /// Sessions started before this: an RFC 3339 time, or a date (that whole day included).
    /// Default: now. At most 366 days after `from`.
    pub to: Option<String>,
    /// Only sessions of this problem domain (`network`, `email_m365`, …).
    #[param(max_length = 100)]
    pub domain: Option<String>,
}

/// Outcomes, time to resolution, coverage, per-node flow health, confidence against outcome
/// and AI cost of the sessions started in the range: an admin's account, an engineer's own.
#[utoipa::path(get, path = "/analytics/overview", tag = "analytics", security(("bearer" = [])), params(OverviewParams), responses(
    (status = 200, body = Overview),
    (status = 403, body = ErrorBody, description = "A viewer"),
    (status = 422, body = ErrorBody, description = "A date that does not read, `from` not before `to`, a range over 366 days, or a domain over 100 characters"),
    (status = 429, body = ErrorBody, description = "Over the read limit")))]
pub async fn overview(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiQuery(q): ApiQuery<OverviewParams>,
) -> ApiResult<Json<Overview>> {
    Ok(Json(
        analytics::overview(
            &state,
            &current.user,
            q.from.as_deref(),
            q.to.as_deref(),
            q.domain.as_deref(),
        )
        .await?,
    ))
}
