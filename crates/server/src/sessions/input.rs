//! What an engineer asks of a session, as the use cases take it: the JSON API converts its
//! request bodies into these, and the web pages build them from their forms, so neither front
//! end's shapes reach the session loop. Fields are as typed; the use cases check them.

use domain::step::Answer;
use uuid::Uuid;

/// A new session: what the intake holds.
#[derive(Debug, Clone, Default)]
pub struct NewSession {
    /// `free_text`, `log_paste`, `combined` or `psa_ticket` (checked by [`super::start`]).
    pub intake_type: String,
    pub text: Option<String>,
    pub log: Option<String>,
    pub title: Option<String>,
    /// `psa_ticket`: the connection of the account and the PSA's id of the ticket.
    pub connection_id: Option<Uuid>,
    pub ticket_id: Option<String>,
}

/// A ticket to link to a running session.
#[derive(Debug, Clone)]
pub struct LinkTicket {
    pub connection_id: Uuid,
    pub ticket_id: String,
}

/// An answer to the latest step: at least one of an option (its `value`), free text and a
/// skip.
#[derive(Debug, Clone)]
pub struct Respond {
    pub step_id: Uuid,
    pub answer: Answer,
}

/// Closing a session as resolved.
#[derive(Debug, Clone, Default)]
pub struct Resolution {
    pub summary: Option<String>,
    /// Without a summary, take the latest suggested resolution.
    pub use_suggested: bool,
    /// The note to post to the linked ticket instead of the documentation.
    pub psa_note: Option<String>,
}

/// Handing a session over to a colleague (or to nobody in particular).
#[derive(Debug, Clone)]
pub struct Escalation {
    pub reason: String,
    /// The note to post to the linked ticket instead of the hand-off package.
    pub psa_note: Option<String>,
    /// A person; or `team`; neither for the account's queue (both: a 422).
    pub to: Option<Uuid>,
    pub team: Option<Uuid>,
}

/// The engineer's rating of a closed session.
#[derive(Debug, Clone)]
pub struct Rating {
    pub rating: i64,
    pub feedback: Option<String>,
}

/// How a suggested fix turned out (escalation.md "Fix outcomes").
#[derive(Debug, Clone)]
pub struct FixReport {
    pub step_id: Uuid,
    /// `worked`, `failed`, `partial` or `awaiting_verification` (checked by the use case).
    pub outcome: String,
    pub note: Option<String>,
    /// `awaiting_verification`: when to remind the engineer; a day from now when absent.
    pub check_back_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A step the engineer found not relevant, and why.
#[derive(Debug, Clone)]
pub struct NotRelevant {
    pub step_id: Uuid,
    pub reason: String,
}
