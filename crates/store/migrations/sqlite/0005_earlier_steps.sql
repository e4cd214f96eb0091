-- A running summary of the steps before each step (type counts, skips, the latest problem
-- summary and domain), so answering a step reads a bounded number of rows however long the
-- session is. NULL on steps stored before this column existed; those sessions are summarised
-- from their older steps as before.
ALTER TABLE ai_steps ADD COLUMN earlier TEXT;
