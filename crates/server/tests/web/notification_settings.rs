//! The Notifications settings page without JavaScript: an admin saves a signed webhook, the
//! contacts and a reminder with a plain form; the secret is never shown and is kept when the
//! form is sent again without one; a bad value is a 422 page that says where, and saves
//! nothing; an engineer gets a 403 page.

use domain::notification::NotificationSettings;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use super::browser::Browser;
use super::helpers::{spawn_app_with, Backend};

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const SECRET: &str = "whsec-form-42";

/// The account's settings as the store holds them, to see what a form saved or did not.
async fn saved(b: &Browser, account: Uuid) -> NotificationSettings {
    b.app
        .store
        .notification_settings(account)
        .await
        .unwrap()
        .expect("settings saved")
}

#[tokio::test]
async fn an_admin_saves_notifications_with_a_plain_form_and_the_secret_stays_hidden() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.secret_key = Some(KEY.into());
        s.rate_limits = false;
    })
    .await;
    let b = Browser::on(app);
    b.sign_up("Pat Admin", "pat.notify@example.com").await;
    let admin = b.app.login("pat.notify@example.com").await;
    let account = Uuid::parse_str(&admin.account_id).unwrap();

    let page = b.get("/settings/psa").await;
    assert!(page.body.contains("href=\"/settings/notifications\""));
    let page = b.get("/settings/notifications").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("data-smtp=\"unset\""),
        "no mail server here"
    );

    let page = b
        .submit(
            "/settings/notifications",
            &[
                ("email_event", "escalated"),
                ("email_event", "unclaimed_reminder"),
                (
                    "escalation_contacts",
                    "lead@example.com\r\noncall@example.com",
                ),
                ("unclaimed_reminder_minutes", "45"),
                ("webhook-0-id", ""),
                ("webhook-0-url", "https://hooks.example.com/fp"),
                ("webhook-0-format", "teams"),
                ("webhook-0-event", "escalated"),
                ("webhook-0-event", "claimed"),
                ("webhook-0-secret", SECRET),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), Some("/settings/notifications?saved=1"));
    let stored = saved(&b, account).await;
    assert_eq!(stored.webhooks.len(), 1);
    let hook = &stored.webhooks[0];
    assert_eq!(hook.url, "https://hooks.example.com/fp");
    assert_eq!(hook.format.as_str(), "teams");
    assert!(hook.sealed_secret.is_some());
    assert_eq!(
        stored.escalation_contacts,
        ["lead@example.com", "oncall@example.com"]
    );
    assert_eq!(stored.unclaimed_reminder_minutes, Some(45));
    let (_, api) = b.app.get("/integrations/notifications", &admin.token).await;
    assert_eq!(
        api["email_events"],
        json!(["escalated", "unclaimed_reminder"])
    );
    assert_eq!(
        api["webhooks"][0]["events"],
        json!(["escalated", "claimed"])
    );

    let page = b.get("/settings/notifications?saved=1").await;
    assert!(page.body.contains("Saved."));
    assert!(page.body.contains("Set, and never shown."));
    assert!(!page.body.contains(SECRET));

    // Sent again by its id with the secret field empty: the secret stays.
    let id = hook.id.to_string();
    let page = b
        .submit(
            "/settings/notifications",
            &[
                ("unclaimed_reminder_minutes", ""),
                ("webhook-0-id", &id),
                ("webhook-0-url", "https://hooks.example.com/fp2"),
                ("webhook-0-format", "generic"),
                ("webhook-0-event", "escalated"),
                ("webhook-0-secret", ""),
                ("webhook-1-id", ""),
                ("webhook-1-url", ""),
                ("webhook-1-format", "generic"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let kept = saved(&b, account).await;
    assert_eq!(kept.webhooks.len(), 1, "the empty fieldset adds nothing");
    assert_eq!(kept.webhooks[0].sealed_secret, hook.sealed_secret);
    assert_eq!(kept.webhooks[0].url, "https://hooks.example.com/fp2");
    assert_eq!(kept.unclaimed_reminder_minutes, None);
    assert!(kept.email_events.is_empty(), "no box ticked, no email");

    // A bad address and a reminder that is not a number: a 422 page, nothing saved.
    let page = b
        .submit(
            "/settings/notifications",
            &[
                ("escalation_contacts", "not an address"),
                ("unclaimed_reminder_minutes", "soon"),
                ("webhook-0-id", &id),
                ("webhook-0-url", "mailto:ops@example.com"),
                ("webhook-0-format", "generic"),
                ("webhook-0-event", "escalated"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("Nothing was saved"));
    assert!(page.body.contains("id=\"contacts-error\""));
    assert!(page.body.contains("id=\"minutes-error\""));
    assert!(page.body.contains("id=\"webhook-0-error\""));
    assert!(
        page.body.contains("value=\"mailto:ops@example.com\""),
        "what was typed stays"
    );
    let unchanged = saved(&b, account).await;
    assert_eq!(unchanged, kept);

    // An engineer of the account may not open it.
    let (status, _) = b
        .app
        .post(
            "/users",
            &admin.token,
            json!({"email": "eng.notify@example.com", "password": super::PASSWORD,
                   "full_name": "Eve Engineer", "role": "engineer"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let eve = b.another();
    eve.get("/login").await;
    let page = eve
        .submit(
            "/login",
            &[
                ("email", "eng.notify@example.com"),
                ("password", super::PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = eve.get("/settings/notifications").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}
