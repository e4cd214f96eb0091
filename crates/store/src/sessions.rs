//! AI sessions and their steps. Every change that must not be half-done is one transaction,
//! and every state change is conditional on the state it starts from, so concurrent requests
//! cannot both win.

use chrono::{DateTime, Utc};
use domain::session::SessionStatus;
use domain::step::StepOutput;
use sqlx::any::AnyRow;
use sqlx::Row;
use uuid::Uuid;

use crate::ai_usage::insert_usage_sql;
use crate::batch::{guarded_values, statement, Arg, Batch};
use crate::codec::{ms, opt_uuid, time, uuid};
use crate::row::Columns;
use crate::sqlite_direct::{query_all, query_first};
use crate::sqlite_writer::SqliteWriter;
use crate::{
    AiUsageRecord, EarlierSteps, QuotaAsk, QuotaGrant, QuotaLimit, Result, Store, StoreError,
};

#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub id: Uuid,
    pub account_id: Uuid,
    pub user_id: Uuid,
    pub title: String,
    pub status: SessionStatus,
    pub intake_type: String,
    pub intake_content: serde_json::Value,
    pub problem_summary: Option<String>,
    pub problem_domain: Option<String>,
    pub confidence_tier: String,
    pub confidence_score: f64,
    pub matched_flow_id: Option<Uuid>,
    pub matched_flow_name: Option<String>,
    pub match_score: Option<f64>,
    pub engine: String,
    pub step_count: i64,
    pub resolution_summary: Option<String>,
    pub escalation_reason: Option<String>,
    pub escalated_to_id: Option<Uuid>,
    pub rating: Option<i64>,
    pub feedback: Option<String>,
    pub documentation: Option<serde_json::Value>,
    pub total_input_tokens: i64,
    pub total_output_tokens: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub escalated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepResponse {
    pub selected_option: Option<String>,
    pub free_text_input: Option<String>,
    pub skipped: bool,
    pub responded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    pub id: Uuid,
    pub session_id: Uuid,
    pub step_order: i64,
    pub output: StepOutput,
    pub engine_state: serde_json::Value,
    pub response: Option<StepResponse>,
    /// The steps before this one, in brief; `None` on steps stored before it was kept.
    pub earlier: Option<EarlierSteps>,
    pub created_at: DateTime<Utc>,
}

/// What answering a step reads: the session, its newest steps in full (oldest first) and the
/// flow library's revision, in one round trip on SQLite.
#[derive(Debug, Clone)]
pub struct SessionWindow {
    pub session: SessionRecord,
    pub steps: Vec<StepRecord>,
    /// Lets the flow catalog tell, without a read of its own, whether its index is current.
    pub flows_revision: i64,
}

/// What answering a step changes on the session.
#[derive(Debug, Clone)]
pub struct StepAdvance {
    pub confidence_tier: String,
    pub confidence_score: f64,
    /// `Some` when the session moved to another flow.
    pub matched_flow: Option<(Uuid, String, f64)>,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub status: Option<SessionStatus>,
    pub escalated_to_me: bool,
    pub skip: i64,
    pub limit: i64,
}

