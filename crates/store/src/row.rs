//! Reading columns by name from every kind of row the store gets back: sqlx's, SQLite's own
//! (the reads and batches that call SQLite directly, `sqlite_direct`) and the owned rows the
//! writer thread hands back ([`BatchRow`]), so one decoder serves them all.

use std::sync::Arc;

use rusqlite::types::{Value, ValueRef};
use sqlx::any::AnyRow;

use crate::{Result, StoreError};

/// A row whose columns can be read by name.
pub(crate) trait Columns {
    fn col<'r, T: FromColumn<'r>>(&'r self, name: &str) -> Result<T>;
}

/// A Rust type one column decodes to.
pub(crate) trait FromColumn<'r>: Sized {
    fn from_any(row: &'r AnyRow, name: &str) -> Result<Self>;
    fn from_value(value: ValueRef<'r>, name: &str) -> Result<Self>;
}

impl Columns for AnyRow {
    fn col<'r, T: FromColumn<'r>>(&'r self, name: &str) -> Result<T> {
        T::from_any(self, name)
    }
}

/// One row a batch statement returned, with its values read off the statement.
#[derive(Debug, Clone)]
pub(crate) struct BatchRow {
    pub names: Arc<[String]>,
    pub values: Vec<Value>,
}

impl Columns for BatchRow {
    fn col<'r, T: FromColumn<'r>>(&'r self, name: &str) -> Result<T> {
        let index = self
            .names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| StoreError::Corrupt(format!("no column {name:?} in the row")))?;
        T::from_value(ValueRef::from(&self.values[index]), name)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn col<'r, T: FromColumn<'r>>(&'r self, name: &str) -> Result<T> {
        let value = self
            .get_ref(name)
            .map_err(|e| StoreError::Corrupt(format!("column {name:?}: {e}")))?;
        T::from_value(value, name)
    }
}

fn mismatched(name: &str, value: ValueRef<'_>, wanted: &str) -> StoreError {
    StoreError::Corrupt(format!(
        "column {name:?} holds {:?}, not {wanted}",
        value.data_type()
    ))
}

fn text<'r>(value: ValueRef<'r>, name: &str) -> Result<Option<&'r str>> {
    match value {
        ValueRef::Null => Ok(None),
        ValueRef::Text(bytes) => std::str::from_utf8(bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("column {name:?}: {e}"))),
        other => Err(mismatched(name, other, "text")),
    }
}

fn integer(value: ValueRef<'_>, name: &str) -> Result<Option<i64>> {
    match value {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(i) => Ok(Some(i)),
        other => Err(mismatched(name, other, "an integer")),
    }
}

fn real(value: ValueRef<'_>, name: &str) -> Result<Option<f64>> {
    match value {
        ValueRef::Null => Ok(None),
        ValueRef::Real(r) => Ok(Some(r)),
        // A REAL column keeps whole numbers as integers when they fit.
        ValueRef::Integer(i) => Ok(Some(i as f64)),
        other => Err(mismatched(name, other, "a real number")),
    }
}

fn required<T>(value: Option<T>, name: &str) -> Result<T> {
    value.ok_or_else(|| StoreError::Corrupt(format!("column {name:?} is null")))
}

/// Each type decodes from sqlx's row through sqlx, and from a batch row through `$read`.
macro_rules! from_column {
    ($($ty:ty => $read:expr),* $(,)?) => {$(
        impl<'r> FromColumn<'r> for $ty {
            fn from_any(row: &'r AnyRow, name: &str) -> Result<Self> {
                Ok(sqlx::Row::try_get(row, name)?)
            }
            fn from_value(value: ValueRef<'r>, name: &str) -> Result<Self> {
                #[allow(clippy::redundant_closure_call)]
                ($read)(value, name)
            }
        }
    )*};
}

from_column! {
    &'r str => |v, n| required(text(v, n)?, n),
    Option<&'r str> => text,
    String => |v, n| Ok(required(text(v, n)?, n)?.to_string()),
    Option<String> => |v, n| Ok(text(v, n)?.map(String::from)),
    i64 => |v, n| required(integer(v, n)?, n),
    Option<i64> => integer,
    f64 => |v, n| required(real(v, n)?, n),
    Option<f64> => real,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, Value)]) -> BatchRow {
        BatchRow {
            names: pairs.iter().map(|(n, _)| n.to_string()).collect(),
            values: pairs.iter().map(|(_, v)| v.clone()).collect(),
        }
    }

    #[test]
    fn a_batch_row_reads_each_column_as_the_type_asked_for() {
        let r = row(&[
            ("title", Value::Text("VPN drops".into())),
            ("step_count", Value::Integer(3)),
            ("score", Value::Integer(1)),
            ("summary", Value::Null),
        ]);
        assert_eq!(r.col::<&str>("title").unwrap(), "VPN drops");
        assert_eq!(r.col::<String>("title").unwrap(), "VPN drops");
        assert_eq!(r.col::<i64>("step_count").unwrap(), 3);
        assert_eq!(r.col::<f64>("score").unwrap(), 1.0);
        assert_eq!(r.col::<Option<String>>("summary").unwrap(), None);
        assert_eq!(r.col::<Option<i64>>("step_count").unwrap(), Some(3));
    }

    #[test]
    fn a_batch_row_refuses_a_missing_column_a_null_and_a_wrong_type() {
        let r = row(&[("title", Value::Text("x".into())), ("summary", Value::Null)]);
        assert!(matches!(
            r.col::<i64>("nowhere"),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            r.col::<String>("summary"),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(r.col::<i64>("title"), Err(StoreError::Corrupt(_))));
    }
}
