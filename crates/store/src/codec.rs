//! Conversions between domain values and the portable column types (UUID text, Unix ms).

use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

use crate::StoreError;

pub fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn time(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {ms}")))
}

pub fn uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|_| StoreError::Corrupt(format!("uuid {s:?}")))
}

pub fn opt_uuid(s: Option<String>) -> Result<Option<Uuid>, StoreError> {
    s.as_deref().map(uuid).transpose()
}

/// Flags are stored as 0/1 integers: the Any driver cannot decode SQLite booleans.
pub fn flag(b: bool) -> i64 {
    i64::from(b)
}
