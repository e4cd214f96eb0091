//! The outbox's stories at the store, each on SQLite and, when `FLOWPILOT_TEST_POSTGRES_URL`
//! is set, on PostgreSQL: entries queued with the session change or not at all, claims that
//! lease an entry to one holder, outcomes only its holder records, leases that run out.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

mod support;

use std::collections::HashSet;
use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use domain::session::SessionStatus;
use domain::step::{Step, StepOutput};
use domain::Plan;
use flowpilot_store::{
    Closing, NewAccount, NewOutboxEntry, OutboxStatus, Settle, Store, StoreError,
};
use sqlx::Connection;
use support::{active_session, admin, fresh_postgres, sqlite_store};
use uuid::Uuid;

/// Runs `story` on a fresh SQLite database, then on a fresh PostgreSQL one when it can.
async fn on_both<F, Fut>(story: F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let (_dir, store) = sqlite_store().await;
    story(store.clone()).await;
    store.close().await;

    match fresh_postgres("outbox").await {
        Some((admin, name, url)) => {
            let store = Store::connect(&url).await.unwrap();
            store.migrate().await.unwrap();
            story(store.clone()).await;
            store.close().await;
            let mut admin = sqlx::AnyConnection::connect(&admin).await.unwrap();
            // Best effort: a connection the pool is still closing keeps it busy without FORCE.
            if let Err(err) = sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await
            {
                eprintln!("could not drop {name}: {err}");
            }
        }
        None => eprintln!(
            "\n*** PostgreSQL SKIPPED: set FLOWPILOT_TEST_POSTGRES_URL to run the outbox stories on it ***\n"
        ),
    }
}

/// An account with an active session of its own: (account, session).
async fn open_session(store: &Store) -> (Uuid, Uuid) {
    let now = Utc::now();
    let (account, user) = store
        .create_account_with_user(
            NewAccount {
                name: format!("Acme {}", Uuid::new_v4()),
                plan: Plan::Free,
            },
            admin(&format!("{}@acme.test", Uuid::new_v4())),
            now,
        )
        .await
        .unwrap();
    let session = active_session(account.id, user.id, "VPN drops", now);
    let output: StepOutput = serde_json::from_value(serde_json::json!({
        "type": "question", "content": "Which VPN?", "confidence": 0.2,
    }))
    .unwrap();
    let first = Step {
        id: Uuid::new_v4(),
        session_id: session.id,
        step_order: 0,
        output,
        engine_state: serde_json::json!({}),
        response: None,
        earlier: None,
        observations: Vec::new(),
        clarification: None,
        confidence_reasons: Vec::new(),
        marks: Default::default(),
        created_at: now,
    };
    store.create_session(&session, &first).await.unwrap();
    (account.id, session.id)
}

fn note(account: Uuid, session: Option<Uuid>, key: &str) -> NewOutboxEntry {
    NewOutboxEntry {
        account_id: account,
        session_id: session,
        kind: "psa_note".into(),
        payload: serde_json::json!({"ticket": 4711, "text": "Resolved: VPN profile"}),
        idempotency_key: key.into(),
    }
}

fn resolving(entries: Vec<NewOutboxEntry>) -> Closing {
    Closing {
        resolution_summary: Some("Reinstalled the VPN profile".into()),
        outbox: entries,
        ..Default::default()
    }
}

const OPEN: [SessionStatus; 2] = [SessionStatus::Active, SessionStatus::Paused];

/// Claims for `holder` at `now` with a minute's lease.
async fn claim(
    store: &Store,
    holder: &str,
    now: DateTime<Utc>,
) -> Vec<flowpilot_store::OutboxEntry> {
    store
        .claim_outbox(holder, now, now + Duration::seconds(60), 10)
        .await
        .unwrap()
}

