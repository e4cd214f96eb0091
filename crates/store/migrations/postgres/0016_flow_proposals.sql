-- Flow proposals (memory.md "The flywheel"): what closed sessions suggest adding to the
-- library, merged by key (the same missing branch at the same node of the same flow is one
-- proposal), each with the sessions that are its evidence, until an admin decides.
-- Timestamps are Unix ms.
CREATE TABLE flow_proposals (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- 'branch_addition' or 'new_flow'.
    kind TEXT NOT NULL,
    -- The flow a branch is added to, and the version it was made from; NULL for a new flow.
    -- Not a foreign key: a deleted flow leaves its proposals to be read and rejected.
    flow_id TEXT,
    base_version BIGINT,
    -- The node the branch hangs from.
    attached_at TEXT,
    merge_key TEXT NOT NULL,
    -- JSON: the full flow document proposed.
    definition TEXT NOT NULL,
    -- 'open', 'approved' or 'rejected'.
    status TEXT NOT NULL,
    reason TEXT,
    decided_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    decided_at BIGINT,
    -- What approving published: the flow and its new version.
    published_flow_id TEXT,
    published_version BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- One open proposal per key: new evidence joins it.
CREATE UNIQUE INDEX flow_proposals_open_key ON flow_proposals(account_id, merge_key)
    WHERE status = 'open';
CREATE INDEX flow_proposals_by_status ON flow_proposals(account_id, status, updated_at);

CREATE TABLE flow_proposal_evidence (
    proposal_id TEXT NOT NULL REFERENCES flow_proposals(id) ON DELETE CASCADE,
    session_id TEXT NOT NULL REFERENCES ai_sessions(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (proposal_id, session_id)
);
-- A session is analysed once: it is the evidence of one proposal at most.
CREATE UNIQUE INDEX flow_proposal_evidence_session ON flow_proposal_evidence(session_id);
