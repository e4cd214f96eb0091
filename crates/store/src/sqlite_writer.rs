//! The SQLite writer: one thread that takes the writes in the order they come.
//!
//! Every write holds SQLite's single write lock, so how long each one holds the writer is what
//! bounds the rate of writes. Run from a request's task, a write also held it while that task
//! waited for its turn on a busy runtime, before sending the write and again after its result
//! came back: most of the time it was held (docs/benchmarks.md, session 4). This
//! thread runs nothing else.
//!
//! Every write of the store is a batch ([`SqliteWriter::batch`]) run on a connection the thread
//! calls directly, each statement prepared once and kept: sqlx's SQLite connection runs on a
//! thread of its own and sends each row back as a message, so a batch through it crossed
//! threads several times (docs/benchmarks.md, session 5). Only the migrations use sqlx, on a
//! connection of their own (`sqlite`), before the store serves anything.

use std::path::PathBuf;
use std::thread;

use sqlx::any::AnyConnectOptions;
use tokio::sync::{mpsc, oneshot};

use crate::batch::{Batch, Done};
use crate::error::sqlite_failure;
use crate::row::OwnedRow;
use crate::sqlite_direct::bind_numbered;
use crate::sqlite_open::{file_of, open_direct, open_sqlite};
use crate::{Result, StoreError};

enum Job {
    Batch(Queued),
    RestartLog { done: oneshot::Sender<()> },
    Close { done: oneshot::Sender<()> },
}

/// A batch waiting for the writer, with where its results go.
struct Queued {
    batch: Batch,
    reply: oneshot::Sender<Result<Vec<Done>>>,
}

#[derive(Clone)]
pub(crate) struct SqliteWriter {
    jobs: mpsc::UnboundedSender<Job>,
}

impl SqliteWriter {
    /// Opens the writer's connection (running `setup`, PRAGMAs, on it) on a new thread.
    pub async fn start(options: AnyConnectOptions, setup: &'static str) -> Result<SqliteWriter> {
        let file = file_of(&options)?;
        let (jobs, queue) = mpsc::unbounded_channel();
        let (opened, opening) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unavailable(format!("the SQLite writer's runtime: {e}")))?;
        let place = Place {
            options,
            file,
            setup,
        };
        thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || runtime.block_on(serve(place, queue, opened)))
            .map_err(|e| StoreError::Unavailable(format!("the SQLite writer's thread: {e}")))?;
        match opening.await {
            Ok(Ok(())) => Ok(SqliteWriter { jobs }),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(closed()),
        }
    }

    /// Runs the statements of `batch` in a transaction of their own (each guarded one only
    /// when the one before it changed one row), and returns what each did, in order. A failure
    /// undoes the whole batch. The batch runs to its end even when the caller stops waiting,
    /// so a request that goes away never leaves it half done.
    pub async fn batch(&self, batch: Batch) -> Result<Vec<Done>> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Batch(Queued { batch, reply }))
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    /// Copies what is left of the write-ahead log into the database file between two writes,
    /// so that the next write can start the log again from its beginning (see `checkpointer`).
    pub async fn restart_log(&self) {
        let (done, finished) = oneshot::channel();
        if self.jobs.send(Job::RestartLog { done }).is_ok() {
            let _ = finished.await;
        }
    }

    /// Closes the connections once the writes queued before are done.
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.jobs.send(Job::Close { done }).is_ok() {
            let _ = closed.await;
        }
    }
}

fn closed() -> StoreError {
    StoreError::Database(sqlx::Error::PoolClosed)
}

/// Where and how the writer's connection opens.
struct Place {
    options: AnyConnectOptions,
    file: PathBuf,
    setup: &'static str,
}

