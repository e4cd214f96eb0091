//! The review queue: what admins read of a proposal, and their decisions. Approving claims
//! the proposal first (one conditional UPDATE, so of two approvals one publishes), then
//! publishes; a publish that cannot happen (the flow moved on, the edited document is
//! refused) gives the proposal back, open as it was.

use chrono::Utc;
use domain::flow::{Flow, FlowChange, FlowDefinition};
use domain::proposal::{diff, FlowDiff, ProposalKind, ProposalStatus};
use domain::{FieldError, User, ValidationErrors};
use store::{FlowProposal, ProposalDecision, ProposalEvidence};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// A proposal with what a reviewer needs beside it.
#[derive(Debug, Clone)]
pub struct Review {
    pub proposal: FlowProposal,
    /// The flow as it stands now (branch additions; `None` once deleted).
    pub current: Option<Flow>,
    /// The proposed document against `current` (everything added for a new flow).
    pub change: FlowDiff,
    pub evidence: Vec<ProposalEvidence>,
}

impl Review {
    /// The flow moved on since the proposal was made from it: approving would undo that.
    pub fn is_stale(&self) -> bool {
        match (&self.current, self.proposal.base_version) {
            (Some(flow), Some(base)) => flow.version != base,
            _ => false,
        }
    }

    pub fn flow_title(&self) -> String {
        self.current.as_ref().map_or_else(
            || self.proposal.definition.title.clone(),
            |f| f.definition.title.clone(),
        )
    }
}

fn admin_only(user: &User) -> Result<(), ApiError> {
    if user.is_admin() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "Only account admins review flow proposals".into(),
        ))
    }
}

async fn review_of(
    state: &AppState,
    proposal: FlowProposal,
    evidence: Vec<ProposalEvidence>,
) -> Result<Review, ApiError> {
    let current = match proposal.flow_id {
        Some(id) => state.store.visible_flow(proposal.account_id, id).await?,
        None => None,
    };
    let change = diff(
        current.as_ref().map(|f| &f.definition),
        &proposal.definition,
    );
    Ok(Review {
        proposal,
        current,
        change,
        evidence,
    })
}

/// The account's proposals in `status`, the most evidence first.
pub async fn list(
    state: &AppState,
    user: &User,
    status: ProposalStatus,
) -> Result<Vec<Review>, ApiError> {
    admin_only(user)?;
    let proposals = state.store.flow_proposals(user.account_id, status).await?;
    let mut evidence = state
        .store
        .proposal_evidence(user.account_id, status, None)
        .await?;
    let mut out = Vec::with_capacity(proposals.len());
    for p in proposals {
        let (own, rest): (Vec<_>, Vec<_>) =
            evidence.into_iter().partition(|e| e.proposal_id == p.id);
        evidence = rest;
        out.push(review_of(state, p, own).await?);
    }
    Ok(out)
}

