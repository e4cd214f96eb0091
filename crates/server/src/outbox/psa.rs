//! The PSA write-back's deliverers (psa.md "Write-back"): a note, a time entry or a status
//! change on a session's linked ticket, each its own outbox entry so that one that fails is
//! retried alone and never sends the others again. Each entry carries the connection and the
//! ticket; the credentials are opened at each attempt, so a connection whose credentials an
//! admin fixed is used as fixed, and one that was deleted fails the entry saying so.
//!
//! The outbox entry's idempotency key is the marker the adapter appends to what it posts:
//! after an attempt that may have landed, the deliverer looks for it on the ticket
//! (`find_note`, `find_time_entry`) and records what it finds instead of posting again.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use domain::psa::{Note, PsaError, PsaKind, StatusChange, TimeEntry};
use serde::{Deserialize, Serialize};
use store::{OutboxEntry, OutboxStatus, PsaConnection, Store, StoreError};
use tracing::instrument;
use uuid::Uuid;

use super::deliverer::{Deliverer, Deliverers, Landed, Outcome};
use crate::psa::{Psa, PsaProblem};

/// The outbox kinds of the write-back.
pub const NOTE_KIND: &str = "psa_note";
pub const TIME_ENTRY_KIND: &str = "psa_time_entry";
pub const STATUS_KIND: &str = "psa_status";

/// Every kind a session's push status is made of.
pub const KINDS: [&str; 3] = [NOTE_KIND, TIME_ENTRY_KIND, STATUS_KIND];

/// What a write-back entry's payload holds: where, and the one write to make there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PsaPayload {
    pub connection_id: Uuid,
    pub ticket_id: String,
    #[serde(flatten)]
    pub write: PsaWrite,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "write", rename_all = "snake_case")]
pub enum PsaWrite {
    /// The note's `marker` is the entry's idempotency key.
    Note {
        note: Note,
    },
    TimeEntry {
        entry: TimeEntry,
    },
    Status {
        change: StatusChange,
    },
}

impl PsaWrite {
    pub fn kind(&self) -> &'static str {
        match self {
            PsaWrite::Note { .. } => NOTE_KIND,
            PsaWrite::TimeEntry { .. } => TIME_ENTRY_KIND,
            PsaWrite::Status { .. } => STATUS_KIND,
        }
    }
}

/// Sends the write-back entries of every account through the account's connection.
pub struct PsaDeliverer {
    store: Store,
    psa: Arc<Psa>,
}

impl PsaDeliverer {
    pub fn new(store: Store, psa: Arc<Psa>) -> PsaDeliverer {
        PsaDeliverer { store, psa }
    }

    /// The payload and the connection it names, or the outcome that ends the attempt.
    async fn open(&self, entry: &OutboxEntry) -> Result<(PsaPayload, PsaConnection), Outcome> {
        let payload: PsaPayload =
            serde_json::from_value(entry.payload.clone()).map_err(|err| Outcome::Fail {
                reason: format!("not a PSA write-back entry: {err}"),
            })?;
        match self
            .store
            .psa_connection(entry.account_id, payload.connection_id)
            .await
        {
            Ok(connection) => Ok((payload, connection)),
            Err(StoreError::NotFound) => Err(Outcome::Fail {
                reason: "the PSA connection was deleted; nothing was posted".into(),
            }),
            Err(err) => Err(Outcome::Retry {
                after: None,
                uncertain: entry.uncertain,
                error: format!("could not read the PSA connection: {err}"),
            }),
        }
    }

    /// HaloPSA records time on an action (psa.md: `timetaken` on the note's action), so a Halo
    /// time entry goes on the note its close posted: it waits (with the outbox's backoff) while
    /// that note is still to be posted, and takes an action of its own only when there is no
    /// such note or it failed for good, so the time is never lost behind a refused note.
    async fn note_of(&self, entry: &OutboxEntry) -> Result<Option<String>, Outcome> {
        let Some(session_id) = entry.session_id else {
            return Ok(None);
        };
        let Some(close) = entry.idempotency_key.strip_prefix(TIME_ENTRY_KIND) else {
            return Ok(None);
        };
        let note_key = format!("{NOTE_KIND}{close}");
        let entries =
            self.store
                .session_outbox(session_id)
                .await
                .map_err(|err| Outcome::Retry {
                    after: None,
                    uncertain: entry.uncertain,
                    error: format!("could not read the session's note: {err}"),
                })?;
        let Some(note) = entries.iter().find(|e| e.idempotency_key == note_key) else {
            return Ok(None);
        };
        match note.status {
            OutboxStatus::Delivered => Ok(note.remote_id.clone()),
            OutboxStatus::Failed => Ok(None),
            OutboxStatus::Pending | OutboxStatus::InFlight => Err(Outcome::Retry {
                after: None,
                uncertain: entry.uncertain,
                error: "waiting for the note to be posted: HaloPSA records the time on it".into(),
            }),
        }
    }
}

