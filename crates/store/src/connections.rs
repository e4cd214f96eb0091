//! Where the store's connections come from: sqlx's pool on PostgreSQL, and on SQLite a set of
//! connections the store holds itself.
//!
//! sqlx's pool pings a connection when it hands it out and again, in a task of its own, when
//! it takes it back. On PostgreSQL that finds connections the server dropped. A SQLite
//! connection is a file handle on a thread of its own and has no far end to lose, so each ping
//! is only a round trip to that thread; with the single writer connection the pings and the
//! task that returns it were most of the time a write held the writer (docs/benchmarks.md,
//! session 4). The set below hands out and takes back connections without either.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::any::{AnyArguments, AnyConnectOptions, AnyRow};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Executor};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::Result;

/// How long a request waits for a connection before it gives up with an error.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub(crate) enum Connections {
    Pool(AnyPool),
    Held(Arc<HeldSet>),
}

impl Connections {
    pub async fn acquire(&self) -> Result<Conn> {
        match self {
            Connections::Pool(pool) => Ok(Conn::pooled(pool.acquire().await?)),
            Connections::Held(set) => set.acquire().await,
        }
    }

    pub async fn close(&self) {
        match self {
            Connections::Pool(pool) => pool.close().await,
            Connections::Held(set) => set.close().await,
        }
    }
}

/// Up to `size` SQLite connections, opened when first needed and kept open.
pub(crate) struct HeldSet {
    options: AnyConnectOptions,
    setup: &'static str,
    idle: Mutex<Vec<AnyConnection>>,
    permits: Arc<Semaphore>,
}

impl HeldSet {
    /// `setup` runs on every connection this set opens (its PRAGMAs).
    pub fn new(options: AnyConnectOptions, size: usize, setup: &'static str) -> Arc<HeldSet> {
        Arc::new(HeldSet {
            options,
            setup,
            idle: Mutex::new(Vec::with_capacity(size)),
            permits: Arc::new(Semaphore::new(size)),
        })
    }

    async fn acquire(self: &Arc<Self>) -> Result<Conn> {
        let permit = tokio::time::timeout(ACQUIRE_TIMEOUT, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self.idle.lock().map(|mut idle| idle.pop()).unwrap_or(None);
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let mut conn = self.options.connect().await?;
                conn.execute(self.setup).await?;
                conn
            }
        };
        Ok(Conn {
            held: Some(Held::Own {
                conn,
                home: self.clone(),
                _permit: permit,
            }),
            open_transaction: false,
        })
    }

    fn put_back(&self, conn: AnyConnection) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
    }

    async fn close(&self) {
        self.permits.close();
        let idle = self
            .idle
            .lock()
            .map(|mut idle| std::mem::take(&mut *idle))
            .unwrap_or_default();
        for conn in idle {
            if let Err(err) = sqlx::Connection::close(conn).await {
                tracing::warn!(%err, "could not close a database connection cleanly");
            }
        }
    }
}

/// A connection lent out by [`Connections`]; it goes back when dropped.
pub(crate) struct Conn {
    held: Option<Held>,
    /// Set while a batch that opens and commits its own transaction runs: if the request is
    /// dropped mid-batch, the connection must not go back with the transaction open.
    open_transaction: bool,
}

enum Held {
    Pooled(PoolConnection<Any>),
    Own {
        conn: AnyConnection,
        home: Arc<HeldSet>,
        // Released after the connection is back in the idle list (see Drop).
        _permit: OwnedSemaphorePermit,
    },
}

impl Conn {
    fn pooled(conn: PoolConnection<Any>) -> Conn {
        Conn {
            held: Some(Held::Pooled(conn)),
            open_transaction: false,
        }
    }

    pub async fn begin(&mut self) -> sqlx::Result<sqlx::Transaction<'_, Any>> {
        sqlx::Connection::begin(&mut **self).await
    }

    /// Runs `sql` (several statements, arguments numbered across them) inside a transaction
    /// of its own, opened and committed in the same round trip: `BEGIN IMMEDIATE` because
    /// every batch writes. Any failure rolls it back. SQLite only: PostgreSQL takes one
    /// statement per query when it has arguments.
    pub async fn batch_in_transaction(
        &mut self,
        sql: &str,
        args: AnyArguments<'static>,
    ) -> Result<Vec<AnyRow>> {
        let sql = format!("BEGIN IMMEDIATE;\n{sql};\nCOMMIT");
        self.open_transaction = true;
        // fetch_all: fetch_one/fetch_optional would stop the batch after its first row.
        let result = sqlx::query_with(&sql, args).fetch_all(&mut **self).await;
        if result.is_err() {
            rollback(self).await;
        }
        self.open_transaction = false;
        Ok(result?)
    }
}

/// Ends whatever transaction a failed batch left open; none open is not an error here.
async fn rollback(conn: &mut AnyConnection) {
    if let Err(err) = conn.execute("ROLLBACK").await {
        let message = err.to_string();
        if !message.contains("no transaction is active") {
            tracing::warn!(%err, "could not roll back a failed batch");
        }
    }
}

impl Deref for Conn {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match &self.held {
            Some(Held::Pooled(conn)) => conn,
            Some(Held::Own { conn, .. }) => conn,
            None => unreachable!("a connection is only taken out of Conn by Drop"),
        }
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.held {
            Some(Held::Pooled(conn)) => conn,
            Some(Held::Own { conn, .. }) => conn,
            None => unreachable!("a connection is only taken out of Conn by Drop"),
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let Some(Held::Own {
            mut conn,
            home,
            _permit,
        }) = self.held.take()
        else {
            return;
        };
        if !self.open_transaction {
            home.put_back(conn);
            return;
        }
        // Dropped in the middle of a batch (the request went away): sqlx stops the batch
        // where it was, possibly inside its transaction. Roll back before anyone else gets the
        // connection; the permit, moved along, keeps it out of reach until then.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    rollback(&mut conn).await;
                    home.put_back(conn);
                    drop(_permit);
                });
            }
            // No runtime to roll back on: closing the connection drops the transaction.
            Err(_) => drop(conn),
        }
    }
}