/// Fields a closing transition writes.
#[derive(Debug, Clone, Default)]
pub struct Closing {
    pub resolution_summary: Option<String>,
    pub escalation_reason: Option<String>,
    pub escalated_to_id: Option<Uuid>,
    pub documentation: Option<serde_json::Value>,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

const STEP_COLUMNS: &str = "id, session_id, step_order, output, engine_state, response, \
    responded_at, earlier, created_at";

const SESSION_COLUMNS: &str =
    "id, account_id, user_id, title, status, intake_type, intake_content, \
    problem_summary, problem_domain, confidence_tier, confidence_score, matched_flow_id, \
    matched_flow_name, match_score, engine, step_count, resolution_summary, escalation_reason, \
    escalated_to_id, rating, feedback, documentation, total_input_tokens, total_output_tokens, \
    created_at, updated_at, resolved_at, escalated_at";

/// The newest steps of a session ($1), at most $2, newest first.
fn latest_steps_sql() -> String {
    format!("SELECT {STEP_COLUMNS} FROM ai_steps WHERE session_id = $1 ORDER BY step_order DESC LIMIT $2")
}

/// The session $1 and, as `flows_revision`, the flow library's revision.
fn session_and_revision_sql() -> String {
    format!(
        "SELECT {SESSION_COLUMNS}, \
           (SELECT value FROM revisions WHERE name = 'flows') AS flows_revision \
         FROM ai_sessions WHERE id = $1"
    )
}

fn steps_oldest_first(rows: &[AnyRow]) -> Result<Vec<StepRecord>> {
    rows.iter().rev().map(step_from_row).collect()
}

fn json_col(row: &impl Columns, name: &str) -> Result<serde_json::Value> {
    let text: &str = row.col(name)?;
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
}

fn opt_json_col(row: &impl Columns, name: &str) -> Result<Option<serde_json::Value>> {
    let text: Option<&str> = row.col(name)?;
    text.map(|t| serde_json::from_str(t).map_err(|e| StoreError::Corrupt(format!("{name}: {e}"))))
        .transpose()
}

fn session_from_row(row: &impl Columns) -> Result<SessionRecord> {
    let status: String = row.col("status")?;
    Ok(SessionRecord {
        id: uuid(&row.col::<String>("id")?)?,
        account_id: uuid(&row.col::<String>("account_id")?)?,
        user_id: uuid(&row.col::<String>("user_id")?)?,
        title: row.col("title")?,
        status: SessionStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("status {status:?}")))?,
        intake_type: row.col("intake_type")?,
        intake_content: json_col(row, "intake_content")?,
        problem_summary: row.col("problem_summary")?,
        problem_domain: row.col("problem_domain")?,
        confidence_tier: row.col("confidence_tier")?,
        confidence_score: row.col("confidence_score")?,
        matched_flow_id: opt_uuid(row.col("matched_flow_id")?)?,
        matched_flow_name: row.col("matched_flow_name")?,
        match_score: row.col("match_score")?,
        engine: row.col("engine")?,
        step_count: row.col("step_count")?,
        resolution_summary: row.col("resolution_summary")?,
        escalation_reason: row.col("escalation_reason")?,
        escalated_to_id: opt_uuid(row.col("escalated_to_id")?)?,
        rating: row.col("rating")?,
        feedback: row.col("feedback")?,
        documentation: opt_json_col(row, "documentation")?,
        total_input_tokens: row.col("total_input_tokens")?,
        total_output_tokens: row.col("total_output_tokens")?,
        created_at: time(row.col("created_at")?)?,
        updated_at: time(row.col("updated_at")?)?,
        resolved_at: row
            .col::<Option<i64>>("resolved_at")?
            .map(time)
            .transpose()?,
        escalated_at: row
            .col::<Option<i64>>("escalated_at")?
            .map(time)
            .transpose()?,
    })
}

fn step_from_row(row: &impl Columns) -> Result<StepRecord> {
    // The output (the largest column) is parsed straight into its type, borrowing the row's
    // text, without a JSON tree between.
    let output: StepOutput = serde_json::from_str(row.col::<&str>("output")?)
        .map_err(|e| StoreError::Corrupt(format!("step output: {e}")))?;
    let response = response_from_row(row)?;
    Ok(StepRecord {
        id: uuid(&row.col::<String>("id")?)?,
        session_id: uuid(&row.col::<String>("session_id")?)?,
        step_order: row.col("step_order")?,
        output,
        engine_state: json_col(row, "engine_state")?,
        response,
        earlier: row
            .col::<Option<&str>>("earlier")?
            .map(|text| {
                serde_json::from_str(text)
                    .map_err(|e| StoreError::Corrupt(format!("earlier steps: {e}")))
            })
            .transpose()?,
        created_at: time(row.col("created_at")?)?,
    })
}

