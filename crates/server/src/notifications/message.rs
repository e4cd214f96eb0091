//! What a notification says, once, and how each channel spells it: FlowPilot's own JSON,
//! Slack's `text` and `blocks`, a Teams message with an Adaptive Card, and a plain-text email
//! a senior engineer can act on without opening anything else first.

use chrono::{DateTime, Utc};
use domain::notification::{NotifyEvent, WebhookFormat};
use domain::text::clip;
use serde_json::{json, Value};
use uuid::Uuid;

/// One notification, channel-neutral.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub event: NotifyEvent,
    pub session_id: Uuid,
    pub escalation_id: Option<Uuid>,
    pub title: String,
    pub reason: Option<String>,
    /// "Sam Senior", "team Tier 2", "the account's queue".
    pub target: Option<String>,
    pub escalated_by: Option<String>,
    pub claimed_by: Option<String>,
    /// The session's page.
    pub url: String,
    /// How long the escalation has waited (until claimed), in seconds.
    pub age_seconds: Option<i64>,
    pub check_back_at: Option<DateTime<Utc>>,
    pub occurred_at: DateTime<Utc>,
}

/// "3 minutes", "2 hours 5 minutes", "4 days 1 hour".
pub fn age_words(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let unit = |n: i64, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let (days, hours, minutes) = (
        seconds / 86_400,
        seconds % 86_400 / 3_600,
        seconds % 3_600 / 60,
    );
    if days > 0 {
        if hours > 0 {
            return format!("{} {}", unit(days, "day"), unit(hours, "hour"));
        }
        return unit(days, "day");
    }
    if hours > 0 {
        if minutes > 0 {
            return format!("{} {}", unit(hours, "hour"), unit(minutes, "minute"));
        }
        return unit(hours, "hour");
    }
    if minutes > 0 {
        return unit(minutes, "minute");
    }
    "less than a minute".into()
}

impl Notice {
    /// One line: what happened and to what.
    pub fn headline(&self) -> String {
        let who = |name: &Option<String>| name.clone().unwrap_or_else(|| "Someone".into());
        let target = self.target.as_deref().unwrap_or("the account's queue");
        match self.event {
            NotifyEvent::Escalated => format!(
                "{} escalated \"{}\" to {target}",
                who(&self.escalated_by),
                self.title
            ),
            NotifyEvent::Claimed => format!("{} claimed \"{}\"", who(&self.claimed_by), self.title),
            NotifyEvent::UnclaimedReminder => format!(
                "\"{}\" has waited {} unclaimed ({target})",
                self.title,
                age_words(self.age_seconds.unwrap_or(0))
            ),
            NotifyEvent::CheckBackReminder => {
                format!("Time to check whether the fix of \"{}\" worked", self.title)
            }
        }
    }

    /// The facts below the headline, as label and value.
    fn facts(&self) -> Vec<(&'static str, String)> {
        let mut facts = Vec::new();
        if let Some(reason) = &self.reason {
            facts.push(("Reason", reason.clone()));
        }
        if let Some(target) = &self.target {
            facts.push(("Escalated to", target.clone()));
        }
        if let Some(by) = &self.escalated_by {
            facts.push(("Escalated by", by.clone()));
        }
        if let Some(by) = &self.claimed_by {
            facts.push(("Claimed by", by.clone()));
        }
        if let Some(age) = self.age_seconds {
            let label = if self.claimed_by.is_some() {
                "Waited"
            } else {
                "Waiting"
            };
            facts.push((label, age_words(age)));
        }
        if let Some(at) = self.check_back_at {
            facts.push(("Check back at", at.format("%Y-%m-%d %H:%M UTC").to_string()));
        }
        facts
    }

    /// The body a webhook of `format` receives.
    pub fn webhook_body(&self, format: WebhookFormat) -> Value {
        match format {
            WebhookFormat::Generic => self.generic(),
            WebhookFormat::Slack => self.slack(),
            WebhookFormat::Teams => self.teams(),
        }
    }

    fn generic(&self) -> Value {
        json!({
            "event": self.event.as_str(),
            "occurred_at": self.occurred_at,
            "session_id": self.session_id,
            "escalation_id": self.escalation_id,
            "title": self.title,
            "reason": self.reason,
            "target": self.target,
            "escalated_by": self.escalated_by,
            "claimed_by": self.claimed_by,
            "age_seconds": self.age_seconds,
            "check_back_at": self.check_back_at,
            "url": self.url,
            "text": self.headline(),
        })
    }

