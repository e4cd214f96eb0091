//! "Send a test" on the notification settings: one sample notice to each of the account's
//! webhooks and, when email is on, to the admin who asked, sent at once and not through the
//! outbox. An admin wiring up Slack or Teams wants to know now whether the message arrived,
//! and why not. A test is not retried, and nothing about it is kept.

use chrono::Utc;
use domain::notification::{NotifyEvent, WebhookFormat};
use domain::User;
use serde_json::json;
use store::{OutboxEntry, OutboxStatus};
use uuid::Uuid;

use super::message::Notice;
use crate::error::ApiResult;
use crate::outbox::deliverer::{Deliverer, Outcome};
use crate::outbox::email::{EmailDeliverer, EmailPayload, KIND as EMAIL};
use crate::outbox::webhook::{WebhookDeliverer, WebhookPayload, KIND as WEBHOOK};
use crate::rate_limit::Action;
use crate::state::AppState;

/// The event a test's webhook POST names in `X-FlowPilot-Event`.
pub const TEST_EVENT: &str = "test";

/// How one channel took the test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    /// `webhook` or `email`.
    pub channel: &'static str,
    /// The webhook's id, for a webhook.
    pub webhook_id: Option<Uuid>,
    /// Where it went: the webhook's host and format, or the email address.
    pub target: String,
    pub delivered: bool,
    /// What the receiver answered when it did not take the message.
    pub error: Option<String>,
}

/// Sends the test to every channel the account has; an empty list when there is none.
#[tracing::instrument(skip_all, fields(account_id = %admin.account_id))]
pub async fn send(state: &AppState, admin: &User) -> ApiResult<Vec<TestResult>> {
    // Each test reaches out to someone else's server: not a button to hold down.
    crate::sessions::limit(
        state,
        Action::NotificationTest,
        admin.id,
        "notification_test",
    )
    .await?;
    let settings = super::settings::current(state, admin.account_id).await?;
    let notice = sample(state, admin);
    let mut results = Vec::new();
    if !settings.webhooks.is_empty() {
        let deliverer = WebhookDeliverer::new().map(|d| d.with_key(state.sealing_key.shared()));
        for webhook in &settings.webhooks {
            let mut body = notice.webhook_body(webhook.format);
            // A receiver that acts on FlowPilot's JSON must not take the sample for a real
            // escalation; Slack and Teams only show it.
            if webhook.format == WebhookFormat::Generic {
                body["event"] = json!(TEST_EVENT);
            }
            let payload = WebhookPayload {
                url: webhook.url.clone(),
                body,
                secret: webhook.sealed_secret.clone(),
                event: Some(TEST_EVENT.into()),
            };
            let outcome = match &deliverer {
                Some(d) => d.deliver(&entry(admin, WEBHOOK, json!(payload))).await,
                None => Outcome::Fail {
                    reason: "this server has no HTTP client for webhooks".into(),
                },
            };
            results.push(result(
                "webhook",
                Some(webhook.id),
                format!("{} ({})", host(&webhook.url), webhook.format.as_str()),
                outcome,
            ));
        }
    }
    if let Some(url) = state.settings.smtp_url.as_deref() {
        let payload = EmailPayload {
            to: admin.email.clone(),
            subject: notice.subject(),
            text: notice.email_text(),
        };
        let outcome = match EmailDeliverer::new(url, state.settings.smtp_from.as_deref()) {
            Ok(d) => d.deliver(&entry(admin, EMAIL, json!(payload))).await,
            Err(err) => Outcome::Fail {
                reason: err.to_string(),
            },
        };
        results.push(result("email", None, admin.email.clone(), outcome));
    }
    Ok(results)
}

/// What an escalation to the queue would say, saying plainly that nothing was escalated.
fn sample(state: &AppState, admin: &User) -> Notice {
    let base = super::entries::public_base(state);
    Notice {
        event: NotifyEvent::Escalated,
        session_id: Uuid::nil(),
        escalation_id: None,
        title: "Test from FlowPilot (nothing was escalated)".into(),
        reason: Some(format!(
            "{} sent this from the notification settings to check that notices arrive here",
            admin.full_name
        )),
        target: Some("the account's queue".into()),
        escalated_by: Some(admin.full_name.clone()),
        claimed_by: None,
        url: format!("{base}/settings/notifications"),
        age_seconds: None,
        check_back_at: None,
        occurred_at: Utc::now(),
    }
}

/// An entry for the deliverer's sake only: it is never stored.
fn entry(admin: &User, kind: &str, payload: serde_json::Value) -> OutboxEntry {
    let now = Utc::now();
    let id = Uuid::new_v4();
    OutboxEntry {
        id,
        account_id: admin.account_id,
        session_id: None,
        kind: kind.into(),
        payload,
        idempotency_key: format!("notification-test:{id}"),
        status: OutboxStatus::Pending,
        attempts: 1,
        next_attempt_at: now,
        lease_holder: None,
        lease_until: None,
        uncertain: false,
        last_error: None,
        remote_id: None,
        created_at: now,
        updated_at: now,
        delivered_at: None,
    }
}

fn result(
    channel: &'static str,
    webhook_id: Option<Uuid>,
    target: String,
    outcome: Outcome,
) -> TestResult {
    let error = match outcome {
        Outcome::Delivered { .. } => None,
        Outcome::Retry { error, .. } => Some(error),
        Outcome::Fail { reason } => Some(reason),
    };
    TestResult {
        channel,
        webhook_id,
        target,
        delivered: error.is_none(),
        error,
    }
}

/// A webhook URL's host: Slack's and Teams' URLs carry their secret in the path.
fn host(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "a webhook".into())
}
