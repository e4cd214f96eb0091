//! Shapes shared by several resources.

use chrono::{DateTime, Utc};
use domain::User;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

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
    /// A message, or for 422 a list of `{loc, msg, type}`, or for quota 429 an object.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}
