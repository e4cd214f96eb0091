//! The PSA port: what FlowPilot reads from and writes to a ticketing system (ConnectWise PSA,
//! Autotask, HaloPSA), independent of each one's wire format. The adapters live in
//! `flowpilot-integrations`; the connections API, the intake and the outbox speak only this.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::validation::{FieldError, ValidationErrors};

/// Which PSA a connection talks to; the serialized names are the API's `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PsaKind {
    #[serde(rename = "connectwise")]
    ConnectWise,
    Autotask,
    Halo,
}

impl PsaKind {
    pub const ALL: [PsaKind; 3] = [PsaKind::ConnectWise, PsaKind::Autotask, PsaKind::Halo];

    pub fn as_str(self) -> &'static str {
        match self {
            PsaKind::ConnectWise => "connectwise",
            PsaKind::Autotask => "autotask",
            PsaKind::Halo => "halo",
        }
    }

    pub fn parse(name: &str) -> Option<PsaKind> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// The product's name, for messages engineers read.
    pub fn display_name(self) -> &'static str {
        match self {
            PsaKind::ConnectWise => "ConnectWise PSA",
            PsaKind::Autotask => "Autotask",
            PsaKind::Halo => "HaloPSA",
        }
    }

    /// What an admin should check when the PSA refuses the credentials (401) or their
    /// permissions (403). Names fields, never their values.
    pub fn credentials_hint(self, forbidden: bool) -> &'static str {
        match (self, forbidden) {
            (PsaKind::ConnectWise, false) => {
                "check the company id, the API member's public and private key, and the client id"
            }
            (PsaKind::ConnectWise, true) => {
                "the API member's security role lacks a permission (Service Desk tickets and notes, Time Entry, System members)"
            }
            (PsaKind::Autotask, false) => {
                "check the API user's username, its secret and the integration code, and that base_url is the zone URL of the tenant"
            }
            (PsaKind::Autotask, true) => {
                "the API user's security level lacks a permission (tickets, ticket notes, time entries, resources)"
            }
            (PsaKind::Halo, false) => {
                "check the application's client id and client secret, and the tenant for a Halo-hosted instance"
            }
            (PsaKind::Halo, true) => {
                "the API application lacks a permission: give it the `all` scope, or read and edit tickets and actions"
            }
        }
    }
}

impl fmt::Display for PsaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Shown instead of a secret in `Debug` output.
const REDACTED: &str = "<redacted>";

/// ConnectWise PSA: an API member's key pair, the company id used at login, and the
/// integration's client id from the developer portal.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectWiseCredentials {
    pub company_id: String,
    pub public_key: String,
    pub private_key: String,
    pub client_id: String,
}

/// Autotask: an API-only user (its username and secret) and the integration's tracking code.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutotaskCredentials {
    pub username: String,
    pub secret: String,
    pub integration_code: String,
}

/// HaloPSA: an API application with the client-credentials flow; `tenant` only for
/// Halo-hosted instances.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HaloCredentials {
    pub client_id: String,
    pub client_secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// A connection's credentials, typed per kind. Serialized with its `kind` so that what is
/// sealed at rest opens as the same variant.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Credentials {
    #[serde(rename = "connectwise")]
    ConnectWise(ConnectWiseCredentials),
    Autotask(AutotaskCredentials),
    Halo(HaloCredentials),
}

impl Credentials {
    pub fn kind(&self) -> PsaKind {
        match self {
            Credentials::ConnectWise(_) => PsaKind::ConnectWise,
            Credentials::Autotask(_) => PsaKind::Autotask,
            Credentials::Halo(_) => PsaKind::Halo,
        }
    }

