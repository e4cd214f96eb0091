//! `/ai-sessions/{id}/similar` and `/ai-sessions/similar` (memory.md "Similar sessions").

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::dto::ErrorBody;
use crate::auth::WorkingUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{query_value, ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use crate::team_memory::similar::{self, SimilarSession, TEXT_MAX};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SimilarQuery {
    /// How many, best first; default 5.
    #[serde(default, deserialize_with = "query_value::opt_i64")]
    #[param(value_type = Option<i64>, minimum = 1, maximum = 20)]
    pub limit: Option<i64>,
}

/// A problem not started yet.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SimilarIn {
    /// The problem as the engineer would describe it at intake.
    #[schema(min_length = 1, max_length = 10000)]
    pub text: String,
    /// How many, best first; default 5.
    #[schema(minimum = 1, maximum = 20)]
    pub limit: Option<i64>,
}

/// The flow a similar session followed.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarFlow {
    pub id: Uuid,
    pub title: String,
}

/// Why a session is similar.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhySimilar {
    /// Words of this problem the session also has, most distinctive first.
    pub shared_terms: Vec<String>,
    /// It followed the flow this problem follows (or would follow).
    pub same_flow: bool,
    /// Relevance, 0..1; only sessions above a minimum are listed.
    pub score: f64,
}

/// A closed session of the account like this problem: team memory, shown to every engineer
/// and admin of the account. Opening it (`GET /ai-sessions/{id}`) follows the usual rules.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarOut {
    pub id: Uuid,
    pub title: String,
    pub problem_summary: String,
    /// `resolved` or `escalated`.
    pub outcome: String,
    /// What fixed it; null for an escalated session.
    pub fix: Option<String>,
    pub escalation_reason: Option<String>,
    pub flow: Option<SimilarFlow>,
    pub closed_at: DateTime<Utc>,
    /// How long ago it closed, in words ("3 days ago").
    pub age: String,
    /// Who ran it.
    pub owner_name: String,
    pub why: WhySimilar,
}

impl From<SimilarSession> for SimilarOut {
    fn from(s: SimilarSession) -> Self {
        SimilarOut {
            id: s.id,
            title: s.title,
            problem_summary: s.problem_summary,
            outcome: s.outcome.as_str().into(),
            fix: s.fix,
            escalation_reason: s.escalation_reason,
            flow: s.flow.map(|(id, title)| SimilarFlow { id, title }),
            closed_at: s.closed_at,
            age: s.age,
            owner_name: s.owner_name,
            why: WhySimilar {
                shared_terms: s.shared_terms,
                same_flow: s.same_flow,
                score: s.score,
            },
        }
    }
}

/// The account's closed sessions most like this one, best first (never the session itself).
#[utoipa::path(get, path = "/ai-sessions/{id}/similar", tag = "sessions", security(("bearer" = [])),
    params(("id" = Uuid, Path), SimilarQuery), responses((status = 200, body = Vec<SimilarOut>),
    (status = 403, body = ErrorBody, description = "Viewers do not see team memory"),
    (status = 404, body = ErrorBody, description = "No such session, or not visible to this user"),
    (status = 429, body = ErrorBody, description = "Over the read limit")))]
pub async fn similar_to_session(
    State(state): State<AppState>,
    WorkingUser(user): WorkingUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<SimilarQuery>,
) -> ApiResult<Json<Vec<SimilarOut>>> {
    let limit = similar::check_limit(q.limit)?;
    let found = similar::for_session(&state, &user, id, limit).await?;
    Ok(Json(found.into_iter().map(SimilarOut::from).collect()))
}

/// Before a session starts: the account's closed sessions most like a problem, best first.
#[utoipa::path(post, path = "/ai-sessions/similar", tag = "sessions", security(("bearer" = [])),
    request_body = SimilarIn, responses((status = 200, body = Vec<SimilarOut>),
    (status = 403, body = ErrorBody, description = "Viewers do not see team memory"),
    (status = 429, body = ErrorBody, description = "Over the read limit")))]
pub async fn similar_to_text(
    State(state): State<AppState>,
    WorkingUser(user): WorkingUser,
    ApiJson(body): ApiJson<SimilarIn>,
) -> ApiResult<Json<Vec<SimilarOut>>> {
    let mut errors = domain::ValidationErrors::new();
    let text = body.text.trim();
    if text.is_empty() || body.text.chars().count() > TEXT_MAX {
        errors.push(domain::FieldError::body(
            &["text"],
            "Input should have between 1 and 10000 characters",
            "string_too_long",
        ));
    }
    let limit = match similar::check_limit(body.limit) {
        Ok(n) => n,
        Err(_) => {
            errors.push(domain::FieldError::body(
                &["limit"],
                "Input should be between 1 and 20",
                "value_error",
            ));
            0
        }
    };
    errors.into_result().map_err(ApiError::from)?;
    let found = similar::for_text(&state, &user, text, limit).await?;
    Ok(Json(found.into_iter().map(SimilarOut::from).collect()))
}
