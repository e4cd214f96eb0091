-- Every step row gets its summary of the steps before it (`earlier`), so no session needs
-- its older steps read back to be summarised. Steps stored before 0005 have none; this
-- computes it the way the server builds it, one step at a time (`EarlierSteps::then`): the
-- steps before, by type, those answered by skipping, and the latest problem summary and
-- domain that were not blank. A missing summary or domain is stored as null, which reads
-- back as absent.
UPDATE ai_steps AS s SET earlier = json_object(
    'steps', (SELECT COUNT(*) FROM ai_steps p
              WHERE p.session_id = s.session_id AND p.step_order < s.step_order),
    'questions', (SELECT COUNT(*) FROM ai_steps p
                  WHERE p.session_id = s.session_id AND p.step_order < s.step_order
                    AND json_extract(p.output, '$.type') = 'question'),
    'actions', (SELECT COUNT(*) FROM ai_steps p
                WHERE p.session_id = s.session_id AND p.step_order < s.step_order
                  AND json_extract(p.output, '$.type') = 'action'),
    'resolution_suggestions', (SELECT COUNT(*) FROM ai_steps p
                               WHERE p.session_id = s.session_id AND p.step_order < s.step_order
                                 AND json_extract(p.output, '$.type') = 'resolution_suggestion'),
    'skipped', (SELECT COUNT(*) FROM ai_steps p
                WHERE p.session_id = s.session_id AND p.step_order < s.step_order
                  AND json_extract(p.response, '$.skipped') = 1),
    'problem_summary', (SELECT json_extract(p.output, '$.problem_summary') FROM ai_steps p
                        WHERE p.session_id = s.session_id AND p.step_order < s.step_order
                          AND trim(COALESCE(json_extract(p.output, '$.problem_summary'), ''),
                                   char(32, 9, 10, 11, 12, 13)) <> ''
                        ORDER BY p.step_order DESC LIMIT 1),
    'problem_domain', (SELECT json_extract(p.output, '$.problem_domain') FROM ai_steps p
                       WHERE p.session_id = s.session_id AND p.step_order < s.step_order
                         AND trim(COALESCE(json_extract(p.output, '$.problem_domain'), ''),
                                  char(32, 9, 10, 11, 12, 13)) <> ''
                       ORDER BY p.step_order DESC LIMIT 1)
) WHERE s.earlier IS NULL;
