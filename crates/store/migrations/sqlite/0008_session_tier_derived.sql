-- A session's confidence tier is derived from its score (domain::ConfidenceTier), so it is
-- no longer stored beside it.
ALTER TABLE ai_sessions DROP COLUMN confidence_tier;
