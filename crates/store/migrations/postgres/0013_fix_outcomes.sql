-- Fix outcomes (escalation.md): what the engineer said of a suggested fix (worked, failed,
-- partial, awaiting_verification) with an optional note, and the one-line reason a step was
-- marked not relevant; both shape the next step and feed the flows' health and calibration.
ALTER TABLE ai_steps ADD COLUMN outcome TEXT NULL;
ALTER TABLE ai_steps ADD COLUMN outcome_note TEXT NULL;
ALTER TABLE ai_steps ADD COLUMN not_relevant_reason TEXT NULL;
-- A session awaiting verification: when to remind the engineer (Unix ms), and when the
-- notification worker did, so the reminder is sent once.
ALTER TABLE ai_sessions ADD COLUMN check_back_at BIGINT NULL;
ALTER TABLE ai_sessions ADD COLUMN check_back_reminded_at BIGINT NULL;
