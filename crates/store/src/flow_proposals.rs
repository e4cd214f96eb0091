//! Flow proposals and their evidence (memory.md "The flywheel"). A session's analysis is
//! recorded in one transaction: the proposal is created, or the open one with the same
//! merge key gains the session as evidence; a session already recorded as evidence records
//! nothing, so analysing it again (a retried background entry) changes nothing. A decision
//! is one conditional UPDATE on an open proposal, judged by the rows it changed: of two
//! decisions on one proposal exactly one is recorded.

use chrono::{DateTime, Utc};
use domain::flow::FlowDefinition;
use domain::proposal::{ProposalKind, ProposalStatus};
use uuid::Uuid;

use crate::batch::{Arg, Batch};
use crate::codec::{ms, opt_uuid, time, uuid};
use crate::db::Heat;
use crate::row::Columns;
use crate::{Result, Store, StoreError};

/// What one session's analysis proposes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProposal {
    pub account_id: Uuid,
    pub kind: ProposalKind,
    pub flow_id: Option<Uuid>,
    pub base_version: Option<i64>,
    pub attached_at: Option<String>,
    pub merge_key: String,
    pub definition: FlowDefinition,
    /// The session that is its evidence.
    pub session_id: Uuid,
}

/// A proposal as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowProposal {
    pub id: Uuid,
    pub account_id: Uuid,
    pub kind: ProposalKind,
    pub flow_id: Option<Uuid>,
    pub base_version: Option<i64>,
    pub attached_at: Option<String>,
    pub merge_key: String,
    pub definition: FlowDefinition,
    pub status: ProposalStatus,
    pub reason: Option<String>,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
    pub published_flow_id: Option<Uuid>,
    pub published_version: Option<i64>,
    pub evidence_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One session that is evidence of a proposal, with what a reviewer reads of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposalEvidence {
    pub proposal_id: Uuid,
    pub session_id: Uuid,
    pub title: String,
    pub resolution_summary: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub owner_id: Uuid,
    pub owner_name: String,
    pub added_at: DateTime<Utc>,
}

/// What an admin decided.
#[derive(Debug, Clone, PartialEq)]
pub enum ProposalDecision {
    /// Approved, before anything is published: holds the proposal while it is.
    Approving,
    /// Published as `version` of `flow_id`.
    Published {
        flow_id: Uuid,
        version: i64,
    },
    Rejected {
        reason: String,
    },
}

const COLUMNS: &str = "p.id, p.account_id, p.kind, p.flow_id, p.base_version, p.attached_at, \
    p.merge_key, p.definition, p.status, p.reason, p.decided_by, p.decided_at, \
    p.published_flow_id, p.published_version, p.created_at, p.updated_at, \
    (SELECT COUNT(*) FROM flow_proposal_evidence e WHERE e.proposal_id = p.id) AS evidence_count";

fn opt_time(v: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    v.map(time).transpose()
}

fn proposal_from_row(row: &impl Columns) -> Result<FlowProposal> {
    let kind: String = row.col("kind")?;
    let status: String = row.col("status")?;
    let definition: FlowDefinition = serde_json::from_str(row.col::<&str>("definition")?)
        .map_err(|e| StoreError::Corrupt(format!("proposal definition: {e}")))?;
    Ok(FlowProposal {
        id: uuid(row.col("id")?)?,
        account_id: uuid(row.col("account_id")?)?,
        kind: ProposalKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("proposal kind {kind:?}")))?,
        flow_id: opt_uuid(row.col("flow_id")?)?,
        base_version: row.col("base_version")?,
        attached_at: row.col("attached_at")?,
        merge_key: row.col("merge_key")?,
        definition,
        status: ProposalStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("proposal status {status:?}")))?,
        reason: row.col("reason")?,
        decided_by: opt_uuid(row.col("decided_by")?)?,
        decided_at: opt_time(row.col("decided_at")?)?,
        published_flow_id: opt_uuid(row.col("published_flow_id")?)?,
        published_version: row.col("published_version")?,
        evidence_count: row.col("evidence_count")?,
        created_at: time(row.col("created_at")?)?,
        updated_at: time(row.col("updated_at")?)?,
    })
}

