//! The SQLite writer: one connection, owned by a thread of its own that takes the writes in
//! the order they come.
//!
//! Every write holds SQLite's single write lock, so how long each one holds the writer is what
//! bounds the rate of writes. Run from a request's task, a write also held it while that task
//! waited for its turn on a busy runtime, before sending the write and again after its result
//! came back: about two thirds of the time it was held (docs/benchmarks.md, session 4). This
//! thread runs nothing else, so the batches of the hot path ([`SqliteWriter::batch`]) hold the
//! writer only for their own round trip. Other writes borrow the connection
//! ([`SqliteWriter::lend`]) and send it back when done.

use std::thread;

use sqlx::any::{AnyArguments, AnyConnectOptions, AnyRow};
use sqlx::{AnyConnection, ConnectOptions, Executor};
use tokio::sync::{mpsc, oneshot};

use crate::{Result, StoreError};

enum Job {
    Batch {
        sql: String,
        args: AnyArguments<'static>,
        reply: oneshot::Sender<Result<Vec<AnyRow>>>,
    },
    Lend {
        reply: oneshot::Sender<Lent>,
    },
    Close {
        done: oneshot::Sender<()>,
    },
}

/// The writer connection while a caller has it; [`Lent::give_back`] returns it.
pub(crate) struct Lent {
    pub conn: AnyConnection,
    back: oneshot::Sender<AnyConnection>,
}

impl Lent {
    pub fn give_back(self) {
        // The writer thread is gone only when the store is closing.
        let _ = self.back.send(self.conn);
    }
}

#[derive(Clone)]
pub(crate) struct SqliteWriter {
    jobs: mpsc::UnboundedSender<Job>,
}

impl SqliteWriter {
    /// Opens the writer connection (running `setup` on it) on a new thread.
    pub async fn start(options: AnyConnectOptions, setup: &'static str) -> Result<SqliteWriter> {
        let (jobs, queue) = mpsc::unbounded_channel();
        let (opened, opening) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Corrupt(format!("the SQLite writer's runtime: {e}")))?;
        thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || runtime.block_on(serve(options, setup, queue, opened)))
            .map_err(|e| StoreError::Corrupt(format!("the SQLite writer's thread: {e}")))?;
        match opening.await {
            Ok(Ok(())) => Ok(SqliteWriter { jobs }),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(closed()),
        }
    }

    /// Runs `sql` (several statements, arguments numbered across them) in a transaction of its
    /// own, opened and committed in the same round trip: `BEGIN IMMEDIATE`, since every batch
    /// writes. A failure rolls it back. The batch runs to its end even when the caller stops
    /// waiting, so a request that goes away never leaves it half done.
    pub async fn batch(&self, sql: String, args: AnyArguments<'static>) -> Result<Vec<AnyRow>> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Batch { sql, args, reply })
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    /// The connection, until the caller gives it back; writes queued meanwhile wait.
    pub async fn lend(&self) -> Result<Lent> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::Lend { reply }).map_err(|_| closed())?;
        answer.await.map_err(|_| closed())
    }

    /// Closes the connection once the writes queued before are done.
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

async fn open(options: &AnyConnectOptions, setup: &str) -> Result<AnyConnection> {
    let mut conn = options.connect().await?;
    conn.execute(setup).await?;
    Ok(conn)
}

async fn serve(
    options: AnyConnectOptions,
    setup: &'static str,
    mut queue: mpsc::UnboundedReceiver<Job>,
    opened: oneshot::Sender<Result<()>>,
) {
    let mut conn = match open(&options, setup).await {
        Ok(conn) => {
            let _ = opened.send(Ok(()));
            Some(conn)
        }
        Err(err) => {
            let _ = opened.send(Err(err));
            return;
        }
    };
    while let Some(job) = queue.recv().await {
        if let Job::Close { done } = job {
            if let Some(current) = conn.take() {
                if let Err(err) = sqlx::Connection::close(current).await {
                    tracing::warn!(%err, "could not close the SQLite writer connection cleanly");
                }
            }
            let _ = done.send(());
            return;
        }
        // A connection lost with a borrower that panicked is opened again for the next job.
        let mut current = match conn.take() {
            Some(c) => c,
            None => match open(&options, setup).await {
                Ok(c) => c,
                Err(err) => {
                    tracing::error!(%err, "could not reopen the SQLite writer connection");
                    fail(job, err);
                    continue;
                }
            },
        };
        match job {
            Job::Batch { sql, args, reply } => {
                let result = batch_in_transaction(&mut current, &sql, args).await;
                let _ = reply.send(result);
                conn = Some(current);
            }
            Job::Lend { reply } => {
                let (back, returned) = oneshot::channel();
                match reply.send(Lent {
                    conn: current,
                    back,
                }) {
                    Ok(()) => conn = returned.await.ok(),
                    // The caller stopped waiting before it got the connection.
                    Err(lent) => conn = Some(lent.conn),
                }
            }
            // Answered before the connection was taken.
            Job::Close { done } => {
                let _ = done.send(());
                return;
            }
        }
    }
}

