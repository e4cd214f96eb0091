//! Flow versions in the store: what each way a flow is written keeps, and the one publish
//! that refuses a stale version (memory.md "Versions"). On SQLite here; the API stories
//! (crates/server/tests/api/flow_versions.rs) run the same rules on both backends.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

mod support;

use chrono::Utc;
use domain::flow::{FlowChange, FlowDefinition};
use domain::Plan;
use flowpilot_store::{BuiltinLoad, NewAccount, PublishError};
use support::{admin, sqlite_store};
use uuid::Uuid;

fn flow(title: &str, solution: &str) -> FlowDefinition {
    serde_json::from_value(serde_json::json!({
        "title": title, "domain": "printing", "start": "a1",
        "nodes": {
            "a1": {"type": "action", "text": "Restart the spooler", "next": "s1"},
            "s1": {"type": "solution", "text": solution}}}))
    .unwrap()
}

#[tokio::test]
async fn a_shipped_file_that_changes_keeps_the_built_in_flows_earlier_version() {
    let (_dir, store) = sqlite_store().await;
    let now = Utc::now();
    let first = flow("Spooler", "A stuck job");
    let load = store
        .upsert_builtin_flow("spooler", "hash-1", &first, now)
        .await
        .unwrap();
    assert_eq!(load, BuiltinLoad::Inserted);
    let id = store.all_flows().await.unwrap()[0].id;
    let changed = flow("Spooler", "A stuck job, or a full disk");
    let load = store
        .upsert_builtin_flow("spooler", "hash-2", &changed, now)
        .await
        .unwrap();
    assert_eq!(load, BuiltinLoad::Updated);

    let versions = store.flow_versions(id).await.unwrap();
    let numbers: Vec<i64> = versions.iter().map(|v| v.version).collect();
    assert_eq!(numbers, [2, 1]);
    assert_eq!(versions[0].definition, changed);
    assert_eq!(versions[1].definition, first);
    assert!(versions.iter().all(|v| v.changed_by.is_none()));
    assert_eq!(
        versions[0].why.as_deref(),
        Some("The shipped flow file changed")
    );

    // Only the shipped files change a built-in flow.
    let refused = store
        .publish_flow_version(id, 2, &first, FlowChange::default(), now)
        .await;
    assert!(
        matches!(refused, Err(PublishError::NotFound)),
        "{refused:?}"
    );
    assert_eq!(store.flow(id).await.unwrap().version, 2);
}

#[tokio::test]
async fn a_publish_keeps_who_why_and_the_proposal_and_refuses_a_stale_version() {
    let (_dir, store) = sqlite_store().await;
    let now = Utc::now();
    let (account, user) = store
        .create_account_with_user(
            NewAccount {
                name: "Acme IT".into(),
                plan: Plan::Free,
            },
            admin("ada@acme.test"),
            now,
        )
        .await
        .unwrap();
    let created = store
        .create_flow(account.id, user.id, &flow("Spooler", "A stuck job"), now)
        .await
        .unwrap();
    let proposal = Uuid::new_v4();
    let mut proposed = flow("Spooler", "A stuck job; clear the spool folder");
    proposed.mark_changes_unreviewed(Some(&created.definition));
    let change = FlowChange {
        changed_by: Some(user.id),
        proposal_id: Some(proposal),
        why: Some("Three sessions cleared the spool folder"),
    };
    let published = store
        .publish_flow_version(created.id, 1, &proposed, change, now)
        .await
        .unwrap();
    assert_eq!(published.version, 2);
    assert!(published.definition.is_unreviewed("s1"));

    let kept = store.flow_version(created.id, 2).await.unwrap().unwrap();
    assert_eq!(kept.changed_by, Some(user.id));
    assert_eq!(kept.changed_by_name.as_deref(), Some("Ada Admin"));
    assert_eq!(kept.proposal_id, Some(proposal));
    assert_eq!(
        kept.why.as_deref(),
        Some("Three sessions cleared the spool folder")
    );
    assert_eq!(kept.definition, proposed);
    let first = store.flow_version(created.id, 1).await.unwrap().unwrap();
    assert_eq!(first.definition, created.definition);
    assert!(first.proposal_id.is_none());

    let stale = store
        .publish_flow_version(
            created.id,
            1,
            &flow("Late", "x"),
            FlowChange::default(),
            now,
        )
        .await;
    assert!(
        matches!(
            stale,
            Err(PublishError::Stale {
                expected: 1,
                current: 2
            })
        ),
        "{stale:?}"
    );
    assert_eq!(store.flow_versions(created.id).await.unwrap().len(), 2);
    assert_eq!(store.flow(created.id).await.unwrap().definition, proposed);
    assert!(store.flow_version(created.id, 3).await.unwrap().is_none());
    let missing = store
        .publish_flow_version(Uuid::new_v4(), 1, &proposed, FlowChange::default(), now)
        .await;
    assert!(
        matches!(missing, Err(PublishError::NotFound)),
        "{missing:?}"
    );
}