    /// Reads the API's `credentials: {…}` object for `kind`. Every missing or empty required
    /// field is named at `["body", "credentials", field]` (never its value), so the admin
    /// sees all that is left to fill in at once.
    pub fn from_json(
        kind: PsaKind,
        value: &serde_json::Value,
    ) -> Result<Credentials, ValidationErrors> {
        let Some(object) = value.as_object() else {
            return Err(ValidationErrors::single(FieldError::body(
                &["credentials"],
                "credentials must be an object",
                "type_error.dict",
            )));
        };
        let mut errors = ValidationErrors::new();
        let mut field = |name: &str| -> String {
            match object.get(name).and_then(serde_json::Value::as_str) {
                Some(text) if !text.trim().is_empty() => text.trim().to_string(),
                _ => {
                    errors.push(FieldError::body(
                        &["credentials", name],
                        format!(
                            "{} credentials need `{name}` (a non-empty string)",
                            kind.display_name()
                        ),
                        "value_error.missing",
                    ));
                    String::new()
                }
            }
        };
        let credentials = match kind {
            PsaKind::ConnectWise => Credentials::ConnectWise(ConnectWiseCredentials {
                company_id: field("company_id"),
                public_key: field("public_key"),
                private_key: field("private_key"),
                client_id: field("client_id"),
            }),
            PsaKind::Autotask => Credentials::Autotask(AutotaskCredentials {
                username: field("username"),
                secret: field("secret"),
                integration_code: field("integration_code"),
            }),
            PsaKind::Halo => {
                let client_id = field("client_id");
                let client_secret = field("client_secret");
                let tenant = object
                    .get("tenant")
                    .and_then(serde_json::Value::as_str)
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string);
                Credentials::Halo(HaloCredentials {
                    client_id,
                    client_secret,
                    tenant,
                })
            }
        };
        errors.into_result().map(|()| credentials)
    }
}

// The Debug output names who connects (ids, usernames), never what proves it: it ends up in
// logs and panics.
impl fmt::Debug for ConnectWiseCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectWiseCredentials")
            .field("company_id", &self.company_id)
            .field("public_key", &REDACTED)
            .field("private_key", &REDACTED)
            .field("client_id", &self.client_id)
            .finish()
    }
}

impl fmt::Debug for AutotaskCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AutotaskCredentials")
            .field("username", &self.username)
            .field("secret", &REDACTED)
            .field("integration_code", &REDACTED)
            .finish()
    }
}

impl fmt::Debug for HaloCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HaloCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &REDACTED)
            .field("tenant", &self.tenant)
            .finish()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::ConnectWise(c) => c.fmt(f),
            Credentials::Autotask(c) => c.fmt(f),
            Credentials::Halo(c) => c.fmt(f),
        }
    }
}

/// Who may read a posted note. A wrong choice cannot be undone in these PSAs, so the default
/// is internal and customer-visible notes need the connection's explicit setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoteVisibility {
    #[default]
    Internal,
    Customer,
}

/// The session events that post to the linked ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostOn {
    Resolve,
    Escalate,
}

/// A connection's `settings` (psa.md): every field optional in the API, defaults here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionSettings {
    pub note_visibility: NoteVisibility,
    pub post_on: Vec<PostOn>,
    pub time_entry: bool,
    /// The PSA's status id or name to set on resolve; `None` leaves the status unchanged.
    pub resolve_status: Option<String>,
    pub escalate_status: Option<String>,
    pub preview_before_post: bool,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            note_visibility: NoteVisibility::Internal,
            post_on: vec![PostOn::Resolve, PostOn::Escalate],
            time_entry: false,
            resolve_status: None,
            escalate_status: None,
            preview_before_post: true,
        }
    }
}

impl ConnectionSettings {
    pub fn posts_on(&self, event: PostOn) -> bool {
        self.post_on.contains(&event)
    }

    /// The status to set after `event`, if the admin chose one.
    pub fn status_for(&self, event: PostOn) -> Option<StatusChange> {
        let status = match event {
            PostOn::Resolve => self.resolve_status.as_deref(),
            PostOn::Escalate => self.escalate_status.as_deref(),
        }?;
        let status = status.trim();
        (!status.is_empty()).then(|| StatusChange::new(status))
    }
}

/// A note already on a ticket, as read for the intake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketNote {
    pub author: Option<String>,
    /// Plain text (HTML from the PSA is converted).
    pub text: String,
    pub created_at: Option<String>,
    pub internal: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub name: String,
    pub email: Option<String>,
}

/// A ticket as read for the intake: everything an engineer would glance at before starting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: String,
    /// What engineers call the ticket (`#12345`, `T20240101.0001`).
    pub number: String,
    pub summary: String,
    /// Plain text.
    pub description: String,
    /// The latest notes, newest first, at most [`RECENT_NOTES`].
    pub notes: Vec<TicketNote>,
    pub company: Option<String>,
    pub contact: Option<Contact>,
    /// Configuration items (ConnectWise, Autotask) or assets (Halo), by their display name.
    pub configuration_items: Vec<String>,
    pub status: Option<String>,
    /// The ticket in the PSA's web UI.
    pub url: Option<String>,
}

