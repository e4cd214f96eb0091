//! escalation.md "Fix outcomes": a suggested fix that worked resolves the session and counts
//! for its flow; one that failed or partly worked moves on to the next untried branch; one
//! waiting to verify parks the session, listed, until a later outcome; any step may be
//! marked not relevant, which answers the open step and records an earlier one. Two clicks
//! at once: one wins.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::ai_providers::provider_app;
use crate::fake_llm::{self, Reply, Wire};
use crate::helpers::{assert_one_wins, spawn_app, Backend, Member, TestApp};
use crate::stories;

stories!(
    a_fix_that_did_not_work_moves_on_to_the_next_untried_branch,
    a_fix_that_partly_worked_moves_on_and_says_so,
    a_fix_that_worked_resolves_the_session_and_counts_for_its_flow,
    a_fix_waiting_to_verify_is_listed_until_it_is_resolved_later,
    a_fix_waiting_to_verify_that_then_fails_continues_the_session,
    not_relevant_answers_the_open_step_and_records_an_earlier_one,
    only_a_suggested_fix_takes_an_outcome_and_only_the_known_ones,
    two_outcomes_at_once_one_wins_and_one_step_follows,
    the_ai_is_told_the_fix_did_not_work_and_why,
);

const OUTLOOK: &str = "Outlook keeps asking for a password on three laptops since this morning";

async fn outcome(
    app: &TestApp,
    who: &Member,
    id: &str,
    step: &Value,
    body: Value,
) -> (StatusCode, Value) {
    let step_id = step["step_id"].as_str().unwrap();
    app.post(
        &format!("/ai-sessions/{id}/steps/{step_id}/outcome"),
        &who.token,
        body,
    )
    .await
}

async fn not_relevant(
    app: &TestApp,
    who: &Member,
    id: &str,
    step: &Value,
    reason: &str,
) -> (StatusCode, Value) {
    let step_id = step["step_id"].as_str().unwrap();
    app.post(
        &format!("/ai-sessions/{id}/steps/{step_id}/not-relevant"),
        &who.token,
        json!({ "reason": reason }),
    )
    .await
}

/// A session on the Outlook flow walked to its first suggested fix ("one user", clearing
/// the cached credentials "worked"): its id and the fix step.
async fn session_at_first_fix(app: &TestApp, who: &Member) -> (String, Value) {
    let started = app.start_session(who, OUTLOOK).await;
    let id = started["session_id"].as_str().unwrap().to_string();
    let clear = app
        .respond(
            who,
            &id,
            &started["first_step"],
            json!({"selected_option": "one"}),
        )
        .await;
    let fix = app
        .respond(
            who,
            &id,
            &clear["next_step"],
            json!({"selected_option": "done_worked"}),
        )
        .await;
    assert_eq!(
        fix["next_step"]["step_type"], "resolution_suggestion",
        "{fix}"
    );
    (id, fix["next_step"].clone())
}

async fn detail(app: &TestApp, who: &Member, id: &str) -> Value {
    let (status, body) = app.get(&format!("/ai-sessions/{id}"), &who.token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn step_of<'a>(detail: &'a Value, step: &Value) -> &'a Value {
    detail["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step_id"] == step["step_id"])
        .expect("the step is in the session")
}