/// What the pilots read of a step older than the ones they are given in full: its type, the
/// problem summary and domain it set, and its answer. The rest of the output is not decoded.
#[derive(serde::Deserialize)]
struct OutputDigest {
    #[serde(rename = "type")]
    step_type: domain::step::StepType,
    #[serde(default)]
    problem_summary: Option<String>,
    #[serde(default)]
    problem_domain: Option<String>,
}

fn response_from_row(row: &impl Columns) -> Result<Option<StepResponse>> {
    Ok(match opt_json_col(row, "response")? {
        None => None,
        Some(v) => Some(StepResponse {
            selected_option: v
                .get("selected_option")
                .and_then(|x| x.as_str())
                .map(Into::into),
            free_text_input: v
                .get("free_text_input")
                .and_then(|x| x.as_str())
                .map(Into::into),
            skipped: v.get("skipped").and_then(|x| x.as_bool()).unwrap_or(false),
            responded_at: time(row.col::<Option<i64>>("responded_at")?.unwrap_or_default())?,
        }),
    })
}

fn digest_from_row(row: &impl Columns, session_id: Uuid) -> Result<StepRecord> {
    let digest: OutputDigest = serde_json::from_str(row.col::<&str>("output")?)
        .map_err(|e| StoreError::Corrupt(format!("step output: {e}")))?;
    Ok(StepRecord {
        id: uuid(&row.col::<String>("id")?)?,
        session_id,
        step_order: row.col("step_order")?,
        output: StepOutput::digest(
            digest.step_type,
            digest.problem_summary,
            digest.problem_domain,
        ),
        engine_state: serde_json::Value::Null,
        response: response_from_row(row)?,
        earlier: None,
        created_at: time(row.col("created_at")?)?,
    })
}

/// SQLite: the statements go as one batch with its transaction, each after the answer
/// guarded by `changes()` (the rows the one before it changed), so a step answered
/// meanwhile writes nothing. The single writer connection is held for one round trip
/// instead of one per statement (docs/benchmarks.md).
async fn answer_in_one_batch(
    writer: &SqliteWriter,
    a: &Answering<'_>,
) -> Result<Option<SessionRecord>> {
    let guard = Some("changes() = 1");
    let mut batch = Batch::default();
    let mut statements = vec![a.answer_sql(&mut batch)?, a.advance_sql(&mut batch, guard)?];
    if let Some(step) = a.next {
        statements.push(insert_step_sql(&mut batch, step, guard)?);
    }
    for rec in a.usage {
        statements.push(insert_usage_sql(
            &mut batch,
            rec,
            a.response.responded_at,
            guard,
        )?);
    }
    let rows = writer.batch(statements, batch).await?;
    rows.first().map(session_from_row).transpose()
}

