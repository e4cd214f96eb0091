//! Reading and replacing an account's notification settings: the JSON API and the settings
//! page both come through here, so a form and a request are checked the same way. A
//! webhook's secret goes in and never comes back out (`secret_set`); sent again without one,
//! a webhook keeps the secret it has.

use chrono::Utc;
use domain::notification::{
    is_email, url_problem, NotificationSettings, NotifyEvent, Webhook, WebhookFormat, MAX_CONTACTS,
    MAX_WEBHOOKS, REMINDER_MINUTES_MAX, SECRET_MAX,
};
use domain::{FieldError, User};
use integrations::SecretError;
use serde_json::Value;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// One webhook as typed.
#[derive(Debug, Clone, Default)]
pub struct WebhookInput {
    /// The webhook's id when changing one that exists (it keeps its secret unless given one).
    pub id: Option<Uuid>,
    pub url: String,
    pub format: String,
    /// `None`: every event.
    pub events: Option<Vec<String>>,
    /// `None`: keep the stored one; empty: no signature; anything else: the new secret.
    pub secret: Option<String>,
}

/// The whole settings as typed: what is given replaces what is stored.
#[derive(Debug, Clone, Default)]
pub struct SettingsInput {
    pub webhooks: Vec<WebhookInput>,
    /// `None`: every event.
    pub email_events: Option<Vec<String>>,
    pub escalation_contacts: Vec<String>,
    /// `None`: no reminder.
    pub unclaimed_reminder_minutes: Option<i64>,
}

/// The settings as an admin sees them: secrets only as `secret_set`.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsView {
    pub settings: NotificationSettings,
    /// Whether this instance sends email at all (`FLOWPILOT_SMTP_URL`).
    pub smtp_configured: bool,
}

/// The account's settings, or the defaults when none were saved.
pub async fn current(state: &AppState, account_id: Uuid) -> ApiResult<NotificationSettings> {
    Ok(state
        .store
        .notification_settings(account_id)
        .await?
        .unwrap_or_default())
}

pub async fn show(state: &AppState, admin: &User) -> ApiResult<SettingsView> {
    Ok(SettingsView {
        settings: current(state, admin.account_id).await?,
        smtp_configured: state.settings.smtp_url.is_some(),
    })
}

fn at(path: &[Value], msg: impl Into<String>, kind: &str) -> FieldError {
    let mut loc = vec![Value::from("body")];
    loc.extend(path.iter().cloned());
    FieldError {
        loc,
        msg: msg.into(),
        kind: kind.into(),
    }
}

fn events(
    errors: &mut Vec<FieldError>,
    path: &[Value],
    given: Option<&[String]>,
) -> Vec<NotifyEvent> {
    let Some(given) = given else {
        return NotifyEvent::ALL.to_vec();
    };
    let mut out = Vec::new();
    for (i, name) in given.iter().enumerate() {
        match NotifyEvent::parse(name.trim()) {
            Some(e) if !out.contains(&e) => out.push(e),
            Some(_) => {}
            None => {
                let mut p = path.to_vec();
                p.push(Value::from(i));
                errors.push(at(
                    &p,
                    "Input should be 'escalated', 'claimed', 'unclaimed_reminder' or 'check_back_reminder'",
                    "enum",
                ));
            }
        }
    }
    out
}

