use std::sync::Arc;

use rusqlite::ErrorCode;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write; carries the constraint or column hint.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("unsupported database URL {0:?}: use sqlite://PATH (a file) or postgres://…")]
    UnsupportedUrl(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// What SQLite answered a connection the store calls directly. Shared, because one
    /// failure of the writer's transaction is every batch's answer in it.
    #[error("database error: {0}")]
    Sqlite(#[source] Arc<rusqlite::Error>),
    /// The database cannot be reached or written for now (busy past the timeout, a full disk,
    /// I/O, a connection or thread that could not be opened): worth trying again later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.constraint().unwrap_or_else(|| db.message()).to_string())
            }
            _ => StoreError::Database(err),
        }
    }
}

/// What SQLite answered the connections the store calls directly.
impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(failure, _) = &err {
            if matches!(
                failure.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            ) {
                return StoreError::Conflict(err.to_string());
            }
        }
        sqlite_failure(Arc::new(err))
    }
}

/// A database that cannot be reached or written for now (busy past the timeout, a full disk,
/// I/O) is unavailable; anything else is an error in the statement.
pub(crate) fn sqlite_failure(err: Arc<rusqlite::Error>) -> StoreError {
    match err.sqlite_error_code() {
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure
            | ErrorCode::CannotOpen,
        ) => StoreError::Unavailable(err.to_string()),
        _ => StoreError::Sqlite(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_sqlite_answers_maps_to_conflict_unavailable_or_a_database_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("e.db");
        let one = rusqlite::Connection::open(&file).expect("open");
        one.execute_batch("CREATE TABLE t (name TEXT PRIMARY KEY); INSERT INTO t VALUES ('a')")
            .expect("set up");

        let twice = one.execute("INSERT INTO t VALUES ('a')", []).unwrap_err();
        assert!(matches!(StoreError::from(twice), StoreError::Conflict(_)));

        // Another process holds the write lock and this connection does not wait.
        let two = rusqlite::Connection::open(&file).expect("open");
        two.busy_timeout(std::time::Duration::ZERO)
            .expect("timeout");
        one.execute_batch("BEGIN IMMEDIATE").expect("lock");
        let busy = two.execute_batch("BEGIN IMMEDIATE").unwrap_err();
        assert!(matches!(StoreError::from(busy), StoreError::Unavailable(_)));
        one.execute_batch("COMMIT").expect("unlock");

        let wrong = one
            .execute("INSERT INTO nowhere VALUES (1)", [])
            .unwrap_err();
        let err = StoreError::from(wrong);
        assert!(matches!(err, StoreError::Sqlite(_)));
        let cause = std::error::Error::source(&err).expect("the cause is kept");
        assert!(cause.to_string().contains("no such table"), "{cause}");
    }
}
