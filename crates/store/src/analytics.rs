//! What the analytics overview reads (memory.md "Flow health and analytics"): the sessions
//! started in a range, their steps and their AI ledger, as plain rows. The figures are
//! computed above the store, in Rust, so that SQLite and PostgreSQL give the same numbers to
//! the last digit (no backend's float sums, percentiles or JSON functions in between).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::batch::{Arg, Batch};
use crate::codec::{ms, opt_uuid, time, uuid};
use crate::db::Heat;
use crate::row::{Columns, OwnedRow};
use crate::{Result, Store};

/// Which sessions the figures cover: one account's sessions started in `[from, to)`,
/// optionally only one user's and only one problem domain's.
#[derive(Debug, Clone)]
pub struct AnalyticsScope {
    pub account_id: Uuid,
    /// `Some`: only the sessions this user owns (an engineer's own view).
    pub user_id: Option<Uuid>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub domain: Option<String>,
}

/// A session as the figures need it.
#[derive(Debug, Clone)]
pub struct SessionFact {
    pub id: Uuid,
    pub user_id: Uuid,
    pub status: String,
    pub problem_domain: Option<String>,
    pub matched_flow_id: Option<Uuid>,
    pub matched_flow_name: Option<String>,
    pub engine: String,
    pub rating: Option<i64>,
    pub resolution_summary: Option<String>,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// A step as the figures need it; the JSON columns are handed up as stored text.
#[derive(Debug, Clone)]
pub struct StepFact {
    pub session_id: Uuid,
    pub step_order: i64,
    /// The engine's output (`StepOutput`) as JSON.
    pub output: String,
    /// The pilot's state as JSON: where in the flow the step was.
    pub engine_state: String,
    /// The answer as JSON, when answered.
    pub response: Option<String>,
    /// `worked`, `failed`, `partial` or `awaiting_verification` (escalation.md).
    pub outcome: Option<String>,
    pub not_relevant_reason: Option<String>,
}

/// One call of the AI ledger made for a session in scope.
#[derive(Debug, Clone)]
pub struct UsageFact {
    pub session_id: Uuid,
    pub cost_usd: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct AnalyticsRows {
    pub sessions: Vec<SessionFact>,
    pub steps: Vec<StepFact>,
    pub usage: Vec<UsageFact>,
}

/// The sessions in scope, as a condition on `ai_sessions` aliased `s`. Every variant binds the
/// same five parameters; a filter that is off still mentions its parameter.
fn in_scope(scope: &AnalyticsScope) -> (String, Vec<Arg>) {
    let user = if scope.user_id.is_some() {
        "s.user_id = $4"
    } else {
        "($4 = $4)"
    };
    let domain = if scope.domain.is_some() {
        "s.problem_domain = $5"
    } else {
        "($5 = $5)"
    };
    (
        format!("s.account_id = $1 AND s.created_at >= $2 AND s.created_at < $3 AND {user} AND {domain}"),
        vec![
            Arg::from(scope.account_id.to_string()),
            Arg::from(ms(scope.from)),
            Arg::from(ms(scope.to)),
            Arg::from(scope.user_id.map(|u| u.to_string()).unwrap_or_default()),
            Arg::from(scope.domain.clone().unwrap_or_default()),
        ],
    )
}

impl Store {
    /// Every session of `scope`, its steps and its ledger, read on one connection. Rows come
    /// sorted the same way on both backends (by times and UUIDs, compared in Rust).
    pub async fn analytics_rows(&self, scope: &AnalyticsScope) -> Result<AnalyticsRows> {
        let (cond, args) = in_scope(scope);
        let mut batch = Batch::new();
        batch.sql(
            format!(
                "SELECT s.id, s.user_id, s.status, s.problem_domain, s.matched_flow_id, \
                 s.matched_flow_name, s.engine, s.rating, s.resolution_summary, s.created_at, \
                 s.resolved_at FROM ai_sessions s WHERE {cond}"
            ),
            args.clone(),
        );
        batch.sql(
            format!(
                "SELECT st.session_id, st.step_order, st.output, st.engine_state, st.response, \
                 st.outcome, st.not_relevant_reason FROM ai_steps st \
                 JOIN ai_sessions s ON s.id = st.session_id WHERE {cond}"
            ),
            args.clone(),
        );
        batch.sql(
            format!(
                "SELECT u.session_id, u.cost_usd, u.input_tokens, u.output_tokens, u.created_at \
                 FROM ai_usage u JOIN ai_sessions s ON s.id = u.session_id WHERE {cond}"
            ),
            args,
        );
        let mut read = self.db.read(Heat::Cold, batch).await?.into_iter();
        let mut next = || read.next().unwrap_or_default();
        let (session_rows, step_rows, usage_rows) = (next(), next(), next());
        let mut rows = AnalyticsRows {
            sessions: session_rows
                .iter()
                .map(session_fact)
                .collect::<Result<_>>()?,
            steps: step_rows.iter().map(step_fact).collect::<Result<_>>()?,
            usage: usage_rows.iter().map(usage_fact).collect::<Result<_>>()?,
        };
        rows.sessions.sort_by_key(|s| (s.created_at, s.id));
        rows.steps.sort_by_key(|s| (s.session_id, s.step_order));
        // Float sums depend on their order: one order for both backends.
        rows.usage.sort_by(|a, b| {
            (a.session_id, a.created_at)
                .cmp(&(b.session_id, b.created_at))
                .then(a.cost_usd.total_cmp(&b.cost_usd))
        });
        Ok(rows)
    }
}

fn session_fact(row: &OwnedRow) -> Result<SessionFact> {
    Ok(SessionFact {
        id: uuid(row.col::<&str>("id")?)?,
        user_id: uuid(row.col::<&str>("user_id")?)?,
        status: row.col("status")?,
        problem_domain: row.col("problem_domain")?,
        matched_flow_id: opt_uuid(row.col("matched_flow_id")?)?,
        matched_flow_name: row.col("matched_flow_name")?,
        engine: row.col("engine")?,
        rating: row.col("rating")?,
        resolution_summary: row.col("resolution_summary")?,
        created_at: time(row.col("created_at")?)?,
        resolved_at: row
            .col::<Option<i64>>("resolved_at")?
            .map(time)
            .transpose()?,
    })
}

fn step_fact(row: &OwnedRow) -> Result<StepFact> {
    Ok(StepFact {
        session_id: uuid(row.col::<&str>("session_id")?)?,
        step_order: row.col("step_order")?,
        output: row.col("output")?,
        engine_state: row.col("engine_state")?,
        response: row.col("response")?,
        outcome: row.col("outcome")?,
        not_relevant_reason: row.col("not_relevant_reason")?,
    })
}

fn usage_fact(row: &OwnedRow) -> Result<UsageFact> {
    Ok(UsageFact {
        session_id: uuid(row.col::<&str>("session_id")?)?,
        cost_usd: row.col("cost_usd")?,
        input_tokens: row.col("input_tokens")?,
        output_tokens: row.col("output_tokens")?,
        created_at: time(row.col("created_at")?)?,
    })
}