/// Checks `input` and stores it in place of the account's settings.
pub async fn replace(
    state: &AppState,
    admin: &User,
    input: SettingsInput,
) -> ApiResult<SettingsView> {
    let stored = current(state, admin.account_id).await?;
    let mut errors = Vec::new();
    if input.webhooks.len() > MAX_WEBHOOKS {
        errors.push(at(
            &["webhooks".into()],
            format!("At most {MAX_WEBHOOKS} webhooks"),
            "too_long",
        ));
    }
    let mut webhooks = Vec::new();
    for (i, w) in input.webhooks.iter().enumerate().take(MAX_WEBHOOKS) {
        let here = |field: &str| -> Vec<Value> { vec!["webhooks".into(), i.into(), field.into()] };
        let url = w.url.trim().to_string();
        if let Some(problem) = url_problem(&url) {
            errors.push(at(&here("url"), problem, "url_parsing"));
        } else if reqwest::Url::parse(&url).is_err() {
            // What the deliverer would refuse at every attempt is refused now.
            errors.push(at(&here("url"), "Not a valid URL", "url_parsing"));
        }
        let format = WebhookFormat::parse(w.format.trim());
        if format.is_none() {
            errors.push(at(
                &here("format"),
                "Input should be 'generic', 'slack' or 'teams'",
                "enum",
            ));
        }
        let chosen = events(&mut errors, &here("events"), w.events.as_deref());
        if chosen.is_empty() {
            errors.push(at(
                &here("events"),
                "Choose at least one event",
                "too_short",
            ));
        }
        let existing =
            w.id.and_then(|id| stored.webhooks.iter().find(|s| s.id == id));
        let sealed_secret = match w.secret.as_deref().map(str::trim) {
            None => existing.and_then(|s| s.sealed_secret.clone()),
            Some("") => None,
            Some(secret) if secret.chars().count() > SECRET_MAX => {
                errors.push(at(
                    &here("secret"),
                    format!("String should have at most {SECRET_MAX} characters"),
                    "string_too_long",
                ));
                None
            }
            Some(secret) => match state.sealing_key.get().and_then(|k| k.seal_text(secret)) {
                Ok(sealed) => Some(sealed),
                Err(SecretError::MissingKey) => {
                    errors.push(at(
                        &here("secret"),
                        "FLOWPILOT_SECRET_KEY is not set: FlowPilot refuses to store a webhook secret without a key to encrypt it",
                        "secret_key_missing",
                    ));
                    None
                }
                Err(other) => return Err(ApiError::fault("the secret could not be sealed", other)),
            },
        };
        if let Some(format) = format {
            webhooks.push(Webhook {
                id: existing.map_or_else(Uuid::new_v4, |s| s.id),
                url,
                format,
                events: chosen,
                sealed_secret,
            });
        }
    }
    let email_events = events(
        &mut errors,
        &["email_events".into()],
        input.email_events.as_deref(),
    );
    if input.escalation_contacts.len() > MAX_CONTACTS {
        errors.push(at(
            &["escalation_contacts".into()],
            format!("At most {MAX_CONTACTS} addresses"),
            "too_long",
        ));
    }
    let mut contacts: Vec<String> = Vec::new();
    for (i, address) in input.escalation_contacts.iter().enumerate() {
        let address = address.trim().to_lowercase();
        if address.is_empty() {
            continue;
        }
        if !is_email(&address) {
            errors.push(at(
                &["escalation_contacts".into(), i.into()],
                "Not an email address",
                "value_error",
            ));
        } else if !contacts.contains(&address) {
            contacts.push(address);
        }
    }
    if let Some(minutes) = input.unclaimed_reminder_minutes {
        if !(1..=REMINDER_MINUTES_MAX).contains(&minutes) {
            errors.push(at(
                &["unclaimed_reminder_minutes".into()],
                format!("Input should be between 1 and {REMINDER_MINUTES_MAX} (a week), or null for no reminder"),
                "range",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let settings = NotificationSettings {
        webhooks,
        email_events,
        escalation_contacts: contacts,
        unclaimed_reminder_minutes: input.unclaimed_reminder_minutes,
    };
    state
        .store
        .put_notification_settings(admin.account_id, &settings, Utc::now())
        .await?;
    tracing::info!(admin = %admin.id, webhooks = settings.webhooks.len(), "notification settings saved");
    Ok(SettingsView {
        settings,
        smtp_configured: state.settings.smtp_url.is_some(),
    })
}
