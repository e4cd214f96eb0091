use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use domain::{Account, FieldError, Plan, ValidationErrors};
use serde::{Deserialize, Serialize};
use store::AccountPatch;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::api::dto::ErrorBody;
use crate::auth::{CurrentUser, SuperAdmin};
use crate::error::ApiResult;
use crate::extract::{double_option, ApiJson, ApiPath};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_account))
        .routes(routes!(update_account))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountOut {
    pub id: Uuid,
    pub name: String,
    /// `free`, `pro`, `team` or `enterprise`.
    pub plan: String,
    /// The account's own daily limit override (null: the plan's).
    pub ai_daily_limit: Option<i64>,
    pub ai_monthly_limit: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl From<Account> for AccountOut {
    fn from(a: Account) -> Self {
        AccountOut {
            id: a.id,
            name: a.name,
            plan: a.plan.as_str().into(),
            ai_daily_limit: a.ai_daily_limit,
            ai_monthly_limit: a.ai_monthly_limit,
            created_at: a.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AccountPatchIn {
    #[schema(value_type = Option<PlanName>)]
    pub plan: Option<Plan>,
    /// null clears the override.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<i64>, minimum = 0)]
    pub ai_daily_limit: Option<Option<i64>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<i64>, minimum = 0)]
    pub ai_monthly_limit: Option<Option<i64>>,
}

/// A plan as the API spells it (documentation only: handlers parse [`Plan`]).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum PlanName {
    Free,
    Pro,
    Team,
    Enterprise,
}

/// The caller's account.
#[utoipa::path(get, path = "/accounts/me", tag = "accounts", security(("bearer" = [])), responses(
    (status = 200, body = AccountOut)))]
pub async fn my_account(
    State(state): State<AppState>,
    current: CurrentUser,
) -> ApiResult<Json<AccountOut>> {
    Ok(Json(
        state.store.account(current.user.account_id).await?.into(),
    ))
}

/// Changes an account's plan and AI limit overrides (super admins only).
#[utoipa::path(patch, path = "/accounts/{id}", tag = "accounts", security(("bearer" = [])), request_body = AccountPatchIn,
    params(("id" = Uuid, Path, description = "Account id")), responses(
    (status = 200, body = AccountOut), (status = 403, body = ErrorBody, description = "Not a super admin")))]
pub async fn update_account(
    State(state): State<AppState>,
    SuperAdmin(admin): SuperAdmin,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<AccountPatchIn>,
) -> ApiResult<Json<AccountOut>> {
    let mut errors = ValidationErrors::new();
    for (name, value) in [
        ("ai_daily_limit", body.ai_daily_limit),
        ("ai_monthly_limit", body.ai_monthly_limit),
    ] {
        if value.flatten().is_some_and(|v| v < 0) {
            errors.push(FieldError::body(
                &[name],
                "Input should be greater than or equal to 0",
                "greater_than_equal",
            ));
        }
    }
    errors.into_result()?;
    let patch = AccountPatch {
        plan: body.plan,
        ai_daily_limit: body.ai_daily_limit,
        ai_monthly_limit: body.ai_monthly_limit,
    };
    let account = state.store.update_account(id, patch).await?;
    tracing::info!(super_admin = %admin.id, account = %account.id, plan = account.plan.as_str(), "account updated");
    Ok(Json(account.into()))
}
