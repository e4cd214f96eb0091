use crate::batch::Arg;
use crate::codec::ms;
use crate::row::Columns;
use crate::StoreError;
use crate::{Result, Store};
use chrono::{DateTime, Utc};

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
        let done = self.db.write_one(
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
            [Arg::from(bucket), Arg::from(window_start), Arg::from(window_ms)],
        )
        .await?;
        let row = done.rows.first().ok_or(StoreError::NotFound)?;
        Ok(WindowHit {
            hits: row.col("hits")?,
            prev_hits: row.col("prev_hits")?,
            window_start_ms: row.col("window_start")?,
        })
    }

    /// Takes back a hit, for requests that failed on the server's side and should not count.
    pub async fn unhit_rate_window(&self, bucket: &str, window_start_ms: i64) -> Result<()> {
        self.db
            .write_one(
                "UPDATE rate_limits SET hits = hits - 1 WHERE bucket = $1 AND window_start = $2 AND hits > 0",
                [Arg::from(bucket), Arg::from(window_start_ms)],
            )
            .await?;
        Ok(())
    }

    /// Removes windows that ended long ago.
    pub async fn purge_rate_windows(&self, older_than: DateTime<Utc>) -> Result<u64> {
        let done = self
            .db
            .write_one(
                "DELETE FROM rate_limits WHERE window_start < $1",
                [Arg::from(ms(older_than))],
            )
            .await?;
        Ok(done.changed)
    }
}
