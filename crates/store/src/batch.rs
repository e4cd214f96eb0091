//! The statements a store method sends, built once for both backends: each with its own
//! arguments (`$N` is the N-th argument of its statement), and each after the first
//! optionally guarded, running only when the statement before it changed exactly one row.
//!
//! A batch is what the write seam takes (`db::Db::write`: every statement in one transaction,
//! one round trip to the SQLite writer thread) and what the read seam takes (`db::Db::read`).
//! The guard is how a conditional change stays one transaction without a round trip back to
//! the caller: a step answered meanwhile makes the answer change no row, and everything
//! guarded after it is skipped. Both backends check it the same way, in Rust, between two
//! statements of the one transaction (`changes()` of the statement before), so the SQL of a
//! statement never depends on whether it is guarded.

use std::ops::Range;

use sqlx::any::AnyArguments;
use sqlx::Arguments;

use crate::{Result, StoreError};

/// One argument, with its type kept for a NULL: PostgreSQL wants `NULL::bigint` for a
/// bigint column, not a NULL of text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    Text(Option<String>),
    Integer(Option<i64>),
    Real(Option<f64>),
}

/// Each Rust type an argument is built from, and the kind of argument it makes.
macro_rules! arg_from {
    ($($ty:ty => $make:expr),* $(,)?) => {$(
        impl From<$ty> for Arg {
            fn from(v: $ty) -> Arg {
                #[allow(clippy::redundant_closure_call)]
                ($make)(v)
            }
        }
    )*};
}

arg_from! {
    String => |v| Arg::Text(Some(v)),
    &str => |v: &str| Arg::Text(Some(v.to_string())),
    &String => |v: &String| Arg::Text(Some(v.clone())),
    Option<String> => Arg::Text,
    Option<&str> => |v: Option<&str>| Arg::Text(v.map(String::from)),
    i64 => |v| Arg::Integer(Some(v)),
    Option<i64> => Arg::Integer,
    f64 => |v| Arg::Real(Some(v)),
    Option<f64> => Arg::Real,
}

impl rusqlite::ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Arg::Text(v) => v.to_sql(),
            Arg::Integer(v) => v.to_sql(),
            Arg::Real(v) => v.to_sql(),
        }
    }
}

/// One statement of a batch: its text, where its arguments are in the batch's, and whether
/// it runs only when the statement before it changed exactly one row.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    pub sql: String,
    args: Range<usize>,
    pub guarded: bool,
}

/// What one statement of a written batch did: the rows it changed and the rows it returned.
/// A guarded statement that was skipped changed none and returned none.
#[derive(Debug, Clone, Default)]
pub(crate) struct Done {
    pub changed: u64,
    pub rows: Vec<crate::row::OwnedRow>,
}

#[derive(Debug, Default)]
pub(crate) struct Batch {
    args: Vec<Arg>,
    /// Where the arguments of the statement being built start.
    start: usize,
    statements: Vec<Planned>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Adds an argument to the statement being built and returns its placeholder.
    pub fn arg(&mut self, value: impl Into<Arg>) -> Result<String> {
        self.args.push(value.into());
        Ok(format!("${}", self.args.len() - self.start))
    }

    /// Adds the statement `build` returns, with the arguments it added.
    pub fn push(&mut self, build: impl FnOnce(&mut Batch) -> Result<String>) -> Result<()> {
        self.add(build, false)
    }

    /// The same, run only when the statement before it changed exactly one row.
    pub fn push_guarded(&mut self, build: impl FnOnce(&mut Batch) -> Result<String>) -> Result<()> {
        self.add(build, true)
    }

    /// Adds a statement written with its own `$1`, `$2` … and the arguments they name.
    pub fn sql(&mut self, sql: impl Into<String>, args: impl IntoIterator<Item = Arg>) {
        let start = self.args.len();
        self.args.extend(args);
        self.statements.push(Planned {
            sql: sql.into(),
            args: start..self.args.len(),
            guarded: false,
        });
        self.start = self.args.len();
    }

