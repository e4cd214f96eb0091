//! Recording provider calls: the quota ledger, the quota counters and the session's token
//! totals.

use chrono::Utc;
use domain::User;
use engine::Usage;
use store::AiUsageRecord;
use uuid::Uuid;

use crate::quota::{self, Reservation};
use crate::state::AppState;

/// Records the calls of an exchange that `reservation` held quota for, and settles it. Call it
/// only once the exchange's outcome is stored (or known to be a failure).
pub async fn record_reserved(
    state: &AppState,
    user: &User,
    session_id: Option<Uuid>,
    usage: &[Usage],
    reservation: Reservation,
) {
    // A failure to write is logged, not raised: the engineer's step must not be lost over
    // bookkeeping.
    for rec in records(user, session_id, usage) {
        if let Err(err) = state.store.record_ai_usage(&rec, Utc::now()).await {
            tracing::error!(%err, "could not record AI usage");
        }
    }
    settle(state, user, usage, reservation).await;
}

/// Settles the reservation of an exchange whose ledger rows are written: the accepted call
/// takes the reservation's place, and an exchange that produced nothing gives it back, since a
/// failed call does not count.
pub async fn settle(state: &AppState, user: &User, usage: &[Usage], reservation: Reservation) {
    let successes = usage.iter().filter(|u| u.success).count();
    if successes == 0 {
        reservation.release().await;
        return;
    }
    reservation.keep();
    // An exchange has one accepted call; should that change, the others still count.
    for _ in 1..successes {
        quota::count(state, user, Utc::now()).await;
    }
}

/// One ledger row per provider call.
pub fn records(user: &User, session_id: Option<Uuid>, usage: &[Usage]) -> Vec<AiUsageRecord> {
    usage
        .iter()
        .map(|u| AiUsageRecord {
            account_id: user.account_id,
            user_id: user.id,
            session_id,
            provider: u.provider.clone(),
            model: u.model.clone(),
            purpose: u.purpose.clone(),
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cached_input_tokens: u.cached_input_tokens,
            cost_usd: llm::estimate_cached_cost_usd(
                &u.provider,
                &u.model,
                u.input_tokens,
                u.cached_input_tokens,
                u.output_tokens,
            ),
            success: u.success,
        })
        .collect()
}

pub fn tokens(usage: &[Usage]) -> (i64, i64) {
    usage.iter().fold((0, 0), |(i, o), u| {
        (i + u.input_tokens, o + u.output_tokens)
    })
}
