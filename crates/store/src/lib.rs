//! FlowPilot's storage layer, on SQLite (the default, embedded) and PostgreSQL (for teams that
//! outgrow one machine).
//!
//! A reading guide: each module named for a part of the domain (`accounts`, `sessions`,
//! `flows`, …) adds the `Store` methods of that part, each building its statements once, in
//! the SQL both backends accept (`batch`), and handing them to one of two seams (`db`): a
//! write (the statements as one transaction) or a read. The backend is chosen once, in
//! [`Store::connect`]; `sqlite` and `postgres` implement the seams, and the modules named
//! `sqlite_*` and `checkpointer` are the SQLite side's parts. Rows come back owned and are
//! decoded by one decoder per record (`row`). Each backend keeps its own migration folder so
//! the schema can use what each does best when that matters.

mod accounts;
mod ai_usage;
mod analytics;
mod batch;
mod checkpointer;
mod codec;
mod db;
mod error;
mod escalations;
mod flow_proposals;
mod flows;
mod gauges;
mod notifications;
mod outbox;
mod postgres;
mod psa_connections;
mod quota_counters;
mod rate_limits;
mod row;
mod sessions;
mod sqlite;
mod sqlite_direct;
mod sqlite_open;
mod sqlite_writer;
mod team_memory;
mod teams;
mod ticket_links;
mod tokens;
mod users;

pub use accounts::{AccountPatch, NewAccount};
pub use ai_usage::{AiUsageCounts, AiUsageRecord};
pub use analytics::{AnalyticsRows, AnalyticsScope, SessionFact, StepFact, UsageFact};
/// The summary every step row keeps of the steps before it (the domain's type).
pub use domain::step::EarlierSteps;
pub use error::StoreError;
pub use escalations::{QueueEntry, QueueQuery};
pub use flow_proposals::{FlowProposal, NewProposal, ProposalDecision, ProposalEvidence};
pub use flows::{BuiltinLoad, PublishError};
pub use gauges::PoolUse;
pub use notifications::CheckBackDue;
pub use outbox::{NewOutboxEntry, OutboxDepth, OutboxEntry, OutboxStatus, Settle};
pub use psa_connections::{MappedBy, MemberMapping, PsaConnection, PsaConnectionPatch};
pub use quota_counters::{QuotaAsk, QuotaGrant, QuotaKeys, QuotaLimit};
pub use rate_limits::WindowHit;
/// Re-exported so callers can classify database failures without depending on sqlx.
pub use rusqlite::Error as SqliteError;
pub use sessions::{Closing, SessionFilter, SessionWindow, StepAdvance, StepClaim};
pub use sqlx::Error as SqlxError;
pub use team_memory::{GapScope, RememberedSession};
pub use teams::Team;
pub use tokens::NewToken;
pub use users::{NewUser, UserPatch, UserWithHash};

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyConnectOptions;
use sqlx::ConnectOptions;

use db::{Db, Heat};
use postgres::PostgresDb;
use sqlite::SqliteDb;

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

/// The handle every other layer uses to reach the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<Db>,
    /// Rung when this store queues outbox entries, so the deliverer need not wait to poll.
    outbox_wake: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
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
        let db = match backend {
            Backend::Sqlite => Db::Sqlite(SqliteDb::open(options).await?),
            Backend::Postgres => Db::Postgres(PostgresDb::connect(options).await?),
        };
        let store = Store {
            db: Arc::new(db),
            outbox_wake: Arc::default(),
        };
        // Opens the database now, so a bad path or a locked file fails at start.
        store.ping().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// Applies every pending migration of this backend.
    pub async fn migrate(&self) -> Result<()> {
        self.db.migrate().await
    }

    /// Answers when the database does: what `/readyz` reports.
    pub async fn ping(&self) -> Result<()> {
        self.db.rows(Heat::Cold, "SELECT 1", []).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.db.close().await;
    }
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
