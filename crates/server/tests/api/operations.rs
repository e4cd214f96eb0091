use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{spawn_app, Backend};
use crate::stories;

stories!(
    health_and_readiness_answer,
    openapi_describes_every_endpoint,
    every_response_carries_a_request_id
);

async fn health_and_readiness_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/healthz", "/readyz"] {
        let resp = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
    }
}

async fn openapi_describes_every_endpoint(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc: Value = app
        .client
        .get(format!("{}/api/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let expected = [
        ("/api/v1/auth/register", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/auth/me", "get"),
        ("/api/v1/users", "get"),
        ("/api/v1/users", "post"),
        ("/api/v1/users/{id}", "patch"),
        ("/api/v1/teams", "get"),
        ("/api/v1/teams", "post"),
        ("/api/v1/accounts/me", "get"),
        ("/api/v1/accounts/{id}", "patch"),
        ("/api/v1/ai-quota", "get"),
        ("/api/v1/ai-sessions", "post"),
        ("/api/v1/ai-sessions", "get"),
        ("/api/v1/ai-sessions/{id}", "get"),
        ("/api/v1/ai-sessions/{id}/respond", "post"),
        ("/api/v1/ai-sessions/{id}/resolve", "post"),
        ("/api/v1/ai-sessions/{id}/escalate", "post"),
        ("/api/v1/ai-sessions/{id}/documentation", "get"),
        ("/api/v1/ai-sessions/{id}/rate", "post"),
        ("/api/v1/ai-sessions/{id}/pause", "post"),
        ("/api/v1/ai-sessions/{id}/resume", "post"),
        ("/api/v1/ai-sessions/{id}/abandon", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    ];
    for (path, method) in expected {
        assert!(
            doc["paths"][path][method].is_object(),
            "OpenAPI lacks {method} {path}"
        );
    }
    assert!(doc["components"]["schemas"]["UserOut"].is_object());
}

async fn every_response_carries_a_request_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let resp = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert!(!resp.headers()["x-request-id"].is_empty());
    let resp = app
        .client
        .get(format!("{}/healthz", app.base))
        .header("x-request-id", "ticket-42")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "ticket-42");
}
