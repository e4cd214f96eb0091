-- The flow library. Built-in flows have no account and carry the file stem they were loaded
-- from (builtin_key) and a hash of its content, so changed files update them in place.
CREATE TABLE flows (
    id TEXT PRIMARY KEY,
    account_id TEXT REFERENCES accounts(id) ON DELETE CASCADE,
    builtin_key TEXT UNIQUE,
    content_hash TEXT,
    title TEXT NOT NULL,
    domain TEXT NOT NULL,
    status TEXT NOT NULL,
    definition TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    usage_count BIGINT NOT NULL DEFAULT 0,
    resolved_count BIGINT NOT NULL DEFAULT 0,
    last_matched_at BIGINT,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX flows_account ON flows(account_id);

-- Counters every instance polls to learn that something changed (e.g. the flow library).
CREATE TABLE revisions (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO revisions (name, value) VALUES ('flows', 0);

CREATE TABLE ai_sessions (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    intake_type TEXT NOT NULL,
    intake_content TEXT NOT NULL,
    problem_summary TEXT,
    problem_domain TEXT,
    confidence_tier TEXT NOT NULL,
    confidence_score REAL NOT NULL,
    matched_flow_id TEXT,
    matched_flow_name TEXT,
    match_score REAL,
    engine TEXT NOT NULL,
    step_count BIGINT NOT NULL DEFAULT 0,
    resolution_summary TEXT,
    escalation_reason TEXT,
    escalated_to_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    rating BIGINT,
    feedback TEXT,
    documentation TEXT,
    total_input_tokens BIGINT NOT NULL DEFAULT 0,
    total_output_tokens BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    resolved_at BIGINT,
    escalated_at BIGINT
);
CREATE INDEX ai_sessions_user ON ai_sessions(user_id, created_at);
CREATE INDEX ai_sessions_account ON ai_sessions(account_id, created_at);
CREATE INDEX ai_sessions_escalated_to ON ai_sessions(escalated_to_id);

CREATE TABLE ai_steps (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES ai_sessions(id) ON DELETE CASCADE,
    step_order BIGINT NOT NULL,
    output TEXT NOT NULL,
    engine_state TEXT NOT NULL,
    confidence_score REAL NOT NULL,
    response TEXT,
    responded_at BIGINT,
    -- Set while a request is producing the next step, so a concurrent answer to the same
    -- step is refused at once instead of calling the provider twice.
    claimed_until BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (session_id, step_order)
);
