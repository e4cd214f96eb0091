//! The store on PostgreSQL: sqlx's pool (through its `Any` driver, so the arguments and rows
//! are those of the SQLite side), every write a transaction of its own.
//!
//! A guarded statement is checked between two statements of the transaction, on the rows the
//! one before it changed; PostgreSQL has no `changes()` to say it in SQL.

use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::AnyPool;

use crate::batch::{sqlx_args, Batch, Done, Planned};
use crate::row::OwnedRow;
use crate::Result;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub(crate) struct PostgresDb {
    pool: AnyPool,
}

/// Whether a statement answers with rows, which are then the rows it changed (PostgreSQL
/// counts a `RETURNING` statement's rows as those it affected).
fn returns_rows(planned: &Planned) -> bool {
    planned.sql.trim_start().starts_with("SELECT") || planned.sql.contains("RETURNING")
}

impl PostgresDb {
    pub async fn connect(options: AnyConnectOptions) -> Result<PostgresDb> {
        let pool = AnyPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        Ok(PostgresDb { pool })
    }

    pub async fn write(&self, batch: Batch) -> Result<Vec<Done>> {
        let mut tx = self.pool.begin().await?;
        let mut done: Vec<Done> = Vec::with_capacity(batch.statements().len());
        for planned in batch.statements() {
            if planned.guarded && done.last().is_none_or(|before| before.changed != 1) {
                done.push(Done::default());
                continue;
            }
            let query = sqlx::query_with(&planned.sql, sqlx_args(batch.args_of(planned))?);
            done.push(if returns_rows(planned) {
                let rows = query.fetch_all(&mut *tx).await?;
                let rows = owned(&rows)?;
                let changed = if planned.sql.contains("RETURNING") {
                    rows.len() as u64
                } else {
                    0
                };
                Done { changed, rows }
            } else {
                let result = query.execute(&mut *tx).await?;
                Done {
                    changed: result.rows_affected(),
                    rows: Vec::new(),
                }
            });
        }
        tx.commit().await?;
        Ok(done)
    }

    pub async fn read(&self, batch: Batch) -> Result<Vec<Vec<OwnedRow>>> {
        let mut conn = self.pool.acquire().await?;
        let mut out = Vec::with_capacity(batch.statements().len());
        for planned in batch.statements() {
            let rows = sqlx::query_with(&planned.sql, sqlx_args(batch.args_of(planned))?)
                .fetch_all(&mut *conn)
                .await?;
            out.push(owned(&rows)?);
        }
        Ok(out)
    }

    pub async fn migrate(&self) -> Result<()> {
        MIGRATIONS.run(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub fn pool_use(&self) -> crate::gauges::PoolUse {
        crate::gauges::PoolUse {
            open: self.pool.size(),
            idle: self.pool.num_idle() as u32,
            max: Some(self.pool.options().get_max_connections()),
        }
    }
}

fn owned(rows: &[sqlx::any::AnyRow]) -> Result<Vec<OwnedRow>> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let names = OwnedRow::names_of_any(first);
    rows.iter()
        .map(|row| OwnedRow::from_any(&names, row))
        .collect()
}
