//! `/integrations/notifications`: an account's escalation notifications (escalation.md
//! "Notifications"): its webhooks, the events it mails, its escalation contacts and the
//! unclaimed reminder. Account admins only. A webhook's secret goes in and never comes back
//! out: answers say `secret_set`.

use axum::extract::State;
use axum::Json;
use domain::notification::NotifyEvent;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::api::dto::ErrorBody;
use crate::auth::AdminUser;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::notifications::settings::{self, SettingsInput, SettingsView, WebhookInput};
use crate::notifications::test_send::{self, TestResult};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_notifications, put_notifications))
        .routes(routes!(send_test))
}

/// An event a notification is sent on (documentation only: the handler parses it).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum EventName {
    Escalated,
    Claimed,
    UnclaimedReminder,
    CheckBackReminder,
}

/// A webhook's body format (documentation only).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum FormatName {
    Generic,
    Slack,
    Teams,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct WebhookIn {
    /// The id of a webhook that exists, to keep its secret when `secret` is absent.
    pub id: Option<Uuid>,
    /// An http or https URL.
    #[schema(
        max_length = 2000,
        format = "uri",
        example = "https://hooks.slack.com/services/T000/B000/XXXX"
    )]
    pub url: String,
    #[schema(value_type = FormatName)]
    pub format: String,
    /// Default: every event.
    #[schema(value_type = Option<Vec<EventName>>)]
    pub events: Option<Vec<String>>,
    /// The HMAC-SHA256 secret (needs FLOWPILOT_SECRET_KEY). Absent: keep the stored one;
    /// empty: no signature.
    #[schema(max_length = 200)]
    pub secret: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NotificationsIn {
    /// Replaces every webhook; at most 10.
    #[serde(default)]
    #[schema(max_items = 10)]
    pub webhooks: Vec<WebhookIn>,
    /// The events mailed to those concerned; default every event, empty none.
    #[schema(value_type = Option<Vec<EventName>>)]
    pub email_events: Option<Vec<String>>,
    /// Mailed when a session goes to the account's queue, and with every unclaimed reminder.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub escalation_contacts: Vec<String>,
    /// Remind once when an escalation waits unclaimed this long; null: never.
    #[schema(minimum = 1, maximum = 10080)]
    pub unclaimed_reminder_minutes: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookOut {
    pub id: Uuid,
    pub url: String,
    #[schema(value_type = FormatName)]
    pub format: String,
    #[schema(value_type = Vec<EventName>)]
    pub events: Vec<String>,
    /// Whether the POSTs are signed; the secret itself is never returned.
    pub secret_set: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationsOut {
    pub webhooks: Vec<WebhookOut>,
    #[schema(value_type = Vec<EventName>)]
    pub email_events: Vec<String>,
    pub escalation_contacts: Vec<String>,
    pub unclaimed_reminder_minutes: Option<i64>,
    /// Whether this instance sends email (FLOWPILOT_SMTP_URL); without it no email goes out.
    pub smtp_configured: bool,
}

fn names(events: &[NotifyEvent]) -> Vec<String> {
    events.iter().map(|e| e.as_str().to_string()).collect()
}

impl From<SettingsView> for NotificationsOut {
    fn from(view: SettingsView) -> Self {
        let s = view.settings;
        NotificationsOut {
            webhooks: s
                .webhooks
                .into_iter()
                .map(|w| WebhookOut {
                    id: w.id,
                    url: w.url,
                    format: w.format.as_str().into(),
                    events: names(&w.events),
                    secret_set: w.sealed_secret.is_some(),
                })
                .collect(),
            email_events: names(&s.email_events),
            escalation_contacts: s.escalation_contacts,
            unclaimed_reminder_minutes: s.unclaimed_reminder_minutes,
            smtp_configured: view.smtp_configured,
        }
    }
}

/// The account's notification settings (the defaults until an admin saves some).
#[utoipa::path(get, path = "/integrations/notifications", tag = "integrations", security(("bearer" = [])), responses(
    (status = 200, body = NotificationsOut), (status = 403, body = ErrorBody, description = "Not an account admin")))]
pub async fn get_notifications(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
) -> ApiResult<Json<NotificationsOut>> {
    Ok(Json(settings::show(&state, &admin).await?.into()))
}

/// Replaces the account's notification settings.
#[utoipa::path(put, path = "/integrations/notifications", tag = "integrations", security(("bearer" = [])), request_body = NotificationsIn, responses(
    (status = 200, body = NotificationsOut), (status = 403, body = ErrorBody, description = "Not an account admin"),
    (status = 422, body = ErrorBody, description = "A URL, format, event, address or the reminder's minutes is invalid, or a secret was given without FLOWPILOT_SECRET_KEY")))]
pub async fn put_notifications(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(body): ApiJson<NotificationsIn>,
) -> ApiResult<Json<NotificationsOut>> {
    let input = SettingsInput {
        webhooks: body
            .webhooks
            .into_iter()
            .map(|w| WebhookInput {
                id: w.id,
                url: w.url,
                format: w.format,
                events: w.events,
                secret: w.secret,
            })
            .collect(),
        email_events: body.email_events,
        escalation_contacts: body.escalation_contacts,
        unclaimed_reminder_minutes: body.unclaimed_reminder_minutes,
    };
    Ok(Json(settings::replace(&state, &admin, input).await?.into()))
}

/// How one channel took a test notice.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationTestResultOut {
    /// `webhook` or `email`.
    #[schema(example = "webhook")]
    pub channel: String,
    /// The webhook's id, for a webhook.
    pub webhook_id: Option<Uuid>,
    /// The webhook's host and format (its URL may hold its secret), or the email address.
    #[schema(example = "hooks.slack.com (slack)")]
    pub target: String,
    pub delivered: bool,
    /// What the receiver answered, when it did not take the notice.
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationTestOut {
    /// One per webhook, and one for the admin's own address when email is on; empty when
    /// the account has neither.
    pub results: Vec<NotificationTestResultOut>,
}

impl From<TestResult> for NotificationTestResultOut {
    fn from(r: TestResult) -> Self {
        NotificationTestResultOut {
            channel: r.channel.into(),
            webhook_id: r.webhook_id,
            target: r.target,
            delivered: r.delivered,
            error: r.error,
        }
    }
}

/// Sends a sample notice, saying it is a test, to every webhook of the account and to the
/// admin's own address when email is on, at once rather than through the outbox, and says
/// how each took it. Nothing is retried or kept.
#[utoipa::path(post, path = "/integrations/notifications/test", tag = "integrations", security(("bearer" = [])), responses(
    (status = 200, body = NotificationTestOut), (status = 403, body = ErrorBody, description = "Not an account admin"),
    (status = 429, body = ErrorBody, description = "Over the limit of tests a minute (see Retry-After)")))]
pub async fn send_test(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
) -> ApiResult<Json<NotificationTestOut>> {
    let results = test_send::send(&state, &admin).await?;
    Ok(Json(NotificationTestOut {
        results: results.into_iter().map(Into::into).collect(),
    }))
}
