//! `GET /analytics/gaps` and `GET /analytics/gaps/draft` (memory.md, knowledge gaps).

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::api::dto::ErrorBody;
use crate::api::flows::dto::FlowIn;
use crate::auth::WorkingUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::state::AppState;
use crate::team_memory::gaps::{self, Gap};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_gaps))
        .routes(routes!(draft_from_gap))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GapsParams {
    /// Sessions started at or after this: a date (`2026-11-01`, from its midnight UTC) or an
    /// RFC 3339 time. Default: 30 days before `to`.
    pub from: Option<String>,
    /// Sessions started before this: an RFC 3339 time, or a date (that whole day included).
    /// Default: now. At most 366 days after `from`.
    pub to: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DraftParams {
    /// The range the gap was listed for.
    pub from: Option<String>,
    pub to: Option<String>,
    /// The gap's `topic`, as `GET /analytics/gaps` gave it (needed).
    #[param(min_length = 1, max_length = 300)]
    pub topic: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GapSampleOut {
    pub id: Uuid,
    pub title: String,
    pub problem_summary: String,
    pub status: String,
    pub owner_name: String,
    pub created_at: DateTime<Utc>,
    /// "3 days ago".
    pub age: String,
}

/// Sessions that matched no flow and share a topic.
#[derive(Debug, Serialize, ToSchema)]
pub struct GapOut {
    /// Names the gap for `GET /analytics/gaps/draft`: its label's words joined by `-`.
    pub topic: String,
    /// The label: the words most of its sessions share, most shared first.
    pub label: String,
    pub terms: Vec<String>,
    pub count: usize,
    pub resolved: usize,
    pub escalated: usize,
    /// Still open, or abandoned.
    pub other: usize,
    /// The newest few of its sessions.
    pub samples: Vec<GapSampleOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GapsOut {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Sessions in the range that matched no flow.
    pub unmatched_sessions: usize,
    /// Largest first.
    pub gaps: Vec<GapOut>,
}

impl From<Gap> for GapOut {
    fn from(g: Gap) -> Self {
        GapOut {
            label: g.label(),
            topic: g.topic,
            terms: g.terms,
            count: g.count,
            resolved: g.resolved,
            escalated: g.escalated,
            other: g.other,
            samples: g
                .samples
                .into_iter()
                .map(|s| GapSampleOut {
                    id: s.id,
                    title: s.title,
                    problem_summary: s.problem_summary,
                    status: s.status.as_str().into(),
                    owner_name: s.owner_name,
                    created_at: s.created_at,
                    age: s.age,
                })
                .collect(),
        }
    }
}

/// Knowledge gaps: the sessions started in the range that matched no flow, grouped by topic
/// (an admin's account, an engineer's own sessions).
#[utoipa::path(get, path = "/analytics/gaps", tag = "analytics", security(("bearer" = [])), params(GapsParams), responses(
    (status = 200, body = GapsOut),
    (status = 403, body = ErrorBody, description = "A viewer"),
    (status = 422, body = ErrorBody, description = "A date that does not read, `from` not before `to`, or a range over 366 days"),
    (status = 429, body = ErrorBody, description = "Over the read limit")))]
pub async fn list_gaps(
    State(state): State<AppState>,
    WorkingUser(user): WorkingUser,
    ApiQuery(q): ApiQuery<GapsParams>,
) -> ApiResult<Json<GapsOut>> {
    let (from, to) = gaps::range(q.from.as_deref(), q.to.as_deref(), Utc::now())?;
    let found = gaps::gaps(&state, &user, from, to).await?;
    Ok(Json(GapsOut {
        from,
        to,
        unmatched_sessions: found.iter().map(|g| g.count).sum(),
        gaps: found.into_iter().map(GapOut::from).collect(),
    }))
}

/// "Draft a flow from these": a draft flow document built from a gap's sessions (title from
/// its topic, the steps they took, the fixes they ended with), valid as `POST /flows` takes
/// it. Nothing is saved.
#[utoipa::path(get, path = "/analytics/gaps/draft", tag = "analytics", security(("bearer" = [])), params(DraftParams), responses(
    (status = 200, body = FlowIn),
    (status = 403, body = ErrorBody, description = "A viewer"),
    (status = 404, body = ErrorBody, description = "No gap of that topic in the range"),
    (status = 422, body = ErrorBody, description = "A date that does not read, or a missing topic"),
    (status = 429, body = ErrorBody, description = "Over the read limit")))]
pub async fn draft_from_gap(
    State(state): State<AppState>,
    WorkingUser(user): WorkingUser,
    ApiQuery(q): ApiQuery<DraftParams>,
) -> ApiResult<Json<serde_json::Value>> {
    let (from, to) = gaps::range(q.from.as_deref(), q.to.as_deref(), Utc::now())?;
    let topic = q
        .topic
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.chars().count() <= 300)
        .ok_or_else(|| {
            ApiError::Validation(vec![domain::FieldError::query(
                "topic",
                "Input should be a gap's topic (1 to 300 characters)",
                "missing",
            )])
        })?;
    let (_, flow) = gaps::draft_flow(&state, &user, from, to, topic).await?;
    let body = serde_json::to_value(flow)
        .map_err(|e| ApiError::fault("the drafted flow could not be encoded", e))?;
    Ok(Json(body))
}
