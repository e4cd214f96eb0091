//! The store's two seams, each implemented once per backend and chosen once, when the store
//! connects: [`Db::write`] runs a [`Batch`] as one transaction, [`Db::read`] runs its
//! statements as reads. Every public method of `Store` builds its statements (the same SQL on
//! both backends) and hands them to one of these; nothing above this module knows which
//! backend it runs on.
//!
//! SQLite (`sqlite`): every write goes to the writer thread, every read to a connection called
//! directly, hot reads on the calling thread. PostgreSQL (`postgres`): sqlx's pool, a
//! transaction per write.

use tracing::instrument;

use crate::batch::{Arg, Batch, Done};
use crate::postgres::PostgresDb;
use crate::row::OwnedRow;
use crate::sqlite::SqliteDb;
use crate::{Backend, Result, StoreError};

pub(crate) enum Db {
    Sqlite(SqliteDb),
    Postgres(PostgresDb),
}

/// Where a SQLite read runs. Hot: on the calling thread, for the indexed lookups every request
/// makes, which cost less than a hand-off to another thread. Cold: on tokio's blocking pool, so
/// a long list does not hold a runtime thread. PostgreSQL reads the same either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Heat {
    Hot,
    Cold,
}

impl Db {
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Runs every statement of `batch` in one transaction, each guarded one only when the one
    /// before it changed exactly one row, and returns what each did.
    #[instrument(level = "trace", skip_all)]
    pub async fn write(&self, batch: Batch) -> Result<Vec<Done>> {
        match self {
            Db::Sqlite(db) => db.write(batch).await,
            Db::Postgres(db) => db.write(batch).await,
        }
    }

    /// The rows each statement of `batch` returns, read on one connection.
    #[instrument(level = "trace", skip_all)]
    pub async fn read(&self, heat: Heat, batch: Batch) -> Result<Vec<Vec<OwnedRow>>> {
        match self {
            Db::Sqlite(db) => db.read(heat, batch).await,
            Db::Postgres(db) => db.read(batch).await,
        }
    }

    pub async fn migrate(&self) -> Result<()> {
        match self {
            Db::Sqlite(db) => db.migrate().await,
            Db::Postgres(db) => db.migrate().await,
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(db) => db.close().await,
            Db::Postgres(db) => db.close().await,
        }
    }

    /// The rows of one statement written with its own `$1`, `$2` ….
    pub async fn rows(
        &self,
        heat: Heat,
        sql: impl Into<String>,
        args: impl IntoIterator<Item = Arg>,
    ) -> Result<Vec<OwnedRow>> {
        let mut batch = Batch::new();
        batch.sql(sql, args);
        self.rows_of(heat, batch).await
    }

    /// The rows of the one statement of `batch`.
    pub async fn rows_of(&self, heat: Heat, batch: Batch) -> Result<Vec<OwnedRow>> {
        Ok(self
            .read(heat, batch)
            .await?
            .into_iter()
            .next()
            .unwrap_or_default())
    }

    /// The first row of one statement, if any.
    pub async fn optional(
        &self,
        heat: Heat,
        sql: impl Into<String>,
        args: impl IntoIterator<Item = Arg>,
    ) -> Result<Option<OwnedRow>> {
        Ok(self.rows(heat, sql, args).await?.into_iter().next())
    }

    /// The first row of one statement; [`StoreError::NotFound`] when there is none.
    pub async fn one(
        &self,
        heat: Heat,
        sql: impl Into<String>,
        args: impl IntoIterator<Item = Arg>,
    ) -> Result<OwnedRow> {
        self.optional(heat, sql, args)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Writes one statement written with its own `$1`, `$2` … and returns what it did.
    pub async fn write_one(
        &self,
        sql: impl Into<String>,
        args: impl IntoIterator<Item = Arg>,
    ) -> Result<Done> {
        let mut batch = Batch::new();
        batch.sql(sql, args);
        self.write_single(batch).await
    }

    /// Writes the one statement of `batch` and returns what it did.
    pub async fn write_single(&self, batch: Batch) -> Result<Done> {
        Ok(self
            .write(batch)
            .await?
            .into_iter()
            .next()
            .unwrap_or_default())
    }
}