    fn add(
        &mut self,
        build: impl FnOnce(&mut Batch) -> Result<String>,
        guarded: bool,
    ) -> Result<()> {
        self.start = self.args.len();
        let sql = build(self)?;
        self.statements.push(Planned {
            sql,
            args: self.start..self.args.len(),
            guarded,
        });
        self.start = self.args.len();
        Ok(())
    }

    pub fn statements(&self) -> &[Planned] {
        &self.statements
    }

    /// The arguments of `statement`, in order: `$N` is the N-th.
    pub fn args_of(&self, statement: &Planned) -> &[Arg] {
        self.args.get(statement.args.clone()).unwrap_or_default()
    }
}

/// `args` for `sqlx::query_with(&sql, args)`.
pub(crate) fn sqlx_args(args: &[Arg]) -> Result<AnyArguments<'static>> {
    let mut out = AnyArguments::default();
    for arg in args {
        let added = match arg.clone() {
            Arg::Text(v) => out.add(v),
            Arg::Integer(v) => out.add(v),
            Arg::Real(Some(v)) => out.add(v),
            Arg::Real(None) => out.add(null_double()),
        };
        added.map_err(|e| StoreError::Corrupt(format!("argument: {e}")))?;
    }
    Ok(out)
}

/// A NULL that PostgreSQL takes as `double precision`.
///
/// sqlx 0.8's `Any` driver hands a NULL `f64` to PostgreSQL as a NULL `f32` (it swaps the two
/// float kinds when it converts a NULL). PostgreSQL then prepares the statement with a `real`
/// parameter, the connection caches that statement, and every later call that binds a real
/// `f64` there sends eight bytes for a four-byte parameter ("incorrect binary data format"),
/// until the connection closes. Binding the NULL as an `f32` comes out as the `f64` it should
/// be; `postgres_takes_a_null_real_then_a_real_on_one_connection` (below) fails the day
/// sqlx corrects the swap.
fn null_double() -> Option<f32> {
    None
}

/// One statement built alone: its text and its arguments.
#[cfg(test)]
pub(crate) fn statement(
    build: impl FnOnce(&mut Batch) -> Result<String>,
) -> Result<(String, AnyArguments<'static>)> {
    let mut batch = Batch::default();
    batch.push(build)?;
    let planned = batch.statements()[0].clone();
    Ok((planned.sql.clone(), sqlx_args(batch.args_of(&planned))?))
}

/// `VALUES (…)` of an INSERT.
pub(crate) fn values(placeholders: &[String]) -> String {
    format!("VALUES ({})", placeholders.join(", "))
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection, Row};

    use super::*;

    /// Runs against the database of `FLOWPILOT_TEST_POSTGRES_URL`; says so when it is unset.
    #[tokio::test]
    async fn postgres_takes_a_null_real_then_a_real_on_one_connection() {
        let Some(url) = std::env::var("FLOWPILOT_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
        else {
            eprintln!("*** PostgreSQL SKIPPED: set FLOWPILOT_TEST_POSTGRES_URL to run it ***");
            return;
        };
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&url).await.expect("connect");
        sqlx::query("CREATE TEMPORARY TABLE scores (n BIGINT, score DOUBLE PRECISION, note TEXT)")
            .execute(&mut conn)
            .await
            .expect("table");
        let rows: [(i64, Option<f64>, Option<String>); 3] = [
            (1, None, None),
            (2, Some(0.75), Some("matched".into())),
            (3, None, None),
        ];
        // The same statement text each time, so the connection's prepared statement is reused.
        for (n, score, note) in rows.clone() {
            let (sql, args) = statement(|b| {
                Ok(format!(
                    "INSERT INTO scores (n, score, note) VALUES ({}, {}, {})",
                    b.arg(n)?,
                    b.arg(score)?,
                    b.arg(note)?
                ))
            })
            .expect("statement");
            sqlx::query_with(&sql, args)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("row {n}: {e}"));
        }
        let stored: Vec<(i64, Option<f64>)> = sqlx::query("SELECT n, score FROM scores ORDER BY n")
            .fetch_all(&mut conn)
            .await
            .expect("read")
            .iter()
            .map(|r| (r.get::<i64, _>(0), r.get::<Option<f64>, _>(1)))
            .collect();
        assert_eq!(stored, vec![(1, None), (2, Some(0.75)), (3, None)]);
    }
}
