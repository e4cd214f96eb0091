-- Escalations (escalation.md): one row per hand-off of a session, to a person, a team, or
-- the account's queue (both targets NULL). The claim is a conditional update of claimed_by
-- (one claim wins); the metrics are the timestamps. Timestamps are Unix ms.
CREATE TABLE escalations (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES ai_sessions(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    escalated_by TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    escalated_to_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    escalated_to_team_id TEXT REFERENCES teams(id) ON DELETE SET NULL,
    reason TEXT NOT NULL,
    -- 'ai' or 'deterministic': who wrote the hand-off package's hypotheses.
    handoff_author TEXT NOT NULL,
    escalated_at BIGINT NOT NULL,
    claimed_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    claimed_at BIGINT,
    -- 'continue' or 'fresh'.
    picked_up_mode TEXT,
    picked_up_at BIGINT,
    -- fresh: the new session, whose escalated_from_id this row is.
    picked_up_as_id TEXT REFERENCES ai_sessions(id) ON DELETE SET NULL,
    -- continue: the briefing step, whose answer is not the first answer.
    briefing_step_id TEXT,
    first_answered_at BIGINT
);
-- The queue: an account's escalations, oldest first.
CREATE INDEX escalations_account ON escalations(account_id, escalated_at);
CREATE INDEX escalations_session ON escalations(session_id, escalated_at);
CREATE INDEX escalations_picked_up_as ON escalations(picked_up_as_id);