/// How many of a ticket's notes the intake keeps: the latest carry the state of the problem,
/// the older ones mostly noise for the prompt.
pub const RECENT_NOTES: usize = 5;

impl Ticket {
    /// The ticket as intake text for a session (before redaction, which the caller applies
    /// like to any other text).
    pub fn intake_text(&self) -> String {
        let mut out = format!("Ticket {}: {}\n", self.number, self.summary);
        if let Some(company) = &self.company {
            out.push_str(&format!("Company: {company}\n"));
        }
        if let Some(contact) = &self.contact {
            match &contact.email {
                Some(email) => out.push_str(&format!("Contact: {} <{email}>\n", contact.name)),
                None => out.push_str(&format!("Contact: {}\n", contact.name)),
            }
        }
        if !self.configuration_items.is_empty() {
            out.push_str(&format!(
                "Configuration items: {}\n",
                self.configuration_items.join(", ")
            ));
        }
        if let Some(status) = &self.status {
            out.push_str(&format!("Status: {status}\n"));
        }
        if !self.description.trim().is_empty() {
            out.push_str(&format!("\n{}\n", self.description.trim()));
        }
        if !self.notes.is_empty() {
            out.push_str("\nLatest notes:\n");
            for note in &self.notes {
                let who = note.author.as_deref().unwrap_or("someone");
                let when = note.created_at.as_deref().unwrap_or("");
                out.push_str(&format!("- {who} {when}: {}\n", note.text.trim()));
            }
        }
        out
    }
}

/// A ticket in a list to pick from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketSummary {
    pub id: String,
    pub number: String,
    pub summary: String,
    pub company: Option<String>,
    pub status: Option<String>,
}

/// `GET …/tickets?q=&skip=&limit=`: open tickets, optionally whose summary contains `q`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TicketQuery {
    pub q: Option<String>,
    pub skip: u32,
    pub limit: u32,
}

impl TicketQuery {
    pub const DEFAULT_LIMIT: u32 = 25;
    /// The smallest page limit of the three PSAs' list endpoints.
    pub const MAX_LIMIT: u32 = 100;

    /// The limit to send: 0 means the default, anything above the maximum is capped.
    pub fn page_size(&self) -> u32 {
        match self.limit {
            0 => Self::DEFAULT_LIMIT,
            n => n.min(Self::MAX_LIMIT),
        }
    }

    /// The search text, if any is left after trimming.
    pub fn search(&self) -> Option<&str> {
        self.q.as_deref().map(str::trim).filter(|q| !q.is_empty())
    }
}

/// A PSA member (ConnectWise member, Autotask resource, Halo agent) to map FlowPilot users to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
}

impl Member {
    /// The member whose email is `email`, ignoring case, for the automatic mapping.
    pub fn find_by_email<'a>(members: &'a [Member], email: &str) -> Option<&'a Member> {
        let email = email.trim();
        members.iter().find(|m| {
            m.email
                .as_deref()
                .is_some_and(|e| e.trim().eq_ignore_ascii_case(email))
        })
    }
}

/// A note to post. The text is markdown; each adapter converts it to what its PSA shows well.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub text: String,
    pub visibility: NoteVisibility,
    /// The session was resolved: PSAs that flag resolution notes (ConnectWise) do.
    pub resolution: bool,
    /// The outbox's idempotency key for this write. The adapter appends
    /// [`Note::marker_line`] to the text, verbatim, so the note can be found again.
    pub marker: String,
}

impl Note {
    /// The last line of every posted note: visible (an HTML comment or a hidden field would
    /// not survive every PSA's sanitizing), short, and unlikely to occur in anything else.
    pub fn marker_line(marker: &str) -> String {
        format!("FlowPilot ref: {marker}")
    }

