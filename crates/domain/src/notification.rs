//! Escalation notifications (escalation.md "Notifications"): what an account sends, to whom
//! and how, when a session is escalated, claimed, waits unclaimed too long, or reaches its
//! check-back time. The rules of what is valid live here so the API and the settings page
//! cannot differ; sending is the outbox's.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What happened, as webhooks and settings name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    Escalated,
    Claimed,
    /// Escalated and still unclaimed after the account's `unclaimed_reminder_minutes`.
    UnclaimedReminder,
    /// A session awaiting verification reached its `check_back_at`.
    CheckBackReminder,
}

impl NotifyEvent {
    pub const ALL: [NotifyEvent; 4] = [
        NotifyEvent::Escalated,
        NotifyEvent::Claimed,
        NotifyEvent::UnclaimedReminder,
        NotifyEvent::CheckBackReminder,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyEvent::Escalated => "escalated",
            NotifyEvent::Claimed => "claimed",
            NotifyEvent::UnclaimedReminder => "unclaimed_reminder",
            NotifyEvent::CheckBackReminder => "check_back_reminder",
        }
    }

    pub fn parse(s: &str) -> Option<NotifyEvent> {
        NotifyEvent::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// How a settings page names it.
    pub fn label(self) -> &'static str {
        match self {
            NotifyEvent::Escalated => "A session is escalated",
            NotifyEvent::Claimed => "An escalation is claimed",
            NotifyEvent::UnclaimedReminder => "An escalation waits unclaimed too long",
            NotifyEvent::CheckBackReminder => "A fix awaiting verification is due for a check",
        }
    }
}

/// The body a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// FlowPilot's own JSON (docs/escalation.md).
    Generic,
    /// Slack incoming webhooks: `text` and `blocks`.
    Slack,
    /// Microsoft Teams (Workflows): a message with an Adaptive Card attachment.
    Teams,
}

impl WebhookFormat {
    pub const ALL: [WebhookFormat; 3] = [
        WebhookFormat::Generic,
        WebhookFormat::Slack,
        WebhookFormat::Teams,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Generic => "generic",
            WebhookFormat::Slack => "slack",
            WebhookFormat::Teams => "teams",
        }
    }

    pub fn parse(s: &str) -> Option<WebhookFormat> {
        WebhookFormat::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// One webhook of an account, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    pub format: WebhookFormat,
    pub events: Vec<NotifyEvent>,
    /// The HMAC secret, sealed with the server's key; `None`: the POSTs are not signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_secret: Option<String>,
}

/// An account's notification settings, as stored. The default (no row yet) sends email on
/// every event when the instance has SMTP, and no webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationSettings {
    #[serde(default)]
    pub webhooks: Vec<Webhook>,
    /// The events mailed to the people concerned; empty sends no email.
    #[serde(default = "all_events")]
    pub email_events: Vec<NotifyEvent>,
    /// Who is mailed when a session goes to the account's queue (nobody in particular), and
    /// when any escalation waits unclaimed too long.
    #[serde(default)]
    pub escalation_contacts: Vec<String>,
    /// `None`: no reminder.
    #[serde(default)]
    pub unclaimed_reminder_minutes: Option<i64>,
}

fn all_events() -> Vec<NotifyEvent> {
    NotifyEvent::ALL.to_vec()
}

impl Default for NotificationSettings {
    fn default() -> Self {
        NotificationSettings {
            webhooks: Vec::new(),
            email_events: all_events(),
            escalation_contacts: Vec::new(),
            unclaimed_reminder_minutes: None,
        }
    }
}

impl NotificationSettings {
    pub fn emails(&self, event: NotifyEvent) -> bool {
        self.email_events.contains(&event)
    }

    pub fn webhooks_for(&self, event: NotifyEvent) -> impl Iterator<Item = &Webhook> {
        self.webhooks
            .iter()
            .filter(move |w| w.events.contains(&event))
    }
}

/// The most webhooks an account may have, and escalation contacts.
pub const MAX_WEBHOOKS: usize = 10;
pub const MAX_CONTACTS: usize = 50;
pub const URL_MAX: usize = 2_000;
pub const SECRET_MAX: usize = 200;
/// A week: a reminder later than that is no reminder.
pub const REMINDER_MINUTES_MAX: i64 = 7 * 24 * 60;

/// Why a webhook URL is refused; `None` when it is an http(s) URL with a host.
pub fn url_problem(url: &str) -> Option<&'static str> {
    if url.chars().count() > URL_MAX {
        return Some("Use at most 2000 characters");
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let Some(rest) = rest else {
        return Some("The URL must start with http:// or https://");
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or("");
    if host.is_empty()
        || host.starts_with(':')
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Some("The URL needs a host, and no spaces");
    }
    None
}

/// Whether `address` reads as one email address (the mail server judges the rest).
pub fn is_email(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && address.len() <= 254
        && !address
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"()[]\\".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_must_be_http_with_a_host() {
        assert_eq!(url_problem("https://hooks.slack.com/services/T/B/x"), None);
        assert_eq!(url_problem("http://10.0.0.5:8080/hook"), None);
        assert!(url_problem("ftp://example.com").is_some());
        assert!(url_problem("https://").is_some());
        assert!(url_problem("https:///path").is_some());
        assert!(url_problem("https://exa mple.com").is_some());
        assert!(url_problem("example.com/hook").is_some());
    }

    #[test]
    fn addresses_are_one_address_each() {
        assert!(is_email("lead@acme.test"));
        assert!(!is_email("lead"));
        assert!(!is_email("a@b"));
        assert!(!is_email("a@b.test, c@d.test"));
        assert!(!is_email("Lead <lead@acme.test>"));
    }

    #[test]
    fn stored_settings_without_email_events_mail_every_event() {
        let s: NotificationSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(s, NotificationSettings::default());
        assert!(s.emails(NotifyEvent::Claimed));
    }
}