/// Answers a job that could not run because the connection could not be opened.
fn fail(job: Job, err: StoreError) {
    match job {
        Job::Batch { reply, .. } => {
            let _ = reply.send(Err(err));
        }
        // Dropping the reply tells the borrower the writer is unavailable.
        Job::Lend { .. } => {}
        Job::Close { done } => {
            let _ = done.send(());
        }
    }
}

async fn batch_in_transaction(
    conn: &mut AnyConnection,
    sql: &str,
    args: AnyArguments<'static>,
) -> Result<Vec<AnyRow>> {
    let sql = format!("BEGIN IMMEDIATE;\n{sql};\nCOMMIT");
    // fetch_all: fetch_one/fetch_optional would stop the batch after its first row.
    let result = sqlx::query_with(&sql, args).fetch_all(&mut *conn).await;
    if result.is_err() {
        // Ends whatever transaction the failure left open; none open is no error here.
        if let Err(err) = conn.execute("ROLLBACK").await {
            if !err.to_string().contains("no transaction is active") {
                tracing::warn!(%err, "could not roll back a failed batch");
            }
        }
    }
    Ok(result?)
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::str::FromStr;
    use std::time::Duration;

    use super::*;

    async fn writer() -> (tempfile::TempDir, SqliteWriter) {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("w.db").display());
        let options = AnyConnectOptions::from_str(&url).expect("options");
        let writer = SqliteWriter::start(options, "PRAGMA journal_mode = WAL;")
            .await
            .expect("start");
        let mut lent = writer.lend().await.expect("lend");
        lent.conn
            .execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)")
            .await
            .expect("create table");
        lent.give_back();
        (dir, writer)
    }

    async fn bodies(writer: &SqliteWriter) -> Vec<String> {
        let mut lent = writer.lend().await.expect("lend");
        let rows: Vec<(String,)> = sqlx::query_as("SELECT body FROM notes ORDER BY id")
            .fetch_all(&mut lent.conn)
            .await
            .expect("select");
        lent.give_back();
        rows.into_iter().map(|(b,)| b).collect()
    }

    fn insert(bodies: &[&str]) -> String {
        bodies
            .iter()
            .map(|b| format!("INSERT INTO notes (body) VALUES ('{b}')"))
            .collect::<Vec<_>>()
            .join(";\n")
    }

    #[tokio::test]
    async fn a_batch_that_fails_half_way_writes_nothing_and_the_writer_goes_on() {
        let (_dir, writer) = writer().await;
        let failed = writer
            .batch(
                insert(&["first", "second", "first"]),
                AnyArguments::default(),
            )
            .await;
        assert!(failed.is_err(), "the duplicate must fail the batch");
        assert!(bodies(&writer).await.is_empty(), "rolled back as a whole");

        writer
            .batch(insert(&["third"]), AnyArguments::default())
            .await
            .expect("the next batch runs in a transaction of its own");
        assert_eq!(bodies(&writer).await, ["third"]);
    }

    #[tokio::test]
    async fn a_batch_waits_while_the_connection_is_lent_and_runs_once_it_is_back() {
        let (_dir, writer) = writer().await;
        let lent = writer.lend().await.expect("lend");
        let queued = tokio::spawn({
            let writer = writer.clone();
            async move {
                writer
                    .batch(insert(&["after"]), AnyArguments::default())
                    .await
            }
        });
        let waited = tokio::time::timeout(Duration::from_millis(200), async {
            while !queued.is_finished() {
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(
            waited.is_err(),
            "the batch ran while the connection was lent"
        );
        lent.give_back();
        queued.await.expect("task").expect("batch");
        assert_eq!(bodies(&writer).await, ["after"]);
    }

    #[tokio::test]
    async fn a_batch_whose_caller_stopped_waiting_still_runs_to_its_end() {
        let (_dir, writer) = writer().await;
        {
            let batch = writer.batch(insert(&["one", "two"]), AnyArguments::default());
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
        assert_eq!(bodies(&writer).await, ["one", "two"]);
    }

    #[tokio::test]
    async fn a_connection_lost_by_its_borrower_is_opened_again() {
        let (_dir, writer) = writer().await;
        // A borrower that panics drops the connection without giving it back.
        drop(writer.lend().await.expect("lend"));
        writer
            .batch(insert(&["still writing"]), AnyArguments::default())
            .await
            .expect("batch on a reopened connection");
        assert_eq!(bodies(&writer).await, ["still writing"]);
    }

    #[tokio::test]
    async fn writes_after_closing_are_refused_with_an_error() {
        let (_dir, writer) = writer().await;
        writer.close().await;
        let refused = writer
            .batch(insert(&["late"]), AnyArguments::default())
            .await;
        assert!(matches!(
            refused,
            Err(StoreError::Database(sqlx::Error::PoolClosed))
        ));
        assert!(writer.lend().await.is_err());
    }
}
