//! `/flow-proposals`: the review queue (memory.md "The flywheel"), for account admins.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use domain::flow::FlowDefinition;
use domain::proposal::{FlowDiff, NodeRef, OptionRef, ProposalStatus};
use domain::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::api::dto::ErrorBody;
use crate::api::escalations::PersonOut;
use crate::auth::AdminUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::proposals::review::{self, Review};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_proposals))
        .routes(routes!(get_proposal))
        .routes(routes!(approve_proposal))
        .routes(routes!(reject_proposal))
}

#[allow(non_camel_case_types, dead_code)] // the values as the query spells them
#[derive(ToSchema)]
enum ProposalStatusParam {
    open,
    approved,
    rejected,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `open` (the default), `approved` or `rejected`.
    #[param(value_type = Option<ProposalStatusParam>, inline)]
    pub status: Option<String>,
}

/// A session that is evidence of a proposal.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceOut {
    pub session_id: Uuid,
    pub title: String,
    /// The fix that worked.
    pub resolution_summary: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub owner: PersonOut,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NodeOut {
    pub id: String,
    /// `question`, `action`, `solution` or `escalate`.
    #[serde(rename = "type")]
    pub node_type: String,
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangedNodeOut {
    pub id: String,
    #[serde(rename = "type")]
    pub node_type: String,
    pub text: String,
    /// The node's fields that differ (`text`, `next`, `on_failure`, …).
    pub fields: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OptionOut {
    /// The question node the option belongs to.
    pub node: String,
    pub label: String,
    pub value: String,
    /// The node it leads to.
    pub next: String,
}

/// What the proposed document changes in the flow's current version.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeOut {
    /// Flow fields that differ: `title`, `description`, `domain`, `tags`, `status`, `start`.
    pub fields: Vec<String>,
    pub added_nodes: Vec<NodeOut>,
    pub changed_nodes: Vec<ChangedNodeOut>,
    pub removed_nodes: Vec<NodeOut>,
    pub added_options: Vec<OptionOut>,
    pub changed_options: Vec<OptionOut>,
    pub removed_options: Vec<OptionOut>,
}

fn nodes(list: &[NodeRef]) -> Vec<NodeOut> {
    list.iter()
        .map(|n| NodeOut {
            id: n.id.clone(),
            node_type: n.node_type.clone(),
            text: n.text.clone(),
        })
        .collect()
}

fn options(list: &[OptionRef]) -> Vec<OptionOut> {
    list.iter()
        .map(|o| OptionOut {
            node: o.node.clone(),
            label: o.label.clone(),
            value: o.value.clone(),
            next: o.next.clone(),
        })
        .collect()
}

impl From<&FlowDiff> for ChangeOut {
    fn from(c: &FlowDiff) -> ChangeOut {
        ChangeOut {
            fields: c.fields.clone(),
            added_nodes: nodes(&c.added_nodes),
            changed_nodes: c
                .changed_nodes
                .iter()
                .map(|n| ChangedNodeOut {
                    id: n.id.clone(),
                    node_type: n.node_type.clone(),
                    text: n.text.clone(),
                    fields: n.fields.clone(),
                })
                .collect(),
            removed_nodes: nodes(&c.removed_nodes),
            added_options: options(&c.added_options),
            changed_options: options(&c.changed_options),
            removed_options: options(&c.removed_options),
        }
    }
}

/// A proposal in the review queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProposalOut {
    pub id: Uuid,
    /// `branch_addition` or `new_flow`.
    pub kind: String,
    /// `open`, `approved` or `rejected`.
    pub status: String,
    /// The flow a branch is added to; null for a new flow.
    pub flow_id: Option<Uuid>,
    /// That flow's title, or the new flow's.
    pub flow_title: String,
    /// The version the proposal was made from, and the flow's version now.
    pub base_version: Option<i64>,
    pub current_version: Option<i64>,
    /// The flow changed since the proposal was made: approving answers 409.
    pub stale: bool,
    /// The node the branch hangs from.
    pub attached_at: Option<String>,
    pub merge_key: String,
    pub evidence_count: i64,
    pub evidence: Vec<EvidenceOut>,
    /// The full flow document proposed (flows.md "Format").
    #[schema(value_type = Object)]
    pub proposed_flow: serde_json::Value,
    pub change: ChangeOut,
    /// Why it was rejected.
    pub reason: Option<String>,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
    /// What approving published: the flow and its version.
    pub published_flow_id: Option<Uuid>,
    pub published_version: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ProposalOut {
    fn of(r: &Review) -> ApiResult<ProposalOut> {
        let p = &r.proposal;
        let proposed_flow = serde_json::to_value(&p.definition)
            .map_err(|e| ApiError::fault("writing a proposed flow", e))?;
        Ok(ProposalOut {
            id: p.id,
            kind: p.kind.as_str().into(),
            status: p.status.as_str().into(),
            flow_id: p.flow_id,
            flow_title: r.flow_title(),
            base_version: p.base_version,
            current_version: r.current.as_ref().map(|f| f.version),
            stale: r.is_stale(),
            attached_at: p.attached_at.clone(),
            merge_key: p.merge_key.clone(),
            evidence_count: p.evidence_count,
            evidence: r
                .evidence
                .iter()
                .map(|e| EvidenceOut {
                    session_id: e.session_id,
                    title: e.title.clone(),
                    resolution_summary: e.resolution_summary.clone(),
                    resolved_at: e.resolved_at,
                    owner: PersonOut {
                        id: e.owner_id,
                        full_name: e.owner_name.clone(),
                    },
                })
                .collect(),
            proposed_flow,
            change: ChangeOut::from(&r.change),
            reason: p.reason.clone(),
            decided_by: p.decided_by,
            decided_at: p.decided_at,
            published_flow_id: p.published_flow_id,
            published_version: p.published_version,
            created_at: p.created_at,
            updated_at: p.updated_at,
        })
    }
}

/// A status as the query spells it; `open` when left out.
pub fn status_param(status: Option<&str>) -> ApiResult<ProposalStatus> {
    match status.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(ProposalStatus::Open),
        Some(s) => ProposalStatus::parse(s).ok_or_else(|| {
            ApiError::Validation(vec![FieldError::query(
                "status",
                "Input should be 'open', 'approved' or 'rejected'",
                "enum",
            )])
        }),
    }
}

