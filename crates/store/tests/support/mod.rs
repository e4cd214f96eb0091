//! What the store's stories start from: a fresh database on SQLite or PostgreSQL, an admin
//! to own an account, and a session nobody has answered yet.

// Each story file is a crate of its own and uses only part of this.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use domain::session::{Intake, IntakeType, Session, SessionStatus};
use domain::Role;
use flowpilot_store::{NewUser, Store};
use sqlx::Connection;
use uuid::Uuid;

/// A migrated store on a SQLite file of its own, which lives as long as the directory.
pub async fn sqlite_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("fp.db").display());
    let store = Store::connect(&url).await.expect("connect");
    store.migrate().await.expect("migrate");
    (dir, store)
}

/// A new database, named `fp_test_<what>_<uuid>`, on the server of
/// `FLOWPILOT_TEST_POSTGRES_URL`: (that URL, its name, its URL); none when it is not set.
pub async fn fresh_postgres(what: &str) -> Option<(String, String, String)> {
    let url = std::env::var("FLOWPILOT_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())?;
    sqlx::any::install_default_drivers();
    let name = format!("fp_test_{what}_{}", Uuid::new_v4().simple());
    let mut admin = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
    let db_url = format!("{base}/{name}");
    Some((url, name, db_url))
}

/// The admin an account is created with.
pub fn admin(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        full_name: "Ada Admin".into(),
        password_hash: "hash".into(),
        role: Role::Admin,
        team_id: None,
        is_super_admin: false,
    }
}

/// An active free-text session of `user` on `title` (its intake too), with no step yet.
pub fn active_session(account: Uuid, user: Uuid, title: &str, now: DateTime<Utc>) -> Session {
    Session {
        id: Uuid::new_v4(),
        account_id: account,
        user_id: user,
        title: title.into(),
        status: SessionStatus::Active,
        intake_type: IntakeType::FreeText,
        intake: Intake {
            text: Some(title.into()),
            log: None,
        },
        problem_summary: None,
        problem_domain: None,
        confidence_score: 0.2,
        matched_flow_id: None,
        matched_flow_name: None,
        matched_flow_version: None,
        match_score: None,
        engine: "offline".into(),
        step_count: 0,
        resolution_summary: None,
        escalation_reason: None,
        escalated_to_id: None,
        rating: None,
        feedback: None,
        documentation: None,
        total_input_tokens: 0,
        total_output_tokens: 0,
        created_at: now,
        updated_at: now,
        resolved_at: None,
        escalated_at: None,
    }
}
