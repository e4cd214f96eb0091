//! Statements built with their arguments numbered as they are added, so that several can be
//! sent as one: on SQLite sqlx runs every statement of a query text on the connection's thread
//! before answering, and `$N` names the N-th argument of the whole text. One round trip instead
//! of one per statement matters where the single writer connection is held (see `Store`).

use sqlx::any::AnyArguments;
use sqlx::{Any, Arguments, Encode, Type};

use crate::{Result, StoreError};

#[derive(Default)]
pub(crate) struct Batch {
    args: AnyArguments<'static>,
    count: usize,
}

impl Batch {
    /// Adds an argument and returns its placeholder.
    pub fn arg<T>(&mut self, value: T) -> Result<String>
    where
        T: 'static + Encode<'static, Any> + Type<Any>,
    {
        self.args
            .add(value)
            .map_err(|e| StoreError::Corrupt(format!("argument: {e}")))?;
        self.count += 1;
        Ok(format!("${}", self.count))
    }

    /// The arguments, for `sqlx::query_with(&sql, args)`.
    pub fn into_args(self) -> AnyArguments<'static> {
        self.args
    }
}

/// One statement built alone: its text and its arguments.
pub(crate) fn statement(
    build: impl FnOnce(&mut Batch) -> Result<String>,
) -> Result<(String, AnyArguments<'static>)> {
    let mut batch = Batch::default();
    let sql = build(&mut batch)?;
    Ok((sql, batch.into_args()))
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
