-- Escalation notifications (escalation.md "Notifications"): one row of settings per account.
-- `channels` is JSON (webhooks with their format, events and a secret sealed with
-- FLOWPILOT_SECRET_KEY; the email events; the account's escalation contacts). The reminder
-- delay is a column of its own so the periodic scan can compare it in SQL; 0 is no reminder.
CREATE TABLE notification_settings (
    account_id TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    channels TEXT NOT NULL,
    unclaimed_reminder_minutes BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
);
-- When the unclaimed reminder of an escalation was queued (Unix ms): set by the one
-- conditional UPDATE that queues it, so two servers never send it twice.
ALTER TABLE escalations ADD COLUMN unclaimed_reminded_at BIGINT NULL;
-- What the scans read: unclaimed escalations not yet reminded, and check-backs not yet
-- reminded.
CREATE INDEX escalations_unreminded ON escalations(escalated_at)
    WHERE claimed_by IS NULL AND unclaimed_reminded_at IS NULL;
CREATE INDEX ai_sessions_check_back_due ON ai_sessions(check_back_at)
    WHERE check_back_at IS NOT NULL AND check_back_reminded_at IS NULL;