#[tokio::test]
async fn entries_are_queued_with_the_session_change_or_not_at_all() {
    on_both(|store| async move {
        let (account, session) = open_session(&store).await;
        let now = Utc::now();
        let key = format!("psa_note:{session}:resolved");
        let closing = resolving(vec![
            note(account, Some(session), &key),
            note(
                account,
                Some(session),
                &format!("webhook:{session}:resolved"),
            ),
        ]);
        assert!(store
            .transition_session(session, &OPEN, SessionStatus::Resolved, &closing, now)
            .await
            .unwrap());
        let queued = store.session_outbox(session).await.unwrap();
        assert_eq!(queued.len(), 2);
        assert!(queued
            .iter()
            .all(|e| e.status == OutboxStatus::Pending && e.attempts == 0));
        assert_eq!(queued[0].payload["ticket"], 4711);

        // The session is no longer open: the change is refused and queues nothing.
        let again = resolving(vec![note(account, Some(session), "psa_note:second")]);
        assert!(!store
            .transition_session(session, &OPEN, SessionStatus::Resolved, &again, now)
            .await
            .unwrap());
        assert_eq!(store.session_outbox(session).await.unwrap().len(), 2);

        // A write that fails (an entry for an account that does not exist) changes nothing:
        // the session stays open and nothing is queued.
        let (_, other) = open_session(&store).await;
        let broken = resolving(vec![note(Uuid::new_v4(), Some(other), "psa_note:orphan")]);
        let failed = store
            .transition_session(other, &OPEN, SessionStatus::Resolved, &broken, now)
            .await;
        assert!(failed.is_err(), "{failed:?}");
        assert_eq!(
            store.session(other).await.unwrap().status,
            SessionStatus::Active
        );
        assert!(store.session_outbox(other).await.unwrap().is_empty());

        // Escalating queues its own entries the same way.
        let (escalating_account, escalated) = open_session(&store).await;
        let escalating = Closing {
            escalation_reason: Some("Needs the firewall team".into()),
            outbox: vec![note(
                escalating_account,
                Some(escalated),
                &format!("webhook:{escalated}:escalated"),
            )],
            ..Default::default()
        };
        assert!(store
            .transition_session(escalated, &OPEN, SessionStatus::Escalated, &escalating, now)
            .await
            .unwrap());
        assert_eq!(store.session_outbox(escalated).await.unwrap().len(), 1);

        // The same logical write queued again is the one entry it was.
        let queued_again = store
            .enqueue_outbox(&[note(account, Some(session), &key)], now)
            .await
            .unwrap();
        assert!(queued_again.is_empty());
        assert_eq!(store.session_outbox(session).await.unwrap().len(), 2);
        assert_eq!(store.outbox_depth().await.unwrap().pending, 3);
    })
    .await;
}

#[tokio::test]
async fn a_claim_leases_an_entry_to_one_holder_and_only_that_holder_settles_it() {
    on_both(|store| async move {
        let (account, session) = open_session(&store).await;
        let now = Utc::now();
        store
            .enqueue_outbox(&[note(account, Some(session), "k1")], now)
            .await
            .unwrap();

        let claimed = claim(&store, "server-a", now).await;
        assert_eq!(claimed.len(), 1);
        let entry = &claimed[0];
        assert_eq!(entry.status, OutboxStatus::InFlight);
        assert_eq!(entry.attempts, 1);
        assert_eq!(entry.lease_holder.as_deref(), Some("server-a"));
        assert!(!entry.uncertain);
        assert!(claim(&store, "server-b", now).await.is_empty(), "leased");

        let later = now + Duration::seconds(30);
        let retry = Settle::Retry {
            at: later,
            error: "HTTP 503".into(),
            uncertain: false,
        };
        assert!(!store
            .settle_outbox(entry.id, "server-b", &retry, now)
            .await
            .unwrap());
        assert!(store
            .settle_outbox(entry.id, "server-a", &retry, now)
            .await
            .unwrap());
        assert!(
            claim(&store, "server-b", now).await.is_empty(),
            "not due yet"
        );

        let again = claim(&store, "server-b", later).await;
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 2);
        assert_eq!(again[0].last_error.as_deref(), Some("HTTP 503"));
        let delivered = Settle::Delivered {
            remote_id: Some("note-881".into()),
        };
        assert!(store
            .settle_outbox(entry.id, "server-b", &delivered, later)
            .await
            .unwrap());
        let done = store.outbox_entry(account, entry.id).await.unwrap();
        assert_eq!(done.status, OutboxStatus::Delivered);
        assert_eq!(done.remote_id.as_deref(), Some("note-881"));
        assert_eq!(done.last_error, None);
        assert!(done.delivered_at.is_some());
        assert!(claim(&store, "server-a", later + Duration::hours(1))
            .await
            .is_empty());
        let depth = store.outbox_depth().await.unwrap();
        assert_eq!((depth.pending, depth.delivered), (0, 1));
    })
    .await;
}

