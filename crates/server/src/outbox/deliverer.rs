//! The port each kind of outgoing write is sent through, and what an attempt can end in.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use store::OutboxEntry;

/// How one attempt to send an entry ended, as the deliverer saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It landed; `remote_id` is what the remote side called what it created, when it says.
    Delivered { remote_id: Option<String> },
    /// Worth another attempt: a timeout, a 429 (`after` its `Retry-After`), a 5xx, a
    /// connection refused. `uncertain` when the write may have landed anyway (the request
    /// went out and no answer came back): the next attempt asks first.
    Retry {
        after: Option<Duration>,
        uncertain: bool,
        error: String,
    },
    /// A refusal another attempt would not change (a 4xx other than 429), with the reason
    /// a user can act on.
    Fail { reason: String },
}

/// Whether an earlier attempt, whose result was unknown, landed after all.
#[derive(Debug, Clone, PartialEq)]
pub enum Landed {
    /// It did: record it as delivered, without sending it again.
    Yes { remote_id: Option<String> },
    /// It did not (or the remote side cannot be asked, and dedupes by itself): send it.
    No,
    /// The remote side could not be asked now; ask again at the next attempt.
    Unknown(String),
}

/// Sends the entries of one kind. Implementations never log the payload's secrets, and keep
/// their errors to what a user may read on the session's push status.
#[async_trait]
pub trait Deliverer: Send + Sync {
    async fn deliver(&self, entry: &OutboxEntry) -> Outcome;

    /// Asked before a new attempt when the last one may have landed. The default, for a
    /// remote side that cannot be asked, sends again.
    async fn already_delivered(&self, entry: &OutboxEntry) -> Landed {
        let _ = entry;
        Landed::No
    }
}

/// The deliverer of each kind this server sends.
#[derive(Clone, Default)]
pub struct Deliverers {
    by_kind: HashMap<String, Arc<dyn Deliverer>>,
}

impl Deliverers {
    pub fn new() -> Deliverers {
        Deliverers::default()
    }

    /// What every server sends without configuration: webhooks ([`super::webhook`]).
    pub fn standard() -> Deliverers {
        let mut deliverers = Deliverers::new();
        if let Some(webhook) = super::webhook::WebhookDeliverer::new() {
            deliverers = deliverers.with(super::webhook::KIND, Arc::new(webhook));
        }
        deliverers
    }

    /// What escalation notifications need (escalation.md "Notifications"): webhooks that
    /// can sign with secrets sealed under `FLOWPILOT_SECRET_KEY`, and email when
    /// `FLOWPILOT_SMTP_URL` is set. A mail setup that fails is logged and sends no email: the
    /// entries wait for a server that can send them.
    pub fn with_notifications(
        mut self,
        settings: &crate::settings::Settings,
        key: &crate::sealing::SealingKey,
    ) -> Deliverers {
        if let Some(webhook) = super::webhook::WebhookDeliverer::new() {
            self = self.with(
                super::webhook::KIND,
                Arc::new(webhook.with_key(key.shared())),
            );
        }
        if let Some(url) = settings.smtp_url.as_deref() {
            match super::email::EmailDeliverer::new(url, settings.smtp_from.as_deref()) {
                Ok(email) => self = self.with(super::email::KIND, Arc::new(email)),
                Err(err) => tracing::error!(%err, "notification emails cannot be sent"),
            }
        }
        self
    }

    pub fn with(mut self, kind: &str, deliverer: Arc<dyn Deliverer>) -> Deliverers {
        self.by_kind.insert(kind.to_string(), deliverer);
        self
    }

    pub fn get(&self, kind: &str) -> Option<&Arc<dyn Deliverer>> {
        self.by_kind.get(kind)
    }
}
