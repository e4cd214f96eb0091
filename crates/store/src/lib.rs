//! FlowPilot's storage layer: one implementation over sqlx's `Any` driver that runs on SQLite
//! (the default, embedded) and PostgreSQL (for teams that outgrow one machine).
//!
//! Every query is written once in the SQL both backends accept; each backend keeps its own
//! migration folder so the schema can use what each does best when that matters.

mod accounts;
mod ai_usage;
mod batch;
mod codec;
mod earlier_steps;
mod error;
mod flows;
mod quota_counters;
mod rate_limits;
mod sessions;
mod teams;
mod tokens;
mod users;

pub use accounts::{AccountPatch, NewAccount};
pub use ai_usage::{AiUsageCounts, AiUsageRecord};
pub use earlier_steps::EarlierSteps;
pub use error::StoreError;
pub use flows::BuiltinLoad;
pub use quota_counters::{QuotaAsk, QuotaGrant, QuotaKeys};
pub use rate_limits::WindowHit;
pub use sessions::{
    Closing, SessionFilter, SessionRecord, StepAdvance, StepClaim, StepRecord, StepResponse,
};
/// Re-exported so callers can classify database failures without depending on sqlx.
pub use sqlx::Error as SqlxError;
pub use teams::Team;
pub use tokens::NewToken;
pub use users::{NewUser, UserPatch, UserWithHash};

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};

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
    pool: AnyPool,
    /// Writes and transactions: on SQLite a pool of one connection, on PostgreSQL `pool`.
    writer: AnyPool,
    backend: Backend,
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
        let (pool, writer) = match backend {
            Backend::Sqlite => {
                // SQLite has one write lock per database. With writes spread over the pool, a
                // writer that finds it taken sleeps in the busy handler (1, 2, 5, 10 ms …) rather
                // than being woken when it frees, which is where the latency tail under load
                // came from (docs/benchmarks.md). One writer connection queues writers in
                // process instead, woken in order; the readers, never blocked in WAL mode, keep
                // the pool and are opened query-only so a write sent there fails loudly.
                let writer = sqlite_pool(1, false).connect_with(options.clone()).await?;
                let readers = sqlite_pool(8, true).connect_with(options).await?;
                (readers, writer)
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(options)
                    .await?;
                (pool.clone(), pool)
            }
        };
        Ok(Store {
            pool,
            writer,
            backend,
        })
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
        migrator.run(&self.writer).await?;
        Ok(())
    }

    /// Answers when the database does: what `/readyz` reports.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Where every write and every transaction goes.
    pub(crate) fn writer(&self) -> &AnyPool {
        &self.writer
    }
}

fn sqlite_pool(connections: u32, query_only: bool) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                // WAL lets readers proceed while the writer commits; the busy timeout makes a
                // writer wait for another process (the CLI on a live database) instead of
                // failing at once.
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                )
                .await?;
                if query_only {
                    conn.execute("PRAGMA query_only = ON;").await?;
                }
                Ok(())
            })
        })
}

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
