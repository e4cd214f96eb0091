//! The periodic scan of each server's background work: escalations unclaimed longer than
//! their account's `unclaimed_reminder_minutes`, and sessions awaiting verification whose
//! `check_back_at` has come. Each reminder is noted and queued in one transaction by a
//! conditional UPDATE (store `notifications`), so with two servers on one database, or after
//! a restart, it is sent once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::notification::NotifyEvent;

use crate::error::ApiResult;
use crate::state::AppState;

/// At most this many of each kind per scan; the rest come in the next one.
const BATCH: i64 = 100;

/// Scans every `FLOWPILOT_REMINDER_SCAN_SECS` until the task is aborted.
pub async fn run(state: AppState) {
    let every = Duration::from_secs(state.settings.reminder_scan_secs.max(1));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(err) = scan(&state, Utc::now()).await {
            tracing::warn!(%err, "the reminder scan failed; trying again at the next one");
        }
    }
}

/// One scan: queues what is due at `now`; returns how many reminders it noted.
pub async fn scan(state: &AppState, now: DateTime<Utc>) -> ApiResult<usize> {
    let mut noted = 0;
    for e in state.store.unclaimed_reminders_due(now, BATCH).await? {
        let session = state.store.session(e.session_id).await?;
        let outbox = super::entries::for_escalation(
            state,
            &session,
            &e,
            NotifyEvent::UnclaimedReminder,
            // Those who may claim it are reminded, not who handed it over.
            Some(e.escalated_by),
            None,
            now,
        )
        .await?;
        if state
            .store
            .note_unclaimed_reminder(e.id, now, &outbox)
            .await?
        {
            tracing::info!(escalation = %e.id, entries = outbox.len(), "unclaimed reminder queued");
            noted += 1;
        }
    }
    for due in state.store.check_backs_due(now, BATCH).await? {
        let outbox = super::entries::for_check_back(state, &due, now).await?;
        if state
            .store
            .note_check_back_reminder(due.session_id, now, &outbox)
            .await?
        {
            tracing::info!(session_id = %due.session_id, entries = outbox.len(), "check-back reminder queued");
            noted += 1;
        }
    }
    Ok(noted)
}
