//! What team memory reads (memory.md "Similar sessions" and "knowledge gaps"): an account's
//! sessions as the text they are compared by, with who ran them and how they ended. Ranking
//! and grouping happen above the store, in Rust, so both backends give the same answer.

use chrono::{DateTime, Utc};
use domain::session::{Intake, SessionStatus};
use uuid::Uuid;

use crate::batch::{Arg, Batch};
use crate::codec::{ms, opt_uuid, time, uuid};
use crate::db::Heat;
use crate::row::{Columns, OwnedRow};
use crate::{Result, Store, StoreError};

/// A session as team memory shows and compares it.
#[derive(Debug, Clone)]
pub struct RememberedSession {
    pub id: Uuid,
    pub user_id: Uuid,
    /// The owner's full name.
    pub owner_name: String,
    pub title: String,
    pub problem_summary: Option<String>,
    pub problem_domain: Option<String>,
    /// The intake's description (a pasted log is left out: it is long and mostly noise for
    /// telling problems apart).
    pub intake_text: String,
    pub status: SessionStatus,
    pub resolution_summary: Option<String>,
    pub escalation_reason: Option<String>,
    pub matched_flow_id: Option<Uuid>,
    pub matched_flow_name: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When it was resolved or escalated.
    pub closed_at: Option<DateTime<Utc>>,
    /// What the engineer typed along the way (free-text answers and observations), in step
    /// order: their own words about the problem, unlike the options a flow offered.
    pub answers: Vec<String>,
}

/// Which sessions the gaps cover: one account's (or one owner's) sessions that matched no
/// flow, started in `[from, to)`.
#[derive(Debug, Clone)]
pub struct GapScope {
    pub account_id: Uuid,
    pub user_id: Option<Uuid>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

const COLUMNS: &str = "s.id, s.user_id, u.full_name AS owner_name, s.title, s.problem_summary, \
    s.problem_domain, s.intake_content, s.status, s.resolution_summary, s.escalation_reason, \
    s.matched_flow_id, s.matched_flow_name, s.created_at, s.resolved_at, s.escalated_at";

impl Store {
    /// The account's latest `limit` closed (resolved or escalated) sessions, newest closed
    /// first, with their answers: the corpus similar sessions are searched in.
    pub async fn closed_sessions(
        &self,
        account_id: Uuid,
        limit: i64,
    ) -> Result<Vec<RememberedSession>> {
        let picked = "SELECT id FROM ai_sessions WHERE account_id = $1 \
             AND status IN ('resolved', 'escalated') \
             ORDER BY COALESCE(resolved_at, escalated_at) DESC, id DESC LIMIT $2";
        let args = || [Arg::from(account_id.to_string()), Arg::from(limit)];
        let mut batch = Batch::new();
        batch.sql(
            format!(
                "SELECT {COLUMNS} FROM ai_sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.id IN ({picked})"
            ),
            args(),
        );
        batch.sql(
            format!(
                "SELECT session_id, step_order, response, observations FROM ai_steps \
                 WHERE session_id IN ({picked})"
            ),
            args(),
        );
        let mut sessions = self.remembered(batch).await?;
        sessions.sort_by(|a, b| b.closed_at.cmp(&a.closed_at).then(b.id.cmp(&a.id)));
        Ok(sessions)
    }

    /// The sessions of `scope` that matched no flow, oldest first, with their answers.
    pub async fn unmatched_sessions(&self, scope: &GapScope) -> Result<Vec<RememberedSession>> {
        let user = if scope.user_id.is_some() {
            "s.user_id = $4"
        } else {
            "($4 = $4)"
        };
        let cond = format!(
            "s.account_id = $1 AND s.created_at >= $2 AND s.created_at < $3 AND {user} \
             AND s.matched_flow_id IS NULL"
        );
        let args = || {
            [
                Arg::from(scope.account_id.to_string()),
                Arg::from(ms(scope.from)),
                Arg::from(ms(scope.to)),
                Arg::from(scope.user_id.map(|u| u.to_string()).unwrap_or_default()),
            ]
        };
        let mut batch = Batch::new();
        batch.sql(
            format!(
                "SELECT {COLUMNS} FROM ai_sessions s JOIN users u ON u.id = s.user_id WHERE {cond}"
            ),
            args(),
        );
        batch.sql(
            format!(
                "SELECT st.session_id, st.step_order, st.response, st.observations \
                 FROM ai_steps st JOIN ai_sessions s ON s.id = st.session_id WHERE {cond}"
            ),
            args(),
        );
        let mut sessions = self.remembered(batch).await?;
        sessions.sort_by_key(|s| (s.created_at, s.id));
        Ok(sessions)
    }

