-- Calls counted toward the AI quota (api.md, "AI quota"): per user and UTC day, per account
-- and UTC month. A request reserves its call here with one conditional upsert before the
-- provider is called, so concurrent requests cannot all pass a check made against the same
-- count; a call that fails gives its reservation back. The ai_usage ledger keeps the detail.
CREATE TABLE ai_quota_counters (
    -- 'user_day' (subject_id is a user) or 'account_month' (subject_id is an account).
    scope TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    -- Unix ms of the period's first instant, UTC.
    period_start BIGINT NOT NULL,
    used BIGINT NOT NULL,
    PRIMARY KEY (scope, subject_id, period_start)
);

-- The successful calls recorded before the counters existed.
INSERT INTO ai_quota_counters (scope, subject_id, period_start, used)
SELECT 'user_day', user_id, day_start, COUNT(*)
FROM (SELECT user_id, created_at - (created_at % 86400000) AS day_start
      FROM ai_usage WHERE success = 1) AS calls
GROUP BY user_id, day_start;

INSERT INTO ai_quota_counters (scope, subject_id, period_start, used)
SELECT 'account_month', account_id, month_start, COUNT(*)
FROM (SELECT account_id,
             (EXTRACT(EPOCH FROM date_trunc('month', to_timestamp(created_at / 1000.0) AT TIME ZONE 'UTC'))
               * 1000)::BIGINT AS month_start
      FROM ai_usage WHERE success = 1) AS calls
GROUP BY account_id, month_start;