/// `'active', 'paused'`: statuses are a closed set of identifiers, never user input.
fn status_list(statuses: &[SessionStatus]) -> String {
    statuses
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn to_text<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A new session's row. Built like the batches so that every nullable value is bound with
/// its type (see `batch::Arg`), which PostgreSQL needs for a NULL score.
fn insert_session_sql(b: &mut Batch, s: &SessionRecord) -> Result<String> {
    let values = [
        b.arg(s.id.to_string())?,
        b.arg(s.account_id.to_string())?,
        b.arg(s.user_id.to_string())?,
        b.arg(s.title.clone())?,
        b.arg(s.status.as_str())?,
        b.arg(s.intake_type.clone())?,
        b.arg(to_text(&s.intake_content)?)?,
        b.arg(s.problem_summary.clone())?,
        b.arg(s.problem_domain.clone())?,
        b.arg(s.confidence_tier.clone())?,
        b.arg(s.confidence_score)?,
        b.arg(s.matched_flow_id.map(|i| i.to_string()))?,
        b.arg(s.matched_flow_name.clone())?,
        b.arg(s.match_score)?,
        b.arg(s.engine.clone())?,
        b.arg(s.step_count)?,
        b.arg(s.resolution_summary.clone())?,
        b.arg(s.escalation_reason.clone())?,
        b.arg(s.escalated_to_id.map(|i| i.to_string()))?,
        b.arg(s.rating)?,
        b.arg(s.feedback.clone())?,
        b.arg(s.documentation.as_ref().map(to_text).transpose()?)?,
        b.arg(s.total_input_tokens)?,
        b.arg(s.total_output_tokens)?,
        b.arg(ms(s.created_at))?,
        b.arg(ms(s.updated_at))?,
        b.arg(s.resolved_at.map(ms))?,
        b.arg(s.escalated_at.map(ms))?,
    ];
    Ok(format!(
        "INSERT INTO ai_sessions ({SESSION_COLUMNS}) {}",
        guarded_values(&values, None)
    ))
}

/// A step's row; with `guard`, written only when the guard holds.
fn insert_step_sql(b: &mut Batch, step: &StepRecord, guard: Option<&str>) -> Result<String> {
    let values = [
        b.arg(step.id.to_string())?,
        b.arg(step.session_id.to_string())?,
        b.arg(step.step_order)?,
        b.arg(to_text(&step.output)?)?,
        b.arg(to_text(&step.engine_state)?)?,
        b.arg(step.output.confidence)?,
        b.arg(step.earlier.as_ref().map(to_text).transpose()?)?,
        b.arg(ms(step.created_at))?,
    ];
    Ok(format!(
        "INSERT INTO ai_steps (id, session_id, step_order, output, engine_state, \
         confidence_score, earlier, created_at) {}",
        guarded_values(&values, guard)
    ))
}

/// What [`Store::claim_step`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepClaim {
    /// The step is this request's to answer, and the call it asked for is reserved.
    Claimed,
    /// The step is answered, not the latest, its session not active, or another request
    /// holds it. Nothing was counted.
    Taken,
    /// The quota refused the call; the step is not held and nothing was counted.
    OverQuota(QuotaLimit),
}

/// What answering a step writes (see [`Store::answer_step`]).
struct Answering<'a> {
    session_id: Uuid,
    step_id: Uuid,
    response: &'a StepResponse,
    next: Option<&'a StepRecord>,
    advance: &'a StepAdvance,
    usage: &'a [AiUsageRecord],
}

impl Answering<'_> {
    /// The answer, on the step only while it has none.
    fn answer_sql(&self, b: &mut Batch) -> Result<String> {
        let r = self.response;
        let answer = serde_json::json!({
            "selected_option": r.selected_option,
            "free_text_input": r.free_text_input,
            "skipped": r.skipped,
        });
        Ok(format!(
            "UPDATE ai_steps SET response = {}, responded_at = {}, claimed_until = NULL \
             WHERE id = {} AND session_id = {} AND response IS NULL",
            b.arg(to_text(&answer)?)?,
            b.arg(ms(r.responded_at))?,
            b.arg(self.step_id.to_string())?,
            b.arg(self.session_id.to_string())?,
        ))
    }

    /// The session's totals after the step, returning the session.
    fn advance_sql(&self, b: &mut Batch, guard: Option<&str>) -> Result<String> {
        let a = self.advance;
        let (flow_id, flow_name, flow_score) = match &a.matched_flow {
            Some((id, name, score)) => (Some(id.to_string()), Some(name.clone()), Some(*score)),
            None => (None, None, None),
        };
        Ok(format!(
            "UPDATE ai_sessions SET confidence_tier = {}, confidence_score = {}, \
             step_count = step_count + {}, \
             matched_flow_id = COALESCE({}, matched_flow_id), \
             matched_flow_name = COALESCE({}, matched_flow_name), \
             match_score = COALESCE({}, match_score), \
             total_input_tokens = total_input_tokens + {}, \
             total_output_tokens = total_output_tokens + {}, \
             updated_at = {} WHERE id = {}{} RETURNING {SESSION_COLUMNS}",
            b.arg(a.confidence_tier.clone())?,
            b.arg(a.confidence_score)?,
            b.arg(i64::from(self.next.is_some()))?,
            b.arg(flow_id)?,
            b.arg(flow_name)?,
            b.arg(flow_score)?,
            b.arg(a.input_tokens)?,
            b.arg(a.output_tokens)?,
            b.arg(ms(self.response.responded_at))?,
            b.arg(self.session_id.to_string())?,
            guard.map(|g| format!(" AND {g}")).unwrap_or_default(),
        ))
    }
}