    /// Runs a batch of (sessions, their steps) and joins the answers onto the sessions.
    async fn remembered(&self, batch: Batch) -> Result<Vec<RememberedSession>> {
        let mut read = self.db.read(Heat::Cold, batch).await?.into_iter();
        let session_rows = read.next().unwrap_or_default();
        let step_rows = read.next().unwrap_or_default();
        let mut sessions = session_rows
            .iter()
            .map(remembered_from_row)
            .collect::<Result<Vec<_>>>()?;
        let mut answers: Vec<(Uuid, i64, Vec<String>)> = step_rows
            .iter()
            .map(answers_from_row)
            .collect::<Result<_>>()?;
        answers.sort_by_key(|(id, order, _)| (*id, *order));
        for s in &mut sessions {
            s.answers = answers
                .iter()
                .filter(|(id, _, _)| *id == s.id)
                .flat_map(|(_, _, a)| a.iter().cloned())
                .collect();
        }
        Ok(sessions)
    }
}

fn remembered_from_row(row: &OwnedRow) -> Result<RememberedSession> {
    let status: String = row.col("status")?;
    let intake: Intake = serde_json::from_str(row.col::<&str>("intake_content")?)
        .map_err(|e| StoreError::Corrupt(format!("intake: {e}")))?;
    let resolved_at = row
        .col::<Option<i64>>("resolved_at")?
        .map(time)
        .transpose()?;
    let escalated_at = row
        .col::<Option<i64>>("escalated_at")?
        .map(time)
        .transpose()?;
    let status = SessionStatus::parse(&status)
        .ok_or_else(|| StoreError::Corrupt(format!("status {status:?}")))?;
    Ok(RememberedSession {
        id: uuid(row.col::<&str>("id")?)?,
        user_id: uuid(row.col::<&str>("user_id")?)?,
        owner_name: row.col("owner_name")?,
        title: row.col("title")?,
        problem_summary: row.col("problem_summary")?,
        problem_domain: row.col("problem_domain")?,
        intake_text: intake.text.unwrap_or_default(),
        closed_at: match status {
            SessionStatus::Resolved => resolved_at.or(escalated_at),
            SessionStatus::Escalated => escalated_at.or(resolved_at),
            _ => None,
        },
        status,
        resolution_summary: row.col("resolution_summary")?,
        escalation_reason: row.col("escalation_reason")?,
        matched_flow_id: opt_uuid(row.col("matched_flow_id")?)?,
        matched_flow_name: row.col("matched_flow_name")?,
        created_at: time(row.col("created_at")?)?,
        answers: Vec::new(),
    })
}

/// A step's free-text answer and observations.
fn answers_from_row(row: &OwnedRow) -> Result<(Uuid, i64, Vec<String>)> {
    let id = uuid(row.col::<&str>("session_id")?)?;
    let order: i64 = row.col("step_order")?;
    let mut said: Vec<String> = serde_json::from_str(row.col::<&str>("observations")?)
        .map_err(|e| StoreError::Corrupt(format!("step observations: {e}")))?;
    if let Some(text) = row.col::<Option<&str>>("response")? {
        let response: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| StoreError::Corrupt(format!("step response: {e}")))?;
        if let Some(free) = response
            .get("free_text_input")
            .and_then(|v| v.as_str())
            .filter(|t| !t.trim().is_empty())
        {
            said.push(free.to_string());
        }
    }
    Ok((id, order, said))
}
