//! Authentication: password hashing, opaque access tokens, and the extractor that turns a
//! bearer token into the current user.

pub mod accounts;
mod current_user;
pub mod password;
pub mod token;

pub use current_user::{AdminUser, CurrentUser, SuperAdmin, WorkingUser};