/// One proposal of the caller's account.
pub async fn get(state: &AppState, user: &User, id: Uuid) -> Result<Review, ApiError> {
    admin_only(user)?;
    let proposal = state
        .store
        .flow_proposal(user.account_id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let evidence = state
        .store
        .proposal_evidence(user.account_id, proposal.status, Some(id))
        .await?;
    review_of(state, proposal, evidence).await
}

fn already_decided(p: &FlowProposal) -> ApiError {
    ApiError::Conflict(format!("This proposal was already {}", p.status.as_str()))
}

/// The validator's errors on an edited document, placed under `flow` in the request.
fn under_flow(errors: ValidationErrors) -> ApiError {
    ApiError::Validation(
        errors
            .0
            .into_iter()
            .map(|mut e: FieldError| {
                if e.loc.first().and_then(|l| l.as_str()) == Some("body") {
                    e.loc.insert(1, "flow".into());
                }
                e
            })
            .collect(),
    )
}

/// Approves an open proposal, publishing `edited` when given (an admin's edit of the
/// proposed document) or the proposal's own document: a new version of the flow, or a new
/// flow of the account. 409 when decided before, or when the flow changed since the
/// proposal was made from it; 422 with the validator's errors for a document it refuses.
pub async fn approve(
    state: &AppState,
    user: &User,
    id: Uuid,
    edited: Option<FlowDefinition>,
) -> Result<Review, ApiError> {
    let review = get(state, user, id).await?;
    let p = &review.proposal;
    if p.status != ProposalStatus::Open {
        return Err(already_decided(p));
    }
    let mut document = edited.unwrap_or_else(|| p.definition.clone());
    document.validate().map_err(under_flow)?;
    // An admin approving the change reviews the nodes it adds or changes.
    let current = review.current.as_ref().map(|f| &f.definition);
    let change = diff(current, &document);
    for id in change
        .added_nodes
        .iter()
        .map(|n| &n.id)
        .chain(change.changed_nodes.iter().map(|n| &n.id))
    {
        document.unreviewed.remove(id);
    }
    if review.is_stale() {
        let now = review.current.as_ref().map_or(0, |f| f.version);
        return Err(ApiError::Conflict(format!(
            "The flow changed since this proposal was made (version {} then, {now} now); \
             the next session that finds the same branch brings it up to date",
            p.base_version.unwrap_or_default()
        )));
    }
    let target = match (p.kind, &review.current) {
        (ProposalKind::BranchAddition, None) => {
            return Err(ApiError::Conflict(
                "The flow this proposal changes was deleted; reject it".into(),
            ))
        }
        // Built-in flows are read-only: the change becomes the account's own flow.
        (ProposalKind::BranchAddition, Some(flow)) if flow.account_id.is_some() => Some(flow.id),
        _ => None,
    };
    let now = Utc::now();
    if !state
        .store
        .decide_flow_proposal(
            user.account_id,
            id,
            &ProposalDecision::Approving,
            user.id,
            now,
        )
        .await?
    {
        return Err(ApiError::Conflict(
            "This proposal was decided by someone else meanwhile".into(),
        ));
    }
    let why = format!(
        "Approved flow proposal ({}, {} session{} as evidence)",
        p.kind.as_str().replace('_', " "),
        p.evidence_count,
        if p.evidence_count == 1 { "" } else { "s" }
    );
    let change = FlowChange {
        changed_by: Some(user.id),
        proposal_id: Some(id),
        why: Some(&why),
    };
    let published: Result<Flow, ApiError> = match (target, p.base_version) {
        (Some(flow_id), Some(base)) => state
            .store
            .publish_flow_version(flow_id, base, &document, change, now)
            .await
            .map_err(ApiError::from),
        _ => state
            .store
            .create_flow_with(user.account_id, &document, change, now)
            .await
            .map_err(ApiError::from),
    };
    let flow = match published {
        Ok(flow) => flow,
        Err(err) => {
            if let Err(undo) = state
                .store
                .reopen_flow_proposal(user.account_id, id, user.id, Utc::now())
                .await
            {
                tracing::warn!(%undo, "could not reopen a proposal whose publish failed");
            }
            return Err(err);
        }
    };
    state
        .store
        .decide_flow_proposal(
            user.account_id,
            id,
            &ProposalDecision::Published {
                flow_id: flow.id,
                version: flow.version,
            },
            user.id,
            Utc::now(),
        )
        .await?;
    get(state, user, id).await
}

/// The most a rejection's reason may say.
pub const REASON_MAX: usize = 2000;

/// Rejects an open proposal with a reason; 409 when decided before.
pub async fn reject(
    state: &AppState,
    user: &User,
    id: Uuid,
    reason: &str,
) -> Result<Review, ApiError> {
    let review = get(state, user, id).await?;
    let reason = reason.trim();
    let mut errors = ValidationErrors::new();
    errors.check_len(&["reason"], reason, 1, REASON_MAX);
    errors.into_result()?;
    if review.proposal.status != ProposalStatus::Open {
        return Err(already_decided(&review.proposal));
    }
    let decided = state
        .store
        .decide_flow_proposal(
            user.account_id,
            id,
            &ProposalDecision::Rejected {
                reason: reason.to_string(),
            },
            user.id,
            Utc::now(),
        )
        .await?;
    if !decided {
        return Err(ApiError::Conflict(
            "This proposal was decided by someone else meanwhile".into(),
        ));
    }
    get(state, user, id).await
}
