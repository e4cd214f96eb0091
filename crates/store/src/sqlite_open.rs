//! Opening SQLite connections, sqlx's and those the store calls directly, each with its
//! PRAGMAs run on it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use sqlx::any::AnyConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyConnection, ConnectOptions, Executor};

use crate::Result;

/// A new SQLite connection with `setup` (its PRAGMAs) run on it.
pub(crate) async fn open_sqlite(options: &AnyConnectOptions, setup: &str) -> Result<AnyConnection> {
    let mut conn = options.connect().await?;
    conn.execute(setup).await?;
    Ok(conn)
}

/// The database file a `sqlite://` URL names, as sqlx reads the URL.
pub(crate) fn file_of(options: &AnyConnectOptions) -> Result<PathBuf> {
    Ok(SqliteConnectOptions::from_url(&options.database_url)?
        .get_filename()
        .to_path_buf())
}

/// How many statements a connection keeps prepared: every statement of the direct reads and
/// the hot path's batches, with room to spare.
const PREPARED: usize = 128;

/// How long a statement waits for a lock another process holds (the CLI on a live database)
/// before it fails: the same as the sqlx connections' `busy_timeout`.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection called directly ([`crate::sqlite_direct`]) to `file`, which must exist,
/// with `setup` (its PRAGMAs) run on it.
pub(crate) fn open_direct(file: &Path, setup: &str) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(file, flags)?;
    // The PRAGMAs answer with rows (journal_mode does), which `execute_batch` refuses.
    let mut statements = rusqlite::Batch::new(&conn, setup);
    while let Some(mut statement) = statements.next()? {
        let mut rows = statement.raw_query();
        while rows.next()?.is_some() {}
    }
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(PREPARED);
    Ok(conn)
}
