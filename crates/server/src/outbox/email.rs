//! Notification emails over SMTP (escalation.md "Notifications"): the outbox kind `email`,
//! payload `{"to": "lead@acme.test", "subject": "…", "text": "…"}`, one entry per recipient
//! so one address that bounces does not send the others theirs again. The server is the
//! instance's (`FLOWPILOT_SMTP_URL`), sent through `lettre` over rustls:
//!
//! - `smtp://[user:pass@]host[:port]` (587): STARTTLS when the server offers it;
//!   `?tls=required` refuses to send without it, `?tls=none` never starts it (a relay on
//!   localhost, the tests' sink).
//! - `smtps://[user:pass@]host[:port]` (465): TLS from the first byte.
//!
//! A mail server cannot be asked whether a message arrived, so an uncertain attempt is sent
//! again; the Message-ID is made from the entry's key, the same on every attempt, so a mail
//! client shows one message.

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use store::OutboxEntry;
use tracing::instrument;

use super::deliverer::{Deliverer, Outcome};

/// The outbox kind of an email entry.
pub const KIND: &str = "email";

/// What an email entry's payload holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailPayload {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// How the connection to the mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// `smtps://`: TLS from the start.
    Wrapper,
    /// STARTTLS, or no sending.
    Required,
    /// STARTTLS when the server offers it (the default of `smtp://`, config.md).
    Opportunistic,
    /// Plain text: only for a relay the operator trusts the path to.
    None,
}

/// `FLOWPILOT_SMTP_URL`, read.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpTarget {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub user: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for SmtpTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Why an SMTP URL is refused (never quoting it: it may hold a password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtpUrlError {
    #[error("the SMTP URL is not a URL")]
    NotAUrl,
    #[error("the SMTP URL must start with smtp:// or smtps://")]
    Scheme,
    #[error("the SMTP URL has no host")]
    NoHost,
    #[error("tls= must be required, opportunistic or none")]
    TlsMode,
}

impl SmtpTarget {
    pub fn parse(text: &str) -> Result<SmtpTarget, SmtpUrlError> {
        let url = reqwest::Url::parse(text.trim()).map_err(|_| SmtpUrlError::NotAUrl)?;
        let (mut tls, default_port) = match url.scheme() {
            "smtp" => (TlsMode::Opportunistic, 587),
            "smtps" => (TlsMode::Wrapper, 465),
            _ => return Err(SmtpUrlError::Scheme),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or(SmtpUrlError::NoHost)?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        for (key, value) in url.query_pairs() {
            if key == "tls" {
                if tls == TlsMode::Wrapper {
                    return Err(SmtpUrlError::TlsMode);
                }
                tls = match value.as_ref() {
                    "required" => TlsMode::Required,
                    "opportunistic" => TlsMode::Opportunistic,
                    "none" => TlsMode::None,
                    _ => return Err(SmtpUrlError::TlsMode),
                };
            }
        }
        let decode = |s: &str| percent_decode(s).filter(|s| !s.is_empty());
        Ok(SmtpTarget {
            host,
            port: url.port().unwrap_or(default_port),
            tls,
            user: decode(url.username()),
            password: url.password().and_then(decode),
        })
    }
}

/// `%40` → `@` in a URL's user or password.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

pub struct EmailDeliverer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// Why the email deliverer could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum EmailSetupError {
    #[error(transparent)]
    Url(#[from] SmtpUrlError),
    #[error("FLOWPILOT_SMTP_FROM is not an email address: {0}")]
    From(String),
    #[error("TLS for the SMTP server could not be set up: {0}")]
    Tls(#[source] lettre::transport::smtp::Error),
}

impl EmailDeliverer {
    pub fn new(url: &str, from: Option<&str>) -> Result<EmailDeliverer, EmailSetupError> {
        let target = SmtpTarget::parse(url)?;
        let from = match from.map(str::trim).filter(|f| !f.is_empty()) {
            Some(f) => f.to_string(),
            None => format!("flowpilot@{}", target.host),
        };
        let from: Mailbox = from
            .parse()
            .map_err(|_| EmailSetupError::From(from.clone()))?;
        let params = || TlsParameters::new(target.host.clone()).map_err(EmailSetupError::Tls);
        let tls = match target.tls {
            TlsMode::Wrapper => Tls::Wrapper(params()?),
            TlsMode::Required => Tls::Required(params()?),
            TlsMode::Opportunistic => Tls::Opportunistic(params()?),
            TlsMode::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&target.host)
            .port(target.port)
            .tls(tls)
            // Below the worker's own limit per attempt, so the SMTP error is the one kept.
            .timeout(Some(Duration::from_secs(20)));
        if let Some(user) = &target.user {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                target.password.clone().unwrap_or_default(),
            ));
        }
        Ok(EmailDeliverer {
            transport: builder.build(),
            from,
        })
    }

