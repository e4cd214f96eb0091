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
use sqlx::{AnyConnection, Executor, Row};
use tokio::sync::{mpsc, oneshot};

use crate::batch::Batch;
use crate::connections::open_sqlite;
use crate::{Result, StoreError};

enum Job {
    Batch(Queued),
    Lend { reply: oneshot::Sender<Lent> },
    Close { done: oneshot::Sender<()> },
}

/// A batch waiting for the writer, with where its rows go.
struct Queued {
    sql: String,
    args: Batch,
    reply: oneshot::Sender<Result<Vec<AnyRow>>>,
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
            .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || runtime.block_on(serve(options, setup, queue, opened)))
            .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
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
    pub async fn batch(&self, sql: String, args: Batch) -> Result<Vec<AnyRow>> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Batch(Queued { sql, args, reply }))
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

async fn serve(
    options: AnyConnectOptions,
    setup: &'static str,
    mut queue: mpsc::UnboundedReceiver<Job>,
    opened: oneshot::Sender<Result<()>>,
) {
    let mut conn = match open_sqlite(&options, setup).await {
        Ok(conn) => {
            let _ = opened.send(Ok(()));
            Some(conn)
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
                if let Some(current) = conn.take() {
                    if let Err(err) = sqlx::Connection::close(current).await {
                        tracing::warn!(%err, "could not close the SQLite writer connection cleanly");
                    }
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
                match ready(conn.take(), &options, setup).await {
                    Ok(mut current) => {
                        commit_group(&mut current, group).await;
                        conn = Some(current);
                    }
                    Err(err) => {
                        for queued in group {
                            let _ = queued.reply.send(Err(unavailable(&err)));
                        }
                    }
                }
            }
            Job::Lend { reply } => {
                // Dropping the reply, when the connection cannot be opened, tells the borrower
                // the writer is unavailable.
                let Ok(current) = ready(conn.take(), &options, setup).await else {
                    continue;
                };
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
        }
    }
}

/// The writer connection, opened again when a borrower that panicked lost it.
async fn ready(
    conn: Option<AnyConnection>,
    options: &AnyConnectOptions,
    setup: &str,
) -> Result<AnyConnection> {
    match conn {
        Some(conn) => Ok(conn),
        None => open_sqlite(options, setup).await.inspect_err(|err| {
            tracing::error!(%err, "could not reopen the SQLite writer connection");
        }),
    }
}

/// What each batch of a group is told when the writer connection could not be opened.
fn unavailable(err: &StoreError) -> StoreError {
    StoreError::Database(sqlx::Error::Io(std::io::Error::other(format!(
        "the SQLite writer connection could not be opened: {err}"
    ))))
}

/// At most this many batches commit together. Each mix of batches is one query text, which
/// SQLite prepares once and sqlx then keeps (100 per connection): with two or three kinds of
/// batch on the hot path, groups of up to four keep every mix in that cache.
const MAX_GROUP: usize = 4;

/// Commits the batches of `group` in one transaction, in one round trip, and hands each its
/// own rows: the writer does as many writes as queued up during the last one instead of one,
/// which is what lets writes keep up when they queue. When the group fails, the batches run
/// again one by one, so a batch that fails fails alone.
async fn commit_group(conn: &mut AnyConnection, group: Vec<Queued>) {
    if let [one] = group.as_slice() {
        let result = run_alone(conn, one).await;
        if let Some(one) = group.into_iter().next() {
            let _ = one.reply.send(result);
        }
        return;
    }
    let together = lay_end_to_end(&group);
    let result = match together {
        Ok((sql, args)) => in_transaction(conn, &sql, args).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(rows) => {
            let mut rows = rows.into_iter();
            for queued in group {
                let own = rows
                    .by_ref()
                    .take_while(|row| row.try_column(END_OF_BATCH).is_err())
                    .collect();
                let _ = queued.reply.send(Ok(own));
            }
        }
        Err(_) => {
            for queued in group {
                let result = run_alone(conn, &queued).await;
                let _ = queued.reply.send(result);
            }
        }
    }
}

/// Marks where one batch's rows end in the rows of a group.
const END_OF_BATCH: &str = "flowpilot_end_of_batch";

/// One query text for the batches of a group, each followed by a row that marks its end,
/// with their arguments one after the other.
fn lay_end_to_end(group: &[Queued]) -> Result<(String, AnyArguments<'static>)> {
    let mut sql = String::new();
    let mut args = AnyArguments::default();
    let mut offset = 0;
    for (i, queued) in group.iter().enumerate() {
        if i > 0 {
            sql.push_str(";\n");
        }
        sql.push_str(&shift_placeholders(&queued.sql, offset));
        sql.push_str(&format!(";\nSELECT 1 AS {END_OF_BATCH}"));
        queued.args.add_to(&mut args)?;
        offset += queued.args.len();
    }
    Ok((sql, args))
}

async fn run_alone(conn: &mut AnyConnection, queued: &Queued) -> Result<Vec<AnyRow>> {
    let mut args = AnyArguments::default();
    queued.args.add_to(&mut args)?;
    in_transaction(conn, &queued.sql, args).await
}

/// `$N` becomes `$N+offset` outside quoted literals: the placeholders of a batch that follows
/// `offset` arguments of others.
fn shift_placeholders(sql: &str, offset: usize) -> String {
    if offset == 0 {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
            out.push(c);
        } else if c == '$' && !quoted && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            let mut n = 0usize;
            while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                n = n * 10 + d as usize;
                chars.next();
            }
            out.push('$');
            out.push_str(&(n + offset).to_string());
        } else {
            out.push(c);
        }
    }
    out
}