fn evidence_from_row(row: &impl Columns) -> Result<ProposalEvidence> {
    Ok(ProposalEvidence {
        proposal_id: uuid(row.col("proposal_id")?)?,
        session_id: uuid(row.col("session_id")?)?,
        title: row.col("title")?,
        resolution_summary: row.col("resolution_summary")?,
        resolved_at: opt_time(row.col("resolved_at")?)?,
        owner_id: uuid(row.col("user_id")?)?,
        owner_name: row.col("full_name")?,
        added_at: time(row.col("added_at")?)?,
    })
}

const EVIDENCE: &str = "SELECT e.proposal_id, e.session_id, e.created_at AS added_at, s.title, \
    s.resolution_summary, s.resolved_at, s.user_id, u.full_name \
    FROM flow_proposal_evidence e JOIN ai_sessions s ON s.id = e.session_id \
    JOIN users u ON u.id = s.user_id JOIN flow_proposals p ON p.id = e.proposal_id";

impl Store {
    /// Records what a session's analysis proposes: a new proposal, or one more piece of
    /// evidence for the open proposal with the same key (whose document follows the newest
    /// version of the flow its evidence saw). Returns the proposal the session is evidence
    /// of, `None` when it already was evidence before this call.
    pub async fn propose_flow_change(
        &self,
        new: &NewProposal,
        now: DateTime<Utc>,
    ) -> Result<Option<Uuid>> {
        let definition = serde_json::to_string(&new.definition)
            .map_err(|e| StoreError::Corrupt(format!("proposal definition: {e}")))?;
        let mut batch = Batch::new();
        batch.sql(
            "INSERT INTO flow_proposals (id, account_id, kind, flow_id, base_version, \
             attached_at, merge_key, definition, status, created_at, updated_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $9 \
             WHERE NOT EXISTS (SELECT 1 FROM flow_proposal_evidence WHERE session_id = $10) \
             ON CONFLICT (account_id, merge_key) WHERE status = 'open' DO UPDATE SET \
               updated_at = excluded.updated_at, \
               definition = CASE WHEN COALESCE(excluded.base_version, 0) \
                 > COALESCE(flow_proposals.base_version, 0) \
                 THEN excluded.definition ELSE flow_proposals.definition END, \
               base_version = CASE WHEN COALESCE(excluded.base_version, 0) \
                 > COALESCE(flow_proposals.base_version, 0) \
                 THEN excluded.base_version ELSE flow_proposals.base_version END",
            [
                Arg::from(Uuid::new_v4().to_string()),
                Arg::from(new.account_id.to_string()),
                Arg::from(new.kind.as_str()),
                Arg::from(new.flow_id.map(|f| f.to_string())),
                Arg::from(new.base_version),
                Arg::from(new.attached_at.clone()),
                Arg::from(new.merge_key.as_str()),
                Arg::from(definition),
                Arg::from(ms(now)),
                Arg::from(new.session_id.to_string()),
            ],
        );
        batch.sql(
            "INSERT INTO flow_proposal_evidence (proposal_id, session_id, created_at) \
             SELECT id, $1, $2 FROM flow_proposals \
             WHERE account_id = $3 AND merge_key = $4 AND status = 'open' \
             ON CONFLICT DO NOTHING RETURNING proposal_id",
            [
                Arg::from(new.session_id.to_string()),
                Arg::from(ms(now)),
                Arg::from(new.account_id.to_string()),
                Arg::from(new.merge_key.as_str()),
            ],
        );
        let done = self.db.write(batch).await?;
        done.get(1)
            .and_then(|d| d.rows.first())
            .map(|row| uuid(row.col("proposal_id")?))
            .transpose()
    }

