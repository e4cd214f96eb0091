-- A step keeps the free text the engineer gave that did not answer it (its observations,
-- api.md `step`), what FlowPilot asked about the latest of them (so a page loaded after the
-- answer can show it), and the plain sentences that say why the step has its confidence.
-- The lists are JSON lists of strings; steps stored before this have none.
ALTER TABLE ai_steps ADD COLUMN observations TEXT NOT NULL DEFAULT '[]';
ALTER TABLE ai_steps ADD COLUMN clarification TEXT;
ALTER TABLE ai_steps ADD COLUMN confidence_reasons TEXT NOT NULL DEFAULT '[]';
