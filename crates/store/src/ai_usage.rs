use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use crate::codec::{flag, ms};
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

/// Successful provider calls counted toward the quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AiUsageCounts {
    pub user_today: i64,
    pub account_this_month: i64,
}

impl Store {
    pub async fn record_ai_usage(&self, rec: &AiUsageRecord, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "INSERT INTO ai_usage (id, account_id, user_id, session_id, provider, model, purpose, \
             input_tokens, output_tokens, cost_usd, success, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(rec.account_id.to_string())
        .bind(rec.user_id.to_string())
        .bind(rec.session_id.map(|s| s.to_string()))
        .bind(&rec.provider)
        .bind(&rec.model)
        .bind(&rec.purpose)
        .bind(rec.input_tokens)
        .bind(rec.output_tokens)
        .bind(rec.cost_usd)
        .bind(flag(rec.success))
        .bind(ms(now))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn ai_usage_counts(
        &self,
        user_id: Uuid,
        account_id: Uuid,
        day_start: DateTime<Utc>,
        month_start: DateTime<Utc>,
    ) -> Result<AiUsageCounts> {
        let row = sqlx::query(
            "SELECT \
               (SELECT COUNT(*) FROM ai_usage WHERE user_id = $1 AND success = 1 AND created_at >= $2) AS user_today, \
               (SELECT COUNT(*) FROM ai_usage WHERE account_id = $3 AND success = 1 AND created_at >= $4) AS account_month",
        )
        .bind(user_id.to_string())
        .bind(ms(day_start))
        .bind(account_id.to_string())
        .bind(ms(month_start))
        .fetch_one(self.pool())
        .await?;
        Ok(AiUsageCounts {
            user_today: row.try_get("user_today")?,
            account_this_month: row.try_get("account_month")?,
        })
    }
}
