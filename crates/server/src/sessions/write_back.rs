//! The write-back to a session's linked ticket (psa.md "Write-back"): what resolving or
//! escalating queues in the outbox, in the close's own transaction, and the push status the
//! API and the session page show of it. The sending is the outbox's (`outbox::psa`).
//!
//! Each write is its own entry (the note; the time entry and the status change when the
//! connection's settings ask for them), so a status change that fails is retried without
//! the note being sent again. The push status is the note's, unless another write failed.

use chrono::{DateTime, Utc};
use domain::documentation::Documentation;
use domain::psa::{Note, PostOn, TimeEntry};
use domain::session::Session;
use domain::{User, ValidationErrors};
use store::{NewOutboxEntry, OutboxEntry, OutboxStatus, PsaConnection, StoreError};
use uuid::Uuid;

use super::access;
use crate::error::{ApiError, ApiResult};
use crate::outbox::psa::{PsaPayload, PsaWrite, KINDS, NOTE_KIND};
use crate::state::AppState;

/// The longest note an engineer may write instead of the generated one.
pub const NOTE_MAX: usize = 20_000;

/// The ticket a close would post to, and how: `None` when the session has no ticket, its
/// connection is gone, or the connection does not post on `event`.
pub async fn target(
    state: &AppState,
    s: &Session,
    event: PostOn,
) -> ApiResult<Option<(PsaConnection, String)>> {
    let Some(link) = state.store.session_ticket(s.id).await? else {
        return Ok(None);
    };
    let connection = match state
        .store
        .psa_connection(s.account_id, link.connection_id)
        .await
    {
        Ok(c) => c,
        Err(StoreError::NotFound) => return Ok(None),
        Err(other) => return Err(other.into()),
    };
    if !connection.settings.posts_on(event) {
        return Ok(None);
    }
    Ok(Some((connection, link.ticket_id)))
}

/// The engineer's own note, checked: blank means the generated one.
pub fn checked_note(text: Option<&str>) -> ApiResult<Option<String>> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let mut errors = ValidationErrors::new();
    errors.check_len(&["psa_note"], text, 1, NOTE_MAX);
    errors.into_result()?;
    Ok(Some(text.to_string()))
}

fn event_name(event: PostOn) -> &'static str {
    match event {
        PostOn::Resolve => "resolved",
        PostOn::Escalate => "escalated",
    }
}

/// What closing `s` on `event` queues for its ticket: nothing without one.
pub async fn entries(
    state: &AppState,
    s: &Session,
    event: PostOn,
    doc: &Documentation,
    own_note: Option<String>,
    now: DateTime<Utc>,
) -> ApiResult<Vec<NewOutboxEntry>> {
    let Some((connection, ticket_id)) = target(state, s, event).await? else {
        return Ok(Vec::new());
    };
    let settings = &connection.settings;
    let entry = |write: PsaWrite, key: String| -> ApiResult<NewOutboxEntry> {
        let payload = PsaPayload {
            connection_id: connection.id,
            ticket_id: ticket_id.clone(),
            write,
        };
        Ok(NewOutboxEntry {
            account_id: s.account_id,
            session_id: Some(s.id),
            kind: payload.write.kind().to_string(),
            payload: serde_json::to_value(&payload)
                .map_err(|err| ApiError::internal(format!("write-back payload: {err}")))?,
            idempotency_key: key,
        })
    };
    // The key names the write, once per session and event; it is also the marker the note
    // carries, which is how an uncertain attempt is found again on the ticket.
    let key = |kind: &str| format!("{kind}:{}:{}", s.id, event_name(event));
    let mut out = Vec::with_capacity(3);
    let note_key = key(NOTE_KIND);
    out.push(entry(
        PsaWrite::Note {
            note: Note {
                text: own_note.unwrap_or_else(|| doc.markdown.clone()),
                visibility: settings.note_visibility,
                resolution: event == PostOn::Resolve,
                marker: note_key.clone(),
            },
        },
        note_key,
    )?);
    if settings.time_entry {
        // Time is the session owner's, as their PSA member; unmapped, there is nobody to
        // book it on, and the note still goes.
        match state.store.member_of(connection.id, s.user_id).await? {
            Some(member_id) => {
                let time_key = key(crate::outbox::psa::TIME_ENTRY_KIND);
                out.push(entry(
                    PsaWrite::TimeEntry {
                        entry: TimeEntry {
                            member_id,
                            start: s.created_at,
                            end: now,
                            notes: format!("FlowPilot session: {}", s.title),
                            marker: time_key.clone(),
                            on_note: None,
                        },
                    },
                    time_key,
                )?);
            }
            None => tracing::info!(
                session_id = %s.id,
                "no time entry: the engineer is not mapped to a PSA member"
            ),
        }
    }
    if let Some(change) = settings.status_for(event) {
        out.push(entry(
            PsaWrite::Status { change },
            key(crate::outbox::psa::STATUS_KIND),
        )?);
    }
    Ok(out)
}

/// The push status of a session's write-back (psa.md: `psa.push`).
#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    pub status: PushStatus,
    /// The note's attempts.
    pub attempts: i64,
    pub last_error: Option<String>,
    /// The note's id in the PSA, once posted.
    pub remote_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushStatus {
    Pending,
    Posted,
    Failed,
}

impl PushStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PushStatus::Pending => "pending",
            PushStatus::Posted => "posted",
            PushStatus::Failed => "failed",
        }
    }
}

fn is_write_back(entry: &OutboxEntry) -> bool {
    KINDS.contains(&entry.kind.as_str())
}

/// What the entries of one session add up to; `None` when nothing was queued.
pub fn push_of(entries: &[OutboxEntry]) -> Option<Push> {
    let ours: Vec<&OutboxEntry> = entries.iter().filter(|e| is_write_back(e)).collect();
    // The newest note is the one shown (an escalated session picked up and resolved has two).
    let note = ours.iter().rev().find(|e| e.kind == NOTE_KIND)?;
    let failed = ours.iter().find(|e| e.status == OutboxStatus::Failed);
    let status = if failed.is_some() {
        PushStatus::Failed
    } else if ours.iter().all(|e| e.status == OutboxStatus::Delivered) {
        PushStatus::Posted
    } else {
        PushStatus::Pending
    };
    let last_error = match failed {
        Some(f) => f.last_error.clone(),
        None if status == PushStatus::Posted => None,
        None => ours.iter().rev().find_map(|e| e.last_error.clone()),
    };
    Some(Push {
        status,
        attempts: note.attempts,
        last_error,
        remote_id: note.remote_id.clone(),
    })
}

/// The push status of session `session_id` (whoever may see it has been checked).
pub async fn push(state: &AppState, session_id: Uuid) -> ApiResult<Option<Push>> {
    Ok(push_of(&state.store.session_outbox(session_id).await?))
}

/// The retry button: every failed write-back entry of the session queued again, due now.
/// Nothing failed is a 409.
pub async fn retry(state: &AppState, user: &User, id: Uuid) -> ApiResult<Push> {
    let s = access::visible(state, user, id).await?;
    let failed: Vec<OutboxEntry> = state
        .store
        .session_outbox(s.id)
        .await?
        .into_iter()
        .filter(|e| is_write_back(e) && e.status == OutboxStatus::Failed)
        .collect();
    if failed.is_empty() {
        return Err(ApiError::Conflict(
            "Nothing to retry: the write-back to the ticket has not failed".into(),
        ));
    }
    let now = Utc::now();
    for entry in failed {
        state
            .store
            .retry_outbox(s.account_id, entry.id, now)
            .await?;
    }
    push(state, s.id).await?.ok_or(ApiError::NotFound)
}
