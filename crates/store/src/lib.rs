//! FlowPilot's storage layer: one implementation over sqlx's `Any` driver that runs on SQLite
//! (the default, embedded) and PostgreSQL (for teams that outgrow one machine).
//!
//! Every query is written once in the SQL both backends accept; each backend keeps its own
//! migration folder so the schema can use what each does best when that matters.

mod accounts;
mod ai_usage;
mod batch;
mod checkpointer;
mod codec;
mod connections;
mod earlier_steps;
mod error;
mod flows;
mod quota_counters;
mod rate_limits;
mod row;
mod sessions;
mod sqlite_direct;
mod sqlite_open;
mod sqlite_writer;
mod teams;
mod tokens;
mod users;

pub use accounts::{AccountPatch, NewAccount};
pub use ai_usage::{AiUsageCounts, AiUsageRecord};
pub use earlier_steps::EarlierSteps;
pub use error::StoreError;
pub use flows::BuiltinLoad;
pub use quota_counters::{QuotaAsk, QuotaGrant, QuotaKeys, QuotaLimit};
pub use rate_limits::WindowHit;
pub use sessions::{
    Closing, SessionFilter, SessionRecord, SessionWindow, StepAdvance, StepClaim, StepRecord,
    StepResponse,
};
/// Re-exported so callers can classify database failures without depending on sqlx.
pub use sqlx::Error as SqlxError;
pub use teams::Team;
pub use tokens::NewToken;
pub use users::{NewUser, UserPatch, UserWithHash};

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::ConnectOptions;

use checkpointer::Checkpointer;
use connections::{Conn, Connections, HeldSet};
use sqlite_direct::DirectReaders;
use sqlite_writer::SqliteWriter;

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The handle every other layer uses to reach the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    /// Reads; on PostgreSQL, everything.
    readers: Connections,
    /// Writes and transactions: on SQLite one connection, on PostgreSQL `readers`.
    writer: Connections,
    backend: Backend,
    /// SQLite: moves the write-ahead log into the database file off the writer's path.
    checkpointer: Option<Arc<Checkpointer>>,
    /// SQLite: the hot path's reads, made on the calling thread ([`sqlite_direct`]).
    direct: Option<Arc<DirectReaders>>,
    /// SQLite: the writer thread, for the hot path's batches ([`SqliteWriter::batch`]);
    /// PostgreSQL runs the same statements one by one.
    batches: Option<SqliteWriter>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Store {
    /// Connects to `sqlite://PATH` (creating the file when missing) or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend =
            Backend::from_url(url).ok_or_else(|| StoreError::UnsupportedUrl(redact_url(url)))?;
        // Every connection would open a database of its own, and the readers would never see
        // what the writer wrote.
        if backend == Backend::Sqlite && (url.contains(":memory:") || url.contains("mode=memory")) {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        }
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
        let mut checkpointer = None;
        let mut direct = None;
        let mut batches = None;
        let (readers, writer) = match backend {
            Backend::Sqlite => {
                // SQLite has one write lock per database. With writes spread over several
                // connections, a writer that finds it taken sleeps in the busy handler (1, 2,
                // 5, 10 ms …) rather than being woken when it frees, which is where the
                // latency tail under load came from (docs/benchmarks.md). One writer
                // connection queues writers in process instead, woken in order; the readers,
                // never blocked in WAL mode, are opened query-only so a write sent to one
                // fails loudly.
                let writer = SqliteWriter::start(options.clone(), SQLITE_WRITER_SETUP).await?;
                checkpointer = Some(Arc::new(Checkpointer::start(
                    options.clone(),
                    writer.clone(),
                )));
                direct = Some(Arc::new(DirectReaders::new(
                    sqlite_open::file_of(&options)?,
                    SQLITE_READER_SETUP,
                )));
                let readers = HeldSet::new(options, 8, SQLITE_READER_SETUP);
                batches = Some(writer.clone());
                (Connections::Held(readers), Connections::Writer(writer))
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(options)
                    .await?;
                (Connections::Pool(pool.clone()), Connections::Pool(pool))
            }
        };
        let store = Store {
            readers,
            writer,
            backend,
            checkpointer,
            direct,
            batches,
        };
        // Opens the database now, so a bad path or a locked file fails at start.
        store.ping().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies every pending migration of this backend.
    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run_direct(&mut *self.write().await?).await?;
        Ok(())
    }

    /// Answers when the database does: what `/readyz` reports.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&mut *self.read().await?)
            .await?;
        Ok(())
    }

    pub async fn close(&self) {
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.stop();
        }
        if let Some(direct) = &self.direct {
            direct.close();
        }
        self.readers.close().await;
        self.writer.close().await;
    }

    /// A connection for reads.
    pub(crate) async fn read(&self) -> Result<Conn> {
        self.readers.acquire().await
    }

    /// The connection every write and every transaction goes to.
    pub(crate) async fn write(&self) -> Result<Conn> {
        self.writer.acquire().await
    }
}

/// Run on the SQLite writer connection when it opens. WAL lets readers proceed while the
/// writer commits; the busy timeout makes a writer wait for another process (the CLI on a live
/// database) instead of failing at once; checkpoints are left to [`Checkpointer`], and a log
/// file that grew past 192 MB under load is cut back to that when the log starts again.
const SQLITE_WRITER_SETUP: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA wal_autocheckpoint = 0; \
     PRAGMA journal_size_limit = 201326592;";

/// The same for the readers, which must never write.
const SQLITE_READER_SETUP: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA query_only = ON;";

/// Hides the password of a database URL for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn in_memory_sqlite_is_refused_with_a_clear_error() {
        for url in ["sqlite::memory:", "sqlite://fp.db?mode=memory"] {
            let err = Store::connect(url).await.expect_err(url);
            assert!(matches!(err, StoreError::UnsupportedUrl(_)), "{url}: {err}");
        }
    }

    #[test]
    fn urls_are_redacted_for_logs() {
        assert_eq!(
            redact_url("postgres://fp:s3cret@db:5432/fp"),
            "postgres://fp:***@db:5432/fp"
        );
        assert_eq!(redact_url("sqlite://flowpilot.db"), "sqlite://flowpilot.db");
    }
}
