//! Users and roles.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Roles are ordered: `viewer < engineer < admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Engineer,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Engineer, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Engineer => "engineer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn at_least(self, other: Role) -> bool {
        self >= other
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub role: Role,
    pub account_id: Uuid,
    pub team_id: Option<Uuid>,
    pub is_super_admin: bool,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Engineers and admins may change things; viewers only look.
    pub fn can_work(&self) -> bool {
        self.role.at_least(Role::Engineer)
    }
}

/// Normalises an email for storage and lookup: trimmed and lower-cased, since mail
/// providers treat addresses case-insensitively in practice and users type them both ways.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A deliberately modest check: one `@`, something on each side, a dot in the domain,
/// no whitespace. Real verification is sending mail, which FlowPilot does not do.
pub fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !email.chars().any(char::is_whitespace)
        && email.len() <= 254
}

pub const PASSWORD_MIN: usize = 10;
pub const PASSWORD_MAX: usize = 128;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin.at_least(Role::Engineer));
        assert!(Role::Engineer.at_least(Role::Engineer));
        assert!(!Role::Viewer.at_least(Role::Engineer));
    }

    #[test]
    fn emails_are_checked_loosely() {
        assert!(is_plausible_email("a@b.co"));
        assert!(!is_plausible_email("ab.co"));
        assert!(!is_plausible_email("a@b"));
        assert!(!is_plausible_email("a b@c.de"));
        assert!(!is_plausible_email("@c.de"));
        assert_eq!(normalize_email("  Bob@Example.COM "), "bob@example.com");
    }
}