#[tokio::test]
async fn a_lease_that_runs_out_is_taken_over_uncertain_and_the_old_holder_cannot_settle() {
    on_both(|store| async move {
        let (account, _) = open_session(&store).await;
        let now = Utc::now();
        store
            .enqueue_outbox(&[note(account, None, "k-crash")], now)
            .await
            .unwrap();
        let first = claim(&store, "crashed", now).await;
        assert_eq!(first.len(), 1);

        // The holder died; a minute later its lease has run out.
        let after = now + Duration::seconds(61);
        let taken = claim(&store, "survivor", after).await;
        assert_eq!(taken.len(), 1);
        assert!(taken[0].uncertain, "the dead server may have posted it");
        assert_eq!(taken[0].attempts, 2);

        let delivered = Settle::Delivered { remote_id: None };
        assert!(!store
            .settle_outbox(first[0].id, "crashed", &delivered, after)
            .await
            .unwrap());
        assert!(store
            .settle_outbox(first[0].id, "survivor", &delivered, after)
            .await
            .unwrap());
    })
    .await;
}

#[tokio::test]
async fn a_failed_entry_keeps_its_reason_and_the_retry_button_queues_it_again() {
    on_both(|store| async move {
        let (account, session) = open_session(&store).await;
        let now = Utc::now();
        store
            .enqueue_outbox(&[note(account, Some(session), "k-refused")], now)
            .await
            .unwrap();
        let id = claim(&store, "a", now).await[0].id;
        let failed = Settle::Failed {
            reason: "HTTP 404: ticket 4711 not found".into(),
            uncertain: false,
        };
        assert!(store.settle_outbox(id, "a", &failed, now).await.unwrap());
        let shown = &store.session_outbox(session).await.unwrap()[0];
        assert_eq!(shown.status, OutboxStatus::Failed);
        assert_eq!(
            shown.last_error.as_deref(),
            Some("HTTP 404: ticket 4711 not found")
        );
        assert!(claim(&store, "a", now + Duration::days(1)).await.is_empty());

        assert!(
            store
                .retry_outbox(Uuid::new_v4(), id, now)
                .await
                .unwrap()
                .is_none(),
            "another account's retry finds nothing"
        );
        let requeued = store.retry_outbox(account, id, now).await.unwrap().unwrap();
        assert_eq!(
            (requeued.status, requeued.attempts),
            (OutboxStatus::Pending, 0)
        );
        assert!(
            store
                .retry_outbox(account, id, now)
                .await
                .unwrap()
                .is_none(),
            "not failed"
        );
        assert_eq!(claim(&store, "a", now).await.len(), 1);
        assert!(matches!(
            store.outbox_entry(Uuid::new_v4(), id).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn claimers_racing_for_many_entries_never_share_one() {
    on_both(|store| async move {
        let (account, _) = open_session(&store).await;
        let now = Utc::now();
        let entries: Vec<NewOutboxEntry> = (0..200)
            .map(|i| note(account, None, &format!("race-{i}")))
            .collect();
        assert_eq!(
            store.enqueue_outbox(&entries, now).await.unwrap().len(),
            200
        );

        let claimers = (0..6).map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let holder = format!("server-{n}");
                let mut mine = Vec::new();
                loop {
                    let got = store
                        .claim_outbox(&holder, now, now + Duration::seconds(60), 7)
                        .await
                        .unwrap();
                    assert!(got.len() <= 7, "a claim of 7 took {}", got.len());
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|e| e.id));
                }
            })
        });
        let mut seen = HashSet::new();
        let mut total = 0;
        for claimer in claimers.collect::<Vec<_>>() {
            for id in claimer.await.unwrap() {
                total += 1;
                assert!(seen.insert(id), "entry {id} claimed twice");
            }
        }
        assert_eq!((total, seen.len()), (200, 200));
    })
    .await;
}
