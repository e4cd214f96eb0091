-- The hits of the window before the current one, so a limit can weigh the last full minute
-- (a sliding window) instead of resetting at each minute boundary, where a fixed window lets
-- twice the allowance through in a moment.
ALTER TABLE rate_limits ADD COLUMN prev_hits BIGINT NOT NULL DEFAULT 0;