    /// Whether a note's text (as the PSA gives it back, plain or HTML) carries `marker`.
    pub fn carries_marker(text: &str, marker: &str) -> bool {
        if marker.is_empty() {
            return false;
        }
        let line = Self::marker_line(marker);
        // `fp-1` must not match inside `fp-12`: the marker ends where a word would.
        text.match_indices(&line).any(|(at, _)| {
            !text[at + line.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_')
        })
    }
}

/// Time worked on a ticket: the session's duration, by the engineer's PSA member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeEntry {
    /// The PSA member (resource, agent) who worked, from the member mapping.
    pub member_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Plain text summary.
    pub notes: String,
    /// The outbox's idempotency key; carried in the entry's notes like a note's marker.
    pub marker: String,
    /// The remote id of the note posted for the same event. HaloPSA records time on the
    /// action itself, so its adapter sets the time on that note's action (an update, safe to
    /// repeat) instead of creating another; the others ignore it.
    pub on_note: Option<String>,
}

impl TimeEntry {
    /// Hours worked, rounded up to the next minute, at least one minute.
    pub fn hours(&self) -> f64 {
        let seconds = (self.end - self.start).num_seconds().max(60);
        let minutes = (seconds + 59) / 60;
        (minutes as f64 / 60.0 * 10_000.0).round() / 10_000.0
    }
}

/// Set a ticket's status: the PSA's status id (digits) or its name, as the admin wrote it in
/// the connection's settings. Setting a status is idempotent, so it needs no marker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: String,
}

impl StatusChange {
    pub fn new(status: impl Into<String>) -> Self {
        Self {
            status: status.into(),
        }
    }

    /// The status as an id, when it is one.
    pub fn id(&self) -> Option<i64> {
        self.status.trim().parse().ok()
    }
}

/// The id the PSA gave to what FlowPilot created (note, action, time entry): the outbox
/// records it so a retry never posts twice.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RemoteId(pub String);

impl fmt::Display for RemoteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A PSA call that failed, classified for the outbox (retry or stop) and for the admin
/// (what to check). Messages never carry credentials: only the PSA's own words, cut short.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PsaError {
    /// 401 or 403: retrying will not help until an admin fixes the connection.
    #[error("{kind} refused the credentials (HTTP {status}): {hint}", kind = kind.display_name())]
    Unauthorized {
        kind: PsaKind,
        status: u16,
        hint: &'static str,
    },
    #[error("not found in the PSA: {what}")]
    NotFound { what: String },
    #[error("the PSA is rate limiting requests{}", retry_after.map(|s| format!(" (retry after {s} s)")).unwrap_or_default())]
    RateLimited { retry_after: Option<u64> },
    #[error("the PSA failed with HTTP {status}: {message}")]
    Upstream { status: u16, message: String },
    /// No answer in time: a write may or may not have landed.
    #[error("the PSA did not answer within {seconds} seconds")]
    Timeout { seconds: u64 },
    /// The connection could not be opened: nothing was sent.
    #[error("could not reach the PSA: {0}")]
    Unreachable(String),
    /// The connection broke after the request went out: a write may have landed.
    #[error("the connection to the PSA failed: {0}")]
    Transport(String),
    #[error("the PSA sent an answer FlowPilot could not read: {0}")]
    InvalidResponse(String),
    /// Another 4xx: the PSA said no, and will say it again.
    #[error("the PSA rejected the request (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    /// The connection's settings or the PSA's setup do not allow the write (no internal note
    /// type, an unknown status name): an admin has to change something.
    #[error("{0}")]
    Misconfigured(String),
}

impl PsaError {
    /// Whether the same call may succeed later without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            PsaError::RateLimited { .. }
                | PsaError::Upstream { .. }
                | PsaError::Timeout { .. }
                | PsaError::Unreachable(_)
                | PsaError::Transport(_)
        )
    }

    /// Whether a write that failed like this may have been applied anyway, so the outbox
    /// must look for it (`find_note`) before posting again. A 5xx counts: proxies answer
    /// 502/504 while the PSA behind them carries on.
    pub fn write_may_have_landed(&self) -> bool {
        matches!(
            self,
            PsaError::Timeout { .. } | PsaError::Transport(_) | PsaError::Upstream { .. }
        )
    }

    /// Seconds the PSA asked to wait, when it said.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            PsaError::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}

/// What a successful connection test saw, for the admin (`{ok: true, detail}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionCheck {
    pub detail: String,
}

