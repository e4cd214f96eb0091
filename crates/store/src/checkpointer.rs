//! Moves what the SQLite writer appends to the write-ahead log into the database file, on a
//! connection of its own, so the writer never does it.
//!
//! Left to SQLite, the commit that takes the log past 1,000 pages copies them into the
//! database file and syncs it before it returns, holding the only writer connection all the
//! while: under load that commit came often enough to stall, each time, every write queued
//! behind it (docs/benchmarks.md, session 4). The writer opens with `wal_autocheckpoint = 0`
//! and this task runs passive checkpoints instead, which never block the writer or readers.
//!
//! Passive checkpoints alone never let the log start again under a steady load: SQLite writes
//! from the start of the log again only when a write begins with every frame copied, and
//! writes kept landing while each checkpoint ran, so the log grew by the whole of what was
//! written (docs/benchmarks.md, session 5). Once the log
//! passes [`RESTART_FRAMES`], the writer thread copies what this task's last pass left between
//! two of its writes (`SqliteWriter::restart_log`), and the next write starts the log again;
//! the writer's `journal_size_limit` then cuts the file back.

use std::time::Duration;

use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, ConnectOptions, Row};
use tokio::task::JoinHandle;

use crate::sqlite_writer::SqliteWriter;

/// How often the log is moved into the database file: often enough that, at the rate the
/// writer appends pages under full load (docs/benchmarks.md, session 5), what is not yet
/// copied stays small.
const INTERVAL: Duration = Duration::from_millis(100);

/// Frames (pages of about 4 kB) in the log past which the writer restarts it: about 128 MB.
/// Each restart pauses the writer for a sync of the database file, so the log is let grow
/// large first: at the bench's full load that is one pause every few seconds (the figures are
/// in docs/benchmarks.md, session 5), and far rarer at the loads a team makes.
const RESTART_FRAMES: i64 = 32768;

/// Runs until aborted; see [`Checkpointer::stop`].
pub(crate) struct Checkpointer {
    task: JoinHandle<()>,
}

impl Checkpointer {
    pub fn start(options: AnyConnectOptions, writer: SqliteWriter) -> Checkpointer {
        Checkpointer {
            task: tokio::spawn(run(options, writer)),
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

async fn run(options: AnyConnectOptions, writer: SqliteWriter) {
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
        // PASSIVE copies what no reader still needs and never waits for a lock. It answers
        // whether it was blocked, the frames in the log and the frames copied.
        match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&mut *current)
            .await
        {
            Ok(row) => {
                if row
                    .try_get::<i64, _>(1)
                    .is_ok_and(|log| log >= RESTART_FRAMES)
                {
                    writer.restart_log().await;
                }
            }
            Err(err) => {
                tracing::warn!(%err, "WAL checkpoint failed; trying again with a new connection");
                conn = None;
            }
        }
    }
}
