//! Where the store's connections come from: sqlx's pool on PostgreSQL; on SQLite a set of
//! reader connections the store holds itself and the writer thread's one connection.
//!
//! sqlx's pool pings a connection when it hands it out and again, in a task of its own, when
//! it takes it back. On PostgreSQL that finds connections the server dropped. A SQLite
//! connection is a file handle on a thread of its own and has no far end to lose, so each ping
//! is only a round trip to that thread: they tripled the cost of every statement
//! (docs/benchmarks.md, session 4). The set below hands out and takes back connections
//! without either.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::any::AnyConnectOptions;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::sqlite_open::open_sqlite;
use crate::sqlite_writer::{Lent, SqliteWriter};
use crate::Result;

/// How long a request waits for a connection before it gives up with an error.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub(crate) enum Connections {
    Pool(AnyPool),
    Held(Arc<HeldSet>),
    Writer(SqliteWriter),
}

impl Connections {
    pub async fn acquire(&self) -> Result<Conn> {
        match self {
            Connections::Pool(pool) => Ok(Conn {
                held: Some(Held::Pooled(pool.acquire().await?)),
            }),
            Connections::Held(set) => set.acquire().await,
            Connections::Writer(writer) => {
                let lent = tokio::time::timeout(ACQUIRE_TIMEOUT, writer.lend())
                    .await
                    .map_err(|_| sqlx::Error::PoolTimedOut)??;
                Ok(Conn {
                    held: Some(Held::Lent(lent)),
                })
            }
        }
    }

    pub async fn close(&self) {
        match self {
            Connections::Pool(pool) => pool.close().await,
            Connections::Held(set) => set.close().await,
            Connections::Writer(writer) => writer.close().await,
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
            None => open_sqlite(&self.options, self.setup).await?,
        };
        Ok(Conn {
            held: Some(Held::Own {
                conn,
                home: self.clone(),
                _permit: permit,
            }),
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
    /// Only `None` once Drop has taken it.
    held: Option<Held>,
}

enum Held {
    Pooled(PoolConnection<Any>),
    Own {
        conn: AnyConnection,
        home: Arc<HeldSet>,
        // Released after the connection is back in the idle list (see Drop).
        _permit: OwnedSemaphorePermit,
    },
    Lent(Lent),
}

impl Conn {
    pub async fn begin(&mut self) -> sqlx::Result<sqlx::Transaction<'_, Any>> {
        sqlx::Connection::begin(&mut **self).await
    }
}

impl Deref for Conn {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match &self.held {
            Some(Held::Pooled(conn)) => conn,
            Some(Held::Own { conn, .. }) => conn,
            Some(Held::Lent(lent)) => &lent.conn,
            None => unreachable!("a connection is only taken out of Conn by Drop"),
        }
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.held {
            Some(Held::Pooled(conn)) => conn,
            Some(Held::Own { conn, .. }) => conn,
            Some(Held::Lent(lent)) => &mut lent.conn,
            None => unreachable!("a connection is only taken out of Conn by Drop"),
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        match self.held.take() {
            Some(Held::Own {
                conn,
                home,
                _permit,
            }) => {
                home.put_back(conn);
                drop(_permit);
            }
            Some(Held::Lent(lent)) => lent.give_back(),
            // sqlx's pool takes its connection back by itself.
            Some(Held::Pooled(_)) | None => {}
        }
    }
}
