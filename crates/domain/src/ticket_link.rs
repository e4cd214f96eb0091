//! A session's PSA ticket (psa.md "Intake from a ticket"): which connection and ticket it
//! started from or was linked to, what the sidebar card shows of it, and, when the PSA could
//! not be read, why. The write-back posts to this ticket.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::psa::{PsaError, PsaKind, Ticket};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketLink {
    pub session_id: Uuid,
    pub connection_id: Uuid,
    /// The PSA's id of the ticket.
    pub ticket_id: String,
    /// What engineers call it; `None` while it could not be read.
    pub ticket_number: Option<String>,
    pub summary: Option<String>,
    pub company: Option<String>,
    /// The ticket in the PSA's web UI.
    pub url: Option<String>,
    /// Why the ticket could not be read when the session started: the session went on
    /// from the engineer's text.
    pub read_error: Option<String>,
    pub linked_at: DateTime<Utc>,
}

impl TicketLink {
    /// A link to a ticket that was read.
    pub fn read(
        session_id: Uuid,
        connection_id: Uuid,
        ticket: &Ticket,
        now: DateTime<Utc>,
    ) -> Self {
        TicketLink {
            session_id,
            connection_id,
            ticket_id: ticket.id.clone(),
            ticket_number: Some(ticket.number.clone()),
            summary: Some(ticket.summary.clone()),
            company: ticket.company.clone(),
            url: ticket.url.clone(),
            read_error: None,
            linked_at: now,
        }
    }

    /// A link to a ticket the PSA did not give: the session keeps which ticket was meant.
    pub fn unread(
        session_id: Uuid,
        connection_id: Uuid,
        ticket_id: &str,
        reason: String,
        now: DateTime<Utc>,
    ) -> Self {
        TicketLink {
            session_id,
            connection_id,
            ticket_id: ticket_id.to_string(),
            ticket_number: None,
            summary: None,
            company: None,
            url: None,
            read_error: Some(reason),
            linked_at: now,
        }
    }

    pub fn was_read(&self) -> bool {
        self.read_error.is_none()
    }

    /// The number to show: the PSA's, or the id that was asked for.
    pub fn label(&self) -> &str {
        self.ticket_number.as_deref().unwrap_or(&self.ticket_id)
    }
}

/// What the engineer is told when a ticket could not be read: the session goes on without it.
pub fn unread_notice(kind: PsaKind, ticket_id: &str, err: &PsaError) -> String {
    format!(
        "The ticket {ticket_id} could not be read from {}: {err}. The session started from the text you gave; link the ticket again once the PSA answers.",
        kind.display_name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unread_link_keeps_the_ticket_asked_for_and_says_why() {
        let link = TicketLink::unread(
            Uuid::nil(),
            Uuid::nil(),
            "4711",
            "timed out".into(),
            Utc::now(),
        );
        assert!(!link.was_read());
        assert_eq!(link.label(), "4711");
        let notice = unread_notice(PsaKind::Halo, "4711", &PsaError::Timeout { seconds: 20 });
        assert!(
            notice.contains("HaloPSA") && notice.contains("20 seconds"),
            "{notice}"
        );
    }
}
