-- Every step row gets its summary of the steps before it (`earlier`), so no session needs
-- its older steps read back to be summarised. Steps stored before 0005 have none; this
-- computes it the way the server builds it, one step at a time (`EarlierSteps::then`): the
-- steps before, by type, those answered by skipping, and the latest problem summary and
-- domain that were not blank. A missing summary or domain is stored as null, which reads
-- back as absent.
UPDATE ai_steps AS s SET earlier = json_build_object(
    'steps', (SELECT COUNT(*) FROM ai_steps p
              WHERE p.session_id = s.session_id AND p.step_order < s.step_order),
    'questions', (SELECT COUNT(*) FROM ai_steps p
                  WHERE p.session_id = s.session_id AND p.step_order < s.step_order
                    AND p.output::jsonb ->> 'type' = 'question'),
    'actions', (SELECT COUNT(*) FROM ai_steps p
                WHERE p.session_id = s.session_id AND p.step_order < s.step_order
                  AND p.output::jsonb ->> 'type' = 'action'),
    'resolution_suggestions', (SELECT COUNT(*) FROM ai_steps p
                               WHERE p.session_id = s.session_id AND p.step_order < s.step_order
                                 AND p.output::jsonb ->> 'type' = 'resolution_suggestion'),
    'skipped', (SELECT COUNT(*) FROM ai_steps p
                WHERE p.session_id = s.session_id AND p.step_order < s.step_order
                  AND p.response::jsonb ->> 'skipped' = 'true'),
    'problem_summary', (SELECT p.output::jsonb ->> 'problem_summary' FROM ai_steps p
                        WHERE p.session_id = s.session_id AND p.step_order < s.step_order
                          AND btrim(COALESCE(p.output::jsonb ->> 'problem_summary', ''),
                                    E' \t\n\r\f' || chr(11)) <> ''
                        ORDER BY p.step_order DESC LIMIT 1),
    'problem_domain', (SELECT p.output::jsonb ->> 'problem_domain' FROM ai_steps p
                       WHERE p.session_id = s.session_id AND p.step_order < s.step_order
                         AND btrim(COALESCE(p.output::jsonb ->> 'problem_domain', ''),
                                   E' \t\n\r\f' || chr(11)) <> ''
                       ORDER BY p.step_order DESC LIMIT 1)
)::text WHERE s.earlier IS NULL;
