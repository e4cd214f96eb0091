//! The generic webhook: a JSON POST to a URL, the smallest deliverer there is, and the one
//! the escalation notifications (escalation.md) build on. The entry's payload says where and
//! what: `{"url": "https://…", "body": {…}}`. Each POST carries the entry's idempotency key
//! in `Idempotency-Key`, the same on every attempt: a webhook cannot be asked whether an
//! earlier attempt landed, so after an uncertain one it is sent again and the receiver
//! tells the two apart by that key (docs/outbox.md).

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use store::OutboxEntry;
use tracing::instrument;

use super::deliverer::{Deliverer, Outcome};
use super::http::{no_answer, refusal};

/// The outbox kind of a webhook entry.
pub const KIND: &str = "webhook";

/// What a webhook entry's payload holds.
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookPayload {
    pub url: String,
    pub body: serde_json::Value,
}

pub struct WebhookDeliverer {
    client: reqwest::Client,
}

impl WebhookDeliverer {
    /// `None` when no HTTP client can be built (no TLS roots): the server then sends no
    /// webhooks, and their entries wait.
    pub fn new() -> Option<WebhookDeliverer> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(20))
            // A redirect would re-send the body somewhere the account did not configure.
            .redirect(reqwest::redirect::Policy::none())
            .build();
        match client {
            Ok(client) => Some(WebhookDeliverer { client }),
            Err(err) => {
                tracing::warn!(%err, "no HTTP client for webhooks");
                None
            }
        }
    }
}

#[async_trait]
impl Deliverer for WebhookDeliverer {
    #[instrument(skip_all, fields(entry = %entry.id))]
    async fn deliver(&self, entry: &OutboxEntry) -> Outcome {
        let payload: WebhookPayload = match serde_json::from_value(entry.payload.clone()) {
            Ok(p) => p,
            Err(err) => {
                return Outcome::Fail {
                    reason: format!("not a webhook entry: {err}"),
                }
            }
        };
        if !(payload.url.starts_with("https://") || payload.url.starts_with("http://")) {
            return Outcome::Fail {
                reason: "the webhook URL must start with http:// or https://".into(),
            };
        }
        let sent = self
            .client
            .post(&payload.url)
            .header("Idempotency-Key", &entry.idempotency_key)
            .json(&payload.body)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(err) => return no_answer(err),
        };
        let status = response.status();
        if status.is_success() {
            return Outcome::Delivered { remote_id: None };
        }
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        refusal(status, &headers, &body)
    }
}
