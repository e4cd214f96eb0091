//! AI sessions and their steps. Every change that must not be half-done is one transaction,
//! and every state change is conditional on the state it starts from, so concurrent requests
//! cannot both win.

use chrono::{DateTime, Utc};
use domain::documentation::Documentation;
use domain::outcome::{FixOutcome, StepMarks};
use domain::session::{IntakeType, Session, SessionStatus};
use domain::step::{Answer, Response, Step, StepOutput};
use domain::{SessionId, StepId};
use uuid::Uuid;

use crate::ai_usage::insert_usage_sql;
use crate::batch::{values, Arg, Batch};
use crate::codec::{ms, opt_uuid, time, uuid};
use crate::db::Heat;
use crate::outbox::enqueue_sql;
use crate::row::{Columns, OwnedRow};
use crate::{
    AiUsageRecord, NewOutboxEntry, QuotaAsk, QuotaGrant, QuotaLimit, Result, Store, StoreError,
};

/// What answering a step reads: the session, its newest steps in full (oldest first) and the
/// flow library's revision, in one read.
#[derive(Debug, Clone)]
pub struct SessionWindow {
    pub session: Session,
    pub steps: Vec<Step>,
    /// Lets the flow catalog tell, without a read of its own, whether its index is current.
    pub flows_revision: i64,
}

/// What answering a step changes on the session.
#[derive(Debug, Clone)]
pub struct StepAdvance {
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
    pub documentation: Option<Documentation>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// Writes to send out because of this close (a PSA note, a notification): queued in the
    /// same transaction, and only when the session did close.
    pub outbox: Vec<NewOutboxEntry>,
    /// The escalation this close is (escalation.md), written with it.
    pub escalation: Option<domain::escalation::Escalation>,
}

const STEP_COLUMNS: &str = "id, session_id, step_order, output, engine_state, response, \
    responded_at, earlier, observations, clarification, confidence_reasons, created_at, \
    outcome, outcome_note, not_relevant_reason";

const SESSION_COLUMNS: &str =
    "id, account_id, user_id, title, status, intake_type, intake_content, \
    problem_summary, problem_domain, confidence_score, matched_flow_id, \
    matched_flow_name, matched_flow_version, match_score, engine, step_count, \
    resolution_summary, escalation_reason, \
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

fn json_col(row: &impl Columns, name: &str) -> Result<serde_json::Value> {
    let text: &str = row.col(name)?;
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
}

fn opt_json_col(row: &impl Columns, name: &str) -> Result<Option<serde_json::Value>> {
    let text: Option<&str> = row.col(name)?;
    text.map(|t| serde_json::from_str(t).map_err(|e| StoreError::Corrupt(format!("{name}: {e}"))))
        .transpose()
}

