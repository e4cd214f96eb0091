//! What an outside review found failing (issue 12), each as the story that showed it: an
//! unmatched session poisoning a PostgreSQL connection, a step left locked after a server
//! error, NUL characters, bodies that are not JSON, malformed ids, and the per-address limits
//! behind a reverse proxy.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, Backend, Member, TestApp, PASSWORD};
use crate::stories;

stories!(
    sessions_that_match_no_flow_and_sessions_that_do_mix_freely,
    many_engineers_at_once_mixing_matched_and_unmatched_sessions_all_succeed,
    a_step_whose_answer_failed_to_store_can_be_answered_again_at_once,
    text_with_a_nul_character_is_refused_the_same_on_both_backends,
    a_body_that_does_not_say_json_is_a_415,
    a_malformed_id_in_the_path_is_a_400_in_the_error_shape,
    sign_ups_are_limited_per_client_address,
    behind_a_trusted_proxy_each_client_has_its_own_login_limit,
    an_untrusted_peer_cannot_escape_the_login_limit_with_a_forwarded_header,
    an_office_behind_one_address_signs_in_past_ten_when_allowed_but_one_email_still_cannot,
);

const UNMATCHED: &str = "zxqv blorf wibble";
const MATCHED: &str = "Printer shows offline for everyone in the office";

/// Answers `step` with its first option, or with free text when it has none.
async fn answer(
    app: &TestApp,
    who: &Member,
    session_id: &str,
    step: &Value,
) -> (StatusCode, Value) {
    let body = match step["options"].as_array().and_then(|o| o.first()) {
        Some(option) => json!({"step_id": step["step_id"], "selected_option": option["value"]}),
        None => json!({"step_id": step["step_id"], "free_text_input": "Done, no change"}),
    };
    app.post(
        &format!("/ai-sessions/{session_id}/respond"),
        &who.token,
        body,
    )
    .await
}

async fn sessions_that_match_no_flow_and_sessions_that_do_mix_freely(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.rate_limits = false).await;
    let eng = app.register("eng@acme.test", "Acme").await;

    let unmatched = app.start_session(&eng, UNMATCHED).await;
    assert!(unmatched["match_score"].is_null(), "{unmatched}");
    // Its steps are answered too: each answer writes the session's score (here none).
    let (status, body) = answer(
        &app,
        &eng,
        unmatched["session_id"].as_str().unwrap(),
        &unmatched["first_step"],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    for round in 0..10 {
        let matched = app.start_session(&eng, MATCHED).await;
        assert!(
            matched["match_score"].as_f64().is_some_and(|s| s > 0.0),
            "round {round}: {matched}"
        );
        let (status, body) = answer(
            &app,
            &eng,
            matched["session_id"].as_str().unwrap(),
            &matched["first_step"],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "round {round}: {body}");
        // And unmatched again on the same connections.
        let again = app.start_session(&eng, UNMATCHED).await;
        assert!(again["match_score"].is_null(), "round {round}: {again}");
    }
}

async fn many_engineers_at_once_mixing_matched_and_unmatched_sessions_all_succeed(
    backend: Backend,
) {
    let app = spawn_app_with(backend, |s| s.rate_limits = false).await;
    let mut engineers = Vec::new();
    for i in 0..8 {
        engineers.push(
            app.register(&format!("eng{i}@acme{i}.test"), &format!("Acme {i}"))
                .await,
        );
    }
    let app = &app;
    let runs = engineers.iter().enumerate().map(|(i, eng)| async move {
        let mut failures = Vec::new();
        for n in 0..4 {
            let text = if (i + n) % 2 == 0 { UNMATCHED } else { MATCHED };
            let (status, started) = app
                .post(
                    "/ai-sessions",
                    &eng.token,
                    json!({"intake_type": "free_text", "intake_content": {"text": text}}),
                )
                .await;
            if status != StatusCode::CREATED {
                failures.push(format!("start: {status} {started}"));
                continue;
            }
            let id = started["session_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let mut step = started["first_step"].clone();
            for _ in 0..5 {
                let (status, body) = answer(app, eng, &id, &step).await;
                if status != StatusCode::OK {
                    failures.push(format!("respond: {status} {body}"));
                    break;
                }
                if body["next_step"].is_null() {
                    break;
                }
                step = body["next_step"].clone();
            }
        }
        failures
    });
    let failures: Vec<String> = join_all(runs).await.into_iter().flatten().collect();
    assert!(
        failures.is_empty(),
        "{} failed: {failures:#?}",
        failures.len()
    );
}

/// Makes the database refuse every new step until [`heal`] drops the trigger.
fn break_step_inserts(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "CREATE TRIGGER fail_new_steps BEFORE INSERT ON ai_steps \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
        }
        Backend::Postgres => {
            "CREATE FUNCTION fp_injected_failure() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$; \
             CREATE TRIGGER fail_new_steps BEFORE INSERT ON ai_steps \
             FOR EACH ROW EXECUTE FUNCTION fp_injected_failure();"
        }
    }
}

