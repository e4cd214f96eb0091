//! `/flows/{id}/versions`: every kept version of a flow (memory.md "Versions"), visible to
//! whoever sees the flow.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use domain::flow::{FlowVersion, MarkedNode};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::dto::ErrorBody;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;
use crate::state::AppState;

/// Who published a version.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangedByOut {
    pub id: Uuid,
    /// Null once the user is deleted.
    pub name: Option<String>,
}

/// One version in a flow's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowVersionSummary {
    pub version: i64,
    pub title: String,
    /// Null for the shipped library and the command line.
    pub changed_by: Option<ChangedByOut>,
    pub changed_at: DateTime<Utc>,
    /// The flow proposal this version was approved from.
    pub proposal_id: Option<Uuid>,
    pub why: Option<String>,
    /// How many nodes of this version are still unreviewed.
    pub unreviewed_nodes: usize,
}

/// One version's whole document, with its history entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowVersionOut {
    pub flow_id: Uuid,
    pub version: i64,
    pub changed_by: Option<ChangedByOut>,
    pub changed_at: DateTime<Utc>,
    pub proposal_id: Option<Uuid>,
    pub why: Option<String>,
    pub title: String,
    pub description: String,
    pub domain: String,
    pub tags: Vec<String>,
    /// `published` or `draft`.
    pub status: String,
    pub start: String,
    /// Node id → node, as in `GET /flows/{id}`.
    #[schema(value_type = Object)]
    pub nodes: BTreeMap<String, MarkedNode>,
}

fn changed_by(v: &FlowVersion) -> Option<ChangedByOut> {
    v.changed_by.map(|id| ChangedByOut {
        id,
        name: v.changed_by_name.clone(),
    })
}

impl From<&FlowVersion> for FlowVersionSummary {
    fn from(v: &FlowVersion) -> Self {
        FlowVersionSummary {
            version: v.version,
            title: v.definition.title.clone(),
            changed_by: changed_by(v),
            changed_at: v.changed_at,
            proposal_id: v.proposal_id,
            why: v.why.clone(),
            unreviewed_nodes: v.definition.unreviewed.len(),
        }
    }
}

impl From<FlowVersion> for FlowVersionOut {
    fn from(v: FlowVersion) -> Self {
        let by = changed_by(&v);
        let mut d = v.definition;
        let nodes = d.take_marked_nodes();
        FlowVersionOut {
            flow_id: v.flow_id,
            version: v.version,
            changed_by: by,
            changed_at: v.changed_at,
            proposal_id: v.proposal_id,
            why: v.why,
            title: d.title,
            description: d.description,
            domain: d.domain,
            tags: d.tags,
            status: d.status.as_str().into(),
            start: d.start,
            nodes,
        }
    }
}

/// A flow's versions, newest first: who published each, when, from which proposal, why.
#[utoipa::path(get, path = "/flows/{id}/versions", tag = "flows", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<FlowVersionSummary>),
    (status = 404, body = ErrorBody, description = "No such flow visible to the caller")))]
pub async fn list_versions(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<FlowVersionSummary>>> {
    super::visible(&state, &current.user, id).await?;
    let versions = state.store.flow_versions(id).await?;
    Ok(Json(
        versions.iter().map(FlowVersionSummary::from).collect(),
    ))
}

/// One version of a flow as it was published.
#[utoipa::path(get, path = "/flows/{id}/versions/{n}", tag = "flows", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("n" = i64, Path, minimum = 1, description = "The version")),
    responses((status = 200, body = FlowVersionOut),
    (status = 404, body = ErrorBody, description = "No such flow visible to the caller, or no such version")))]
pub async fn get_version(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath((id, n)): ApiPath<(Uuid, String)>,
) -> ApiResult<Json<FlowVersionOut>> {
    super::visible(&state, &current.user, id).await?;
    // Anything that is not a version number names no version.
    let n: i64 = n.trim().parse().map_err(|_| ApiError::NotFound)?;
    let version = state
        .store
        .flow_version(id, n)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(version.into()))
}
