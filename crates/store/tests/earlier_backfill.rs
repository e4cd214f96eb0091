//! Migration 0006 gives every step stored without a summary of the steps before it
//! (`earlier`) the summary the server would have built one step at a time
//! (`EarlierSteps::then`), on SQLite and, when `FLOWPILOT_TEST_POSTGRES_URL` is set, on
//! PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

mod support;

use chrono::{Duration, Utc};
use domain::step::{Response, Step, StepOutput, StepType};
use domain::Plan;
use flowpilot_store::{EarlierSteps, NewAccount, StepAdvance, Store};
use sqlx::Connection;
use support::{active_session, admin, fresh_postgres};
use uuid::Uuid;

/// The steps of the session: their type, problem summary and domain, and whether they were
/// answered by skipping. Blank summaries never replace an earlier one.
/// A step with only what the backfill reads: its type and the summary and domain it set.
fn output(kind: StepType, summary: Option<&str>, domain: Option<&str>) -> StepOutput {
    serde_json::from_value(serde_json::json!({
        "type": kind.as_str(),
        "content": "",
        "confidence": 0.0,
        "problem_summary": summary,
        "problem_domain": domain,
    }))
    .expect("a step output")
}

fn walk() -> Vec<(StepType, Option<&'static str>, Option<&'static str>, bool)> {
    vec![
        (StepType::Question, None, None, false),
        (StepType::Question, Some("VPN drops"), Some("network"), true),
        (StepType::Action, Some("  "), None, false),
        (
            StepType::Question,
            Some("VPN drops on wifi"),
            Some("\t"),
            true,
        ),
        (StepType::ResolutionSuggestion, None, Some("wifi"), false),
        (StepType::Action, None, None, false),
    ]
}

/// Stores a session of [`walk`] without any `earlier`, as before 0005, and returns its id and
/// the summaries the server would have kept.
async fn legacy_session(store: &Store) -> (Uuid, Vec<EarlierSteps>) {
    let now = Utc::now();
    let (account, user) = store
        .create_account_with_user(
            NewAccount {
                name: "Acme".into(),
                plan: Plan::Free,
            },
            admin(&format!("{}@acme.test", Uuid::new_v4())),
            now,
        )
        .await
        .unwrap();
    let session = active_session(account.id, user.id, "VPN", now);
    let step = |order: usize| {
        let (kind, summary, domain, _) = walk()[order];
        Step {
            id: Uuid::new_v4(),
            session_id: session.id,
            step_order: order as i64,
            output: output(kind, summary, domain),
            engine_state: serde_json::json!({}),
            response: None,
            earlier: None,
            observations: Vec::new(),
            clarification: None,
            confidence_reasons: Vec::new(),
            marks: Default::default(),
            created_at: now + Duration::milliseconds(order as i64),
        }
    };
    let mut current = step(0);
    store.create_session(&session, &current).await.unwrap();
    let mut expected = vec![EarlierSteps::default()];
    for order in 1..walk().len() {
        let skipped = walk()[order - 1].3;
        let next = step(order);
        let response = Response {
            answer: domain::step::Answer {
                skipped,
                ..Default::default()
            },
            responded_at: now,
        };
        let advance = StepAdvance {
            confidence_score: 0.2,
            matched_flow: None,
            input_tokens: 0,
            output_tokens: 0,
        };
        store
            .answer_step(
                domain::SessionId(session.id),
                domain::StepId(current.id),
                &response,
                Some(&next),
                &advance,
                &[],
            )
            .await
            .unwrap()
            .expect("answered");
        let before = expected.last().unwrap().then(&current.output, skipped);
        expected.push(before);
        current = next;
    }
    (session.id, expected)
}

async fn assert_backfilled(store: &Store, session: Uuid, expected: &[EarlierSteps]) {
    let steps = store.steps(session).await.unwrap();
    let earlier: Vec<EarlierSteps> = steps
        .into_iter()
        .map(|s| s.earlier.expect("every step has its summary"))
        .collect();
    assert_eq!(earlier, expected);
}

#[tokio::test]
async fn sqlite_steps_stored_without_a_summary_get_the_one_the_server_would_have_built() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fp.db");
    let store = Store::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let (session, expected) = legacy_session(&store).await;
    assert!(store.steps(session).await.unwrap()[1].earlier.is_none());

    let conn = rusqlite::Connection::open(&file).unwrap();
    conn.execute_batch(include_str!(
        "../migrations/sqlite/0006_backfill_earlier_steps.sql"
    ))
    .unwrap();
    assert_backfilled(&store, session, &expected).await;
    store.close().await;
}

#[tokio::test]
async fn postgres_steps_stored_without_a_summary_get_the_one_the_server_would_have_built() {
    let Some((url, name, db_url)) = fresh_postgres("backfill").await else {
        eprintln!("*** PostgreSQL SKIPPED: set FLOWPILOT_TEST_POSTGRES_URL to run it ***");
        return;
    };
    let store = Store::connect(&db_url).await.unwrap();
    store.migrate().await.unwrap();
    let (session, expected) = legacy_session(&store).await;

    let mut conn = sqlx::AnyConnection::connect(&db_url).await.unwrap();
    sqlx::query(include_str!(
        "../migrations/postgres/0006_backfill_earlier_steps.sql"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    assert_backfilled(&store, session, &expected).await;
    store.close().await;
    let mut admin = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("DROP DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
}