async fn listed(app: &TestApp, who: &Member, status: &str) -> Vec<String> {
    let (code, body) = app
        .get(&format!("/ai-sessions?status={status}"), &who.token)
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

async fn a_fix_that_did_not_work_moves_on_to_the_next_untried_branch(backend: Backend) {
    let app = spawn_app(backend).await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let (id, fix) = session_at_first_fix(&app, &eng).await;

    let (status, body) = outcome(
        &app,
        &eng,
        &id,
        &fix,
        json!({"outcome": "failed", "note": "Still prompts after clearing Credential Manager"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["session_status"], "active");
    // Not the escalation offer: the branch the answers did not take, the broker reset.
    let next = &body["next_step"];
    assert_eq!(next["step_type"], "action", "{next}");
    assert!(
        next["content"]["content"]
            .as_str()
            .unwrap()
            .contains("sign-in broker"),
        "{next}"
    );
    assert!(
        next["context_message"]
            .as_str()
            .unwrap()
            .contains("did not solve it"),
        "{next}"
    );

    let session = detail(&app, &eng, &id).await;
    let kept = step_of(&session, &fix);
    assert_eq!(kept["outcome"], "failed");
    assert_eq!(
        kept["outcome_note"],
        "Still prompts after clearing Credential Manager"
    );
    assert!(kept["response"].is_object(), "the fix is answered: {kept}");
    assert_eq!(session["step_count"], 4);

    // The fix is answered now: it is not the step to respond to.
    let (status, _) = app
        .post(
            &format!("/ai-sessions/{id}/respond"),
            &eng.token,
            json!({"step_id": fix["step_id"], "free_text_input": "again"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

async fn a_fix_that_partly_worked_moves_on_and_says_so(backend: Backend) {
    let app = spawn_app(backend).await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let (id, fix) = session_at_first_fix(&app, &eng).await;

    let (status, body) = outcome(&app, &eng, &id, &fix, json!({"outcome": "partial"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["session_status"], "active");
    assert_eq!(body["next_step"]["step_type"], "action");
    assert!(
        body["next_step"]["context_message"]
            .as_str()
            .unwrap()
            .contains("only partly worked"),
        "{body}"
    );
    let session = detail(&app, &eng, &id).await;
    assert_eq!(step_of(&session, &fix)["outcome"], "partial");
    assert!(step_of(&session, &fix)["outcome_note"].is_null());
}

async fn a_fix_that_worked_resolves_the_session_and_counts_for_its_flow(backend: Backend) {
    let app = spawn_app(backend).await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let (id, fix) = session_at_first_fix(&app, &eng).await;
    let flow_id = detail(&app, &eng, &id).await["matched_flow_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, before) = app.get(&format!("/flows/{flow_id}"), &eng.token).await;
    assert_eq!(before["success_rate"], 0.0, "{before}");

    let (status, body) = outcome(
        &app,
        &eng,
        &id,
        &fix,
        json!({"outcome": "worked", "note": "Connected at once"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["session_status"], "resolved");
    assert!(body["next_step"].is_null());

    // Resolved as resolve with the suggested fix: its documentation, the flow's count.
    let (status, doc) = app
        .get(&format!("/ai-sessions/{id}/documentation"), &eng.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        doc["resolution_summary"], fix["resolution_summary"],
        "{doc}"
    );
    let documented = doc["steps"].as_array().unwrap().last().unwrap().clone();
    assert!(
        documented["engineer_response"]
            .as_str()
            .unwrap()
            .contains("Worked: Connected at once"),
        "{documented}"
    );
    let (_, after) = app.get(&format!("/flows/{flow_id}"), &eng.token).await;
    assert_eq!(after["success_rate"], 1.0, "{after}");
    let session = detail(&app, &eng, &id).await;
    assert_eq!(step_of(&session, &fix)["outcome"], "worked");

    // The outcome said stands.
    let (status, body) = outcome(&app, &eng, &id, &fix, json!({"outcome": "failed"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

async fn a_fix_waiting_to_verify_is_listed_until_it_is_resolved_later(backend: Backend) {
    let app = spawn_app(backend).await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let (id, fix) = session_at_first_fix(&app, &eng).await;

    // The check-back must be ahead, within a month, and only with this outcome.
    let past = (Utc::now() - Duration::hours(1)).to_rfc3339();
    let (status, body) = outcome(
        &app,
        &eng,
        &id,
        &fix,
        json!({"outcome": "awaiting_verification", "check_back_at": past}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let far = (Utc::now() + Duration::days(60)).to_rfc3339();
    let (status, _) = outcome(
        &app,
        &eng,
        &id,
        &fix,
        json!({"outcome": "awaiting_verification", "check_back_at": far}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let soon = (Utc::now() + Duration::hours(2)).to_rfc3339();
    let (status, _) = outcome(
        &app,
        &eng,
        &id,
        &fix,
        json!({"outcome": "failed", "check_back_at": soon}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app
        .post(
            &format!(
                "/ai-sessions/{id}/steps/{}/outcome",
                fix["step_id"].as_str().unwrap()
            ),
            &eng.token,
            json!({"outcome": "awaiting_verification", "check_back_at": "tonight"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let check_back = Utc::now() + Duration::hours(2);
    let (status, body) = outcome(
        &app,
        &eng,
        &id,
        &fix,
        json!({"outcome": "awaiting_verification", "note": "Reboot tonight",
               "check_back_at": check_back.to_rfc3339()}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["session_status"], "awaiting_verification");
    // The fix itself is still the open step, waiting.
    assert_eq!(body["next_step"]["step_id"], fix["step_id"]);
    assert_eq!(body["next_step"]["outcome"], "awaiting_verification");
    assert!(body["next_step"]["response"].is_null());
    assert!(body["is_resolution_suggested"].as_bool().unwrap());

    let stored = app
        .store
        .check_back_at(uuid::Uuid::parse_str(&id).unwrap())
        .await
        .unwrap()
        .expect("a check-back time");
    assert!((stored - check_back).num_seconds().abs() <= 1, "{stored}");
    assert_eq!(
        listed(&app, &eng, "awaiting_verification").await,
        [id.as_str()]
    );
    assert!(listed(&app, &eng, "active").await.is_empty());

    // While it waits, nothing is answered through respond; pause is not for it either.
    let (status, _) = app
        .post(
            &format!("/ai-sessions/{id}/respond"),
            &eng.token,
            json!({"step_id": fix["step_id"], "free_text_input": "done"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app
        .post(&format!("/ai-sessions/{id}/pause"), &eng.token, json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // The next morning it held: recorded, resolved, off the list.
    let (status, body) = outcome(&app, &eng, &id, &fix, json!({"outcome": "worked"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["session_status"], "resolved");
    assert!(listed(&app, &eng, "awaiting_verification").await.is_empty());
    assert_eq!(listed(&app, &eng, "resolved").await, [id.as_str()]);
    let session = detail(&app, &eng, &id).await;
    assert_eq!(step_of(&session, &fix)["outcome"], "worked");

    // Another waits without a time: a day from now.
    let (other, other_fix) = session_at_first_fix(&app, &eng).await;
    let (status, body) = outcome(
        &app,
        &eng,
        &other,
        &other_fix,
        json!({"outcome": "awaiting_verification"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stored = app
        .store
        .check_back_at(uuid::Uuid::parse_str(&other).unwrap())
        .await
        .unwrap()
        .expect("a default check-back");
    let ahead = stored - Utc::now();
    assert!(
        ahead > Duration::hours(23) && ahead <= Duration::hours(24),
        "{ahead}"
    );
    // Waiting sessions may be escalated like open ones.
    let (status, body) = app
        .post(
            &format!("/ai-sessions/{other}/escalate"),
            &eng.token,
            json!({"escalation_reason": "Replication did not finish overnight"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(listed(&app, &eng, "awaiting_verification").await.is_empty());
}

async fn a_fix_waiting_to_verify_that_then_fails_continues_the_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let (id, fix) = session_at_first_fix(&app, &eng).await;
    let (status, _) = outcome(
        &app,
        &eng,
        &id,
        &fix,
        json!({"outcome": "awaiting_verification"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = outcome(
        &app,
        &eng,
        &id,
        &fix,
        json!({"outcome": "failed", "note": "Prompted again after the reboot"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["session_status"], "active");
    assert_eq!(body["next_step"]["step_type"], "action");
    assert_ne!(body["next_step"]["step_id"], fix["step_id"]);
    let session = detail(&app, &eng, &id).await;
    assert_eq!(step_of(&session, &fix)["outcome"], "failed");
    assert_eq!(
        step_of(&session, &fix)["outcome_note"],
        "Prompted again after the reboot"
    );
    assert!(listed(&app, &eng, "awaiting_verification").await.is_empty());

    // Resuming is the other way back to work.
    let (second, second_fix) = session_at_first_fix(&app, &eng).await;
    let (status, _) = outcome(
        &app,
        &eng,
        &second,
        &second_fix,
        json!({"outcome": "awaiting_verification"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .post(
            &format!("/ai-sessions/{second}/resume"),
            &eng.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "active");
}

async fn not_relevant_answers_the_open_step_and_records_an_earlier_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let started = app.start_session(&eng, OUTLOOK).await;
    let id = started["session_id"].as_str().unwrap().to_string();
    let scope = started["first_step"].clone();
    let clear = app
        .respond(&eng, &id, &scope, json!({"selected_option": "one"}))
        .await["next_step"]
        .clone();
    assert!(clear["content"]["content"]
        .as_str()
        .unwrap()
        .contains("Credential Manager"));

    // One line, not blank, not too long.
    for bad in ["   ", "first line\nsecond line", &"x".repeat(301)] {
        let (status, body) = not_relevant(&app, &eng, &id, &clear, bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}: {body}");
    }

    // The open step: answered, and the flow goes on without it.
    let (status, body) = not_relevant(
        &app,
        &eng,
        &id,
        &clear,
        "The laptop has no saved Office credentials at all",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["session_status"], "active");
    let broker = body["next_step"].clone();
    assert_ne!(broker["step_id"], clear["step_id"]);
    assert!(
        broker["content"]["content"]
            .as_str()
            .unwrap()
            .contains("sign-in broker"),
        "{broker}"
    );

    // An earlier step: recorded only; the open step stays the same.
    let (status, body) =
        not_relevant(&app, &eng, &id, &scope, "Only ever one user on this site").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["next_step"]["step_id"], broker["step_id"]);
    let session = detail(&app, &eng, &id).await;
    assert_eq!(session["step_count"], 3);
    assert_eq!(
        step_of(&session, &clear)["not_relevant_reason"],
        "The laptop has no saved Office credentials at all"
    );
    assert_eq!(
        step_of(&session, &scope)["not_relevant_reason"],
        "Only ever one user on this site"
    );
    assert_eq!(
        step_of(&session, &scope)["response"]["selected_option"],
        "one",
        "the earlier answer is kept"
    );
    assert!(step_of(&session, &broker)["not_relevant_reason"].is_null());

    // Two clicks at once on the open step: one answers it, one step follows.
    let (a, b) = tokio::join!(
        not_relevant(&app, &eng, &id, &broker, "No Entra join here"),
        not_relevant(&app, &eng, &id, &broker, "No Entra join here")
    );
    assert_one_wins(&a, &b);
    assert_eq!(detail(&app, &eng, &id).await["step_count"], 4);
    // Said once: marking it again is refused.
    let (status, _) = not_relevant(&app, &eng, &id, &scope, "Again").await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Someone else's session: not theirs to mark.
    let other = app.add_user(&eng, "other@acme.test", "engineer").await;
    let (status, _) = not_relevant(&app, &other, &id, &scope, "Not mine").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn only_a_suggested_fix_takes_an_outcome_and_only_the_known_ones(backend: Backend) {
    let app = spawn_app(backend).await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let started = app.start_session(&eng, OUTLOOK).await;
    let id = started["session_id"].as_str().unwrap().to_string();
    let question = &started["first_step"];

    let (status, body) = outcome(&app, &eng, &id, question, json!({"outcome": "worked"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("resolution_suggestion"), "{body}");

    let (id, fix) = session_at_first_fix(&app, &eng).await;
    for bad in [
        json!({"outcome": "fixed"}),
        json!({"outcome": ""}),
        json!({"outcome": 3}),
        json!({}),
        json!({"outcome": "failed", "note": "x".repeat(2001)}),
    ] {
        let (status, body) = outcome(&app, &eng, &id, &fix, bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
    let stranger = json!({"step_id": uuid::Uuid::new_v4().to_string()});
    let (status, _) = outcome(&app, &eng, &id, &stranger, json!({"outcome": "failed"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Nothing was recorded by the refusals.
    let session = detail(&app, &eng, &id).await;
    assert!(step_of(&session, &fix)["outcome"].is_null());
    assert_eq!(session["status"], "active");
}

async fn two_outcomes_at_once_one_wins_and_one_step_follows(backend: Backend) {
    let app = spawn_app(backend).await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let (id, fix) = session_at_first_fix(&app, &eng).await;
    let (a, b) = tokio::join!(
        outcome(&app, &eng, &id, &fix, json!({"outcome": "failed"})),
        outcome(&app, &eng, &id, &fix, json!({"outcome": "failed"}))
    );
    assert_one_wins(&a, &b);
    assert_eq!(detail(&app, &eng, &id).await["step_count"], 4);
    // Said again later, it stands as first said.
    let (status, _) = outcome(&app, &eng, &id, &fix, json!({"outcome": "worked"})).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // "Worked" against "didn't work" on the next fix: one of them, never both.
    let (other, other_fix) = session_at_first_fix(&app, &eng).await;
    let (a, b) = tokio::join!(
        outcome(&app, &eng, &other, &other_fix, json!({"outcome": "worked"})),
        outcome(&app, &eng, &other, &other_fix, json!({"outcome": "failed"}))
    );
    assert_one_wins(&a, &b);
    let session = detail(&app, &eng, &other).await;
    let won = if a.0 == StatusCode::OK {
        "worked"
    } else {
        "failed"
    };
    assert_eq!(step_of(&session, &other_fix)["outcome"], won);
    let (status, steps) = if won == "worked" {
        ("resolved", 3)
    } else {
        ("active", 4)
    };
    assert_eq!(session["status"], status);
    assert_eq!(session["step_count"], steps);
}

async fn the_ai_is_told_the_fix_did_not_work_and_why(backend: Backend) {
    let (app, fake, eng) = provider_app(backend, Wire::OpenAi).await;
    fake.push(Reply::Object(fake_llm::question()));
    let started = app.start_session(&eng, OUTLOOK).await;
    let id = started["session_id"].as_str().unwrap();
    fake.push(Reply::Object(fake_llm::resolution()));
    let answered = app
        .respond(
            &eng,
            id,
            &started["first_step"],
            json!({"selected_option": "one"}),
        )
        .await;
    let fix = &answered["next_step"];
    assert_eq!(fix["step_type"], "resolution_suggestion", "{answered}");

    fake.push(Reply::Object(fake_llm::question()));
    let (status, body) = outcome(
        &app,
        &eng,
        id,
        fix,
        json!({"outcome": "partial", "note": "Two of the three laptops stopped prompting"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["next_step"]["step_type"], "question");
    let sent = fake.received().last().unwrap().raw.clone();
    assert!(
        sent.contains("the suggested fix only partly worked")
            && sent.contains("Two of the three laptops stopped prompting"),
        "{sent}"
    );

    // Not relevant, with its reason, reaches the model the same way.
    let question = body["next_step"].clone();
    fake.push(Reply::Object(fake_llm::resolution()));
    let (status, body) =
        not_relevant(&app, &eng, id, &question, "They all use the same account").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sent = fake.received().last().unwrap().raw.clone();
    assert!(
        sent.contains("marked that step not relevant")
            && sent.contains("They all use the same account"),
        "{sent}"
    );
}
