use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use crate::batch::{guarded_values, statement, Batch};
use crate::codec::{flag, ms, opt_uuid, uuid};
use crate::{Result, Store};

/// One provider call, successful or not.
#[derive(Debug, Clone)]
pub struct AiUsageRecord {
    pub account_id: Uuid,
    pub user_id: Uuid,
    pub session_id: Option<Uuid>,
    pub provider: String,
    pub model: String,
    /// `step`, `repair`, `documentation`, `escalation`.
    pub purpose: String,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: f64,
    pub success: bool,
}

/// Calls counted toward the quota (see `quota_counters`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AiUsageCounts {
    pub user_today: i64,
    pub account_this_month: i64,
}

/// The ledger row of one call; with `guard`, written only when the guard holds.
pub(crate) fn insert_usage_sql(
    b: &mut Batch,
    rec: &AiUsageRecord,
    now: DateTime<Utc>,
    guard: Option<&str>,
) -> Result<String> {
    let values = [
        b.arg(Uuid::new_v4().to_string())?,
        b.arg(rec.account_id.to_string())?,
        b.arg(rec.user_id.to_string())?,
        b.arg(rec.session_id.map(|s| s.to_string()))?,
        b.arg(rec.provider.clone())?,
        b.arg(rec.model.clone())?,
        b.arg(rec.purpose.clone())?,
        b.arg(rec.input_tokens)?,
        b.arg(rec.output_tokens)?,
        b.arg(rec.cost_usd)?,
        b.arg(flag(rec.success))?,
        b.arg(ms(now))?,
    ];
    Ok(format!(
        "INSERT INTO ai_usage (id, account_id, user_id, session_id, provider, model, purpose, \
         input_tokens, output_tokens, cost_usd, success, created_at) {}",
        guarded_values(&values, guard)
    ))
}

impl Store {
    pub async fn record_ai_usage(&self, rec: &AiUsageRecord, now: DateTime<Utc>) -> Result<()> {
        let (sql, args) = statement(|b| insert_usage_sql(b, rec, now, None))?;
        sqlx::query_with(&sql, args)
            .execute(&mut *self.write().await?)
            .await?;
        Ok(())
    }

    /// A user's ledger, oldest first: what an operator (or a test) reads to see which calls
    /// were made and what they cost.
    pub async fn ai_usage_of_user(&self, user_id: Uuid) -> Result<Vec<AiUsageRecord>> {
        let rows = sqlx::query(
            "SELECT account_id, user_id, session_id, provider, model, purpose, input_tokens, \
             output_tokens, cost_usd, success FROM ai_usage WHERE user_id = $1 \
             ORDER BY created_at, id",
        )
        .bind(user_id.to_string())
        .fetch_all(&mut *self.read().await?)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AiUsageRecord {
                    account_id: uuid(&row.try_get::<String, _>("account_id")?)?,
                    user_id: uuid(&row.try_get::<String, _>("user_id")?)?,
                    session_id: opt_uuid(row.try_get("session_id")?)?,
                    provider: row.try_get("provider")?,
                    model: row.try_get("model")?,
                    purpose: row.try_get("purpose")?,
                    input_tokens: row.try_get("input_tokens")?,
                    output_tokens: row.try_get("output_tokens")?,
                    cost_usd: row.try_get("cost_usd")?,
                    success: row.try_get::<i64, _>("success")? != 0,
                })
            })
            .collect()
    }
}