/// The outcome of a PSA error, by psa.md's rules: what may succeed later is retried (after
/// the PSA's `Retry-After`), uncertain when the write may have landed; anything else needs
/// someone to change something, and says what.
fn outcome_of(problem: PsaProblem) -> Outcome {
    match problem.psa_error() {
        Some(err) if err.is_retryable() => Outcome::Retry {
            after: err.retry_after().map(Duration::from_secs),
            uncertain: err.write_may_have_landed(),
            error: problem.to_string(),
        },
        _ => Outcome::Fail {
            reason: problem.to_string(),
        },
    }
}

#[async_trait]
impl Deliverer for PsaDeliverer {
    #[instrument(skip_all, fields(entry = %outbox_entry.id, kind = %outbox_entry.kind))]
    async fn deliver(&self, outbox_entry: &OutboxEntry) -> Outcome {
        let (payload, connection) = match self.open(outbox_entry).await {
            Ok(opened) => opened,
            Err(outcome) => return outcome,
        };
        let ticket = payload.ticket_id;
        let sent = match payload.write {
            PsaWrite::Note { note } => {
                self.psa
                    .call(&connection, |client| async move {
                        client.post_note(&ticket, &note).await.map(Some)
                    })
                    .await
            }
            PsaWrite::TimeEntry { mut entry } => {
                if connection.kind == PsaKind::Halo && entry.on_note.is_none() {
                    entry.on_note = match self.note_of(outbox_entry).await {
                        Ok(note) => note,
                        Err(outcome) => return outcome,
                    };
                }
                self.psa
                    .call(&connection, |client| async move {
                        client.post_time_entry(&ticket, &entry).await.map(Some)
                    })
                    .await
            }
            PsaWrite::Status { change } => {
                self.psa
                    .call(&connection, |client| async move {
                        client.set_status(&ticket, &change).await.map(|()| None)
                    })
                    .await
            }
        };
        match sent {
            Ok(remote_id) => Outcome::Delivered {
                remote_id: remote_id.map(|id| id.0),
            },
            Err(problem) => outcome_of(problem),
        }
    }

    async fn already_delivered(&self, entry: &OutboxEntry) -> Landed {
        let (payload, connection) = match self.open(entry).await {
            Ok(opened) => opened,
            // Sending again meets the same end (a deleted connection fails there).
            Err(_) => return Landed::No,
        };
        let ticket = payload.ticket_id;
        let marker = entry.idempotency_key.clone();
        let found = match payload.write {
            PsaWrite::Note { .. } => {
                self.psa
                    .call(&connection, |client| async move {
                        client.find_note(&ticket, &marker).await
                    })
                    .await
            }
            PsaWrite::TimeEntry { .. } => {
                self.psa
                    .call(&connection, |client| async move {
                        client.find_time_entry(&ticket, &marker).await
                    })
                    .await
            }
            // Setting a status twice sets it once.
            PsaWrite::Status { .. } => return Landed::No,
        };
        match found {
            Ok(Some(id)) => Landed::Yes {
                remote_id: Some(id.0),
            },
            Ok(None) => Landed::No,
            Err(problem) => match problem.psa_error() {
                Some(PsaError::NotFound { .. }) | None => Landed::No,
                Some(_) => Landed::Unknown(problem.to_string()),
            },
        }
    }
}

impl Deliverers {
    /// The write-back's kinds, sent through `psa`'s connections as `store` keeps them.
    pub fn with_psa(self, store: Store, psa: Arc<Psa>) -> Deliverers {
        let deliverer: Arc<dyn Deliverer> = Arc::new(PsaDeliverer::new(store, psa));
        KINDS
            .into_iter()
            .fold(self, |all, kind| all.with(kind, deliverer.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::psa::NoteVisibility;

    #[test]
    fn payloads_name_their_write() {
        let payload = PsaPayload {
            connection_id: Uuid::nil(),
            ticket_id: "4711".into(),
            write: PsaWrite::Note {
                note: Note {
                    text: "# Fixed".into(),
                    visibility: NoteVisibility::Internal,
                    resolution: true,
                    marker: "psa_note:x:resolved".into(),
                },
            },
        };
        let value = serde_json::to_value(&payload).unwrap();
        assert_eq!(value["write"], "note");
        assert_eq!(value["ticket_id"], "4711");
        assert_eq!(value["note"]["visibility"], "internal");
        assert_eq!(
            serde_json::from_value::<PsaPayload>(value).unwrap(),
            payload
        );
    }

    #[test]
    fn uncertain_only_when_the_write_may_have_landed() {
        let call = |source| PsaProblem::Call {
            kind: domain::psa::PsaKind::ConnectWise,
            source,
        };
        assert!(matches!(
            outcome_of(call(PsaError::RateLimited {
                retry_after: Some(7)
            })),
            Outcome::Retry { after: Some(d), uncertain: false, .. } if d == Duration::from_secs(7)
        ));
        assert!(matches!(
            outcome_of(call(PsaError::Timeout { seconds: 20 })),
            Outcome::Retry {
                uncertain: true,
                ..
            }
        ));
        assert!(matches!(
            outcome_of(call(PsaError::Rejected {
                status: 400,
                message: "bad".into()
            })),
            Outcome::Fail { .. }
        ));
    }
}
