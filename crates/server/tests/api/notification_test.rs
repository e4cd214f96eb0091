//! "Send a test" of the notification settings: a sample notice, saying it is a test, goes at
//! once to every saved webhook (signed when the webhook is) and to the admin's own address,
//! and the answer says which took it and why one did not. Admins only, a few a minute, and
//! nothing is queued: a test is not retried later.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, tier_two, Backend, Member, TestApp};
use crate::notifications::signed_with;
use crate::sinks::{SmtpSink, WebhookSink};
use crate::stories;

stories!(
    a_test_reaches_each_webhook_and_the_admin_and_says_which_did_not_take_it,
    engineers_may_not_send_tests_and_an_account_with_nothing_set_hears_so,
    an_admin_may_send_five_tests_a_minute,
);

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const SECRET: &str = "whsec-test-91c2";

/// Saves `webhooks` as the account's, which must be taken: the settings as saved.
async fn save_webhooks(app: &TestApp, admin: &Member, webhooks: Value) -> Value {
    let (status, body) = app
        .call(
            reqwest::Method::PUT,
            "/integrations/notifications",
            Some(&admin.token),
            Some(json!({ "webhooks": webhooks })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn send_test(app: &TestApp, who: &Member) -> (StatusCode, Value) {
    app.post("/integrations/notifications/test", &who.token, json!({}))
        .await
}

async fn a_test_reaches_each_webhook_and_the_admin_and_says_which_did_not_take_it(
    backend: Backend,
) {
    let smtp = SmtpSink::start().await;
    let (slack, teams) = (WebhookSink::start().await, WebhookSink::start().await);
    teams.set_down(true);
    let app = spawn_app_with(backend, |s| {
        s.secret_key = Some(KEY.into());
        s.smtp_url = Some(smtp.url());
        s.public_url = Some("https://fp.acme.test".into());
    })
    .await;
    let c = tier_two(&app).await;
    let body = save_webhooks(
        &app,
        &c.admin,
        json!([
            {"url": slack.url("/slack/T0/B0/XyZ"), "format": "slack", "secret": SECRET},
            {"url": teams.url("/teams"), "format": "teams"},
        ]),
    )
    .await;
    let (first, second) = (
        body["webhooks"][0]["id"].clone(),
        body["webhooks"][1]["id"].clone(),
    );

    let (status, body) = send_test(&app, &c.admin).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 3, "{body}");
    assert_eq!(results[0]["channel"], "webhook");
    assert_eq!(results[0]["webhook_id"], first);
    assert_eq!(
        results[0]["target"], "127.0.0.1 (slack)",
        "the path is its secret"
    );
    assert_eq!(results[0]["delivered"], true, "{body}");
    assert!(results[0]["error"].is_null());
    assert_eq!(results[1]["webhook_id"], second);
    assert_eq!(results[1]["delivered"], false, "{body}");
    assert!(
        results[1]["error"].as_str().unwrap().contains("503"),
        "{body}"
    );
    assert_eq!(results[2]["channel"], "email");
    assert_eq!(results[2]["target"], "admin@acme.test");
    assert_eq!(results[2]["delivered"], true, "{body}");

    // Slack got one signed POST in its own shape, naming the event as a test.
    let posted = slack.accepted("/slack/T0/B0/XyZ");
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].event().as_deref(), Some("test"));
    assert!(signed_with(&posted[0], SECRET));
    let text = posted[0].body["text"].as_str().unwrap();
    assert!(
        text.contains("Test from FlowPilot (nothing was escalated)"),
        "{text}"
    );
    assert!(posted[0].body["blocks"].is_array());
    // The admin got one email saying it is a test.
    let mails = smtp.to("admin@acme.test");
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].text().contains("Test from FlowPilot"),
        "{}",
        mails[0].text()
    );
    assert!(
        mails[0]
            .text()
            .contains("https://fp.acme.test/settings/notifications"),
        "{}",
        mails[0].text()
    );
    assert_eq!(smtp.mails().len(), 1, "only the admin asking is mailed");

    // Nothing was queued: the webhook that refused is not tried again later.
    let depth = app.store.outbox_depth().await.unwrap();
    assert_eq!(
        depth.pending + depth.in_flight + depth.delivered + depth.failed,
        0,
        "{depth:?}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(teams.tried("/teams"), 1);
    assert_eq!(slack.tried("/slack/T0/B0/XyZ"), 1);
}

async fn engineers_may_not_send_tests_and_an_account_with_nothing_set_hears_so(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let c = tier_two(&app).await;
    let (status, body) = send_test(&app, &c.ada).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // No webhook saved and no mail server: nothing to send to.
    let (status, body) = send_test(&app, &c.admin).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"], json!([]));
}

async fn an_admin_may_send_five_tests_a_minute(backend: Backend) {
    let sink = WebhookSink::start().await;
    let app = spawn_app_with(backend, |_| {}).await;
    let c = tier_two(&app).await;
    save_webhooks(
        &app,
        &c.admin,
        json!([{"url": sink.url("/hook"), "format": "generic"}]),
    )
    .await;
    for _ in 0..5 {
        let (status, body) = send_test(&app, &c.admin).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let resp = app
        .client
        .post(app.url("/integrations/notifications/test"))
        .bearer_auth(&c.admin.token)
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(sink.tried("/hook"), 5, "the sixth never left");
}