async fn serve(
    place: Place,
    mut queue: mpsc::UnboundedReceiver<Job>,
    opened: oneshot::Sender<Result<()>>,
) {
    // sqlx's first, closed at once: it creates the file when the URL asks for that.
    let opening = match open_sqlite(&place.options, place.setup).await {
        Ok(conn) => {
            if let Err(err) = sqlx::Connection::close(conn).await {
                tracing::warn!(%err, "could not close the SQLite connection that created the file");
            }
            open_direct(&place.file, place.setup)
        }
        Err(err) => Err(err),
    };
    let direct = match opening {
        Ok(direct) => {
            let _ = opened.send(Ok(()));
            direct
        }
        Err(err) => {
            let _ = opened.send(Err(err));
            return;
        }
    };
    let mut pending: Option<Job> = None;
    loop {
        let job = match pending.take() {
            Some(job) => job,
            None => match queue.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        match job {
            Job::Close { done } => {
                if let Err((_, err)) = direct.close() {
                    tracing::warn!(%err, "could not close the SQLite writer connection cleanly");
                }
                let _ = done.send(());
                return;
            }
            Job::Batch(first) => {
                // Batches queued meanwhile commit with this one (see `commit_group`).
                let mut group = vec![first];
                while group.len() < MAX_GROUP {
                    match queue.try_recv() {
                        Ok(Job::Batch(next)) => group.push(next),
                        Ok(other) => {
                            pending = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                commit_group(&direct, group);
            }
            Job::RestartLog { done } => {
                restart_log(&direct);
                let _ = done.send(());
            }
        }
    }
}

/// A passive checkpoint on the writer's own connection, between two writes: nothing is written
/// while it runs, so unless a reader that began before it still reads the log, it copies every
/// frame, and the next write starts the log again from its beginning. The background
/// checkpointer's last pass copied the rest; this copies the frames written since (at most
/// its 100 ms interval's worth) and syncs the database file, a pause for the writer that
/// grows with the database (docs/benchmarks.md, session 5), which is why it waits for the log
/// to grow large.
fn restart_log(conn: &rusqlite::Connection) {
    let copied = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
    });
    match copied {
        Ok((log, copied)) if log == copied => {}
        Ok(_) => tracing::debug!("a reader still needed part of the WAL; restarting it next time"),
        Err(err) => tracing::warn!(%err, "could not copy the rest of the WAL"),
    }
}

/// At most this many batches commit together: enough to take what queues during one group
/// at the rates measured, few enough that the first of them does not wait long for the last.
const MAX_GROUP: usize = 64;

/// Commits the batches of `group` in one transaction and hands each its own rows: the writer
/// does as many writes as queued up during the last one instead of one, which is what lets
/// writes keep up when they queue. Each batch runs on a savepoint of its own, so a batch that
/// fails is undone alone and the others still commit.
fn commit_group(conn: &rusqlite::Connection, group: Vec<Queued>) {
    let results = run_group(conn, &group);
    for (queued, result) in group.into_iter().zip(results) {
        let _ = queued.reply.send(result);
    }
}

fn run_group(conn: &rusqlite::Connection, group: &[Queued]) -> Vec<Result<Vec<Done>>> {
    let fail_all = |err: rusqlite::Error| {
        let err = std::sync::Arc::new(err);
        group
            .iter()
            .map(|_| Err(sqlite_failure(err.clone())))
            .collect()
    };
    if let Err(err) = execute(conn, "BEGIN IMMEDIATE") {
        return fail_all(err);
    }
    let mut results = Vec::with_capacity(group.len());
    for queued in group {
        if let Err(err) = execute(conn, "SAVEPOINT flowpilot_batch") {
            roll_back(conn);
            return fail_all(err);
        }
        let result = run_batch(conn, queued);
        let ended = match &result {
            Ok(_) => execute(conn, "RELEASE flowpilot_batch"),
            Err(_) => execute(conn, "ROLLBACK TO flowpilot_batch")
                .and_then(|()| execute(conn, "RELEASE flowpilot_batch")),
        };
        // Some failures (a full disk, an I/O error) end the whole transaction, and with it
        // every batch of the group; the batch's own error says why.
        if let Err(err) = ended {
            roll_back(conn);
            return fail_all(result.err().unwrap_or(err));
        }
        results.push(result.map_err(StoreError::from));
    }
    match execute(conn, "COMMIT") {
        Ok(()) => results,
        Err(err) => {
            roll_back(conn);
            fail_all(err)
        }
    }
}

fn roll_back(conn: &rusqlite::Connection) {
    if !conn.is_autocommit() {
        if let Err(err) = execute(conn, "ROLLBACK") {
            tracing::warn!(%err, "could not roll back a failed group of batches");
        }
    }
}

fn execute(conn: &rusqlite::Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.raw_execute().map(|_| ())
}

/// Runs the statements of one batch, binding each `$N` to the N-th argument of its statement
/// and skipping a guarded statement when the one before it did not change exactly one row.
fn run_batch(conn: &rusqlite::Connection, queued: &Queued) -> rusqlite::Result<Vec<Done>> {
    let batch = &queued.batch;
    let mut done: Vec<Done> = Vec::with_capacity(batch.statements().len());
    for planned in batch.statements() {
        if planned.guarded && done.last().is_none_or(|before| before.changed != 1) {
            done.push(Done::default());
            continue;
        }
        let mut statement = conn.prepare_cached(&planned.sql)?;
        bind_numbered(&mut statement, batch.args_of(planned))?;
        let mut rows = Vec::new();
        if statement.column_count() == 0 {
            statement.raw_execute()?;
        } else {
            let names = OwnedRow::names_of(&statement);
            let mut returned = statement.raw_query();
            while let Some(row) = returned.next()? {
                rows.push(OwnedRow::from_sqlite(&names, row)?);
            }
        }
        // `changes()` keeps the count of the last INSERT, UPDATE or DELETE: a read changed
        // nothing.
        let changed = if statement.readonly() {
            0
        } else {
            conn.changes()
        };
        done.push(Done { changed, rows });
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::str::FromStr;

    use super::*;
    use crate::row::Columns;

    async fn writer() -> (tempfile::TempDir, SqliteWriter) {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("w.db").display());
        let options = AnyConnectOptions::from_str(&url).expect("options");
        let writer = SqliteWriter::start(
            options,
            "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; \
             PRAGMA journal_size_limit = 0;",
        )
        .await
        .expect("start");
        let mut create = Batch::new();
        create.sql(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)",
            [],
        );
        writer.batch(create).await.expect("create table");
        (dir, writer)
    }

    /// Another connection to the writer's file.
    fn other(dir: &tempfile::TempDir) -> rusqlite::Connection {
        rusqlite::Connection::open(dir.path().join("w.db")).expect("open")
    }

    fn bodies(dir: &tempfile::TempDir) -> Vec<String> {
        let conn = other(dir);
        let mut select = conn
            .prepare("SELECT body FROM notes ORDER BY id")
            .expect("select");
        let rows = select
            .query_map([], |r| r.get::<_, String>(0))
            .expect("rows");
        rows.collect::<rusqlite::Result<_>>().expect("bodies")
    }

    fn insert(bodies: &[&str]) -> Batch {
        let mut batch = Batch::new();
        for b in bodies {
            batch.sql(format!("INSERT INTO notes (body) VALUES ('{b}')"), []);
        }
        batch
    }

    #[tokio::test]
    async fn a_batch_that_fails_half_way_writes_nothing_and_the_writer_goes_on() {
        let (dir, writer) = writer().await;
        let failed = writer.batch(insert(&["first", "second", "first"])).await;
        assert!(failed.is_err(), "the duplicate must fail the batch");
        assert!(bodies(&dir).is_empty(), "rolled back as a whole");

        writer
            .batch(insert(&["third"]))
            .await
            .expect("the next batch runs in a transaction of its own");
        assert_eq!(bodies(&dir), ["third"]);
    }

    #[tokio::test]
    async fn a_batch_whose_caller_stopped_waiting_still_runs_to_its_end() {
        let (dir, writer) = writer().await;
        {
            let batch = writer.batch(insert(&["one", "two"]));
            tokio::pin!(batch);
            // Polled once, which queues the batch, then dropped unfinished.
            let finished = std::future::poll_fn(|cx| {
                std::task::Poll::Ready(batch.as_mut().poll(cx).is_ready())
            })
            .await;
            assert!(
                !finished,
                "the batch cannot be done before the writer ran it"
            );
        }
        // A write queued after it is done after it.
        writer.batch(insert(&["three"])).await.expect("write");
        assert_eq!(bodies(&dir), ["one", "two", "three"]);
    }

    /// Queues a batch that inserts `body` (as an argument) and returns the inserted body.
    fn queue_insert(
        writer: &SqliteWriter,
        body: &str,
    ) -> tokio::task::JoinHandle<Result<Vec<String>>> {
        let writer = writer.clone();
        let body = body.to_string();
        tokio::spawn(async move {
            let mut batch = Batch::new();
            batch.push(|b| {
                Ok(format!(
                    "INSERT INTO notes (body) VALUES ({}) RETURNING body",
                    b.arg(body)?
                ))
            })?;
            let done = writer.batch(batch).await?;
            done[0]
                .rows
                .iter()
                .map(|r| r.col::<String>("body"))
                .collect()
        })
    }

    /// Holds the write lock from another connection while `queue` queues batches behind a
    /// first one, so they all wait for the writer at once and it takes them as one group.
    async fn queued_together<T>(
        dir: &tempfile::TempDir,
        writer: &SqliteWriter,
        queue: impl FnOnce() -> T,
    ) -> T {
        let lock = other(dir);
        lock.execute_batch("BEGIN IMMEDIATE").expect("lock");
        let first = writer.batch(insert(&["first"]));
        tokio::pin!(first);
        let _ = std::future::poll_fn(|cx| std::task::Poll::Ready(first.as_mut().poll(cx))).await;
        let queued = queue();
        // On the test's single-threaded runtime this runs each spawned task up to its wait.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        lock.execute_batch("COMMIT").expect("unlock");
        first.await.expect("first");
        queued
    }

    #[tokio::test]
    async fn batches_queued_together_commit_together_and_each_gets_its_own_rows() {
        let (dir, writer) = writer().await;
        let tasks = queued_together(&dir, &writer, || {
            ["alpha", "beta", "gamma"].map(|b| queue_insert(&writer, b))
        })
        .await;
        for (task, body) in tasks.into_iter().zip(["alpha", "beta", "gamma"]) {
            assert_eq!(task.await.expect("task").expect("batch"), [body]);
        }
        assert_eq!(bodies(&dir), ["first", "alpha", "beta", "gamma"]);
    }

    #[tokio::test]
    async fn a_failing_batch_of_a_group_fails_alone() {
        let (dir, writer) = writer().await;
        let tasks = queued_together(&dir, &writer, || {
            ["alpha", "alpha", "gamma"].map(|b| queue_insert(&writer, b))
        })
        .await;
        let [first, second, third] = tasks;
        assert_eq!(first.await.expect("task").expect("first"), ["alpha"]);
        assert!(second.await.expect("task").is_err(), "the duplicate fails");
        assert_eq!(third.await.expect("task").expect("third"), ["gamma"]);
        assert_eq!(bodies(&dir), ["first", "alpha", "gamma"]);
    }

    #[tokio::test]
    async fn each_statement_numbers_its_own_arguments_and_a_guard_skips_after_no_change() {
        let (dir, writer) = writer().await;
        let mut batch = Batch::new();
        batch
            .push(|b| {
                Ok(format!(
                    "INSERT INTO notes (body) VALUES ({}) RETURNING body",
                    b.arg("one")?
                ))
            })
            .unwrap();
        batch
            .push_guarded(|b| {
                Ok(format!(
                    "INSERT INTO notes (body) VALUES ({}), ({}) RETURNING body",
                    b.arg("two")?,
                    b.arg("three")?
                ))
            })
            .unwrap();
        // Two rows changed by the one before: skipped, and so is the next guarded one.
        batch
            .push_guarded(|b| {
                Ok(format!(
                    "INSERT INTO notes (body) VALUES ({})",
                    b.arg("four")?
                ))
            })
            .unwrap();
        batch
            .push_guarded(|b| {
                Ok(format!(
                    "INSERT INTO notes (body) VALUES ({})",
                    b.arg("five")?
                ))
            })
            .unwrap();
        let done = writer.batch(batch).await.expect("batch");
        let changed: Vec<u64> = done.iter().map(|d| d.changed).collect();
        assert_eq!(changed, [1, 2, 0, 0]);
        let returned: Vec<String> = done[1]
            .rows
            .iter()
            .map(|r| r.col("body").unwrap())
            .collect();
        assert_eq!(returned, ["two", "three"]);
        assert_eq!(bodies(&dir), ["one", "two", "three"]);
    }

    #[tokio::test]
    async fn a_batch_that_breaks_a_unique_constraint_is_a_conflict() {
        let (_dir, writer) = writer().await;
        writer.batch(insert(&["taken"])).await.expect("first");
        let again = writer.batch(insert(&["taken"])).await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    }

    #[tokio::test]
    async fn after_a_restart_between_two_writes_the_log_starts_again_from_its_beginning() {
        let (dir, writer) = writer().await;
        // Nothing else checkpoints here, so the log file's size is the log's length: the
        // writer's `journal_size_limit` of 0 cuts the file back whenever the log starts again.
        let log = dir.path().join("w.db-wal");
        let log_size = || std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
        let page = 4096 + 24;
        for i in 0..50 {
            let body = format!("note {i}");
            writer.batch(insert(&[&body])).await.expect("write");
        }
        let grown = log_size();
        assert!(
            grown >= 50 * page,
            "each write adds to the log: {grown} bytes"
        );

        writer.restart_log().await;
        writer
            .batch(insert(&["after the restart"]))
            .await
            .expect("write");
        let restarted = log_size();
        assert!(
            restarted < 5 * page,
            "the log started again: {restarted} bytes"
        );
        assert_eq!(bodies(&dir).len(), 51, "nothing was lost");
    }

    #[tokio::test]
    async fn writes_after_closing_are_refused_with_an_error() {
        let (_dir, writer) = writer().await;
        writer.close().await;
        let refused = writer.batch(insert(&["late"])).await;
        assert!(matches!(
            refused,
            Err(StoreError::Database(sqlx::Error::PoolClosed))
        ));
    }
}