async fn in_transaction(
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

    use sqlx::Row;

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
            .batch(insert(&["first", "second", "first"]), Batch::default())
            .await;
        assert!(failed.is_err(), "the duplicate must fail the batch");
        assert!(bodies(&writer).await.is_empty(), "rolled back as a whole");

        writer
            .batch(insert(&["third"]), Batch::default())
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
            async move { writer.batch(insert(&["after"]), Batch::default()).await }
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
            let batch = writer.batch(insert(&["one", "two"]), Batch::default());
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
            .batch(insert(&["still writing"]), Batch::default())
            .await
            .expect("batch on a reopened connection");
        assert_eq!(bodies(&writer).await, ["still writing"]);
    }

    /// Queues a batch that inserts `body` (as an argument) and returns the inserted body.
    fn queue_insert(
        writer: &SqliteWriter,
        body: &str,
    ) -> tokio::task::JoinHandle<Result<Vec<String>>> {
        let writer = writer.clone();
        let body = body.to_string();
        tokio::spawn(async move {
            let mut args = Batch::default();
            let sql = format!(
                "INSERT INTO notes (body) VALUES ({}) RETURNING body",
                args.arg(body)?
            );
            let rows = writer.batch(sql, args).await?;
            Ok(rows.iter().map(|r| r.get::<String, _>("body")).collect())
        })
    }

    /// Holds the connection while `queue` queues batches, so they all wait for the writer at
    /// once and it takes them as one group.
    async fn queued_together<T>(writer: &SqliteWriter, queue: impl FnOnce() -> T) -> T {
        let lent = writer.lend().await.expect("lend");
        let queued = queue();
        // On the test's single-threaded runtime this runs each spawned task up to its wait.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        lent.give_back();
        queued
    }

    #[tokio::test]
    async fn batches_queued_together_commit_together_and_each_gets_its_own_rows() {
        let (_dir, writer) = writer().await;
        let tasks = queued_together(&writer, || {
            ["alpha", "beta", "gamma"].map(|b| queue_insert(&writer, b))
        })
        .await;
        for (task, body) in tasks.into_iter().zip(["alpha", "beta", "gamma"]) {
            assert_eq!(task.await.expect("task").expect("batch"), [body]);
        }
        assert_eq!(bodies(&writer).await, ["alpha", "beta", "gamma"]);
    }

    #[tokio::test]
    async fn a_failing_batch_of_a_group_fails_alone() {
        let (_dir, writer) = writer().await;
        let tasks = queued_together(&writer, || {
            ["alpha", "alpha", "gamma"].map(|b| queue_insert(&writer, b))
        })
        .await;
        let [first, second, third] = tasks;
        assert_eq!(first.await.expect("task").expect("first"), ["alpha"]);
        assert!(second.await.expect("task").is_err(), "the duplicate fails");
        assert_eq!(third.await.expect("task").expect("third"), ["gamma"]);
        assert_eq!(bodies(&writer).await, ["alpha", "gamma"]);
    }

    #[test]
    fn placeholders_move_past_the_arguments_before_them_but_not_inside_literals() {
        assert_eq!(
            shift_placeholders("UPDATE t SET a = $1, b = '$2' WHERE c = $12", 3),
            "UPDATE t SET a = $4, b = '$2' WHERE c = $15"
        );
    }

    #[tokio::test]
    async fn writes_after_closing_are_refused_with_an_error() {
        let (_dir, writer) = writer().await;
        writer.close().await;
        let refused = writer.batch(insert(&["late"]), Batch::default()).await;
        assert!(matches!(
            refused,
            Err(StoreError::Database(sqlx::Error::PoolClosed))
        ));
        assert!(writer.lend().await.is_err());
    }
}
