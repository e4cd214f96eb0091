//! Escalation notifications (escalation.md "Notifications"): an account's settings, and the
//! two reminders the periodic scan queues. Each reminder is queued by one conditional UPDATE
//! (the reminder not yet noted) with its outbox entries guarded behind it, in one
//! transaction: of two servers scanning the same database only the one whose UPDATE changed
//! the row queues anything, and a restart finds what was noted and sends nothing again.

use chrono::{DateTime, Utc};
use domain::escalation::Escalation;
use domain::notification::NotificationSettings;
use uuid::Uuid;

use crate::batch::{Arg, Batch};
use crate::codec::{ms, time, uuid};
use crate::db::Heat;
use crate::escalations::{escalation_from_row, ESCALATION_COLUMNS};
use crate::outbox::enqueue_sql;
use crate::row::Columns;
use crate::{NewOutboxEntry, Result, Store, StoreError};

/// A session awaiting verification whose check-back time has come.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckBackDue {
    pub session_id: Uuid,
    pub account_id: Uuid,
    pub user_id: Uuid,
    pub title: String,
    pub check_back_at: DateTime<Utc>,
}

fn settings_text(settings: &NotificationSettings) -> Result<String> {
    serde_json::to_string(settings)
        .map_err(|e| StoreError::Corrupt(format!("notification settings: {e}")))
}

impl Store {
    /// The account's settings; `None` while an admin has saved none.
    pub async fn notification_settings(
        &self,
        account_id: Uuid,
    ) -> Result<Option<NotificationSettings>> {
        let row = self
            .db
            .optional(
                Heat::Hot,
                "SELECT channels FROM notification_settings WHERE account_id = $1",
                [Arg::from(account_id.to_string())],
            )
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let text: &str = row.col("channels")?;
        serde_json::from_str(text)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("notification settings: {e}")))
    }

    /// Replaces the account's settings.
    pub async fn put_notification_settings(
        &self,
        account_id: Uuid,
        settings: &NotificationSettings,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.db
            .write_one(
                "INSERT INTO notification_settings (account_id, channels, \
                 unclaimed_reminder_minutes, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (account_id) DO UPDATE SET channels = excluded.channels, \
                 unclaimed_reminder_minutes = excluded.unclaimed_reminder_minutes, \
                 updated_at = excluded.updated_at",
                [
                    Arg::from(account_id.to_string()),
                    Arg::from(settings_text(settings)?),
                    Arg::from(settings.unclaimed_reminder_minutes.unwrap_or(0)),
                    Arg::from(ms(now)),
                ],
            )
            .await?;
        Ok(())
    }

    /// Escalations still unclaimed past their account's reminder delay and not yet
    /// reminded, oldest first: only the newest escalation of a session still escalated.
    pub async fn unclaimed_reminders_due(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Escalation>> {
        let rows = self
            .db
            .rows(
                Heat::Cold,
                format!(
                    "SELECT {ESCALATION_COLUMNS} FROM escalations e \
                     JOIN notification_settings ns ON ns.account_id = e.account_id \
                     JOIN ai_sessions s ON s.id = e.session_id \
                     WHERE e.claimed_by IS NULL AND e.unclaimed_reminded_at IS NULL \
                       AND ns.unclaimed_reminder_minutes > 0 \
                       AND e.escalated_at + ns.unclaimed_reminder_minutes * 60000 <= $1 \
                       AND s.status = 'escalated' \
                       AND NOT EXISTS (SELECT 1 FROM escalations later \
                                       WHERE later.session_id = e.session_id \
                                         AND later.escalated_at > e.escalated_at) \
                     ORDER BY e.escalated_at, e.id LIMIT $2"
                ),
                [Arg::from(ms(now)), Arg::from(limit)],
            )
            .await?;
        rows.iter().map(escalation_from_row).collect()
    }

    /// Notes the unclaimed reminder of escalation `id` and queues `outbox` with it; `false`
    /// (nothing queued) when it was noted already, or claimed meanwhile.
    pub async fn note_unclaimed_reminder(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        outbox: &[NewOutboxEntry],
    ) -> Result<bool> {
        let mut batch = Batch::new();
        batch.sql(
            "UPDATE escalations SET unclaimed_reminded_at = $1 \
             WHERE id = $2 AND unclaimed_reminded_at IS NULL AND claimed_by IS NULL",
            [Arg::from(ms(now)), Arg::from(id.to_string())],
        );
        self.noted_with(batch, outbox, now).await
    }

    /// Sessions awaiting verification whose check-back time has come and whose owner was not
    /// reminded yet, the earliest first.
    pub async fn check_backs_due(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<CheckBackDue>> {
        let rows = self
            .db
            .rows(
                Heat::Cold,
                "SELECT id, account_id, user_id, title, check_back_at FROM ai_sessions \
                 WHERE status = 'awaiting_verification' AND check_back_at IS NOT NULL \
                   AND check_back_at <= $1 AND check_back_reminded_at IS NULL \
                 ORDER BY check_back_at, id LIMIT $2",
                [Arg::from(ms(now)), Arg::from(limit)],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(CheckBackDue {
                    session_id: uuid(row.col("id")?)?,
                    account_id: uuid(row.col("account_id")?)?,
                    user_id: uuid(row.col("user_id")?)?,
                    title: row.col("title")?,
                    check_back_at: time(row.col("check_back_at")?)?,
                })
            })
            .collect()
    }

    /// Notes the check-back reminder of session `id` and queues `outbox` with it; `false`
    /// when it was noted already or the session moved on.
    pub async fn note_check_back_reminder(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        outbox: &[NewOutboxEntry],
    ) -> Result<bool> {
        let mut batch = Batch::new();
        batch.sql(
            "UPDATE ai_sessions SET check_back_reminded_at = $1 \
             WHERE id = $2 AND check_back_reminded_at IS NULL \
               AND status = 'awaiting_verification' AND check_back_at <= $1",
            [Arg::from(ms(now)), Arg::from(id.to_string())],
        );
        self.noted_with(batch, outbox, now).await
    }

    /// Runs `batch` (one conditional UPDATE) with `outbox` queued only when it changed its row.
    async fn noted_with(
        &self,
        mut batch: Batch,
        outbox: &[NewOutboxEntry],
        now: DateTime<Utc>,
    ) -> Result<bool> {
        if !outbox.is_empty() {
            batch.push_guarded(|b| enqueue_sql(b, outbox, now))?;
        }
        let done = self.db.write(batch).await?;
        let noted = done.first().is_some_and(|d| d.changed == 1);
        if noted && !outbox.is_empty() {
            self.outbox_queued();
        }
        Ok(noted)
    }
}
