//! The rows both seams hand back (`db`): owned, with their columns named, whichever backend
//! they came from, so one decoder per record ([`Columns`]) serves both. A SQLite row is read
//! off its statement ([`OwnedRow::from_sqlite`]), a PostgreSQL row converted from sqlx's
//! ([`OwnedRow::from_any`]); the values are SQLite's own kinds (NULL, integer, real, text),
//! which every column of the schema is.

use std::sync::Arc;

use rusqlite::types::{Value, ValueRef};
use sqlx::any::{AnyRow, AnyTypeInfoKind};
use sqlx::{Column, Row};

use crate::{Result, StoreError};

/// A row whose columns can be read by name.
pub(crate) trait Columns {
    fn col<'r, T: FromColumn<'r>>(&'r self, name: &str) -> Result<T>;
}

/// A Rust type one column decodes to.
pub(crate) trait FromColumn<'r>: Sized {
    fn from_value(value: ValueRef<'r>, name: &str) -> Result<Self>;
}

/// One row a statement returned, its values copied out of the connection.
#[derive(Debug, Clone)]
pub(crate) struct OwnedRow {
    pub names: Arc<[String]>,
    pub values: Vec<Value>,
}

impl OwnedRow {
    /// The column names of `statement`, shared by every row it returns.
    pub fn names_of(statement: &rusqlite::Statement<'_>) -> Arc<[String]> {
        statement
            .column_names()
            .into_iter()
            .map(String::from)
            .collect()
    }

    pub fn from_sqlite(
        names: &Arc<[String]>,
        row: &rusqlite::Row<'_>,
    ) -> rusqlite::Result<OwnedRow> {
        let values = (0..names.len())
            .map(|i| row.get::<_, Value>(i))
            .collect::<rusqlite::Result<_>>()?;
        Ok(OwnedRow {
            names: names.clone(),
            values,
        })
    }

    /// A PostgreSQL row, each column read as the kind its type names (booleans as 0/1).
    pub fn from_any(names: &Arc<[String]>, row: &AnyRow) -> Result<OwnedRow> {
        let mut values = Vec::with_capacity(names.len());
        for (i, column) in row.columns().iter().enumerate() {
            let value = match column.type_info().kind() {
                AnyTypeInfoKind::Null => Value::Null,
                AnyTypeInfoKind::Bool => row
                    .try_get::<Option<bool>, _>(i)?
                    .map_or(Value::Null, |b| Value::Integer(i64::from(b))),
                AnyTypeInfoKind::SmallInt => row
                    .try_get::<Option<i16>, _>(i)?
                    .map_or(Value::Null, |v| Value::Integer(v.into())),
                AnyTypeInfoKind::Integer => row
                    .try_get::<Option<i32>, _>(i)?
                    .map_or(Value::Null, |v| Value::Integer(v.into())),
                AnyTypeInfoKind::BigInt => row
                    .try_get::<Option<i64>, _>(i)?
                    .map_or(Value::Null, Value::Integer),
                AnyTypeInfoKind::Real => row
                    .try_get::<Option<f32>, _>(i)?
                    .map_or(Value::Null, |v| Value::Real(v.into())),
                AnyTypeInfoKind::Double => row
                    .try_get::<Option<f64>, _>(i)?
                    .map_or(Value::Null, Value::Real),
                AnyTypeInfoKind::Text => row
                    .try_get::<Option<String>, _>(i)?
                    .map_or(Value::Null, Value::Text),
                AnyTypeInfoKind::Blob => row
                    .try_get::<Option<Vec<u8>>, _>(i)?
                    .map_or(Value::Null, Value::Blob),
            };
            values.push(value);
        }
        Ok(OwnedRow {
            names: names.clone(),
            values,
        })
    }

    /// The column names of a PostgreSQL row.
    pub fn names_of_any(row: &AnyRow) -> Arc<[String]> {
        row.columns().iter().map(|c| c.name().to_string()).collect()
    }
}

impl Columns for OwnedRow {
    fn col<'r, T: FromColumn<'r>>(&'r self, name: &str) -> Result<T> {
        let index = self
            .names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| StoreError::Corrupt(format!("no column {name:?} in the row")))?;
        T::from_value(ValueRef::from(&self.values[index]), name)
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

/// Each type and how it is read from a value.
macro_rules! from_column {
    ($($ty:ty => $read:expr),* $(,)?) => {$(
        impl<'r> FromColumn<'r> for $ty {
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

    fn row(pairs: &[(&str, Value)]) -> OwnedRow {
        OwnedRow {
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