/// The account's flow proposals in one status, the most evidence first.
#[utoipa::path(get, path = "/flow-proposals", tag = "flow-proposals", security(("bearer" = [])), params(ListParams),
    responses((status = 200, body = Vec<ProposalOut>),
    (status = 403, body = ErrorBody, description = "Not an account admin"),
    (status = 422, body = ErrorBody, description = "An unknown status")))]
pub async fn list_proposals(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    ApiQuery(q): ApiQuery<ListParams>,
) -> ApiResult<Json<Vec<ProposalOut>>> {
    let status = status_param(q.status.as_deref())?;
    let reviews = review::list(&state, &user, status).await?;
    Ok(Json(
        reviews
            .iter()
            .map(ProposalOut::of)
            .collect::<ApiResult<_>>()?,
    ))
}

/// One flow proposal, with its evidence and its change against the flow's current version.
#[utoipa::path(get, path = "/flow-proposals/{id}", tag = "flow-proposals", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = ProposalOut),
    (status = 403, body = ErrorBody, description = "Not an account admin")))]
pub async fn get_proposal(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<ProposalOut>> {
    Ok(Json(ProposalOut::of(
        &review::get(&state, &user, id).await?,
    )?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ApproveIn {
    /// The document to publish instead of the proposed one (an admin's edit of it),
    /// validated like any flow.
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub flow: Option<serde_json::Value>,
}

/// An edited document as a flow definition; 422 naming what does not read.
pub fn edited_flow(value: Option<serde_json::Value>) -> ApiResult<Option<FlowDefinition>> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v).map(Some).map_err(|e| {
            ApiError::field(
                &["flow"],
                format!("Not a flow document: {e}"),
                "value_error",
            )
        }),
    }
}

/// Approves a proposal: publishes it (or the edited document) as a new version of its flow,
/// or as a new flow of the account.
#[utoipa::path(post, path = "/flow-proposals/{id}/approve", tag = "flow-proposals", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ApproveIn, responses((status = 200, body = ProposalOut),
    (status = 403, body = ErrorBody, description = "Not an account admin"),
    (status = 409, body = ErrorBody, description = "Decided already, or the flow changed since the proposal was made"),
    (status = 422, body = ErrorBody, description = "The document is not a valid flow (the validator's errors, under `flow`)")))]
pub async fn approve_proposal(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<ApproveIn>,
) -> ApiResult<Json<ProposalOut>> {
    let edited = edited_flow(body.flow)?;
    let approved = review::approve(&state, &user, id, edited).await?;
    Ok(Json(ProposalOut::of(&approved)?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RejectIn {
    /// Why, for the record.
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

/// Rejects a proposal, with the reason.
#[utoipa::path(post, path = "/flow-proposals/{id}/reject", tag = "flow-proposals", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = RejectIn, responses((status = 200, body = ProposalOut),
    (status = 403, body = ErrorBody, description = "Not an account admin"),
    (status = 409, body = ErrorBody, description = "Decided already")))]
pub async fn reject_proposal(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<RejectIn>,
) -> ApiResult<Json<ProposalOut>> {
    Ok(Json(ProposalOut::of(
        &review::reject(&state, &user, id, &body.reason).await?,
    )?))
}
