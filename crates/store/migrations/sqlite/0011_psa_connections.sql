-- PSA connections (psa.md "Connections"), the mapping of FlowPilot users to PSA members, and
-- the ticket each session started from or was linked to. Timestamps are Unix ms.
CREATE TABLE psa_connections (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- 'connectwise', 'autotask' or 'halo'.
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    base_url TEXT NOT NULL,
    -- Sealed with FLOWPILOT_SECRET_KEY (`v1.` + base64 of nonce, ciphertext and tag): the
    -- database never holds a credential in the clear.
    credentials TEXT NOT NULL,
    -- JSON: note visibility, post_on, time entries, statuses, preview.
    settings TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- One connection per kind per account: the API answers 409 on this constraint.
    CONSTRAINT psa_connections_one_per_kind UNIQUE (account_id, kind)
);

CREATE TABLE psa_member_mappings (
    connection_id TEXT NOT NULL REFERENCES psa_connections(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- NULL with mapped_by 'manual': an admin said this user has no member in the PSA.
    member_id TEXT,
    member_name TEXT,
    member_email TEXT,
    -- 'email' (matched automatically) or 'manual' (chosen by an admin, never overwritten).
    mapped_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (connection_id, user_id)
);

-- No reference to psa_connections: a deleted connection leaves the session's ticket card.
CREATE TABLE session_tickets (
    session_id TEXT PRIMARY KEY REFERENCES ai_sessions(id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    ticket_number TEXT,
    summary TEXT,
    company TEXT,
    url TEXT,
    -- Why the ticket could not be read, when it could not.
    read_error TEXT,
    linked_at BIGINT NOT NULL
);
CREATE INDEX session_tickets_ticket ON session_tickets(connection_id, ticket_id);
