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
                Arg::Real(v) => out.add(v),
            };
            added.map_err(|e| StoreError::Corrupt(format!("argument: {e}")))?;
        }
        Ok(out)
    }
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
