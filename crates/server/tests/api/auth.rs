use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, Backend, PASSWORD};
use crate::stories;

stories!(
    registering_creates_an_account_whose_first_user_is_its_admin,
    an_email_registers_once_whatever_its_case,
    registration_checks_every_field,
    registration_can_be_closed,
    login_answers_the_same_for_unknown_emails_and_wrong_passwords,
    login_attempts_are_limited_per_email,
    login_attempts_are_limited_per_client_ip,
    logout_revokes_the_token,
    expired_and_made_up_tokens_are_refused,
    a_deactivated_user_is_locked_out_at_once,
);

async fn registering_creates_an_account_whose_first_user_is_its_admin(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, body) = app
        .call(Method::POST, "/auth/register", None, Some(json!({
            "email": "Ada@Example.com", "password": PASSWORD, "full_name": "Ada Lovelace", "account_name": "Analytical IT"
        })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 168 * 3600);
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["role"], "admin");
    assert_eq!(body["user"]["is_super_admin"], false);
    assert_eq!(body["user"]["is_active"], true);
    assert!(body["user"]["team_id"].is_null());
    let token = body["access_token"].as_str().unwrap();

    let (status, me) = app.get("/auth/me", token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"], body["user"]["id"]);

    let (status, account) = app.get("/accounts/me", token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(account["name"], "Analytical IT");
    assert_eq!(account["plan"], "free");
    assert_eq!(account["id"], body["user"]["account_id"]);
}

async fn an_email_registers_once_whatever_its_case(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("grace@example.com", "Navy IT").await;
    let (status, body) = app
        .call(Method::POST, "/auth/register", None, Some(json!({
            "email": "GRACE@example.com", "password": PASSWORD, "full_name": "G", "account_name": "Other"
        })))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["detail"].is_string());
}

async fn registration_checks_every_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, body) = app
        .call(Method::POST, "/auth/register", None, Some(json!({
            "email": "not-an-email", "password": "short", "full_name": "", "account_name": "x".repeat(201)
        })))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<String> = body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(e["msg"].is_string() && e["type"].is_string(), "{e}");
            assert_eq!(e["loc"][0], "body");
            e["loc"][1].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(fields, ["email", "password", "full_name", "account_name"]);

    let (status, body) = app
        .call(
            Method::POST,
            "/auth/register",
            None,
            Some(json!({"email": "a@b.co", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["type"], "missing");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "full_name"]));

    let (status, _) = app
        .call(Method::POST, "/auth/register", None, Some(json!({
            "email": "a@b.co", "password": "p".repeat(129), "full_name": "A", "account_name": "B"
        })))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn registration_can_be_closed(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.allow_signup = false).await;
    let (status, body) = app
        .call(
            Method::POST,
            "/auth/register",
            None,
            Some(json!({
                "email": "a@b.co", "password": PASSWORD, "full_name": "A", "account_name": "B"
            })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

async fn login_answers_the_same_for_unknown_emails_and_wrong_passwords(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("linus@example.com", "Kernel IT").await;
    let (ok, body) = app
        .call(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({"email": "LINUS@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(ok, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["email"], "linus@example.com");

    let (wrong, wrong_body) = app
        .call(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({"email": "linus@example.com", "password": "not the password"})),
        )
        .await;
    let (unknown, unknown_body) = app
        .call(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({"email": "nobody@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(wrong, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_body, unknown_body);
}

async fn login_attempts_are_limited_per_email(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("target@example.com", "Target").await;
    // The guesses come from several loopback addresses, so only the per-email limit can stop
    // the eleventh.
    let from = |last: u8| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, last]))
            .build()
            .unwrap()
    };
    for i in 0..10u8 {
        let resp = from(2 + i % 3)
            .post(app.url("/auth/login"))
            .json(&json!({"email": "target@example.com", "password": "guess guess guess"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    let resp = from(9)
        .post(app.url("/auth/login"))
        .json(&json!({"email": "target@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // At most the rest of this minute plus the sixth of a minute it takes the eleventh
    // guess to leave the sliding estimate of the last minute.
    assert!((1..=66).contains(&retry), "Retry-After {retry}");
}

async fn login_attempts_are_limited_per_client_ip(backend: Backend) {
    let app = spawn_app(backend).await;
    for i in 0..10 {
        let (status, _) = app
            .call(
                Method::POST,
                "/auth/login",
                None,
                Some(json!({"email": format!("user{i}@example.com"), "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = app
        .call(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({"email": "fresh@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body["detail"].is_string());
}

async fn logout_revokes_the_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("out@example.com", "Out").await;
    let other_session = app.login("out@example.com").await;
    let (status, body) = app
        .call(Method::POST, "/auth/logout", Some(&admin.token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = app.get("/auth/me", &admin.token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Only that token: the user's other sign-in keeps working.
    let (status, _) = app.get("/auth/me", &other_session.token).await;
    assert_eq!(status, StatusCode::OK);
}

async fn expired_and_made_up_tokens_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("exp@example.com", "Exp").await;
    let expired = "fp_expired-token-for-the-test";
    app.store
        .insert_token(
            store::NewToken {
                token_hash: flowpilot_server::auth::token::digest(expired),
                user_id: admin.id.parse().unwrap(),
                expires_at: chrono::Utc::now() - chrono::Duration::minutes(1),
            },
            chrono::Utc::now() - chrono::Duration::hours(2),
        )
        .await
        .unwrap();
    for token in [expired, "fp_made-up", ""] {
        let resp = app
            .client
            .get(app.url("/auth/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "token {token:?}");
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert!(body["detail"].is_string());
    }
    let (status, _) = app.call(Method::GET, "/auth/me", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn a_deactivated_user_is_locked_out_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("boss@example.com", "Boss IT").await;
    let eng = app.add_user(&admin, "eng@example.com", "engineer").await;
    let (status, _) = app
        .patch(
            &format!("/users/{}", eng.id),
            &admin.token,
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.get("/auth/me", &eng.token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .call(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({"email": "eng@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
