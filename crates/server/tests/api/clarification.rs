//! Free-text answers the offline engine cannot read: the step is asked again, not guessed
//! and not repeated (api.md `respond`, engine.md "The offline engine").

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Backend, Member, TestApp};
use crate::stories;

stories!(
    an_unclear_answer_is_kept_on_the_same_step_which_is_asked_again,
    natural_answers_follow_the_flow_without_a_clarification,
    the_documentation_shows_a_note_once_and_no_step_twice,
);

const OUTLOOK: &str = "Outlook keeps asking for a password on three laptops since this morning";

async fn say(app: &TestApp, who: &Member, session: &str, step: &Value, text: &str) -> Value {
    app.respond(who, session, step, json!({"free_text_input": text}))
        .await
}

async fn an_unclear_answer_is_kept_on_the_same_step_which_is_asked_again(backend: Backend) {
    let app = spawn_app(backend).await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let started = app.start_session(&eng, OUTLOOK).await;
    let id = started["session_id"].as_str().unwrap().to_string();
    let first = started["first_step"].clone();
    assert_eq!(first["content"]["content"], "Is it one user or several?");
    assert_eq!(first["observations"], json!([]));

    let reply = say(&app, &eng, &id, &first, "hmm, hard to say").await;
    let again = &reply["next_step"];
    assert_eq!(again["step_id"], first["step_id"], "the same step");
    assert!(again["response"].is_null(), "still unanswered: {again}");
    assert_eq!(again["observations"], json!(["hmm, hard to say"]));
    let clarification = reply["clarification"].as_str().unwrap();
    assert!(clarification.contains("One user"), "{clarification}");

    let (_, detail) = app.get(&format!("/ai-sessions/{id}"), &eng.token).await;
    assert_eq!(detail["step_count"], 1, "no step was added");
    assert_eq!(
        detail["steps"][0]["observations"],
        json!(["hmm, hard to say"])
    );

    // The step is free again: a clear answer moves on, and the note stays where it was.
    let reply = say(&app, &eng, &id, &first, "just me").await;
    assert!(reply["clarification"].is_null(), "{reply}");
    assert_eq!(reply["next_step"]["step_order"], 2);
    assert_eq!(reply["next_step"]["observations"], json!([]));
}

async fn natural_answers_follow_the_flow_without_a_clarification(backend: Backend) {
    let app = spawn_app(backend).await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let started = app.start_session(&eng, OUTLOOK).await;
    let id = started["session_id"].as_str().unwrap().to_string();
    let mut step = started["first_step"].clone();
    for (answer, next) in [
        ("only the front desk PC", "action"),
        ("still the same", "action"),
    ] {
        let reply = say(&app, &eng, &id, &step, answer).await;
        assert!(reply["clarification"].is_null(), "{answer}: {reply}");
        let following = reply["next_step"].clone();
        assert_ne!(following["step_id"], step["step_id"], "{answer}");
        assert_eq!(following["step_type"], next, "{answer}: {following}");
        step = following;
    }
    let (_, detail) = app.get(&format!("/ai-sessions/{id}"), &eng.token).await;
    let shown: Vec<&str> = detail["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["content"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(shown.len(), 3);
    assert!(shown[1].contains("Credential Manager"), "{shown:?}");
    assert_ne!(shown[1], shown[2], "no step twice");
}

async fn the_documentation_shows_a_note_once_and_no_step_twice(backend: Backend) {
    let app = spawn_app(backend).await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let started = app.start_session(&eng, OUTLOOK).await;
    let id = started["session_id"].as_str().unwrap().to_string();
    let first = started["first_step"].clone();
    let asked = say(&app, &eng, &id, &first, "hmm, not sure really").await;
    assert_eq!(asked["next_step"]["step_id"], first["step_id"]);
    let action = say(&app, &eng, &id, &first, "everyone in the office").await;
    let action = action["next_step"].clone();
    assert_eq!(action["step_type"], "action", "{action}");
    // Whatever the engine makes of this, it never lists the action twice.
    say(
        &app,
        &eng,
        &id,
        &action,
        "service health is all green, no incidents",
    )
    .await;

    let (status, closed) = app
        .post(
            &format!("/ai-sessions/{id}/escalate"),
            &eng.token,
            json!({"escalation_reason": "Tenant-wide; needs the M365 admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    let doc = &closed["documentation"];
    let markdown = doc["markdown"].as_str().unwrap();
    assert_eq!(
        markdown.matches("hmm, not sure really").count(),
        1,
        "{markdown}"
    );
    let steps = doc["steps"].as_array().unwrap();
    assert_eq!(
        steps[0]["engineer_response"],
        "Noted: “hmm, not sure really”. Then: everyone in the office"
    );
    let mut seen = std::collections::HashSet::new();
    for s in steps {
        assert!(
            seen.insert(s["description"].as_str().unwrap().to_string()),
            "a step is documented twice: {markdown}"
        );
    }
}
