//! What an operator's dashboard reads (`/metrics`): counts over every account and the state of
//! the database connections, read when the metrics are scraped, never on a request's path.

use crate::db::{Db, Heat};
use crate::row::Columns;
use crate::{Result, Store};

/// The database connections at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolUse {
    /// Connections open (PostgreSQL: the pool's; SQLite: the writer and the idle readers).
    pub open: u32,
    /// Of those, the ones waiting for work.
    pub idle: u32,
    /// The most the pool opens; `None` where there is no fixed ceiling (SQLite's readers).
    pub max: Option<u32>,
}

impl Store {
    /// How many sessions are in each status, over every account, by status name.
    pub async fn sessions_by_status(&self) -> Result<Vec<(String, i64)>> {
        let rows = self
            .db
            .rows(
                Heat::Cold,
                "SELECT status, COUNT(*) AS n FROM ai_sessions GROUP BY status ORDER BY status",
                [],
            )
            .await?;
        rows.iter()
            .map(|row| Ok((row.col("status")?, row.col("n")?)))
            .collect()
    }

    pub fn pool_use(&self) -> PoolUse {
        match self.db.as_ref() {
            Db::Sqlite(db) => db.pool_use(),
            Db::Postgres(db) => db.pool_use(),
        }
    }
}