/// One PSA connection. Implementations hold their credentials and base URL; ids are the
/// PSA's own, as strings (all three use numbers, which the adapters check before building a
/// URL with them).
#[async_trait]
pub trait PsaClient: Send + Sync {
    fn kind(&self) -> PsaKind;

    /// One cheap authenticated call (a page of tickets, or the token endpoint).
    async fn test_connection(&self) -> Result<ConnectionCheck, PsaError>;

    async fn list_open_tickets(&self, query: &TicketQuery) -> Result<Vec<TicketSummary>, PsaError>;

    async fn read_ticket(&self, ticket_id: &str) -> Result<Ticket, PsaError>;

    /// Active members, for mapping FlowPilot users by email.
    async fn list_members(&self) -> Result<Vec<Member>, PsaError>;

    /// Posts `note` (its text with the marker line appended) and returns the note's id.
    async fn post_note(&self, ticket_id: &str, note: &Note) -> Result<RemoteId, PsaError>;

    /// The note on the ticket carrying `marker`, if one was posted: the outbox calls this
    /// before posting again after a failure that [`PsaError::write_may_have_landed`].
    async fn find_note(&self, ticket_id: &str, marker: &str) -> Result<Option<RemoteId>, PsaError>;

    async fn post_time_entry(
        &self,
        ticket_id: &str,
        entry: &TimeEntry,
    ) -> Result<RemoteId, PsaError>;

    /// The time entry on the ticket carrying `marker`, if one was posted.
    async fn find_time_entry(
        &self,
        ticket_id: &str,
        marker: &str,
    ) -> Result<Option<RemoteId>, PsaError>;

    async fn set_status(&self, ticket_id: &str, change: &StatusChange) -> Result<(), PsaError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn debug_never_prints_secrets() {
        let all = [
            Credentials::ConnectWise(ConnectWiseCredentials {
                company_id: "acme".into(),
                public_key: "pub-SECRET1".into(),
                private_key: "priv-SECRET2".into(),
                client_id: "client-1".into(),
            }),
            Credentials::Autotask(AutotaskCredentials {
                username: "api@acme.example".into(),
                secret: "SECRET3".into(),
                integration_code: "SECRET4".into(),
            }),
            Credentials::Halo(HaloCredentials {
                client_id: "halo-client".into(),
                client_secret: "SECRET5".into(),
                tenant: Some("acme".into()),
            }),
        ];
        for credentials in all {
            let debug = format!("{credentials:?} {:#?}", credentials);
            assert!(!debug.contains("SECRET"), "{debug}");
            assert!(debug.contains(REDACTED));
        }
    }

    #[test]
    fn credentials_read_per_kind_and_name_missing_fields() {
        let halo = Credentials::from_json(
            PsaKind::Halo,
            &json!({"client_id": "c", "client_secret": "s"}),
        )
        .unwrap();
        assert_eq!(halo.kind(), PsaKind::Halo);
        let err = Credentials::from_json(
            PsaKind::ConnectWise,
            &json!({"company_id": "acme", "public_key": "p", "private_key": "  "}),
        )
        .unwrap_err();
        let locs: Vec<_> = err.0.iter().map(|e| e.loc.clone()).collect();
        assert_eq!(
            locs,
            [
                json!(["body", "credentials", "private_key"]),
                json!(["body", "credentials", "client_id"])
            ]
            .map(|v| v.as_array().unwrap().clone())
        );
        assert!(Credentials::from_json(PsaKind::Halo, &json!("x")).is_err());
        let round = serde_json::to_value(&halo).unwrap();
        assert_eq!(round["kind"], "halo");
        assert_eq!(serde_json::from_value::<Credentials>(round).unwrap(), halo);
    }

    #[test]
    fn settings_default_to_internal_notes_on_both_events() {
        let settings: ConnectionSettings = serde_json::from_value(json!({})).unwrap();
        assert_eq!(settings, ConnectionSettings::default());
        assert_eq!(settings.note_visibility, NoteVisibility::Internal);
        assert!(settings.posts_on(PostOn::Resolve) && settings.posts_on(PostOn::Escalate));
        assert!(settings.preview_before_post && !settings.time_entry);
        assert_eq!(settings.status_for(PostOn::Resolve), None);

        let custom: ConnectionSettings = serde_json::from_value(json!({
            "note_visibility": "customer", "post_on": ["resolve"], "resolve_status": " Resolved "
        }))
        .unwrap();
        assert_eq!(custom.note_visibility, NoteVisibility::Customer);
        assert!(!custom.posts_on(PostOn::Escalate));
        assert_eq!(
            custom.status_for(PostOn::Resolve),
            Some(StatusChange::new("Resolved"))
        );
        assert!(serde_json::from_value::<ConnectionSettings>(json!({"visibility": "x"})).is_err());
    }

