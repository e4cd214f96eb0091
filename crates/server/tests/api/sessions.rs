//! Guided sessions through the API with the offline engine and the built-in flows.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{
    assert_one_wins, fresh_database, spawn_app, spawn_app_with, spawn_on, Backend, Member, TestApp,
};
use crate::stories;

stories!(
    an_offline_session_walks_a_flow_to_resolution_documentation_and_rating,
    an_unmatched_problem_starts_with_triage_by_domain,
    answers_are_checked_against_the_current_step,
    two_answers_to_one_step_give_one_success_and_one_conflict,
    the_step_limit_ends_the_walk_but_not_the_session,
    sessions_are_visible_to_owner_escalation_target_and_admins_only,
    escalation_hands_the_session_to_an_active_colleague,
    pause_resume_abandon_and_rating_follow_the_state_machine,
    the_list_filters_pages_and_counts,
    intake_is_validated,
    starting_sessions_is_rate_limited_per_user,
    rate_limits_hold_across_two_servers_on_one_database,
);

const OUTLOOK: &str = "Outlook keeps asking for a password on three laptops since this morning";

/// Answers the current step with its first option until a resolution is suggested.
async fn walk_to_resolution(app: &TestApp, who: &Member, session: &str, mut step: Value) -> Value {
    for _ in 0..30 {
        if step["step_type"] == "resolution_suggestion" {
            return step;
        }
        let value = step["options"][0]["value"].clone();
        let (status, body) = app
            .post(
                &format!("/ai-sessions/{session}/respond"),
                &who.token,
                json!({"step_id": step["step_id"], "selected_option": value}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        step = body["next_step"].clone();
        assert!(
            step.is_object(),
            "the walk ended without a suggestion: {body}"
        );
    }
    panic!("no resolution within 30 steps");
}

async fn an_offline_session_walks_a_flow_to_resolution_documentation_and_rating(backend: Backend) {
    let app = spawn_app(backend).await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let started = app.start_session(&eng, OUTLOOK).await;
    assert_eq!(started["status"], "active");
    assert_eq!(started["engine"], "offline");
    assert!(started["matched_flow_id"].is_string(), "{started}");
    assert!(
        started["matched_flow_name"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("outlook"),
        "{started}"
    );
    assert!(started["match_score"].as_f64().unwrap() > 0.5);
    assert_eq!(started["problem_domain"], "email_m365");
    let first = &started["first_step"];
    assert_eq!(first["step_order"], 1);
    assert!(first["response"].is_null());
    assert!(["question", "action"].contains(&first["step_type"].as_str().unwrap()));
    let id = started["session_id"].as_str().unwrap().to_string();

    let suggestion = walk_to_resolution(&app, &eng, &id, first.clone()).await;
    assert!(suggestion["resolution_summary"].is_string());

    let (status, closed) = app
        .post(
            &format!("/ai-sessions/{id}/resolve"),
            &eng.token,
            json!({"used_suggested_resolution": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(closed["status"], "resolved");
    let doc = &closed["documentation"];
    assert_eq!(doc["resolution_summary"], suggestion["resolution_summary"]);
    assert!(doc["total_steps"].as_i64().unwrap() >= 2);
    assert!(doc["markdown"].as_str().unwrap().contains("## Resolution"));

    let resp = app
        .client
        .get(app.url(&format!("/ai-sessions/{id}/documentation?format=markdown")))
        .bearer_auth(&eng.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/markdown"));
    assert!(resp.text().await.unwrap().starts_with("# "));

    let (status, _) = app
        .post(
            &format!("/ai-sessions/{id}/rate"),
            &eng.token,
            json!({"rating": 4, "feedback": "quick"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .post(
            &format!("/ai-sessions/{id}/rate"),
            &eng.token,
            json!({"rating": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "rating again overwrites");

    let (_, detail) = app.get(&format!("/ai-sessions/{id}"), &eng.token).await;
    assert_eq!(detail["status"], "resolved");
    assert_eq!(detail["rating"], 5);
    assert!(detail["resolved_at"].is_string());
    let steps = detail["steps"].as_array().unwrap();
    assert_eq!(steps.len() as i64, detail["step_count"].as_i64().unwrap());
    assert!(
        steps[..steps.len() - 1]
            .iter()
            .all(|s| s["response"].is_object()),
        "every step but the suggestion was answered"
    );

    // The offline engine never uses the AI quota.
    let (_, quota) = app.get("/ai-quota", &eng.token).await;
    assert_eq!(quota["daily_used"], 0);
}

async fn an_unmatched_problem_starts_with_triage_by_domain(backend: Backend) {
    let app = spawn_app(backend).await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let started = app
        .start_session(
            &eng,
            "the parking garage gate will not open for the night shift",
        )
        .await;
    assert!(started["matched_flow_id"].is_null(), "{started}");
    let first = &started["first_step"];
    assert_eq!(first["step_type"], "question");
    assert_eq!(started["confidence_tier"], "discovery");
    let values: Vec<&str> = first["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["value"].as_str().unwrap())
        .collect();
    assert!(
        values.contains(&"printing") && values.contains(&"wifi"),
        "{values:?}"
    );
    let id = started["session_id"].as_str().unwrap();
    let (status, body) = app
        .post(
            &format!("/ai-sessions/{id}/respond"),
            &eng.token,
            json!({"step_id": first["step_id"], "selected_option": "printing"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, detail) = app.get(&format!("/ai-sessions/{id}"), &eng.token).await;
    assert!(
        detail["matched_flow_name"].is_string(),
        "choosing a domain picks a flow in it: {detail}"
    );
}

async fn answers_are_checked_against_the_current_step(backend: Backend) {
    let app = spawn_app(backend).await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let started = app.start_session(&eng, OUTLOOK).await;
    let id = started["session_id"].as_str().unwrap();
    let step = &started["first_step"];
    let path = format!("/ai-sessions/{id}/respond");

    let (status, body) = app
        .post(
            &path,
            &eng.token,
            json!({"step_id": step["step_id"], "selected_option": "no-such-option"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "selected_option"]));
    let (status, _) = app
        .post(&path, &eng.token, json!({"step_id": step["step_id"]}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app.post(&path, &eng.token, json!({"step_id": uuid::Uuid::new_v4(), "selected_option": step["options"][0]["value"]})).await;
    assert_eq!(status, StatusCode::CONFLICT);

    let (status, ok) = app
        .post(
            &path,
            &eng.token,
            json!({"step_id": step["step_id"], "selected_option": step["options"][0]["value"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ok}");
    // The answered step is no longer the current one.
    let (status, _) = app
        .post(
            &path,
            &eng.token,
            json!({"step_id": step["step_id"], "selected_option": step["options"][0]["value"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

async fn two_answers_to_one_step_give_one_success_and_one_conflict(backend: Backend) {
    let app = spawn_app(backend).await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let started = app.start_session(&eng, OUTLOOK).await;
    let id = started["session_id"].as_str().unwrap();
    let step = &started["first_step"];
    let body = json!({"step_id": step["step_id"], "selected_option": step["options"][0]["value"]});
    let path = format!("/ai-sessions/{id}/respond");
    let (a, b) = tokio::join!(
        app.post(&path, &eng.token, body.clone()),
        app.post(&path, &eng.token, body.clone())
    );
    assert_one_wins(&a, &b);
    let (_, detail) = app.get(&format!("/ai-sessions/{id}"), &eng.token).await;
    assert_eq!(detail["step_count"], 2, "exactly one next step was stored");
}

async fn the_step_limit_ends_the_walk_but_not_the_session(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.max_steps = 2).await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let started = app
        .start_session(&eng, "the parking garage gate is stuck")
        .await;
    let id = started["session_id"].as_str().unwrap();
    let path = format!("/ai-sessions/{id}/respond");
    let first = &started["first_step"];
    let (_, body) = app
        .post(
            &path,
            &eng.token,
            json!({"step_id": first["step_id"], "selected_option": first["options"][0]["value"]}),
        )
        .await;
    let second = body["next_step"].clone();
    assert_eq!(second["step_order"], 2);
    let answer = match second["options"].as_array().and_then(|o| o.first()) {
        Some(o) => json!({"step_id": second["step_id"], "selected_option": o["value"]}),
        None => json!({"step_id": second["step_id"], "free_text_input": "still broken"}),
    };
    let (status, body) = app.post(&path, &eng.token, answer.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["next_step"].is_null());
    assert_eq!(body["session_status"], "active");
    let (status, _) = app.post(&path, &eng.token, answer).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, detail) = app.get(&format!("/ai-sessions/{id}"), &eng.token).await;
    assert_eq!(detail["steps"].as_array().unwrap().len(), 2);
    let (status, _) = app
        .post(
            &format!("/ai-sessions/{id}/escalate"),
            &eng.token,
            json!({"escalation_reason": "out of steps"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

async fn sessions_are_visible_to_owner_escalation_target_and_admins_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let owner = app.add_user(&admin, "owner@acme.test", "engineer").await;
    let colleague = app
        .add_user(&admin, "colleague@acme.test", "engineer")
        .await;
    let viewer = app.add_user(&admin, "viewer@acme.test", "viewer").await;
    let outsider = app.register("admin@globex.test", "Globex").await;
    let started = app.start_session(&owner, OUTLOOK).await;
    let id = started["session_id"].as_str().unwrap();
    let detail = format!("/ai-sessions/{id}");

    assert_eq!(app.get(&detail, &owner.token).await.0, StatusCode::OK);
    assert_eq!(app.get(&detail, &admin.token).await.0, StatusCode::OK);
    assert_eq!(
        app.get(&detail, &colleague.token).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&detail, &outsider.token).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(
            &format!("/ai-sessions/{}", uuid::Uuid::new_v4()),
            &owner.token
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );

    let answer = json!({"step_id": started["first_step"]["step_id"], "selected_option": started["first_step"]["options"][0]["value"]});
    assert_eq!(
        app.post(&format!("{detail}/respond"), &admin.token, answer.clone())
            .await
            .0,
        StatusCode::FORBIDDEN,
        "admins see but do not answer"
    );
    assert_eq!(
        app.post(
            &format!("{detail}/respond"),
            &outsider.token,
            answer.clone()
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call(
            Method::POST,
            &format!("{detail}/pause"),
            Some(&colleague.token),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = app
        .post(
            "/ai-sessions",
            &viewer.token,
            json!({"intake_type": "free_text", "intake_content": {"text": OUTLOOK}}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "viewers cannot start sessions"
    );
}

async fn escalation_hands_the_session_to_an_active_colleague(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let owner = app.add_user(&admin, "owner@acme.test", "engineer").await;
    let senior = app.add_user(&admin, "senior@acme.test", "engineer").await;
    let viewer = app.add_user(&admin, "viewer@acme.test", "viewer").await;
    let outsider = app.register("admin@globex.test", "Globex").await;
    let started = app.start_session(&owner, OUTLOOK).await;
    let id = started["session_id"].as_str().unwrap();
    let path = format!("/ai-sessions/{id}/escalate");

    for target in [&owner.id, &viewer.id, &outsider.id] {
        let (status, body) = app
            .post(
                &path,
                &owner.token,
                json!({"escalation_reason": "needs tenant admin", "escalated_to_id": target}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let (status, _) = app
        .post(&path, &owner.token, json!({"escalation_reason": ""}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (status, closed) = app
        .post(
            &path,
            &owner.token,
            json!({"escalation_reason": "Needs tenant admin rights", "escalated_to_id": senior.id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(closed["status"], "escalated");
    let doc = &closed["documentation"];
    assert_eq!(doc["escalation_reason"], "Needs tenant admin rights");
    assert!(!doc["hypotheses"].as_array().unwrap().is_empty());
    assert!(doc["markdown"]
        .as_str()
        .unwrap()
        .contains("senior@acme.test"));

    let (status, list) = app
        .get("/ai-sessions?escalated_to_me=true", &senior.token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(
        app.get(&format!("/ai-sessions/{id}"), &senior.token)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/ai-sessions/{id}/documentation"), &senior.token)
            .await
            .0,
        StatusCode::OK
    );
    let (status, _) = app
        .post(&path, &owner.token, json!({"escalation_reason": "again"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

async fn pause_resume_abandon_and_rating_follow_the_state_machine(backend: Backend) {
    let app = spawn_app(backend).await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let started = app.start_session(&eng, OUTLOOK).await;
    let id = started["session_id"].as_str().unwrap();
    let act = |what: &str| format!("/ai-sessions/{id}/{what}");

    assert_eq!(
        app.post(&act("rate"), &eng.token, json!({"rating": 5}))
            .await
            .0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        app.get(&act("documentation"), &eng.token).await.0,
        StatusCode::NOT_FOUND,
        "no documentation while active"
    );
    let (status, s) = app
        .call(Method::POST, &act("pause"), Some(&eng.token), None)
        .await;
    assert_eq!(
        (status, s["status"].as_str()),
        (StatusCode::OK, Some("paused"))
    );
    assert_eq!(
        app.call(Method::POST, &act("pause"), Some(&eng.token), None)
            .await
            .0,
        StatusCode::CONFLICT
    );
    let answer = json!({"step_id": started["first_step"]["step_id"], "selected_option": started["first_step"]["options"][0]["value"]});
    assert_eq!(
        app.post(&act("respond"), &eng.token, answer).await.0,
        StatusCode::CONFLICT,
        "paused sessions take no answers"
    );
    let (status, s) = app
        .call(Method::POST, &act("resume"), Some(&eng.token), None)
        .await;
    assert_eq!(
        (status, s["status"].as_str()),
        (StatusCode::OK, Some("active"))
    );
    let (status, s) = app
        .call(Method::POST, &act("abandon"), Some(&eng.token), None)
        .await;
    assert_eq!(
        (status, s["status"].as_str()),
        (StatusCode::OK, Some("abandoned"))
    );
    assert_eq!(
        app.call(Method::POST, &act("resume"), Some(&eng.token), None)
            .await
            .0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        app.post(
            &act("resolve"),
            &eng.token,
            json!({"resolution_summary": "x"})
        )
        .await
        .0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        app.post(&act("rate"), &eng.token, json!({"rating": 6}))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.post(&act("rate"), &eng.token, json!({"rating": 2}))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
}

async fn the_list_filters_pages_and_counts(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let eng = app.add_user(&admin, "eng@acme.test", "engineer").await;
    let mut ids = vec![];
    for text in [
        OUTLOOK,
        "printer shows offline for everyone",
        "wifi keeps dropping in the meeting room",
    ] {
        ids.push(
            app.start_session(&eng, text).await["session_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    app.call(
        Method::POST,
        &format!("/ai-sessions/{}/pause", ids[0]),
        Some(&eng.token),
        None,
    )
    .await;

    let resp = app
        .client
        .get(app.url("/ai-sessions?limit=2"))
        .bearer_auth(&eng.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-total-count"], "3");
    let page: Value = resp.json().await.unwrap();
    let got: Vec<&str> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[2].as_str(), ids[1].as_str()], "newest first");
    let (_, rest) = app.get("/ai-sessions?limit=2&skip=2", &eng.token).await;
    assert_eq!(rest[0]["id"], ids[0].as_str());
    let (_, paused) = app.get("/ai-sessions?status=paused", &eng.token).await;
    assert_eq!(paused.as_array().unwrap().len(), 1);
    let (_, all) = app.get("/ai-sessions", &admin.token).await;
    assert_eq!(
        all.as_array().unwrap().len(),
        3,
        "admins see the account's sessions"
    );
    for bad in [
        "status=open",
        "limit=0",
        "limit=101",
        "skip=-1",
        "limit=ten",
    ] {
        let (status, body) = app.get(&format!("/ai-sessions?{bad}"), &eng.token).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(body["detail"][0]["loc"][0], "query");
    }
}

async fn intake_is_validated(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.rate_limits = false).await;
    let eng = app.register("eng@acme.test", "Acme").await;
    for body in [
        json!({"intake_type": "free_text", "intake_content": {}}),
        json!({"intake_type": "log_paste", "intake_content": {"text": "no log"}}),
        json!({"intake_type": "combined", "intake_content": {"text": "only text"}}),
        json!({"intake_type": "telepathy", "intake_content": {"text": "x"}}),
        json!({"intake_type": "free_text", "intake_content": {"text": "x".repeat(10_001)}}),
        json!({"intake_type": "free_text", "intake_content": {"text": "ok"}, "title": "t".repeat(201)}),
    ] {
        let (status, resp) = app.post("/ai-sessions", &eng.token, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {resp}");
    }
    let (_, list) = app.get("/ai-sessions", &eng.token).await;
    assert_eq!(list, json!([]), "nothing was stored");
    let (status, body) = app
        .post("/ai-sessions", &eng.token, json!({"intake_type": "log_paste", "intake_content": {"log": "Event 4625: An account failed to log on.\nAccount Name: jdoe"}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn starting_sessions_is_rate_limited_per_user(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let eng = app.add_user(&admin, "eng@acme.test", "engineer").await;
    for _ in 0..5 {
        app.start_session(&eng, OUTLOOK).await;
    }
    let resp = app
        .client
        .post(app.url("/ai-sessions"))
        .bearer_auth(&eng.token)
        .json(&json!({"intake_type": "free_text", "intake_content": {"text": OUTLOOK}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    // Another engineer has an allowance of their own.
    app.start_session(&admin, OUTLOOK).await;
    let (_, list) = app.get("/ai-sessions", &eng.token).await;
    assert_eq!(
        list.as_array().unwrap().len(),
        5,
        "the refused request stored nothing"
    );
}

async fn rate_limits_hold_across_two_servers_on_one_database(backend: Backend) {
    let (url, dir) = fresh_database(backend).await;
    let first = spawn_on(url.clone(), dir, |_| {}).await;
    let second = spawn_on(url, None, |_| {}).await;
    let eng = first.register("eng@acme.test", "Acme").await;
    for app in [&first, &second, &first, &second, &first] {
        app.start_session(&eng, OUTLOOK).await;
    }
    for app in [&second, &first] {
        let (status, body) = app
            .post(
                "/ai-sessions",
                &eng.token,
                json!({"intake_type": "free_text", "intake_content": {"text": OUTLOOK}}),
            )
            .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    }
}
