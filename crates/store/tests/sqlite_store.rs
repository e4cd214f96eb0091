//! Storage stories that need no server: the SQLite file is created, migrated and used.
//! The full conformance suite (the same stories on SQLite and PostgreSQL) runs through the API
//! in crates/server/tests.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

mod support;

use chrono::{Duration, Utc};
use domain::Plan;
use flowpilot_store::{NewAccount, NewToken, StoreError};
use support::{admin, sqlite_store};

#[tokio::test]
async fn a_missing_database_file_is_created_and_migrating_twice_is_harmless() {
    let (_dir, store) = sqlite_store().await;
    store.migrate().await.expect("second migrate");
    store.ping().await.expect("ping");
}

#[tokio::test]
async fn an_account_and_its_admin_are_created_together_and_emails_are_unique() {
    let (_dir, store) = sqlite_store().await;
    let now = Utc::now();
    let acct = NewAccount {
        name: "Acme IT".into(),
        plan: Plan::Free,
    };
    let (account, user) = store
        .create_account_with_user(acct.clone(), admin("ada@acme.test"), now)
        .await
        .expect("create");
    assert_eq!(user.account_id, account.id);
    assert!(user.is_active);
    let again = store
        .create_account_with_user(acct, admin("ada@acme.test"), now)
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    // The failed attempt left no orphan account behind.
    assert!(store.account_by_name("Acme IT").await.unwrap().is_some());
    let users = store.users_of_account(account.id).await.unwrap();
    assert_eq!(users.len(), 1);
}

#[tokio::test]
async fn tokens_stop_working_when_revoked_expired_or_the_user_is_deactivated() {
    let (_dir, store) = sqlite_store().await;
    let now = Utc::now();
    let (_, user) = store
        .create_account_with_user(
            NewAccount {
                name: "A".into(),
                plan: Plan::Free,
            },
            admin("a@a.test"),
            now,
        )
        .await
        .unwrap();
    for (hash, expires) in [
        ("live", now + Duration::hours(1)),
        ("old", now - Duration::seconds(1)),
    ] {
        store
            .insert_token(
                NewToken {
                    token_hash: hash.into(),
                    user_id: user.id,
                    expires_at: expires,
                },
                now,
            )
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .user_by_token("live", now)
            .await
            .unwrap()
            .map(|u| u.id),
        Some(user.id)
    );
    assert!(store.user_by_token("old", now).await.unwrap().is_none());
    assert!(store.user_by_token("unknown", now).await.unwrap().is_none());

    store
        .update_user(
            user.id,
            flowpilot_store::UserPatch {
                is_active: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(store.user_by_token("live", now).await.unwrap().is_none());
    store
        .update_user(
            user.id,
            flowpilot_store::UserPatch {
                is_active: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store.revoke_token("live", now).await.unwrap();
    assert!(store.user_by_token("live", now).await.unwrap().is_none());
}

#[tokio::test]
async fn rate_windows_count_hits_and_restart_in_the_next_window() {
    let (_dir, store) = sqlite_store().await;
    let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    for expected in 1..=3 {
        assert_eq!(
            store
                .hit_rate_window("login:ip", 60_000, t0)
                .await
                .unwrap()
                .hits,
            expected
        );
    }
    let next = store
        .hit_rate_window("login:ip", 60_000, t0 + Duration::seconds(61))
        .await
        .unwrap();
    assert_eq!(next.hits, 1);
    assert_eq!(next.prev_hits, 3, "the window just ended is carried");
    store
        .unhit_rate_window("login:ip", next.window_start_ms)
        .await
        .unwrap();
    let after = store
        .hit_rate_window("login:ip", 60_000, t0 + Duration::seconds(62))
        .await
        .unwrap();
    assert_eq!(after.hits, 1);
    assert_eq!(after.prev_hits, 3, "kept within the same window");
    let later = store
        .hit_rate_window("login:ip", 60_000, t0 + Duration::seconds(200))
        .await
        .unwrap();
    assert_eq!(
        (later.hits, later.prev_hits),
        (1, 0),
        "a window with no hits in between carries nothing"
    );
}

#[tokio::test]
async fn what_the_writer_logs_reaches_the_database_file_in_the_background() {
    let (dir, store) = sqlite_store().await;
    let file = dir.path().join("fp.db");
    let size = || std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let before = size();
    let now = Utc::now();
    for i in 0..200 {
        let acct = NewAccount {
            name: format!("Account {i} with a name long enough to fill some pages"),
            plan: Plan::Free,
        };
        store
            .create_account_with_user(acct, admin(&format!("admin{i}@example.test")), now)
            .await
            .expect("create");
    }
    // The writer leaves checkpoints to the store's background task: the log's pages reach
    // the database file without anyone asking.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while size() < before + 64 * 1024 {
        assert!(
            std::time::Instant::now() < deadline,
            "the database file stayed at {} bytes (was {before})",
            size()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
