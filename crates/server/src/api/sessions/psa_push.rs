//! The retry button of a session's write-back to its ticket (psa.md "Write-back").

use axum::extract::State;
use axum::Json;
use uuid::Uuid;

use super::dto::PsaPushOut;
use crate::api::dto::ErrorBody;
use crate::auth::WorkingUser;
use crate::error::ApiResult;
use crate::extract::ApiPath;
use crate::sessions::write_back;
use crate::state::AppState;

/// Queues the session's failed write-back again, due now, its attempts counted from zero; a
/// note whose earlier attempt may have landed is looked for on the ticket before it is
/// posted. Answers the push status.
#[utoipa::path(post, path = "/ai-sessions/{id}/psa-push/retry", tag = "sessions", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = PsaPushOut),
    (status = 403, body = ErrorBody, description = "A viewer"),
    (status = 404, body = ErrorBody, description = "The session is not visible to this user"),
    (status = 409, body = ErrorBody, description = "Nothing failed: the write-back is pending or posted, or there is none")))]
pub async fn retry_push(
    State(state): State<AppState>,
    WorkingUser(user): WorkingUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<PsaPushOut>> {
    let push = write_back::retry(&state, &user, id).await?;
    Ok(Json(PsaPushOut::from(&push)))
}
