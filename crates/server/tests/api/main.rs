//! API stories against the real server, each run on SQLite and on PostgreSQL.

mod helpers;

mod accounts;
mod ai_sessions;
mod auth;
mod errors;
mod flows;
mod operations;
mod sessions;
mod users;
