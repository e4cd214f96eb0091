//! SQLite called directly: every read of the store ([`DirectReaders`]) and the writer
//! thread's batches (`sqlite_writer`).
//!
//! sqlx runs each SQLite connection on a thread of its own and sends every row back as a
//! message, so a read of twenty rows crossed threads about twenty times; under the bench's
//! load those hand-offs were a large share of the process's context switches
//! (docs/benchmarks.md, session 5). The hot reads, a handful of indexed lookups made on every
//! request (the caller's token, the account, a session's newest steps), run on the calling
//! thread: they take less time than a hand-off to another thread and back.
//! The others (lists, exports) run the same way on tokio's blocking pool (`sqlite`), so a
//! long one does not hold a runtime thread.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, Statement};

use crate::batch::Arg;
use crate::row::OwnedRow;
use crate::sqlite_open::open_direct;
use crate::Result;

/// Binds each `$N` of `statement` to the N-th of `args`, as sqlx numbers them.
pub(crate) fn bind_numbered(statement: &mut Statement<'_>, args: &[Arg]) -> rusqlite::Result<()> {
    for index in 1..=statement.parameter_count() {
        let name = statement.parameter_name(index).unwrap_or("?");
        let arg = name
            .strip_prefix('$')
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| args.get(n.checked_sub(1)?))
            .ok_or_else(|| {
                rusqlite::Error::InvalidParameterName(format!(
                    "{name} with {} arguments",
                    args.len()
                ))
            })?;
        statement.raw_bind_parameter(index, arg)?;
    }
    Ok(())
}

/// Every row `sql` returns for `args`.
pub(crate) fn query_all(conn: &Connection, sql: &str, args: &[Arg]) -> Result<Vec<OwnedRow>> {
    let mut statement = conn.prepare_cached(sql)?;
    bind_numbered(&mut statement, args)?;
    let names = OwnedRow::names_of(&statement);
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(OwnedRow::from_sqlite(&names, row)?);
    }
    Ok(out)
}

/// How long a direct read waits for a lock before the database counts as unavailable (503).
/// WAL readers wait only in rare moments (another connection recovering the log); the wait
/// holds one of the runtime's threads, so it is kept short rather than the writers' ten
/// seconds.
const READ_BUSY_TIMEOUT: Duration = Duration::from_millis(250);

/// At most this many idle reader connections are kept; more are opened when more threads
/// read at once, and closed after.
const IDLE_READERS: usize = 16;

/// Query-only connections for the direct reads, each used by one thread at a time.
pub(crate) struct DirectReaders {
    file: PathBuf,
    setup: &'static str,
    idle: Mutex<Vec<Connection>>,
}

impl DirectReaders {
    pub fn new(file: PathBuf, setup: &'static str) -> DirectReaders {
        DirectReaders {
            file,
            setup,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub fn idle_count(&self) -> u32 {
        self.idle.lock().map_or(0, |idle| idle.len() as u32)
    }

    /// Runs `read` on an idle connection, or a new one, on this thread.
    pub fn read<T>(&self, read: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let idle = self.idle.lock().map(|mut idle| idle.pop()).unwrap_or(None);
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let conn = open_direct(&self.file, self.setup)?;
                conn.busy_timeout(READ_BUSY_TIMEOUT)?;
                conn
            }
        };
        let result = read(&conn);
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < IDLE_READERS {
                idle.push(conn);
            }
        }
        result
    }

    /// Closes the idle connections; reads after this open new ones.
    pub fn close(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }
}
