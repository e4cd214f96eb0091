//! The offline hand-off names what the flow knows (engine.md "The offline engine",
//! escalation.md): the fixes still reachable from where the session stopped, most likely
//! first, and the branches not tried as next steps. Every step says why it has its
//! confidence.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Backend, Member, TestApp};
use crate::stories;

stories!(escalating_partway_down_a_flow_hands_over_its_remaining_fixes_and_branches,);

async fn choose(app: &TestApp, who: &Member, session: &str, step: &Value, value: &str) -> Value {
    let reply = app
        .respond(who, session, step, json!({"selected_option": value}))
        .await;
    reply["next_step"].clone()
}

fn reasons(step: &Value) -> Vec<&str> {
    step["confidence_reasons"]
        .as_array()
        .unwrap_or_else(|| panic!("no confidence_reasons: {step}"))
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect()
}

async fn escalating_partway_down_a_flow_hands_over_its_remaining_fixes_and_branches(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let started = app
        .start_session(
            &eng,
            "Outlook keeps asking for a password on three laptops since this morning",
        )
        .await;
    assert_eq!(
        started["matched_flow_name"], "Outlook keeps asking for a password",
        "{started}"
    );
    let id = started["session_id"].as_str().unwrap().to_string();
    let first = started["first_step"].clone();
    assert_eq!(first["content"]["content"], "Is it one user or several?");
    assert!(!reasons(&first).is_empty());

    // One user; clearing the cached credentials changed nothing: the broker reset is open.
    let clear = choose(&app, &eng, &id, &first, "one").await;
    assert!(!reasons(&clear).is_empty());
    let open = choose(&app, &eng, &id, &clear, "done_no_change").await;
    assert!(
        open["content"]["content"]
            .as_str()
            .unwrap()
            .starts_with("Reset the Microsoft 365 sign-in broker"),
        "{open}"
    );
    assert!(
        reasons(&open)
            .iter()
            .any(|r| r.contains("fixes are still possible from here")),
        "{open}"
    );

    let (status, doc) = app
        .post(
            &format!("/ai-sessions/{id}/escalate"),
            &eng.token,
            json!({"escalation_reason": "Needs someone with tenant admin rights"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let doc = &doc["documentation"];
    let hypotheses = doc["hypotheses"].as_array().unwrap();
    let causes: Vec<&str> = hypotheses
        .iter()
        .map(|h| h["cause"].as_str().unwrap())
        .collect();
    // The fixes still reachable from the open step, the one it tests first.
    assert!(
        causes[0].starts_with("A broken Web Account Manager"),
        "{causes:?}"
    );
    assert!(causes
        .iter()
        .any(|c| c.contains("legacy (basic) authentication")));
    assert!(causes
        .iter()
        .any(|c| c.starts_with("Autodiscover pointed Outlook")));
    // What the answers ruled out is not a hypothesis, and nothing is "not yet identified".
    assert!(
        !causes
            .iter()
            .any(|c| c.contains("Stale cached credentials") || c.contains("Not yet identified")),
        "{causes:?}"
    );
    for h in hypotheses {
        let likelihood = h["likelihood"].as_str().unwrap();
        assert!(["high", "medium", "low"].contains(&likelihood), "{h}");
    }

    let next: Vec<&str> = doc["follow_up_recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(
        next.iter()
            .any(|s| s.starts_with("Continue from the open step 3")),
        "{next:?}"
    );
    assert!(
        next.iter().any(|s| s.contains("“Several users”")),
        "the branch not taken at step 1: {next:?}"
    );
    assert!(
        next.iter()
            .any(|s| s.contains("ruled out") && s.contains("Stale cached credentials")),
        "{next:?}"
    );
    let markdown = doc["markdown"].as_str().unwrap();
    assert!(
        markdown.contains("A broken Web Account Manager"),
        "{markdown}"
    );
}
