use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::codec::ms;
use crate::{Result, Store};

/// The state of one fixed window after counting a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowHit {
    pub hits: i64,
    /// The hits of the window just before this one (0 when that window saw none).
    pub prev_hits: i64,
    pub window_start_ms: i64,
}

impl Store {
    /// Counts one hit in `bucket`'s current window of `window_ms` and returns the count so
    /// far. One atomic upsert, so concurrent servers on one database see one counter.
    pub async fn hit_rate_window(
        &self,
        bucket: &str,
        window_ms: i64,
        now: DateTime<Utc>,
    ) -> Result<WindowHit> {
        let now_ms = ms(now);
        let window_start = now_ms - now_ms.rem_euclid(window_ms);
        let row = sqlx::query(
            "INSERT INTO rate_limits (bucket, window_start, hits, prev_hits) VALUES ($1, $2, 1, 0) \
             ON CONFLICT (bucket) DO UPDATE SET \
               prev_hits = CASE WHEN rate_limits.window_start = excluded.window_start \
                                THEN rate_limits.prev_hits \
                                WHEN rate_limits.window_start = excluded.window_start - $3 \
                                THEN rate_limits.hits ELSE 0 END, \
               hits = CASE WHEN rate_limits.window_start = excluded.window_start \
                           THEN rate_limits.hits + 1 ELSE 1 END, \
               window_start = excluded.window_start \
             RETURNING hits, prev_hits, window_start",
        )
        .bind(bucket)
        .bind(window_start)
        .bind(window_ms)
        .fetch_one(&mut *self.write().await?)
        .await?;
        Ok(WindowHit {
            hits: row.try_get("hits")?,
            prev_hits: row.try_get("prev_hits")?,
            window_start_ms: row.try_get("window_start")?,
        })
    }

    /// Takes back a hit, for requests that failed on the server's side and should not count.
    pub async fn unhit_rate_window(&self, bucket: &str, window_start_ms: i64) -> Result<()> {
        sqlx::query(
            "UPDATE rate_limits SET hits = hits - 1 WHERE bucket = $1 AND window_start = $2 AND hits > 0",
        )
        .bind(bucket)
        .bind(window_start_ms)
        .execute(&mut *self.write().await?)
        .await?;
        Ok(())
    }

    /// Removes windows that ended long ago.
    pub async fn purge_rate_windows(&self, older_than: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
            .bind(ms(older_than))
            .execute(&mut *self.write().await?)
            .await?;
        Ok(done.rows_affected())
    }
}
