//! Analysing a closed session: queued as an outbox entry in the resolve's own transaction
//! (so it is never lost and never slows the request), run by the outbox worker, recorded
//! once per session (the store ignores a session that is already evidence).

use chrono::Utc;
use domain::session::Session;
use engine::flywheel::{analyse, Analysis, ClosedSession, WalkedStep};
use store::{NewOutboxEntry, NewProposal, Store, StoreError};
use uuid::Uuid;

/// The outbox kind of a session's analysis.
pub const KIND: &str = "flow_analysis";

/// The entry that has `session` analysed once it is resolved: one per session, whatever
/// retries the resolve sees.
pub fn analysis_entry(session: &Session) -> NewOutboxEntry {
    NewOutboxEntry {
        account_id: session.account_id,
        session_id: Some(session.id),
        kind: KIND.into(),
        payload: serde_json::json!({ "session_id": session.id }),
        idempotency_key: format!("{KIND}:{}", session.id),
    }
}

/// What analysing one session came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Analysed {
    /// Evidence of this proposal (new, or merged into an open one).
    Proposal(Uuid),
    /// It followed its flow to a fix, or taught nothing: nothing to review.
    NoProposal(String),
    /// Analysed before: nothing recorded again.
    AlreadyRecorded,
}

/// Reads the session, its steps and the flow it followed as the flow stands now, and
/// records what the analysis proposes.
pub async fn analyse_session(store: &Store, session_id: Uuid) -> Result<Analysed, StoreError> {
    let session = store.session(session_id).await?;
    let steps = store.steps(session_id).await?;
    let walked: Vec<WalkedStep> = steps.iter().map(WalkedStep::from).collect();
    let flow = match session.matched_flow_id {
        Some(id) => store.visible_flow(session.account_id, id).await?,
        None => None,
    };
    if session.matched_flow_id.is_some() && flow.is_none() {
        return Ok(Analysed::NoProposal(
            "the flow it followed was deleted".into(),
        ));
    }
    let closed = ClosedSession {
        status: session.status,
        resolution_summary: session.resolution_summary.as_deref(),
        title: &session.title,
        problem_summary: session.problem_summary.as_deref(),
        problem_domain: session.problem_domain.as_deref(),
        steps: &walked,
    };
    let proposed = match analyse(&closed, flow.as_ref()) {
        Analysis::Proposal(p) => p,
        Analysis::Reinforcement { .. } => {
            return Ok(Analysed::NoProposal(
                "it followed its flow to a fix (counted in the flow's success rate)".into(),
            ))
        }
        Analysis::Nothing { why } => return Ok(Analysed::NoProposal(why)),
    };
    let new = NewProposal {
        account_id: session.account_id,
        kind: proposed.kind,
        flow_id: proposed.flow_id,
        base_version: proposed.base_version,
        attached_at: proposed.attached_at,
        merge_key: proposed.merge_key,
        definition: proposed.definition,
        session_id,
    };
    Ok(match store.propose_flow_change(&new, Utc::now()).await? {
        Some(id) => Analysed::Proposal(id),
        None => Analysed::AlreadyRecorded,
    })
}