    #[test]
    fn errors_say_what_to_retry_and_what_may_have_landed() {
        let timeout = PsaError::Timeout { seconds: 20 };
        assert!(timeout.is_retryable() && timeout.write_may_have_landed());
        let refused = PsaError::Unreachable("connection refused".into());
        assert!(refused.is_retryable() && !refused.write_may_have_landed());
        let limited = PsaError::RateLimited {
            retry_after: Some(7),
        };
        assert!(limited.is_retryable() && !limited.write_may_have_landed());
        assert_eq!(limited.retry_after(), Some(7));
        let rejected = PsaError::Rejected {
            status: 400,
            message: "bad".into(),
        };
        assert!(!rejected.is_retryable() && !rejected.write_may_have_landed());
        let unauthorized = PsaError::Unauthorized {
            kind: PsaKind::Autotask,
            status: 401,
            hint: PsaKind::Autotask.credentials_hint(false),
        };
        assert!(!unauthorized.is_retryable());
        assert!(unauthorized.to_string().contains("integration code"));
    }

    #[test]
    fn markers_and_hours() {
        let note = Note {
            text: "## Fixed\n".into(),
            visibility: NoteVisibility::Internal,
            resolution: true,
            marker: "fp-1".into(),
        };
        assert!(Note::carries_marker(
            &format!("{}\n\n{}", note.text, Note::marker_line(&note.marker)),
            "fp-1"
        ));
        assert!(!Note::carries_marker("FlowPilot ref: fp-12", "fp-1"));
        assert!(Note::carries_marker("<p>FlowPilot ref: fp-1</p>", "fp-1"));
        assert!(!Note::carries_marker("anything", ""));
        let start = DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let entry = TimeEntry {
            member_id: "7".into(),
            start,
            end: start + chrono::Duration::seconds(30 * 60 + 1),
            notes: "n".into(),
            marker: "fp-t".into(),
            on_note: None,
        };
        assert_eq!(entry.hours(), 0.5167);
        assert_eq!(PsaKind::parse("ConnectWise"), Some(PsaKind::ConnectWise));
        assert_eq!(
            serde_json::to_value(PsaKind::ConnectWise).unwrap(),
            "connectwise"
        );
    }

    #[test]
    fn a_ticket_reads_as_intake_text() {
        let ticket = Ticket {
            id: "101".into(),
            number: "101".into(),
            summary: "Outlook keeps asking for password".into(),
            description: "Since Monday.".into(),
            notes: vec![TicketNote {
                author: Some("Ann".into()),
                text: "Reset MFA.".into(),
                created_at: Some("2026-11-30".into()),
                internal: true,
            }],
            company: Some("Acme Ltd".into()),
            contact: Some(Contact {
                name: "Jane Doe".into(),
                email: Some("jane@acme.example".into()),
            }),
            configuration_items: vec!["ACME-LT-042".into()],
            status: Some("New".into()),
            url: None,
        };
        assert_eq!(
            ticket.intake_text(),
            "Ticket 101: Outlook keeps asking for password\nCompany: Acme Ltd\nContact: Jane Doe <jane@acme.example>\nConfiguration items: ACME-LT-042\nStatus: New\n\nSince Monday.\n\nLatest notes:\n- Ann 2026-11-30: Reset MFA.\n"
        );
    }

    #[test]
    fn members_match_by_email_ignoring_case() {
        let members = vec![Member {
            id: "1".into(),
            name: "Ann".into(),
            email: Some("Ann@Acme.example".into()),
        }];
        assert_eq!(
            Member::find_by_email(&members, " ann@acme.example").map(|m| m.id.as_str()),
            Some("1")
        );
        assert!(Member::find_by_email(&members, "bob@acme.example").is_none());
    }
}