fn heal(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "DROP TRIGGER fail_new_steps;",
        Backend::Postgres => "DROP TRIGGER fail_new_steps ON ai_steps;",
    }
}

async fn a_step_whose_answer_failed_to_store_can_be_answered_again_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let started = app.start_session(&eng, MATCHED).await;
    let id = started["session_id"].as_str().unwrap();

    app.run_sql(break_step_inserts(backend)).await;
    let (status, body) = answer(&app, &eng, id, &started["first_step"]).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(
        body["detail"], "Internal server error",
        "the cause stays in the log"
    );
    app.run_sql(heal(backend)).await;

    // The same request again: the step is free, not "being answered by another request".
    let (status, body) = answer(&app, &eng, id, &started["first_step"]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["next_step"]["step_id"].is_string(), "{body}");
    let (_, detail) = app.get(&format!("/ai-sessions/{id}"), &eng.token).await;
    let steps = detail["steps"].as_array().expect("steps");
    assert_eq!(
        steps.len(),
        2,
        "the failed attempt stored nothing: {detail}"
    );
}

async fn text_with_a_nul_character_is_refused_the_same_on_both_backends(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;

    let (status, body) = app
        .post("/teams", &admin.token, json!({"name": "Service\u{0}desk"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "name"]));
    assert_eq!(body["detail"][0]["type"], "string_nul");

    let (status, body) = app
        .post(
            "/ai-sessions",
            &admin.token,
            json!({"intake_type": "combined", "intake_content": {
                "text": "VPN drops", "log": "line one\n\u{0}\u{0}binary junk"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["detail"][0]["loc"],
        json!(["body", "intake_content", "log"])
    );

    let (status, body) = app
        .call(
            Method::POST,
            "/auth/register",
            None,
            Some(json!({"email": "x@y.test", "password": PASSWORD,
                "full_name": "A\u{0}B", "account_name": "Other"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (status, body) = app.get("/ai-sessions?status=%00", &admin.token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["query", "status"]));

    // YAML's escape for NUL, in a flow import.
    let yaml = "title: \"Printer\\0jam\"\ndomain: printing\nstart: s1\nnodes:\n  s1:\n    type: solution\n    text: Clear the jam\n";
    let resp = app
        .client
        .post(app.url("/flows/import"))
        .bearer_auth(&admin.token)
        .header("content-type", "application/yaml")
        .body(yaml)
        .send()
        .await
        .unwrap();
    let (status, body) = TestApp::read(resp).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["detail"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "string_nul" && e["loc"] == json!(["body", 0, "title"])),
        "{body}"
    );

    // Nothing of it was kept, and the server is fine.
    let (_, teams) = app.get("/teams", &admin.token).await;
    assert_eq!(teams, json!([]));
    let (status, _) = app
        .post("/teams", &admin.token, json!({"name": "Service desk"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

async fn a_body_that_does_not_say_json_is_a_415(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let send = |content_type: Option<&'static str>, body: &'static str| {
        let mut req = app
            .client
            .post(app.url("/teams"))
            .bearer_auth(&admin.token)
            .body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        async move { TestApp::read(req.send().await.expect("send")).await }
    };
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/xml"),
        None,
    ] {
        let (status, body) = send(content_type, r#"{"name": "Desk"}"#).await;
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}: {body}"
        );
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("application/json"),
            "{body}"
        );
    }
    let (_, teams) = app.get("/teams", &admin.token).await;
    assert_eq!(teams, json!([]), "none of them was created");

    let (status, body) = send(
        Some("application/json; charset=utf-8"),
        r#"{"name": "Desk"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // The flow import reads YAML when told so, and neither JSON nor YAML otherwise.
    let yaml = "title: Printer jam\ndomain: printing\ndescription: Paper stuck\nstart_node: q1\n\
                nodes:\n  q1:\n    type: resolution\n    title: Clear the jam\n";
    let import = |content_type: &'static str| {
        app.client
            .post(app.url("/flows/import"))
            .bearer_auth(&admin.token)
            .header("content-type", content_type)
            .body(yaml)
            .send()
    };
    let (status, body) = TestApp::read(import("text/plain").await.unwrap()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    let (status, body) = TestApp::read(import("application/yaml").await.unwrap()).await;
    assert_ne!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
}

async fn a_malformed_id_in_the_path_is_a_400_in_the_error_shape(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    for (method, path) in [
        (Method::GET, "/ai-sessions/not-a-uuid"),
        (Method::POST, "/ai-sessions/12345/pause"),
        (Method::GET, "/flows/zzz"),
        (Method::PATCH, "/users/1"),
    ] {
        let resp = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(&admin.token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{method} {path}");
        let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(
            content_type.starts_with("application/json"),
            "{path}: {content_type}"
        );
        let body: Value = resp.json().await.unwrap();
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("is not a valid id"),
            "{body}"
        );
    }
}

async fn register_from(app: &TestApp, forwarded_for: Option<&str>, n: usize) -> reqwest::Response {
    let mut req = app.client.post(app.url("/auth/register")).json(&json!({
        "email": format!("admin{n}@shop{n}.test"), "password": PASSWORD,
        "full_name": "Ada", "account_name": format!("Shop {n}")
    }));
    if let Some(addr) = forwarded_for {
        req = req.header("x-forwarded-for", addr);
    }
    req.send().await.unwrap()
}

async fn sign_ups_are_limited_per_client_address(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    for n in 0..10 {
        let resp = register_from(&app, Some("198.51.100.7"), n).await;
        assert_eq!(resp.status(), StatusCode::CREATED, "sign-up {n}");
    }
    let refused = register_from(&app, Some("198.51.100.7"), 10).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    let (_, body) = TestApp::read(refused).await;
    assert!(body["detail"].is_string(), "{body}");
    // Another client behind the same proxy signs up as usual.
    let other = register_from(&app, Some("198.51.100.8"), 11).await;
    assert_eq!(other.status(), StatusCode::CREATED);

    // The allowance is a setting.
    let strict = spawn_app_with(backend, |s| s.signups_per_minute = 2).await;
    for n in 0..2 {
        assert_eq!(
            register_from(&strict, None, n).await.status(),
            StatusCode::CREATED
        );
    }
    let refused = register_from(&strict, None, 2).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
}

async fn login_from(app: &TestApp, forwarded_for: &str, email: &str) -> StatusCode {
    app.client
        .post(app.url("/auth/login"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"email": email, "password": "not the password"}))
        .send()
        .await
        .unwrap()
        .status()
}

async fn behind_a_trusted_proxy_each_client_has_its_own_login_limit(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    for n in 0..10 {
        let status = login_from(&app, "203.0.113.50", &format!("typo{n}@msp.test")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {n}");
    }
    assert_eq!(
        login_from(&app, "203.0.113.50", "typo10@msp.test").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A colleague at another address is not locked out by someone else's typos.
    assert_eq!(
        login_from(&app, "203.0.113.51", "colleague@msp.test").await,
        StatusCode::UNAUTHORIZED
    );
}

async fn an_office_behind_one_address_signs_in_past_ten_when_allowed_but_one_email_still_cannot(
    backend: Backend,
) {
    let app = spawn_app_with(backend, |s| s.logins_per_address_per_minute = 50).await;
    // Twenty engineers of one office, one NAT address, at nine in the morning.
    for n in 0..20 {
        let status = login_from(&app, "ignored", &format!("engineer{n}@msp.test")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "engineer {n}");
    }
    // Guessing one account's password is held to ten a minute whatever the address allows.
    for n in 0..10 {
        let status = login_from(&app, "ignored", "target@msp.test").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "guess {n}");
    }
    assert_eq!(
        login_from(&app, "ignored", "target@msp.test").await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

async fn an_untrusted_peer_cannot_escape_the_login_limit_with_a_forwarded_header(backend: Backend) {
    let app = spawn_app(backend).await;
    for n in 0..10 {
        let forged = format!("192.0.2.{n}");
        let status = login_from(&app, &forged, &format!("guess{n}@msp.test")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {n}");
    }
    assert_eq!(
        login_from(&app, "192.0.2.99", "guess10@msp.test").await,
        StatusCode::TOO_MANY_REQUESTS,
        "the header is ignored when no proxy is trusted"
    );
}
