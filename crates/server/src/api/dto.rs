//! Shapes shared by several resources.

use chrono::{DateTime, Utc};
use domain::User;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::quota::QuotaStatus;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserOut {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    /// `viewer`, `engineer` or `admin`.
    pub role: String,
    pub account_id: Uuid,
    pub team_id: Option<Uuid>,
    pub is_super_admin: bool,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        UserOut {
            id: u.id,
            email: u.email,
            full_name: u.full_name,
            role: u.role.as_str().to_string(),
            account_id: u.account_id,
            team_id: u.team_id,
            is_super_admin: u.is_super_admin,
            is_active: u.is_active,
            created_at: u.created_at,
        }
    }
}

/// The `{"detail": ...}` body of every error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    #[schema(value_type = ErrorDetail)]
    pub detail: serde_json::Value,
}

/// What an error's `detail` holds: a message; for 422 the fields that failed; for a used-up
/// AI quota (429) the limit and when it resets; for an edit of an old version (409) the
/// current version. Documentation only: handlers build the value.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ErrorDetail {
    Message(String),
    Fields(Vec<FieldErrorOut>),
    Quota(QuotaExceeded),
    StaleVersion(StaleVersionOut),
}

/// The `detail` of a 409 for an edit based on an old version (memory.md "Versions").
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct StaleVersionOut {
    pub msg: String,
    /// `stale_version`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The version to fetch, merge onto and send again.
    pub current_version: i64,
}

/// One failed field, located FastAPI-style: `["body", "email"]`, `["query", "limit"]`.
#[derive(Serialize, ToSchema)]
#[schema(as = FieldError)]
#[allow(dead_code)]
pub struct FieldErrorOut {
    pub loc: Vec<LocSegment>,
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// A field name, or the index of an item in a list.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum LocSegment {
    Name(String),
    Index(u64),
}

/// The `detail` of the AI-quota 429 (api.md "AI quota").
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct QuotaExceeded {
    /// `AI limit exceeded (daily)` or `AI limit exceeded (monthly)`.
    pub message: String,
    pub reset_at: DateTime<Utc>,
    pub quota: QuotaStatus,
}
