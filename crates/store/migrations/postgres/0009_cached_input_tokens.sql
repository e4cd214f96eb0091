-- Of a call's input tokens, those the provider read from its prompt cache (already counted in
-- input_tokens; priced at the cached rate). Rows from before are calls nobody measured: 0.
ALTER TABLE ai_usage ADD COLUMN cached_input_tokens BIGINT NOT NULL DEFAULT 0;
