//! Fix outcomes and "not relevant" (escalation.md "Fix outcomes"): both answer as `respond`
//! does.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::dto::RespondOut;
use crate::api::dto::ErrorBody;
use crate::auth::WorkingUser;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath};
use crate::sessions as actions;
use crate::sessions::input::{FixReport, NotRelevant};
use crate::state::AppState;

/// How a suggested fix turned out (documentation only: the use case checks the string).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum FixOutcomeName {
    Worked,
    Failed,
    Partial,
    AwaitingVerification,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct OutcomeIn {
    #[schema(value_type = FixOutcomeName)]
    pub outcome: String,
    /// What the engineer saw; for `failed` and `partial` the next step reads it.
    #[schema(max_length = 2000)]
    pub note: Option<String>,
    /// `awaiting_verification` only: when to remind the engineer to record the outcome, in
    /// the future and within 31 days; a day from now when absent.
    pub check_back_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NotRelevantIn {
    /// One line: why the step does not apply.
    #[schema(min_length = 1, max_length = 300)]
    pub reason: String,
}

/// Records how a suggested fix turned out. `worked` resolves the session with that fix (as
/// resolve with `used_suggested_resolution`); `failed` and `partial` on the open fix answer
/// it and return the next step, which knows the fix did not (fully) work; on an earlier fix
/// they are recorded. `awaiting_verification` sets the session to `awaiting_verification`
/// until another outcome is recorded or it is resolved, escalated or resumed; `next_step`
/// is then the fix itself, still open.
#[utoipa::path(post, path = "/ai-sessions/{id}/steps/{step_id}/outcome", tag = "sessions", security(("bearer" = [])),
    request_body = OutcomeIn,
    params(("id" = Uuid, Path), ("step_id" = Uuid, Path)), responses((status = 200, body = RespondOut),
    (status = 403, body = ErrorBody, description = "A viewer, or not the session's owner"),
    (status = 404, body = ErrorBody, description = "No such session visible to this user, or the step is not one of its steps"),
    (status = 409, body = ErrorBody, description = "The session does not allow it (closed, paused), the fix is being answered by another request, or only the open fix can wait for verification"),
    (status = 422, body = ErrorBody, description = "An unknown outcome, a step that is not a resolution_suggestion, or a check_back_at in the past or over 31 days ahead"),
    (status = 429, body = ErrorBody, description = "Over the write limit, or the AI quota is used up"), (status = 502, body = ErrorBody)))]
pub async fn record_outcome(
    State(state): State<AppState>,
    WorkingUser(user): WorkingUser,
    ApiPath((id, step_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<OutcomeIn>,
) -> ApiResult<Json<RespondOut>> {
    let report = FixReport {
        step_id,
        outcome: body.outcome,
        note: body.note,
        check_back_at: body.check_back_at,
    };
    let answered = actions::record_outcome(&state, &user, id, report).await?;
    Ok(Json(answered.into()))
}

/// Marks a step not relevant, with a one-line reason. On the open step it answers it: the
/// next step takes the reason into account. On an earlier step it is recorded, and
/// `next_step` is the open step, if any.
#[utoipa::path(post, path = "/ai-sessions/{id}/steps/{step_id}/not-relevant", tag = "sessions", security(("bearer" = [])),
    request_body = NotRelevantIn,
    params(("id" = Uuid, Path), ("step_id" = Uuid, Path)), responses((status = 200, body = RespondOut),
    (status = 403, body = ErrorBody, description = "A viewer, or not the session's owner"),
    (status = 404, body = ErrorBody, description = "No such session visible to this user, or the step is not one of its steps"),
    (status = 409, body = ErrorBody, description = "The open step is being answered by another request, or the session is paused"),
    (status = 422, body = ErrorBody, description = "A blank reason, more than one line, or over 300 characters"),
    (status = 429, body = ErrorBody, description = "Over the write limit, or the AI quota is used up"), (status = 502, body = ErrorBody)))]
pub async fn mark_not_relevant(
    State(state): State<AppState>,
    WorkingUser(user): WorkingUser,
    ApiPath((id, step_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<NotRelevantIn>,
) -> ApiResult<Json<RespondOut>> {
    let marked = NotRelevant {
        step_id,
        reason: body.reason,
    };
    let answered = actions::not_relevant(&state, &user, id, marked).await?;
    Ok(Json(answered.into()))
}
