use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

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

/// The ledger row of one call, to run on the pool or inside another write's transaction.
pub(crate) fn insert_usage(
    rec: &AiUsageRecord,
    now: DateTime<Utc>,
) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments<'static>> {
    sqlx::query(
        "INSERT INTO ai_usage (id, account_id, user_id, session_id, provider, model, purpose, \
         input_tokens, output_tokens, cost_usd, success, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(Uuid::new_v4().to_string())
    .bind(rec.account_id.to_string())
    .bind(rec.user_id.to_string())
    .bind(rec.session_id.map(|s| s.to_string()))
    .bind(rec.provider.clone())
    .bind(rec.model.clone())
    .bind(rec.purpose.clone())
    .bind(rec.input_tokens)
    .bind(rec.output_tokens)
    .bind(rec.cost_usd)
    .bind(flag(rec.success))
    .bind(ms(now))
}

impl Store {
    pub async fn record_ai_usage(&self, rec: &AiUsageRecord, now: DateTime<Utc>) -> Result<()> {
        insert_usage(rec, now).execute(self.writer()).await?;
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
        .fetch_all(self.pool())
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
