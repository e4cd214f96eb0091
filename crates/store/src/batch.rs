//! Statements built with their arguments numbered as they are added, so that several can be
//! sent as one: `$N` names the N-th argument of the whole batch, whichever statement it is in.
//! One round trip instead of one per statement matters where the single SQLite writer
//! connection is held (see `sqlite_writer`); on PostgreSQL the same builders make statements
//! that run one by one.

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
    &'static str => |v: &str| Arg::Text(Some(v.to_string())),
    Option<String> => Arg::Text,
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

#[derive(Default)]
pub(crate) struct Batch {
    args: Vec<Arg>,
}

impl Batch {
    /// Adds an argument and returns its placeholder.
    pub fn arg(&mut self, value: impl Into<Arg>) -> Result<String> {
        self.args.push(value.into());
        Ok(format!("${}", self.args.len()))
    }

    /// The arguments in order: `$N` is the N-th.
    pub fn args(&self) -> &[Arg] {
        &self.args
    }

    /// The arguments, for `sqlx::query_with(&sql, args)`.
    pub fn into_args(self) -> Result<AnyArguments<'static>> {
        let mut out = AnyArguments::default();
        for arg in self.args {
            let added = match arg {
                Arg::Text(v) => out.add(v),
                Arg::Integer(v) => out.add(v),
                Arg::Real(Some(v)) => out.add(v),
                Arg::Real(None) => out.add(null_double()),
            };
            added.map_err(|e| StoreError::Corrupt(format!("argument: {e}")))?;
        }
        Ok(out)
    }
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
pub(crate) fn statement(
    build: impl FnOnce(&mut Batch) -> Result<String>,
) -> Result<(String, AnyArguments<'static>)> {
    let mut batch = Batch::default();
    let sql = build(&mut batch)?;
    Ok((sql, batch.into_args()?))
}

/// `VALUES (…)`, or with a guard `SELECT … WHERE guard`, for an INSERT that must only happen
/// when the statement before it in a batch did what it should.
pub(crate) fn guarded_values(placeholders: &[String], guard: Option<&str>) -> String {
    let list = placeholders.join(", ");
    match guard {
        Some(guard) => format!("SELECT {list} WHERE {guard}"),
        None => format!("VALUES ({list})"),
    }
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
