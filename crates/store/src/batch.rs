//! Statements built with their arguments numbered as they are added, so that several can be
//! sent as one: on SQLite sqlx runs every statement of a query text on the connection's thread
//! before answering, and `$N` names the N-th argument of the whole text. One round trip instead
//! of one per statement matters where the single writer connection is held (see `Store`).

use sqlx::any::AnyArguments;
use sqlx::{Any, Arguments, Encode, Type};

use crate::{Result, StoreError};

/// Adds one argument to the arguments of a query; kept as a closure so that the arguments of
/// several batches can be laid end to end (the SQLite writer's group commits).
type Adder = Box<dyn Fn(&mut AnyArguments<'static>) -> Result<()> + Send>;

#[derive(Default)]
pub(crate) struct Batch {
    adders: Vec<Adder>,
}

impl Batch {
    /// Adds an argument and returns its placeholder.
    pub fn arg<T>(&mut self, value: T) -> Result<String>
    where
        T: 'static + Encode<'static, Any> + Type<Any> + Clone + Send,
    {
        self.adders.push(Box::new(move |args| {
            args.add(value.clone())
                .map_err(|e| StoreError::Corrupt(format!("argument: {e}")))
        }));
        Ok(format!("${}", self.adders.len()))
    }

    /// How many arguments the batch has: its placeholders are `$1` to `$len`.
    pub fn len(&self) -> usize {
        self.adders.len()
    }

    /// Appends the arguments to `args`: the batch's placeholders then count from the number
    /// of arguments `args` had before.
    pub fn add_to(&self, args: &mut AnyArguments<'static>) -> Result<()> {
        self.adders.iter().try_for_each(|add| add(args))
    }

    /// The arguments, for `sqlx::query_with(&sql, args)`.
    pub fn into_args(self) -> Result<AnyArguments<'static>> {
        let mut args = AnyArguments::default();
        self.add_to(&mut args)?;
        Ok(args)
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
