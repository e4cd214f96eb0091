//! The store on SQLite: every write through the writer thread (`sqlite_writer`), every read
//! on a connection called directly (`sqlite_direct`), hot reads on the calling thread and the
//! others on tokio's blocking pool, and the write-ahead log moved into the database file off
//! the writer's path (`checkpointer`). Only the migrations go through sqlx, on a connection
//! opened for them.
//!
//! SQLite has one write lock per database. With writes spread over several connections, a
//! writer that finds it taken sleeps in the busy handler (1, 2, 5, 10 ms …) rather than being
//! woken when it frees, which is where the latency tail under load came from
//! (docs/benchmarks.md). One writer connection queues writers in process instead, woken in
//! order; the readers, never blocked in WAL mode, are opened query-only so a write sent to one
//! fails loudly.

use std::sync::Arc;

use sqlx::any::AnyConnectOptions;

use crate::batch::{Batch, Done};
use crate::checkpointer::Checkpointer;
use crate::db::Heat;
use crate::row::OwnedRow;
use crate::sqlite_direct::{query_all, DirectReaders};
use crate::sqlite_open::{file_of, open_sqlite};
use crate::sqlite_writer::SqliteWriter;
use crate::{Result, StoreError};

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Run on the SQLite writer connection when it opens. WAL lets readers proceed while the
/// writer commits; the busy timeout makes a writer wait for another process (the CLI on a live
/// database) instead of failing at once; checkpoints are left to [`Checkpointer`], and a log
/// file that grew past 192 MB under load is cut back to that when the log starts again.
const WRITER_SETUP: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA wal_autocheckpoint = 0; \
     PRAGMA journal_size_limit = 201326592;";

/// The same for the readers, which must never write.
const READER_SETUP: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA query_only = ON;";

pub(crate) struct SqliteDb {
    options: AnyConnectOptions,
    writer: SqliteWriter,
    readers: Arc<DirectReaders>,
    checkpointer: Checkpointer,
}

impl SqliteDb {
    pub async fn open(options: AnyConnectOptions) -> Result<SqliteDb> {
        let writer = SqliteWriter::start(options.clone(), WRITER_SETUP).await?;
        let checkpointer = Checkpointer::start(options.clone(), writer.clone());
        let readers = Arc::new(DirectReaders::new(file_of(&options)?, READER_SETUP));
        Ok(SqliteDb {
            options,
            writer,
            readers,
            checkpointer,
        })
    }

    pub async fn write(&self, batch: Batch) -> Result<Vec<Done>> {
        self.writer.batch(batch).await
    }

    pub async fn read(&self, heat: Heat, batch: Batch) -> Result<Vec<Vec<OwnedRow>>> {
        match heat {
            Heat::Hot => read_all(&self.readers, &batch),
            Heat::Cold => {
                let readers = self.readers.clone();
                tokio::task::spawn_blocking(move || read_all(&readers, &batch))
                    .await
                    .map_err(|e| StoreError::Unavailable(format!("a SQLite read: {e}")))?
            }
        }
    }

    /// The migrations run on a sqlx connection of their own; the writer's busy timeout (and
    /// this connection's) lets the two take turns.
    pub async fn migrate(&self) -> Result<()> {
        let mut conn = open_sqlite(&self.options, WRITER_SETUP).await?;
        let ran = MIGRATIONS.run_direct(&mut conn).await;
        if let Err(err) = sqlx::Connection::close(conn).await {
            tracing::warn!(%err, "could not close the migrations' SQLite connection cleanly");
        }
        Ok(ran?)
    }

    /// The writer is always open; readers are opened on demand and kept while idle.
    pub fn pool_use(&self) -> crate::gauges::PoolUse {
        let idle = self.readers.idle_count();
        crate::gauges::PoolUse {
            open: 1 + idle,
            idle,
            max: None,
        }
    }

    pub async fn close(&self) {
        self.checkpointer.stop();
        self.readers.close();
        self.writer.close().await;
    }
}

fn read_all(readers: &DirectReaders, batch: &Batch) -> Result<Vec<Vec<OwnedRow>>> {
    readers.read(|conn| {
        batch
            .statements()
            .iter()
            .map(|planned| query_all(conn, &planned.sql, batch.args_of(planned)))
            .collect()
    })
}
