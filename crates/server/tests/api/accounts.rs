use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, Backend};
use crate::stories;

stories!(
    super_admins_change_plans_and_limits,
    only_super_admins_change_accounts,
    ai_quota_reports_the_plan_limits,
    environment_limits_override_limited_plans,
    super_admins_are_never_limited,
);

async fn super_admins_change_plans_and_limits(backend: Backend) {
    let app = spawn_app(backend).await;
    let operator = app.register("ops@host.test", "Hosting").await;
    app.make_super_admin(&operator).await;
    let customer = app.register("admin@acme.test", "Acme").await;

    let path = format!("/accounts/{}", customer.account_id);
    let (status, account) = app
        .patch(
            &path,
            &operator.token,
            json!({"plan": "pro", "ai_daily_limit": 7}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{account}");
    assert_eq!(account["plan"], "pro");
    assert_eq!(account["ai_daily_limit"], 7);

    let (_, quota) = app.get("/ai-quota", &customer.token).await;
    assert_eq!(quota["plan"], "pro");
    assert_eq!(quota["daily_limit"], 7);
    assert_eq!(quota["monthly_limit"], 3000);

    let (status, account) = app
        .patch(&path, &operator.token, json!({"ai_daily_limit": null}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(account["ai_daily_limit"].is_null());
    assert_eq!(account["plan"], "pro", "absent fields stay");
    let (_, quota) = app.get("/ai-quota", &customer.token).await;
    assert_eq!(quota["daily_limit"], 200);

    let (status, body) = app
        .patch(&path, &operator.token, json!({"ai_monthly_limit": -1}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = app
        .patch(&path, &operator.token, json!({"plan": "platinum"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app
        .patch(
            &format!("/accounts/{}", uuid::Uuid::new_v4()),
            &operator.token,
            json!({"plan": "team"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn only_super_admins_change_accounts(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let (status, _) = app
        .patch(
            &format!("/accounts/{}", admin.account_id),
            &admin.token,
            json!({"plan": "enterprise"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, account) = app.get("/accounts/me", &admin.token).await;
    assert_eq!(account["plan"], "free");
}

async fn ai_quota_reports_the_plan_limits(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let (status, quota) = app.get("/ai-quota", &admin.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(quota["plan"], "free");
    assert_eq!(quota["daily_used"], 0);
    assert_eq!(quota["daily_limit"], 50);
    assert_eq!(quota["monthly_used"], 0);
    assert_eq!(quota["monthly_limit"], 300);
    let daily_reset =
        chrono::DateTime::parse_from_rfc3339(quota["daily_reset_at"].as_str().unwrap()).unwrap();
    let monthly_reset =
        chrono::DateTime::parse_from_rfc3339(quota["monthly_reset_at"].as_str().unwrap()).unwrap();
    assert!(daily_reset > chrono::Utc::now());
    assert!(monthly_reset >= daily_reset);
    assert_eq!(daily_reset.format("%H:%M:%S").to_string(), "00:00:00");
}

async fn environment_limits_override_limited_plans(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.ai_daily_limit = Some(3);
        s.ai_monthly_limit = Some(9);
        s.default_plan = domain::Plan::Team;
    })
    .await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let (_, quota) = app.get("/ai-quota", &admin.token).await;
    assert_eq!(quota["plan"], "team");
    assert_eq!(
        (
            quota["daily_limit"].as_i64(),
            quota["monthly_limit"].as_i64()
        ),
        (Some(3), Some(9))
    );
}

async fn super_admins_are_never_limited(backend: Backend) {
    let app = spawn_app(backend).await;
    let operator = app.register("ops@host.test", "Hosting").await;
    app.make_super_admin(&operator).await;
    let (_, quota) = app.get("/ai-quota", &operator.token).await;
    assert!(
        quota["daily_limit"].is_null() && quota["monthly_limit"].is_null(),
        "{quota}"
    );
}
