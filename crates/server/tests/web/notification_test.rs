//! "Send a test" on the Notifications page without JavaScript: the button posts a plain
//! form, and the page comes back saying, per saved webhook, whether it took the sample and
//! what it answered when it did not.

use reqwest::StatusCode;

use super::browser::Browser;
use super::helpers::{spawn_app_with, Backend};
use super::sinks::WebhookSink;

#[tokio::test]
async fn an_admin_sends_a_test_and_sees_which_webhook_took_it() {
    let sink = WebhookSink::start().await;
    let app = spawn_app_with(Backend::Sqlite, |s| s.rate_limits = false).await;
    let b = Browser::on(app);
    b.sign_up("Pat Admin", "pat.test@example.com").await;

    let page = b.get("/settings/notifications").await;
    assert!(page.body.contains(">Send a test</button>"), "{}", page.body);
    // Nothing saved yet: the page says there is nothing to test.
    let page = b.submit("/settings/notifications/test", &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("data-notification-test=\"none\""));

    let hook = sink.url("/hook");
    let saved = b
        .submit(
            "/settings/notifications",
            &[
                ("webhook-0-id", ""),
                ("webhook-0-url", hook.as_str()),
                ("webhook-0-format", "generic"),
                ("webhook-0-event", "escalated"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);

    sink.set_down(true);
    let page = b.submit("/settings/notifications/test", &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("data-test-result=\"failed\""),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("Webhook 1 · 127.0.0.1 (generic):"),
        "{}",
        page.body
    );
    assert!(page.body.contains("503"), "{}", page.body);

    sink.set_down(false);
    let page = b.submit("/settings/notifications/test", &[]).await;
    assert!(
        page.body.contains("data-test-result=\"delivered\""),
        "{}",
        page.body
    );
    assert!(!page.body.contains("data-test-result=\"failed\""));
    let posted = sink.accepted("/hook");
    assert_eq!(posted.len(), 1);
    // FlowPilot's own JSON says it is a test, so a receiver acting on it does nothing.
    assert_eq!(posted[0].body["event"], "test");
    assert!(posted[0].body["title"]
        .as_str()
        .unwrap()
        .starts_with("Test from FlowPilot"));
}
