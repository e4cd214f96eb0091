//! Moves what the SQLite writer appends to the write-ahead log into the database file, on a
//! connection of its own, so the writer never does it.
//!
//! Left to SQLite, the commit that takes the log past 1,000 pages copies them into the
//! database file and syncs it before it returns, holding the only writer connection all the
//! while: under load that was one commit in a few hundred, each stalling every write queued
//! behind it (docs/benchmarks.md, session 4). The writer opens with `wal_autocheckpoint = 0`
//! and this task runs passive checkpoints instead, which never block the writer or readers.

use std::time::Duration;

use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, ConnectOptions, Executor};
use tokio::task::JoinHandle;

/// How often the log is moved into the database file. At full load the writer appends a few
/// thousand pages a second, so the log stays within some megabytes.
const INTERVAL: Duration = Duration::from_millis(100);

/// Runs until aborted; see [`Checkpointer::stop`].
pub(crate) struct Checkpointer {
    task: JoinHandle<()>,
}

impl Checkpointer {
    pub fn start(options: AnyConnectOptions) -> Checkpointer {
        Checkpointer {
            task: tokio::spawn(run(options)),
        }
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(options: AnyConnectOptions) {
    let mut conn: Option<AnyConnection> = None;
    let mut ticks = tokio::time::interval(INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let current = match conn.as_mut() {
            Some(c) => c,
            None => match options.connect().await {
                Ok(c) => conn.insert(c),
                Err(err) => {
                    tracing::warn!(%err, "the WAL checkpointer could not open the database");
                    continue;
                }
            },
        };
        // PASSIVE copies what no reader still needs and never waits for a lock.
        match current.execute("PRAGMA wal_checkpoint(PASSIVE)").await {
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(%err, "WAL checkpoint failed; trying again with a new connection");
                conn = None;
            }
        }
    }
}