    /// Slack's incoming-webhook shape: `text` (the notification's fallback) and blocks.
    fn slack(&self) -> Value {
        let facts: Vec<Value> = self
            .facts()
            .into_iter()
            .map(|(label, value)| {
                json!({"type": "mrkdwn", "text": format!("*{label}*\n{}", slack_escape(&value))})
            })
            .collect();
        let mut blocks = vec![json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": format!("*{}*", slack_escape(&self.headline()))},
        })];
        // A section takes at most 10 fields.
        if !facts.is_empty() {
            blocks.push(json!({"type": "section", "fields": facts.into_iter().take(10).collect::<Vec<_>>()}));
        }
        blocks.push(json!({
            "type": "actions",
            "elements": [{
                "type": "button",
                "text": {"type": "plain_text", "text": "Open in FlowPilot"},
                "url": self.url,
            }],
        }));
        json!({"text": self.headline(), "blocks": blocks})
    }

    /// A Teams message (Workflows' "post to a channel when a webhook request is received")
    /// carrying one Adaptive Card; Office 365 connectors' MessageCard is being retired.
    fn teams(&self) -> Value {
        let facts: Vec<Value> = self
            .facts()
            .into_iter()
            .map(|(label, value)| json!({"title": label, "value": value}))
            .collect();
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {"type": "TextBlock", "text": self.headline(), "weight": "Bolder", "size": "Medium", "wrap": true},
                        {"type": "FactSet", "facts": facts},
                    ],
                    "actions": [{"type": "Action.OpenUrl", "title": "Open in FlowPilot", "url": self.url}],
                },
            }],
        })
    }

    /// The email's subject.
    pub fn subject(&self) -> String {
        let what = match self.event {
            NotifyEvent::Escalated => "Escalated",
            NotifyEvent::Claimed => "Claimed",
            NotifyEvent::UnclaimedReminder => "Still unclaimed",
            NotifyEvent::CheckBackReminder => "Check back",
        };
        format!("[FlowPilot] {what}: {}", clip(&self.title, 120))
    }

    /// The email's plain text.
    pub fn email_text(&self) -> String {
        let mut text = format!("{}.\n\n", self.headline());
        text.push_str(&format!("Session: {}\n", self.title));
        for (label, value) in self.facts() {
            text.push_str(&format!("{label}: {value}\n"));
        }
        text.push_str(&format!("\nOpen it: {}\n", self.url));
        let next = match self.event {
            NotifyEvent::Escalated | NotifyEvent::UnclaimedReminder => {
                "Claim it from the Escalations page; the briefing at the top of the session says what was tried and what is likely."
            }
            NotifyEvent::Claimed => "Whoever claimed it has the briefing; nothing is needed from you unless they ask.",
            NotifyEvent::CheckBackReminder => {
                "Record the fix's outcome on the session: worked, failed or partial."
            }
        };
        text.push_str(&format!("\n{next}\n\n-- \nFlowPilot\n"));
        text
    }
}

/// Slack's mrkdwn treats these three as markup.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(event: NotifyEvent) -> Notice {
        Notice {
            event,
            session_id: Uuid::nil(),
            escalation_id: Some(Uuid::nil()),
            title: "Outlook <asks> for a password".into(),
            reason: Some("Needs the broker reset".into()),
            target: Some("team Tier 2".into()),
            escalated_by: Some("Olive Owner".into()),
            claimed_by: None,
            url: "https://fp.example.com/pilot/00000000-0000-0000-0000-000000000000".into(),
            age_seconds: Some(3_900),
            check_back_at: None,
            occurred_at: Utc::now(),
        }
    }

    #[test]
    fn ages_read_as_words() {
        assert_eq!(age_words(20), "less than a minute");
        assert_eq!(age_words(60), "1 minute");
        assert_eq!(age_words(3_900), "1 hour 5 minutes");
        assert_eq!(age_words(2 * 86_400 + 3_600), "2 days 1 hour");
    }

    #[test]
    fn slack_markup_is_escaped_and_the_email_says_what_to_do() {
        let n = notice(NotifyEvent::UnclaimedReminder);
        let slack = n.webhook_body(WebhookFormat::Slack);
        let first = slack["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(first.contains("&lt;asks&gt;"), "{first}");
        assert!(slack["text"].as_str().unwrap().contains("1 hour 5 minutes"));
        let text = n.email_text();
        assert!(text.contains("Reason: Needs the broker reset"), "{text}");
        assert!(
            text.contains("Open it: https://fp.example.com/pilot/"),
            "{text}"
        );
        assert!(n.subject().starts_with("[FlowPilot] Still unclaimed: "));
    }
}
