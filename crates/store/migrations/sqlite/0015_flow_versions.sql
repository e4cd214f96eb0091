-- Flow versions (memory.md "Versions"): every published state of a flow, the current one
-- included, with who made it, when, and from which proposal. A row is never changed, so a
-- session keeps the definition it followed (ai_sessions.matched_flow_version) after the flow
-- moves on. Timestamps are Unix ms.
CREATE TABLE flow_versions (
    flow_id TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    definition TEXT NOT NULL,
    title TEXT NOT NULL,
    -- NULL for the shipped files, the command line, or a user since deleted.
    changed_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    changed_at BIGINT NOT NULL,
    -- The flow proposal this version was approved from; not a foreign key, so a proposal's
    -- history can be pruned without touching the flow's.
    proposal_id TEXT,
    why TEXT,
    PRIMARY KEY (flow_id, version)
);
-- What was written before versions were kept: the current state is each flow's first known
-- version.
INSERT INTO flow_versions (flow_id, version, definition, title, changed_by, changed_at)
    SELECT f.id, f.version, f.definition, f.title,
           (SELECT u.id FROM users u WHERE u.id = f.created_by), f.updated_at
    FROM flows f;
ALTER TABLE ai_sessions ADD COLUMN matched_flow_version BIGINT NULL;
