//! Recording provider calls: the quota ledger and the session's token totals.

use chrono::Utc;
use domain::User;
use engine::Usage;
use store::AiUsageRecord;
use uuid::Uuid;

use crate::state::AppState;

/// Writes one ledger row per provider call. A failure to write is logged, not raised: the
/// engineer's step must not be lost over bookkeeping.
pub async fn record(state: &AppState, user: &User, session_id: Option<Uuid>, usage: &[Usage]) {
    for u in usage {
        let rec = AiUsageRecord {
            account_id: user.account_id,
            user_id: user.id,
            session_id,
            provider: u.provider.clone(),
            model: u.model.clone(),
            purpose: u.purpose.clone(),
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cost_usd: llm::estimate_cost_usd(
                &u.provider,
                &u.model,
                u.input_tokens,
                u.output_tokens,
            ),
            success: u.success,
        };
        if let Err(err) = state.store.record_ai_usage(&rec, Utc::now()).await {
            tracing::error!(%err, "could not record AI usage");
        }
    }
}

pub fn tokens(usage: &[Usage]) -> (i64, i64) {
    usage.iter().fold((0, 0), |(i, o), u| {
        (i + u.input_tokens, o + u.output_tokens)
    })
}