fn session_from_row(row: &impl Columns) -> Result<Session> {
    let status: String = row.col("status")?;
    let intake_type: String = row.col("intake_type")?;
    Ok(Session {
        id: uuid(&row.col::<String>("id")?)?,
        account_id: uuid(&row.col::<String>("account_id")?)?,
        user_id: uuid(&row.col::<String>("user_id")?)?,
        title: row.col("title")?,
        status: SessionStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("status {status:?}")))?,
        intake_type: IntakeType::parse(&intake_type)
            .ok_or_else(|| StoreError::Corrupt(format!("intake type {intake_type:?}")))?,
        intake: serde_json::from_str(row.col::<&str>("intake_content")?)
            .map_err(|e| StoreError::Corrupt(format!("intake: {e}")))?,
        problem_summary: row.col("problem_summary")?,
        problem_domain: row.col("problem_domain")?,
        confidence_score: row.col("confidence_score")?,
        matched_flow_id: opt_uuid(row.col("matched_flow_id")?)?,
        matched_flow_name: row.col("matched_flow_name")?,
        matched_flow_version: row.col("matched_flow_version")?,
        match_score: row.col("match_score")?,
        engine: row.col("engine")?,
        step_count: row.col("step_count")?,
        resolution_summary: row.col("resolution_summary")?,
        escalation_reason: row.col("escalation_reason")?,
        escalated_to_id: opt_uuid(row.col("escalated_to_id")?)?,
        rating: row.col("rating")?,
        feedback: row.col("feedback")?,
        documentation: row
            .col::<Option<&str>>("documentation")?
            .map(|text| {
                serde_json::from_str(text)
                    .map_err(|e| StoreError::Corrupt(format!("documentation: {e}")))
            })
            .transpose()?,
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

fn step_from_row(row: &impl Columns) -> Result<Step> {
    // The output (the largest column) is parsed straight into its type, borrowing the row's
    // text, without a JSON tree between.
    let output: StepOutput = serde_json::from_str(row.col::<&str>("output")?)
        .map_err(|e| StoreError::Corrupt(format!("step output: {e}")))?;
    let response = response_from_row(row)?;
    Ok(Step {
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
        observations: strings_col(row, "observations")?,
        clarification: row.col("clarification")?,
        confidence_reasons: strings_col(row, "confidence_reasons")?,
        marks: marks_from_row(row)?,
        created_at: time(row.col("created_at")?)?,
    })
}

fn marks_from_row(row: &impl Columns) -> Result<StepMarks> {
    let outcome = row
        .col::<Option<&str>>("outcome")?
        .map(|o| FixOutcome::parse(o).ok_or_else(|| StoreError::Corrupt(format!("outcome {o:?}"))))
        .transpose()?;
    Ok(StepMarks {
        outcome,
        outcome_note: row.col("outcome_note")?,
        not_relevant: row.col("not_relevant_reason")?,
    })
}

/// A JSON list of strings.
fn strings_col(row: &impl Columns, name: &str) -> Result<Vec<String>> {
    serde_json::from_str(row.col::<&str>(name)?)
        .map_err(|e| StoreError::Corrupt(format!("step {name}: {e}")))
}

fn response_from_row(row: &impl Columns) -> Result<Option<Response>> {
    Ok(match opt_json_col(row, "response")? {
        None => None,
        Some(v) => Some(Response {
            answer: Answer {
                selected_option: v
                    .get("selected_option")
                    .and_then(|x| x.as_str())
                    .map(Into::into),
                free_text_input: v
                    .get("free_text_input")
                    .and_then(|x| x.as_str())
                    .map(Into::into),
                skipped: v.get("skipped").and_then(|x| x.as_bool()).unwrap_or(false),
            },
            responded_at: time(row.col::<Option<i64>>("responded_at")?.unwrap_or_default())?,
        }),
    })
}

/// `'active', 'paused'`: statuses are a closed set of identifiers, never user input.
pub(crate) fn status_list(statuses: &[SessionStatus]) -> String {
    statuses
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn to_text<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A new session's row, built with [`Batch::arg`] so that every nullable value is bound with
/// its type (see `batch::Arg`), which PostgreSQL needs for a NULL score.
pub(crate) fn insert_session_sql(b: &mut Batch, s: &Session) -> Result<String> {
    let placeholders = [
        b.arg(s.id.to_string())?,
        b.arg(s.account_id.to_string())?,
        b.arg(s.user_id.to_string())?,
        b.arg(s.title.clone())?,
        b.arg(s.status.as_str())?,
        b.arg(s.intake_type.as_str())?,
        b.arg(to_text(&s.intake)?)?,
        b.arg(s.problem_summary.clone())?,
        b.arg(s.problem_domain.clone())?,
        b.arg(s.confidence_score)?,
        b.arg(s.matched_flow_id.map(|i| i.to_string()))?,
        b.arg(s.matched_flow_name.clone())?,
        b.arg(s.matched_flow_version)?,
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
        values(&placeholders)
    ))
}

/// A step's row.
pub(crate) fn insert_step_sql(b: &mut Batch, step: &Step) -> Result<String> {
    let placeholders = [
        b.arg(step.id.to_string())?,
        b.arg(step.session_id.to_string())?,
        b.arg(step.step_order)?,
        b.arg(to_text(&step.output)?)?,
        b.arg(to_text(&step.engine_state)?)?,
        b.arg(step.output.confidence)?,
        b.arg(step.earlier.as_ref().map(to_text).transpose()?)?,
        b.arg(to_text(&step.observations)?)?,
        b.arg(to_text(&step.confidence_reasons)?)?,
        b.arg(ms(step.created_at))?,
    ];
    Ok(format!(
        "INSERT INTO ai_steps (id, session_id, step_order, output, engine_state, \
         confidence_score, earlier, observations, confidence_reasons, created_at) {}",
        values(&placeholders)
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
    response: &'a Response,
    next: Option<&'a Step>,
    advance: &'a StepAdvance,
    usage: &'a [AiUsageRecord],
    marks: &'a StepMarks,
}

impl Answering<'_> {
    /// The answer, on the step only while it has none.
    fn answer_sql(&self, b: &mut Batch) -> Result<String> {
        let r = self.response;
        let answer = &r.answer;
        let m = self.marks;
        // COALESCE: an answer without marks keeps what was said of the step before (a fix
        // "waiting to verify" that is then answered another way).
        Ok(format!(
            "UPDATE ai_steps SET response = {}, responded_at = {}, claimed_until = NULL, \
             outcome = COALESCE({}, outcome), outcome_note = COALESCE({}, outcome_note), \
             not_relevant_reason = COALESCE({}, not_relevant_reason) \
             WHERE id = {} AND session_id = {} AND response IS NULL",
            b.arg(to_text(&answer)?)?,
            b.arg(ms(r.responded_at))?,
            b.arg(m.outcome.map(FixOutcome::as_str))?,
            b.arg(m.outcome_note.clone())?,
            b.arg(m.not_relevant.clone())?,
            b.arg(self.step_id.to_string())?,
            b.arg(self.session_id.to_string())?,
        ))
    }

    /// The session's totals after the step, returning the session.
    fn advance_sql(&self, b: &mut Batch) -> Result<String> {
        let a = self.advance;
        let (flow_id, flow_name, flow_score) = match &a.matched_flow {
            Some((id, name, score)) => (Some(id.to_string()), Some(name.clone()), Some(*score)),
            None => (None, None, None),
        };
        Ok(format!(
            "UPDATE ai_sessions SET confidence_score = {}, \
             step_count = step_count + {}, \
             matched_flow_id = COALESCE({}, matched_flow_id), \
             matched_flow_name = COALESCE({}, matched_flow_name), \
             matched_flow_version = COALESCE((SELECT version FROM flows WHERE id = {}), \
                                             matched_flow_version), \
             match_score = COALESCE({}, match_score), \
             total_input_tokens = total_input_tokens + {}, \
             total_output_tokens = total_output_tokens + {}, \
             updated_at = {} WHERE id = {} RETURNING {SESSION_COLUMNS}",
            b.arg(a.confidence_score)?,
            b.arg(i64::from(self.next.is_some()))?,
            b.arg(flow_id.clone())?,
            b.arg(flow_name)?,
            // A session moved to another flow follows that flow's version as it is now.
            b.arg(flow_id)?,
            b.arg(flow_score)?,
            b.arg(a.input_tokens)?,
            b.arg(a.output_tokens)?,
            b.arg(ms(self.response.responded_at))?,
            b.arg(self.session_id.to_string())?,
        ))
    }
}

impl Store {
    /// Stores a new session with its first step: both or neither.
    pub async fn create_session(&self, s: &Session, first: &Step) -> Result<()> {
        let mut batch = Batch::new();
        batch.push(|b| insert_session_sql(b, s))?;
        batch.push(|b| insert_step_sql(b, first))?;
        self.db.write(batch).await?;
        Ok(())
    }

    pub async fn session(&self, id: Uuid) -> Result<Session> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM ai_sessions WHERE id = $1");
        let row = self
            .db
            .one(Heat::Hot, sql, [Arg::from(id.to_string())])
            .await?;
        session_from_row(&row)
    }

    pub async fn steps(&self, session_id: Uuid) -> Result<Vec<Step>> {
        let sql = format!(
            "SELECT {STEP_COLUMNS} FROM ai_steps WHERE session_id = $1 ORDER BY step_order"
        );
        let rows = self
            .db
            .rows(Heat::Cold, sql, [Arg::from(session_id.to_string())])
            .await?;
        rows.iter().map(step_from_row).collect()
    }

    /// The session with its newest `n` steps in full and the flow library's revision
    /// ([`SessionWindow`]): what answering a step reads, so that its cost does not grow with
    /// the session (docs/benchmarks.md). The two reads go on one connection; each reads what
    /// was committed when it ran, as two separate reads would.
    pub async fn session_window(&self, id: Uuid, n: i64) -> Result<SessionWindow> {
        let mut batch = Batch::new();
        batch.sql(session_and_revision_sql(), [Arg::from(id.to_string())]);
        batch.sql(
            latest_steps_sql(),
            [Arg::from(id.to_string()), Arg::from(n)],
        );
        let read = self.db.read(Heat::Hot, batch).await?;
        let mut read = read.into_iter();
        let (sessions, steps) = (
            read.next().unwrap_or_default(),
            read.next().unwrap_or_default(),
        );
        let row = sessions.first().ok_or(StoreError::NotFound)?;
        Ok(SessionWindow {
            session: session_from_row(row)?,
            steps: steps
                .iter()
                .rev()
                .map(step_from_row)
                .collect::<Result<_>>()?,
            flows_revision: row.col("flows_revision")?,
        })
    }

    /// Sessions `viewer` may see (their own, those escalated to them, and for admins every
    /// session of the account), newest first, with the total before paging.
    pub async fn list_sessions(
        &self,
        account_id: Uuid,
        viewer: Uuid,
        viewer_is_admin: bool,
        filter: &SessionFilter,
    ) -> Result<(Vec<Session>, i64)> {
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
        let filtered = || {
            [
                Arg::from(account_id.to_string()),
                Arg::from(viewer.to_string()),
                Arg::from(status),
            ]
        };
        let mut batch = Batch::new();
        batch.sql(
            format!("SELECT COUNT(*) AS n FROM ai_sessions WHERE {where_sql}"),
            filtered(),
        );
        batch.sql(
            format!(
                "SELECT {SESSION_COLUMNS} FROM ai_sessions WHERE {where_sql} \
                 ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5"
            ),
            filtered()
                .into_iter()
                .chain([Arg::from(filter.limit), Arg::from(filter.skip)]),
        );
        let read = self.db.read(Heat::Cold, batch).await?;
        let mut read = read.into_iter();
        let (count, page) = (
            read.next().unwrap_or_default(),
            read.next().unwrap_or_default(),
        );
        let total: i64 = count.first().ok_or(StoreError::NotFound)?.col("n")?;
        let sessions = page
            .iter()
            .map(session_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok((sessions, total))
    }

    /// Claims the latest unanswered step of an active session for one request until `until`
    /// and, when `quota` asks for it, reserves the provider call that will produce the next
    /// step: one write, the reservation guarded by the claim, so the single SQLite writer is
    /// held for one round trip (docs/benchmarks.md).
    pub async fn claim_step(
        &self,
        session: SessionId,
        step: StepId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        quota: Option<&QuotaAsk>,
    ) -> Result<StepClaim> {
        self.claim_step_in(session, step, now, until, quota, &[SessionStatus::Active])
            .await
    }

    /// [`Store::claim_step`] on a session in one of `from` (a fix awaiting verification is
    /// confirmed from its own status).
    pub async fn claim_step_in(
        &self,
        session: SessionId,
        step: StepId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        quota: Option<&QuotaAsk>,
        from: &[SessionStatus],
    ) -> Result<StepClaim> {
        if let Some(refused) = quota.and_then(QuotaAsk::refused_outright) {
            return Ok(StepClaim::OverQuota(refused));
        }
        let mut batch = Batch::new();
        batch.push(|b| {
            Ok(format!(
                "UPDATE ai_steps SET claimed_until = {} \
                 WHERE id = {} AND session_id = {session} AND response IS NULL \
                   AND (claimed_until IS NULL OR claimed_until < {}) \
                   AND step_order = (SELECT step_count FROM ai_sessions \
                                     WHERE id = {session} AND status IN ({})) \
                 RETURNING id",
                b.arg(ms(until))?,
                b.arg(step.to_string())?,
                b.arg(ms(now))?,
                status_list(from),
                session = b.arg(session.to_string())?,
            ))
        })?;
        if let Some(ask) = quota {
            batch.push_guarded(|b| ask.reserve_sql(b))?;
        }
        let done = self.db.write(batch).await?;
        // The claim returns the step's id, the reservation the scopes it took.
        if done.first().is_none_or(|claim| claim.rows.is_empty()) {
            return Ok(StepClaim::Taken);
        }
        let Some(ask) = quota else {
            return Ok(StepClaim::Claimed);
        };
        let taken: &[OwnedRow] = done.get(1).map_or(&[], |reserve| &reserve.rows);
        match self.settle_reservation(&ask.keys, taken).await? {
            QuotaGrant::Granted => Ok(StepClaim::Claimed),
            QuotaGrant::Exhausted(limit) => {
                self.release_step(step).await?;
                Ok(StepClaim::OverQuota(limit))
            }
        }
    }

    /// Lets go of a claim after a failure, so the same answer can be sent again.
    pub async fn release_step(&self, step: StepId) -> Result<()> {
        self.db
            .write_one(
                "UPDATE ai_steps SET claimed_until = NULL WHERE id = $1 AND response IS NULL",
                [Arg::from(step.to_string())],
            )
            .await?;
        Ok(())
    }

    /// Records the answer to a claimed step, the next step when there is one, and the ledger
    /// rows of the provider calls that produced it, in one transaction, and returns the
    /// session as it now is. `None` (nothing written) when the step was answered meanwhile:
    /// every statement after the answer is guarded by the one before it.
    pub async fn answer_step(
        &self,
        session: SessionId,
        step: StepId,
        response: &Response,
        next: Option<&Step>,
        advance: &StepAdvance,
        usage: &[AiUsageRecord],
    ) -> Result<Option<Session>> {
        self.answer_step_marked(
            session,
            step,
            response,
            next,
            advance,
            usage,
            &StepMarks::default(),
        )
        .await
    }

    /// [`Store::answer_step`], recording with the answer what was said of the step (a fix's
    /// outcome, "not relevant" and why).
    #[allow(clippy::too_many_arguments)]
    pub async fn answer_step_marked(
        &self,
        session: SessionId,
        step: StepId,
        response: &Response,
        next: Option<&Step>,
        advance: &StepAdvance,
        usage: &[AiUsageRecord],
        marks: &StepMarks,
    ) -> Result<Option<Session>> {
        let a = Answering {
            session_id: session.0,
            step_id: step.0,
            response,
            next,
            advance,
            usage,
            marks,
        };
        let mut batch = Batch::new();
        batch.push(|b| a.answer_sql(b))?;
        batch.push_guarded(|b| a.advance_sql(b))?;
        if let Some(step) = a.next {
            batch.push_guarded(|b| insert_step_sql(b, step))?;
        }
        for rec in a.usage {
            batch.push_guarded(|b| insert_usage_sql(b, rec, a.response.responded_at))?;
        }
        // The escalation metric "claim to first answer"; last, as nothing is guarded by it.
        batch.push_guarded(|b| {
            crate::escalations::first_answer_sql(
                b,
                a.session_id,
                a.step_id,
                a.response.responded_at,
            )
        })?;
        let done = self.db.write(batch).await?;
        done.get(1)
            .and_then(|advanced| advanced.rows.first())
            .map(session_from_row)
            .transpose()
    }

    /// Keeps an answer that did not say which way to go as an observation on the claimed
    /// step, lets go of the claim so the step can be answered again, and records the ledger
    /// rows of any provider calls, in one transaction; returns the session as it now is.
    /// `None` (nothing written) when the step was answered meanwhile.
    pub async fn observe_step(
        &self,
        session: SessionId,
        step: StepId,
        observations: &[String],
        clarification: &str,
        now: DateTime<Utc>,
        usage: &[AiUsageRecord],
    ) -> Result<Option<Session>> {
        let (input_tokens, output_tokens) = usage.iter().fold((0, 0), |(i, o), u| {
            (i + u.input_tokens, o + u.output_tokens)
        });
        let mut batch = Batch::new();
        batch.push(|b| {
            Ok(format!(
                "UPDATE ai_steps SET observations = {}, clarification = {}, \
                 claimed_until = NULL \
                 WHERE id = {} AND session_id = {} AND response IS NULL RETURNING id",
                b.arg(to_text(&observations)?)?,
                b.arg(clarification)?,
                b.arg(step.to_string())?,
                b.arg(session.to_string())?,
            ))
        })?;
        batch.push_guarded(|b| {
            Ok(format!(
                "UPDATE ai_sessions SET updated_at = {}, \
                 total_input_tokens = total_input_tokens + {}, \
                 total_output_tokens = total_output_tokens + {} \
                 WHERE id = {} RETURNING {SESSION_COLUMNS}",
                b.arg(ms(now))?,
                b.arg(input_tokens)?,
                b.arg(output_tokens)?,
                b.arg(session.to_string())?,
            ))
        })?;
        for rec in usage {
            batch.push_guarded(|b| insert_usage_sql(b, rec, now))?;
        }
        let done = self.db.write(batch).await?;
        done.get(1)
            .and_then(|updated| updated.rows.first())
            .map(session_from_row)
            .transpose()
    }

    /// Moves a session from one of `from` to `to`, queuing `closing.outbox` with it;
    /// `false` (nothing written, nothing queued) when its status was not in `from`.
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
        let mut batch = Batch::new();
        batch.sql(
            format!(
                "UPDATE ai_sessions SET status = $1, updated_at = $2, \
                 resolution_summary = COALESCE($3, resolution_summary), \
                 escalation_reason = COALESCE($4, escalation_reason), \
                 escalated_to_id = COALESCE($5, escalated_to_id), \
                 documentation = COALESCE($6, documentation), \
                 resolved_at = COALESCE($7, resolved_at), escalated_at = COALESCE($8, escalated_at), \
                 total_input_tokens = total_input_tokens + $9, total_output_tokens = total_output_tokens + $10 \
                 WHERE id = $11 AND status IN ({})",
                status_list(from)
            ),
            [
                Arg::from(to.as_str()),
                Arg::from(ms(now)),
                Arg::from(closing.resolution_summary.clone()),
                Arg::from(closing.escalation_reason.clone()),
                Arg::from(closing.escalated_to_id.map(|i| i.to_string())),
                Arg::from(closing.documentation.as_ref().map(to_text).transpose()?),
                Arg::from(resolved_at),
                Arg::from(escalated_at),
                Arg::from(closing.input_tokens),
                Arg::from(closing.output_tokens),
                Arg::from(id.to_string()),
            ],
        );
        if let Some(escalation) = &closing.escalation {
            batch.push_guarded(|b| crate::escalations::insert_escalation_sql(b, escalation))?;
        }
        if !closing.outbox.is_empty() {
            batch.push_guarded(|b| enqueue_sql(b, &closing.outbox, now))?;
        }
        let done = self.db.write(batch).await?;
        let moved = done.first().is_some_and(|d| d.changed == 1);
        if moved && !closing.outbox.is_empty() {
            self.outbox_queued();
        }
        Ok(moved)
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
        let done = self
            .db
            .write_one(
                format!(
                    "UPDATE ai_sessions SET rating = $1, feedback = $2, updated_at = $3 \
                     WHERE id = $4 AND status IN ({})",
                    status_list(from)
                ),
                [
                    Arg::from(rating),
                    Arg::from(feedback),
                    Arg::from(ms(now)),
                    Arg::from(id.to_string()),
                ],
            )
            .await?;
        Ok(done.changed == 1)
    }

    /// Records what was said of an answered step of `session` (an earlier step marked not
    /// relevant, or a late outcome of a fix): only the marks given, the rest kept. `false`
    /// when the step is not one of the session's.
    pub async fn mark_step(
        &self,
        session: SessionId,
        step: StepId,
        marks: &StepMarks,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut batch = Batch::new();
        batch.push(|b| {
            Ok(format!(
                "UPDATE ai_steps SET outcome = COALESCE({}, outcome), \
                 outcome_note = COALESCE({}, outcome_note), \
                 not_relevant_reason = COALESCE({}, not_relevant_reason) \
                 WHERE id = {} AND session_id = {} RETURNING id",
                b.arg(marks.outcome.map(FixOutcome::as_str))?,
                b.arg(marks.outcome_note.clone())?,
                b.arg(marks.not_relevant.clone())?,
                b.arg(step.to_string())?,
                b.arg(session.to_string())?,
            ))
        })?;
        batch.push_guarded(|b| {
            Ok(format!(
                "UPDATE ai_sessions SET updated_at = {} WHERE id = {}",
                b.arg(ms(now))?,
                b.arg(session.to_string())?,
            ))
        })?;
        let done = self.db.write(batch).await?;
        Ok(done.first().is_some_and(|d| !d.rows.is_empty()))
    }

    /// Sets `session` to wait for its fix to be verified: the open `step` (the latest,
    /// unanswered and not being answered) takes the outcome and note, the session the status
    /// and the check-back time, with no reminder sent yet. Conditional on the session being
    /// in one of `from`, so two requests cannot both move it; `false` when nothing changed.
    pub async fn await_verification(
        &self,
        session: SessionId,
        step: StepId,
        note: Option<&str>,
        check_back_at: DateTime<Utc>,
        from: &[SessionStatus],
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut batch = Batch::new();
        batch.push(|b| {
            Ok(format!(
                "UPDATE ai_sessions SET status = {}, check_back_at = {}, \
                 check_back_reminded_at = NULL, updated_at = {} \
                 WHERE id = {session} AND status IN ({}) \
                   AND step_count = (SELECT step_order FROM ai_steps \
                                     WHERE id = {} AND session_id = {session} \
                                       AND response IS NULL \
                                       AND (claimed_until IS NULL OR claimed_until < {})) \
                 RETURNING id",
                b.arg(SessionStatus::AwaitingVerification.as_str())?,
                b.arg(ms(check_back_at))?,
                b.arg(ms(now))?,
                status_list(from),
                b.arg(step.to_string())?,
                b.arg(ms(now))?,
                session = b.arg(session.to_string())?,
            ))
        })?;
        batch.push_guarded(|b| {
            Ok(format!(
                "UPDATE ai_steps SET outcome = {}, outcome_note = {} WHERE id = {}",
                b.arg(FixOutcome::AwaitingVerification.as_str())?,
                b.arg(note.map(str::to_string))?,
                b.arg(step.to_string())?,
            ))
        })?;
        let done = self.db.write(batch).await?;
        Ok(done.first().is_some_and(|d| !d.rows.is_empty()))
    }

    /// The sessions of `user` waiting for a fix to be verified, with when to check back,
    /// soonest first: what their home page lists.
    pub async fn awaiting_verification(
        &self,
        user: Uuid,
    ) -> Result<Vec<(Session, Option<DateTime<Utc>>)>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS}, check_back_at FROM ai_sessions \
             WHERE user_id = $1 AND status = $2 ORDER BY check_back_at, id LIMIT 50"
        );
        let rows = self
            .db
            .rows(
                Heat::Cold,
                sql,
                [
                    Arg::from(user.to_string()),
                    Arg::from(SessionStatus::AwaitingVerification.as_str()),
                ],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let at = row
                    .col::<Option<i64>>("check_back_at")?
                    .map(time)
                    .transpose()?;
                Ok((session_from_row(row)?, at))
            })
            .collect()
    }

    /// When the engineer is to be reminded to record the outcome of `session`'s fix.
    pub async fn check_back_at(&self, session: Uuid) -> Result<Option<DateTime<Utc>>> {
        let row = self
            .db
            .one(
                Heat::Cold,
                "SELECT check_back_at FROM ai_sessions WHERE id = $1",
                [Arg::from(session.to_string())],
            )
            .await?;
        row.col::<Option<i64>>("check_back_at")?
            .map(time)
            .transpose()
    }
}
