use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::batch::{values, Arg, Batch};
use crate::codec::{flag, ms, opt_uuid, uuid};
use crate::db::Heat;
use crate::row::Columns;
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
    /// Every input token, those read from the provider's prompt cache included.
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// Of `input_tokens`, those read from the provider's prompt cache.
    pub cached_input_tokens: i64,
    pub cost_usd: f64,
    pub success: bool,
}

/// Calls counted toward the quota (see `quota_counters`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AiUsageCounts {
    pub user_today: i64,
    pub account_this_month: i64,
}

/// The ledger row of one call.
pub(crate) fn insert_usage_sql(
    b: &mut Batch,
    rec: &AiUsageRecord,
    now: DateTime<Utc>,
) -> Result<String> {
    let placeholders = [
        b.arg(Uuid::new_v4().to_string())?,
        b.arg(rec.account_id.to_string())?,
        b.arg(rec.user_id.to_string())?,
        b.arg(rec.session_id.map(|s| s.to_string()))?,
        b.arg(rec.provider.clone())?,
        b.arg(rec.model.clone())?,
        b.arg(rec.purpose.clone())?,
        b.arg(rec.input_tokens)?,
        b.arg(rec.output_tokens)?,
        b.arg(rec.cached_input_tokens)?,
        b.arg(rec.cost_usd)?,
        b.arg(flag(rec.success))?,
        b.arg(ms(now))?,
    ];
    Ok(format!(
        "INSERT INTO ai_usage (id, account_id, user_id, session_id, provider, model, purpose, \
         input_tokens, output_tokens, cached_input_tokens, cost_usd, success, created_at) {}",
        values(&placeholders)
    ))
}

impl Store {
    pub async fn record_ai_usage(&self, rec: &AiUsageRecord, now: DateTime<Utc>) -> Result<()> {
        let mut batch = Batch::new();
        batch.push(|b| insert_usage_sql(b, rec, now))?;
        self.db.write(batch).await?;
        Ok(())
    }

    /// A user's ledger, oldest first: what an operator (or a test) reads to see which calls
    /// were made and what they cost.
    pub async fn ai_usage_of_user(&self, user_id: Uuid) -> Result<Vec<AiUsageRecord>> {
        let rows = self
            .db
            .rows(
                Heat::Cold,
                "SELECT account_id, user_id, session_id, provider, model, purpose, input_tokens, \
                 output_tokens, cached_input_tokens, cost_usd, success FROM ai_usage WHERE user_id = $1 \
                 ORDER BY created_at, id",
                [Arg::from(user_id.to_string())],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(AiUsageRecord {
                    account_id: uuid(row.col::<&str>("account_id")?)?,
                    user_id: uuid(row.col::<&str>("user_id")?)?,
                    session_id: opt_uuid(row.col("session_id")?)?,
                    provider: row.col("provider")?,
                    model: row.col("model")?,
                    purpose: row.col("purpose")?,
                    input_tokens: row.col("input_tokens")?,
                    output_tokens: row.col("output_tokens")?,
                    cached_input_tokens: row.col("cached_input_tokens")?,
                    cost_usd: row.col("cost_usd")?,
                    success: row.col::<i64>("success")? != 0,
                })
            })
            .collect()
    }
}