    /// The account's proposals in `status`, the most evidence first, then the newest.
    pub async fn flow_proposals(
        &self,
        account_id: Uuid,
        status: ProposalStatus,
    ) -> Result<Vec<FlowProposal>> {
        let rows = self
            .db
            .rows(
                Heat::Cold,
                format!(
                    "SELECT {COLUMNS} FROM flow_proposals p \
                     WHERE p.account_id = $1 AND p.status = $2"
                ),
                [
                    Arg::from(account_id.to_string()),
                    Arg::from(status.as_str()),
                ],
            )
            .await?;
        let mut out = rows
            .iter()
            .map(proposal_from_row)
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| {
            b.evidence_count
                .cmp(&a.evidence_count)
                .then(b.updated_at.cmp(&a.updated_at))
                .then(a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// One proposal of `account_id`; `None` for another account's, as for a missing one.
    pub async fn flow_proposal(&self, account_id: Uuid, id: Uuid) -> Result<Option<FlowProposal>> {
        let row = self
            .db
            .optional(
                Heat::Hot,
                format!(
                    "SELECT {COLUMNS} FROM flow_proposals p WHERE p.id = $1 AND p.account_id = $2"
                ),
                [Arg::from(id.to_string()), Arg::from(account_id.to_string())],
            )
            .await?;
        row.as_ref().map(proposal_from_row).transpose()
    }

    /// The evidence of the account's proposals in `status` (or of the one proposal `only`),
    /// oldest first within each.
    pub async fn proposal_evidence(
        &self,
        account_id: Uuid,
        status: ProposalStatus,
        only: Option<Uuid>,
    ) -> Result<Vec<ProposalEvidence>> {
        let rows = self
            .db
            .rows(
                Heat::Cold,
                format!(
                    "{EVIDENCE} WHERE p.account_id = $1 AND p.status = $2 \
                     AND ($3 = '' OR p.id = $3) ORDER BY e.created_at, e.session_id"
                ),
                [
                    Arg::from(account_id.to_string()),
                    Arg::from(status.as_str()),
                    Arg::from(only.map(|id| id.to_string()).unwrap_or_default()),
                ],
            )
            .await?;
        rows.iter().map(evidence_from_row).collect()
    }

    /// Records a decision on an open proposal (`Approving`, `Rejected`), or what an
    /// approval published (`Published`, on a proposal `by` is approving); `false` when the
    /// proposal was not in the state the decision needs (decided meanwhile).
    pub async fn decide_flow_proposal(
        &self,
        account_id: Uuid,
        id: Uuid,
        decision: &ProposalDecision,
        by: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let keys = [
            Arg::from(id.to_string()),
            Arg::from(account_id.to_string()),
            Arg::from(by.to_string()),
            Arg::from(ms(now)),
        ];
        let (sql, rest): (&str, Vec<Arg>) = match decision {
            ProposalDecision::Approving => (
                "UPDATE flow_proposals SET status = 'approved', decided_by = $3, \
                 decided_at = $4, updated_at = $4 \
                 WHERE id = $1 AND account_id = $2 AND status = 'open'",
                vec![],
            ),
            ProposalDecision::Rejected { reason } => (
                "UPDATE flow_proposals SET status = 'rejected', reason = $5, decided_by = $3, \
                 decided_at = $4, updated_at = $4 \
                 WHERE id = $1 AND account_id = $2 AND status = 'open'",
                vec![Arg::from(reason.as_str())],
            ),
            ProposalDecision::Published { flow_id, version } => (
                "UPDATE flow_proposals SET published_flow_id = $5, published_version = $6, \
                 updated_at = $4 WHERE id = $1 AND account_id = $2 AND status = 'approved' \
                 AND decided_by = $3 AND published_flow_id IS NULL",
                vec![Arg::from(flow_id.to_string()), Arg::from(*version)],
            ),
        };
        let done = self.db.write_one(sql, keys.into_iter().chain(rest)).await?;
        Ok(done.changed == 1)
    }

    /// Gives back an approval that published nothing (the flow moved on, the document was
    /// refused): the proposal is open again, as it was.
    pub async fn reopen_flow_proposal(
        &self,
        account_id: Uuid,
        id: Uuid,
        by: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let done = self
            .db
            .write_one(
                "UPDATE flow_proposals SET status = 'open', decided_by = NULL, \
                 decided_at = NULL, updated_at = $4 WHERE id = $1 AND account_id = $2 \
                 AND status = 'approved' AND decided_by = $3 AND published_flow_id IS NULL",
                [
                    Arg::from(id.to_string()),
                    Arg::from(account_id.to_string()),
                    Arg::from(by.to_string()),
                    Arg::from(ms(now)),
                ],
            )
            .await?;
        Ok(done.changed == 1)
    }
}
