-- The durable outbox (docs/outbox.md): every write FlowPilot sends out (a PSA note, a
-- webhook, an email) is a row here first, written in the same transaction as the change it
-- reports, then delivered in the background. Timestamps are Unix ms, flags 0/1.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    session_id TEXT REFERENCES ai_sessions(id) ON DELETE CASCADE,
    -- What delivers it: 'psa_note', 'webhook', 'email', ….
    kind TEXT NOT NULL,
    -- JSON: what the deliverer of this kind needs.
    payload TEXT NOT NULL,
    -- One per logical write, so the same write queued twice is queued once.
    idempotency_key TEXT NOT NULL UNIQUE,
    -- 'pending', 'in_flight', 'delivered' or 'failed'.
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    -- When a pending entry is due; for an in-flight one, when its lease ends and another
    -- server may take it over, so one index finds both.
    next_attempt_at BIGINT NOT NULL,
    lease_holder TEXT,
    lease_until BIGINT,
    -- 1 when an attempt may have landed without FlowPilot knowing (a timeout after sending,
    -- a server that died holding the lease): the next attempt asks before posting again.
    uncertain BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    -- What the remote side called what it created (a note's id).
    remote_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE status IN ('pending', 'in_flight');
CREATE INDEX outbox_session ON outbox(session_id, created_at);
