//! The generic webhook: a JSON POST to a URL, the smallest deliverer there is, and the one
//! the escalation notifications (escalation.md) build on. The entry's payload says where and
//! what: `{"url": "https://…", "body": {…}}`. Each POST carries the entry's idempotency key
//! in `Idempotency-Key`, the same on every attempt: a webhook cannot be asked whether an
//! earlier attempt landed, so after an uncertain one it is sent again and the receiver
//! tells the two apart by that key (docs/outbox.md).
//!
//! A notification webhook may be signed: its payload then carries the account's secret,
//! sealed with the server's key (`"secret": "v1.…"`), opened at each attempt. The POST gets
//! `X-FlowPilot-Timestamp: <Unix seconds>` and `X-FlowPilot-Signature: sha256=<hex>`, the
//! HMAC-SHA256 of `<timestamp>.<raw body>` under the secret: the timestamp is signed too, so
//! a receiver that refuses old timestamps refuses a replayed POST (docs/escalation.md).

use std::time::Duration;

use std::sync::Arc;

use async_trait::async_trait;
use integrations::SecretKey;
use serde::{Deserialize, Serialize};
use store::OutboxEntry;
use tracing::instrument;

use super::deliverer::{Deliverer, Outcome};
use super::http::{no_answer, refusal};

/// The outbox kind of a webhook entry.
pub const KIND: &str = "webhook";

pub const SIGNATURE_HEADER: &str = "X-FlowPilot-Signature";
pub const TIMESTAMP_HEADER: &str = "X-FlowPilot-Timestamp";
pub const EVENT_HEADER: &str = "X-FlowPilot-Event";

/// What a webhook entry's payload holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookPayload {
    pub url: String,
    pub body: serde_json::Value,
    /// The signing secret, sealed with the server's key; absent: not signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The notification's event, sent as `X-FlowPilot-Event`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

pub struct WebhookDeliverer {
    client: reqwest::Client,
    /// What opens a signed webhook's secret; without it a signed webhook waits (retried) for
    /// a server that has the key.
    key: Option<Arc<SecretKey>>,
}

/// `sha256=<hex>`: the HMAC-SHA256 of `<timestamp>.<body>` under `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("sha256={}", hex::encode(ctx.sign().as_ref()))
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
            Ok(client) => Some(WebhookDeliverer { client, key: None }),
            Err(err) => {
                tracing::warn!(%err, "no HTTP client for webhooks");
                None
            }
        }
    }
}

impl WebhookDeliverer {
    /// The same deliverer, able to sign with secrets sealed under `key`.
    pub fn with_key(mut self, key: Option<Arc<SecretKey>>) -> WebhookDeliverer {
        self.key = key;
        self
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
        let body = match serde_json::to_vec(&payload.body) {
            Ok(b) => b,
            Err(err) => {
                return Outcome::Fail {
                    reason: format!("the webhook body is not JSON: {err}"),
                }
            }
        };
        let mut request = self
            .client
            .post(&payload.url)
            .header("Idempotency-Key", &entry.idempotency_key)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(event) = &payload.event {
            request = request.header(EVENT_HEADER, event);
        }
        if let Some(sealed) = &payload.secret {
            let Some(key) = &self.key else {
                // Another server may have the key; this one cannot sign.
                return Outcome::Retry {
                    after: None,
                    uncertain: false,
                    error:
                        "the webhook is signed and FLOWPILOT_SECRET_KEY is not set on this server"
                            .into(),
                };
            };
            let secret = match key.open_text(sealed) {
                Ok(s) => s,
                Err(err) => {
                    return Outcome::Fail {
                        reason: format!("the webhook's secret: {err}"),
                    }
                }
            };
            let now = chrono::Utc::now().timestamp();
            request = request
                .header(TIMESTAMP_HEADER, now.to_string())
                .header(SIGNATURE_HEADER, signature(&secret, now, &body));
        }
        let sent = request.body(body).send().await;
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