    /// Connects, greets, starts TLS and signs in as sending would, asks the server for a
    /// NOOP and says goodbye: `flowpilot doctor`'s check that mail can leave, without a
    /// message to anyone. `Ok(false)`: connected, but the NOOP was refused.
    pub async fn test_connection(&self) -> Result<bool, lettre::transport::smtp::Error> {
        self.transport.test_connection().await
    }

    fn message(&self, entry: &OutboxEntry, payload: &EmailPayload) -> Result<Message, String> {
        let to: Mailbox = payload
            .to
            .parse()
            .map_err(|_| format!("not an email address: {}", payload.to))?;
        let digest = Sha256::digest(entry.idempotency_key.as_bytes());
        let id = format!("<{}@flowpilot>", hex::encode(&digest[..16]));
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(payload.subject.clone())
            .message_id(Some(id))
            .date_now()
            .header(ContentType::TEXT_PLAIN)
            .body(payload.text.clone())
            .map_err(|err| format!("the message could not be built: {err}"))
    }
}

#[async_trait]
impl Deliverer for EmailDeliverer {
    #[instrument(skip_all, fields(entry = %entry.id))]
    async fn deliver(&self, entry: &OutboxEntry) -> Outcome {
        let payload: EmailPayload = match serde_json::from_value(entry.payload.clone()) {
            Ok(p) => p,
            Err(err) => {
                return Outcome::Fail {
                    reason: format!("not an email entry: {err}"),
                }
            }
        };
        let message = match self.message(entry, &payload) {
            Ok(m) => m,
            Err(reason) => return Outcome::Fail { reason },
        };
        match self.transport.send(message).await {
            Ok(_) => Outcome::Delivered { remote_id: None },
            Err(err) => smtp_outcome(&err),
        }
    }
}

/// A 5xx answer is final (a mailbox that does not exist, a refused sender); a 4xx, a
/// connection or TLS failure is tried again. A timeout may come after the message was taken.
fn smtp_outcome(err: &lettre::transport::smtp::Error) -> Outcome {
    let text = format!("SMTP: {err}");
    if err.is_permanent() {
        return Outcome::Fail { reason: text };
    }
    Outcome::Retry {
        after: None,
        uncertain: err.is_timeout(),
        error: text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_choose_their_tls_and_port() {
        let t = SmtpTarget::parse("smtp://mail.acme.test").unwrap();
        assert_eq!((t.port, t.tls), (587, TlsMode::Opportunistic));
        let t =
            SmtpTarget::parse("smtp://u%40acme:p%3Ass@mail.acme.test:2525?tls=required").unwrap();
        assert_eq!((t.port, t.tls), (2525, TlsMode::Required));
        assert_eq!(t.user.as_deref(), Some("u@acme"));
        assert_eq!(t.password.as_deref(), Some("p:ss"));
        let t = SmtpTarget::parse("smtp://127.0.0.1:2525?tls=none").unwrap();
        assert_eq!((t.host.as_str(), t.tls), ("127.0.0.1", TlsMode::None));
        let t = SmtpTarget::parse("smtps://mail.acme.test").unwrap();
        assert_eq!((t.port, t.tls), (465, TlsMode::Wrapper));
        assert_eq!(
            SmtpTarget::parse("http://mail.acme.test"),
            Err(SmtpUrlError::Scheme)
        );
        assert_eq!(
            SmtpTarget::parse("smtp://mail.acme.test?tls=maybe"),
            Err(SmtpUrlError::TlsMode)
        );
        assert_eq!(
            SmtpTarget::parse("smtps://mail.acme.test?tls=none"),
            Err(SmtpUrlError::TlsMode)
        );
        let shown = format!("{:?}", SmtpTarget::parse("smtp://u:secret@h").unwrap());
        assert!(!shown.contains("secret"), "{shown}");
    }
}
