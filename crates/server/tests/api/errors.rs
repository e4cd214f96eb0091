use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{spawn_app, Backend};
use crate::stories;

stories!(
    malformed_json_is_a_400_in_the_error_shape,
    bodies_over_one_mebibyte_are_refused_with_413,
    unknown_paths_and_methods_answer_json,
    unknown_fields_are_ignored,
    an_empty_body_is_a_validation_error,
);

async fn malformed_json_is_a_400_in_the_error_shape(backend: Backend) {
    let app = spawn_app(backend).await;
    let resp = app
        .client
        .post(app.url("/auth/register"))
        .header("content-type", "application/json")
        .body("{\"email\": \"a@b.co\",")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let body: Value = resp.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("Malformed JSON"));
}

async fn bodies_over_one_mebibyte_are_refused_with_413(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(1024 * 1024 + 10));
    let resp = app
        .client
        .post(app.url("/teams"))
        .bearer_auth(&admin.token)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = resp.json().await.unwrap();
    assert!(body["detail"].is_string());
    let (_, teams) = app.get("/teams", &admin.token).await;
    assert_eq!(teams.as_array().unwrap().len(), 0, "nothing was created");

    // Just under the limit is read (and then validated on its merits).
    let near = format!("{{\"name\": \"{}\"}}", "x".repeat(1024 * 1024 - 100));
    let resp = app
        .client
        .post(app.url("/teams"))
        .bearer_auth(&admin.token)
        .header("content-type", "application/json")
        .body(near)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

async fn unknown_paths_and_methods_answer_json(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, body) = app.call(Method::GET, "/no-such-thing", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["detail"], "Not found");
    let (status, body) = app.call(Method::DELETE, "/auth/me", None, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(body["detail"].is_string());
    let (status, body) = app
        .call(
            Method::PATCH,
            "/users/not-a-uuid",
            None,
            Some(serde_json::json!({})),
        )
        .await;
    assert!(
        status == StatusCode::UNAUTHORIZED
            || status == StatusCode::BAD_REQUEST
            || status == StatusCode::NOT_FOUND
            || status == StatusCode::UNPROCESSABLE_ENTITY,
        "{status} {body}"
    );
    assert!(body.get("detail").is_some(), "{body}");
}

async fn unknown_fields_are_ignored(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let (status, _) = app
        .post(
            "/teams",
            &admin.token,
            serde_json::json!({"name": "Desk", "colour": "teal"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

async fn an_empty_body_is_a_validation_error(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let resp = app
        .client
        .post(app.url("/teams"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["detail"][0]["type"], "missing");
}