impl Store {
    /// Stores a new session with its first step: both or neither.
    pub async fn create_session(&self, s: &SessionRecord, first: &StepRecord) -> Result<()> {
        let mut conn = self.write().await?;
        let mut tx = conn.begin().await?;
        let (sql, args) = statement(|b| insert_session_sql(b, s))?;
        sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        let (sql, args) = statement(|b| insert_step_sql(b, first, None))?;
        sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn session(&self, id: Uuid) -> Result<SessionRecord> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM ai_sessions WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_one(&mut *self.read().await?)
        .await?;
        session_from_row(&row)
    }

    pub async fn steps(&self, session_id: Uuid) -> Result<Vec<StepRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {STEP_COLUMNS} FROM ai_steps WHERE session_id = $1 ORDER BY step_order"
        ))
        .bind(session_id.to_string())
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.iter().map(step_from_row).collect()
    }

    /// The session with its newest `n` steps in full and the flow library's revision
    /// ([`SessionWindow`]): what answering a step reads, so that its cost does not grow with
    /// the session (docs/benchmarks.md). On SQLite the two reads go as one query; each still reads what was
    /// committed when it ran, as two separate reads would.
    pub async fn session_window(&self, id: Uuid, n: i64) -> Result<SessionWindow> {
        if let Some(direct) = &self.direct {
            let (session, steps) = (session_and_revision_sql(), latest_steps_sql());
            return direct.read(|conn| {
                let found = query_first(conn, &session, &[Arg::from(id.to_string())], |r| {
                    Ok((session_from_row(r)?, r.col::<i64>("flows_revision")?))
                })?;
                let (session, flows_revision) = found.ok_or(StoreError::NotFound)?;
                let args = [Arg::from(id.to_string()), n.into()];
                let mut steps = query_all(conn, &steps, &args, |r| step_from_row(r))?;
                steps.reverse();
                Ok(SessionWindow {
                    session,
                    steps,
                    flows_revision,
                })
            });
        }
        let mut conn = self.read().await?;
        let row = sqlx::query(&session_and_revision_sql())
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound)?;
        let steps = sqlx::query(&latest_steps_sql())
            .bind(id.to_string())
            .bind(n)
            .fetch_all(&mut *conn)
            .await?;
        Ok(SessionWindow {
            session: session_from_row(&row)?,
            steps: steps_oldest_first(&steps)?,
            flows_revision: row.try_get("flows_revision")?,
        })
    }

    /// The steps before `step_order` `before`, oldest first, reduced to what a pilot reads of
    /// a step it no longer shows in full: the output's type, problem summary and domain, and
    /// the answer. Every other field of the output is empty (`content`, `options`, …,
    /// `confidence` 0) and `engine_state` is null; these records must not be shown or stored.
    pub async fn step_digests(&self, session_id: Uuid, before: i64) -> Result<Vec<StepRecord>> {
        let rows = sqlx::query(
            "SELECT id, step_order, output, response, responded_at, created_at \
             FROM ai_steps WHERE session_id = $1 AND step_order < $2 ORDER BY step_order",
        )
        .bind(session_id.to_string())
        .bind(before)
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.iter()
            .map(|row| digest_from_row(row, session_id))
            .collect()
    }

    /// Sessions `viewer` may see (their own, those escalated to them, and for admins every
    /// session of the account), newest first, with the total before paging.
    pub async fn list_sessions(
        &self,
        account_id: Uuid,
        viewer: Uuid,
        viewer_is_admin: bool,
        filter: &SessionFilter,
    ) -> Result<(Vec<SessionRecord>, i64)> {
        // Every variant binds the same three parameters in the same order; a clause that does
        // not filter still mentions its parameter (`$2 = $2`) so the binds stay valid.
        let mut clauses = vec!["account_id = $1".to_string()];
        if filter.escalated_to_me {
            clauses.push("escalated_to_id = $2".into());
        } else if !viewer_is_admin {
            clauses.push("(user_id = $2 OR escalated_to_id = $2)".into());
        } else {
            clauses.push("($2 = $2)".into());
        }
        if filter.status.is_some() {
            clauses.push("status = $3".into());
        } else {
            clauses.push("($3 = $3)".into());
        }
        let where_sql = clauses.join(" AND ");
        let status = filter.status.map_or("", |s| s.as_str());
        let total: i64 = sqlx::query(&format!(
            "SELECT COUNT(*) AS n FROM ai_sessions WHERE {where_sql}"
        ))
        .bind(account_id.to_string())
        .bind(viewer.to_string())
        .bind(status)
        .fetch_one(&mut *self.read().await?)
        .await?
        .try_get("n")?;
        let rows = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM ai_sessions WHERE {where_sql} \
             ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5"
        ))
        .bind(account_id.to_string())
        .bind(viewer.to_string())
        .bind(status)
        .bind(filter.limit)
        .bind(filter.skip)
        .fetch_all(&mut *self.read().await?)
        .await?;
        let sessions = rows
            .iter()
            .map(session_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok((sessions, total))
    }

    /// Claims the latest unanswered step of an active session for one request until `until`
    /// and, when `quota` asks for it, reserves the provider call that will produce the next
    /// step. On SQLite both go as one batch, so the single writer connection is held for one
    /// round trip (docs/benchmarks.md).
    pub async fn claim_step(
        &self,
        session_id: Uuid,
        step_id: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        quota: Option<&QuotaAsk>,
    ) -> Result<StepClaim> {
        if let Some(refused) = quota.and_then(QuotaAsk::refused_outright) {
            return Ok(StepClaim::OverQuota(refused));
        }
        let mut batch = Batch::default();
        let claim = format!(
            "UPDATE ai_steps SET claimed_until = {} \
             WHERE id = {} AND session_id = {session} AND response IS NULL \
               AND (claimed_until IS NULL OR claimed_until < {}) \
               AND step_order = (SELECT step_count FROM ai_sessions \
                                 WHERE id = {session} AND status = 'active') \
             RETURNING id",
            batch.arg(ms(until))?,
            batch.arg(step_id.to_string())?,
            batch.arg(ms(now))?,
            session = batch.arg(session_id.to_string())?,
        );
        let grant = match (quota, &self.batches) {
            (None, _) => {
                let rows = sqlx::query_with(&claim, batch.into_args()?)
                    .fetch_all(&mut *self.write().await?)
                    .await?;
                return Ok(if rows.is_empty() {
                    StepClaim::Taken
                } else {
                    StepClaim::Claimed
                });
            }
            (Some(ask), Some(writer)) => {
                let reserve = ask.reserve_sql(&mut batch, Some("changes() = 1"))?;
                let rows = writer.batch(vec![claim, reserve], batch).await?;
                // The claim returns the step's id, the reservation the scopes it took.
                if rows.first().is_none_or(|r| r.col::<&str>("id").is_err()) {
                    return Ok(StepClaim::Taken);
                }
                self.settle_reservation(&ask.keys, &rows[1..]).await?
            }
            (Some(ask), None) => {
                let rows = sqlx::query_with(&claim, batch.into_args()?)
                    .fetch_all(&mut *self.write().await?)
                    .await?;
                if rows.is_empty() {
                    return Ok(StepClaim::Taken);
                }
                let (sql, args) = statement(|b| ask.reserve_sql(b, None))?;
                let taken = sqlx::query_with(&sql, args)
                    .fetch_all(&mut *self.write().await?)
                    .await?;
                self.settle_reservation(&ask.keys, &taken).await?
            }
        };
        match grant {
            QuotaGrant::Granted => Ok(StepClaim::Claimed),
            QuotaGrant::Exhausted(limit) => {
                self.release_step(step_id).await?;
                Ok(StepClaim::OverQuota(limit))
            }
        }
    }

    /// Lets go of a claim after a failure, so the same answer can be sent again.
    pub async fn release_step(&self, step_id: Uuid) -> Result<()> {
        sqlx::query("UPDATE ai_steps SET claimed_until = NULL WHERE id = $1 AND response IS NULL")
            .bind(step_id.to_string())
            .execute(&mut *self.write().await?)
            .await?;
        Ok(())
    }

    /// Records the answer to a claimed step, the next step when there is one, and the ledger
    /// rows of the provider calls that produced it, in one transaction, and returns the
    /// session as it now is. `None` (nothing written) when the step was answered meanwhile.
    pub async fn answer_step(
        &self,
        session_id: Uuid,
        step_id: Uuid,
        response: &StepResponse,
        next: Option<&StepRecord>,
        advance: &StepAdvance,
        usage: &[AiUsageRecord],
    ) -> Result<Option<SessionRecord>> {
        let answering = Answering {
            session_id,
            step_id,
            response,
            next,
            advance,
            usage,
        };
        match &self.batches {
            Some(writer) => answer_in_one_batch(writer, &answering).await,
            None => self.answer_statement_by_statement(&answering).await,
        }
    }

    /// PostgreSQL: one statement at a time in a transaction, stopping when the answer finds
    /// the step already answered.
    async fn answer_statement_by_statement(
        &self,
        a: &Answering<'_>,
    ) -> Result<Option<SessionRecord>> {
        let mut conn = self.write().await?;
        let mut tx = conn.begin().await?;
        let (sql, args) = statement(|b| a.answer_sql(b))?;
        let done = sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        let (sql, args) = statement(|b| a.advance_sql(b, None))?;
        let row = sqlx::query_with(&sql, args).fetch_one(&mut *tx).await?;
        let session = session_from_row(&row)?;
        if let Some(step) = a.next {
            let (sql, args) = statement(|b| insert_step_sql(b, step, None))?;
            sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        }
        for rec in a.usage {
            let at = a.response.responded_at;
            let (sql, args) = statement(|b| insert_usage_sql(b, rec, at, None))?;
            sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(Some(session))
    }

    /// Moves a session from one of `from` to `to`; `false` when its status was not in `from`.
    pub async fn transition_session(
        &self,
        id: Uuid,
        from: &[SessionStatus],
        to: SessionStatus,
        closing: &Closing,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let resolved_at = (to == SessionStatus::Resolved).then(|| ms(now));
        let escalated_at = (to == SessionStatus::Escalated).then(|| ms(now));
        let done = sqlx::query(&format!(
            "UPDATE ai_sessions SET status = $1, updated_at = $2, \
             resolution_summary = COALESCE($3, resolution_summary), \
             escalation_reason = COALESCE($4, escalation_reason), \
             escalated_to_id = COALESCE($5, escalated_to_id), \
             documentation = COALESCE($6, documentation), \
             resolved_at = COALESCE($7, resolved_at), escalated_at = COALESCE($8, escalated_at), \
             total_input_tokens = total_input_tokens + $9, total_output_tokens = total_output_tokens + $10 \
             WHERE id = $11 AND status IN ({})",
            status_list(from)
        ))
        .bind(to.as_str())
        .bind(ms(now))
        .bind(&closing.resolution_summary)
        .bind(&closing.escalation_reason)
        .bind(closing.escalated_to_id.map(|i| i.to_string()))
        .bind(closing.documentation.as_ref().map(to_text).transpose()?)
        .bind(resolved_at)
        .bind(escalated_at)
        .bind(closing.input_tokens)
        .bind(closing.output_tokens)
        .bind(id.to_string())
        .execute(&mut *self.write().await?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Rates a session whose status is one of `from` (rating again overwrites); `false`
    /// when its status is not.
    pub async fn rate_session(
        &self,
        id: Uuid,
        rating: i64,
        feedback: Option<&str>,
        from: &[SessionStatus],
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sqlx::query(&format!(
            "UPDATE ai_sessions SET rating = $1, feedback = $2, updated_at = $3 \
             WHERE id = $4 AND status IN ({})",
            status_list(from)
        ))
        .bind(rating)
        .bind(feedback)
        .bind(ms(now))
        .bind(id.to_string())
        .execute(&mut *self.write().await?)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
