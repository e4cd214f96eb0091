//! A troubleshooting session: the entity, what it started from, and its state machine as
//! data (which transition may start from which status).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::confidence::ConfidenceTier;
use crate::documentation::Documentation;
use crate::text::clip;

/// What the engineer gave to start the session (api.md `intake_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntakeType {
    FreeText,
    LogPaste,
    Combined,
    /// A ticket read from a PSA (psa.md "Intake from a ticket"), plus what the engineer adds.
    PsaTicket,
}

impl IntakeType {
    pub const ALL: [IntakeType; 4] = [
        IntakeType::FreeText,
        IntakeType::LogPaste,
        IntakeType::Combined,
        IntakeType::PsaTicket,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IntakeType::FreeText => "free_text",
            IntakeType::LogPaste => "log_paste",
            IntakeType::Combined => "combined",
            IntakeType::PsaTicket => "psa_ticket",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Which parts this kind of intake must have: (text, log). A ticket's intake needs
    /// neither: the ticket is the description, and the engineer may add to it.
    pub fn needs(self) -> (bool, bool) {
        match self {
            IntakeType::FreeText => (true, false),
            IntakeType::LogPaste => (false, true),
            IntakeType::Combined => (true, true),
            IntakeType::PsaTicket => (false, false),
        }
    }

    /// Whether this kind keeps the parts it does not need when they are given.
    pub fn keeps_extras(self) -> bool {
        self == IntakeType::PsaTicket
    }
}

/// The problem as the engineer described it: a description, a pasted log, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intake {
    pub text: Option<String>,
    pub log: Option<String>,
}

/// The most of a ticket's text an intake keeps: the prompt shows at most a few thousand
/// characters of a description anyway, and a ticket with years of notes must not make every
/// stored session and every prompt grow with it.
pub const TICKET_TEXT_MAX: usize = 8_000;

impl Intake {
    /// The intake of a session started from a PSA ticket: the ticket as the PSA tells it
    /// (`psa::Ticket::intake_text`), then what the engineer added. The ticket sits in the
    /// description, where every pilot reads it and the LLM path redacts it like any text.
    pub fn from_ticket(
        ticket_text: &str,
        engineer_text: Option<&str>,
        log: Option<String>,
    ) -> Intake {
        let mut text = clip(ticket_text.trim(), TICKET_TEXT_MAX);
        if let Some(added) = engineer_text.map(str::trim).filter(|t| !t.is_empty()) {
            if text.is_empty() {
                text = added.to_string();
            } else {
                text.push_str("\n\nThe engineer adds:\n");
                text.push_str(added);
            }
        }
        Intake {
            text: Some(text).filter(|t| !t.is_empty()),
            log,
        }
    }

    /// This intake with a ticket linked during the session: the ticket joins the
    /// description, so the next step's prompt carries it.
    pub fn with_ticket(&self, ticket_text: &str) -> Intake {
        let ticket = clip(ticket_text.trim(), TICKET_TEXT_MAX);
        let text = match self
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            Some(described) => format!("{described}\n\nLinked ticket:\n{ticket}"),
            None => ticket,
        };
        Intake {
            text: Some(text),
            log: self.log.clone(),
        }
    }

    /// The text to match flows against: the description, then the log's first lines.
    pub fn match_text(&self) -> String {
        let mut out = self.text.clone().unwrap_or_default();
        if let Some(log) = &self.log {
            let head: String = log.lines().take(20).collect::<Vec<_>>().join("\n");
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&head);
        }
        out
    }
}

/// One troubleshooting session.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: Uuid,
    pub account_id: Uuid,
    pub user_id: Uuid,
    pub title: String,
    pub status: SessionStatus,
    pub intake_type: IntakeType,
    pub intake: Intake,
    pub problem_summary: Option<String>,
    pub problem_domain: Option<String>,
    /// The latest step's confidence; the tier is derived from it ([`Session::confidence_tier`]).
    pub confidence_score: f64,
    pub matched_flow_id: Option<Uuid>,
    pub matched_flow_name: Option<String>,
    /// The version of the flow the session follows (set when it matched): the flow may
    /// change meanwhile, the session keeps guiding by this version.
    pub matched_flow_version: Option<i64>,
    pub match_score: Option<f64>,
    /// What guides it: `offline`, or `provider:model`.
    pub engine: String,
    pub step_count: i64,
    pub resolution_summary: Option<String>,
    pub escalation_reason: Option<String>,
    pub escalated_to_id: Option<Uuid>,
    pub rating: Option<i64>,
    pub feedback: Option<String>,
    /// The documentation, or the hand-off package, once the session is closed.
    pub documentation: Option<Documentation>,
    pub total_input_tokens: i64,
    pub total_output_tokens: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub escalated_at: Option<DateTime<Utc>>,
}

impl Session {
    pub fn confidence_tier(&self) -> ConfidenceTier {
        ConfidenceTier::from_score(self.confidence_score)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Active,
    Paused,
    /// A suggested fix was applied and is waiting to be confirmed (escalation.md).
    AwaitingVerification,
    Resolved,
    Escalated,
    Abandoned,
}

/// Something an engineer does to a session that changes its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Respond,
    Resolve,
    Escalate,
    Pause,
    Resume,
    Abandon,
    Rate,
    /// The claimer of an escalated session continues it (escalation.md "Pick up").
    PickUp,
    /// A suggested fix is applied and waits to be confirmed (escalation.md "Fix outcomes").
    AwaitVerification,
}

impl Transition {
    /// The statuses this transition may start from (what a conditional update checks).
    pub fn allowed_from(self) -> Vec<SessionStatus> {
        SessionStatus::ALL
            .into_iter()
            .filter(|s| s.apply(self).is_some())
            .collect()
    }
}

impl SessionStatus {
    pub const ALL: [SessionStatus; 6] = [
        SessionStatus::Active,
        SessionStatus::Paused,
        SessionStatus::AwaitingVerification,
        SessionStatus::Resolved,
        SessionStatus::Escalated,
        SessionStatus::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Active => "active",
            SessionStatus::Paused => "paused",
            SessionStatus::AwaitingVerification => "awaiting_verification",
            SessionStatus::Resolved => "resolved",
            SessionStatus::Escalated => "escalated",
            SessionStatus::Abandoned => "abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The status after `t`, or `None` when this status forbids it (a 409).
    /// Rating leaves the status as it is.
    pub fn apply(self, t: Transition) -> Option<SessionStatus> {
        use SessionStatus::*;
        match (t, self) {
            (Transition::Respond, Active) => Some(Active),
            // A fix awaiting verification may be confirmed, handed on, or given up on.
            (Transition::Resolve, Active | Paused | AwaitingVerification) => Some(Resolved),
            (Transition::Escalate, Active | Paused | AwaitingVerification) => Some(Escalated),
            (Transition::Pause, Active) => Some(Paused),
            // Continuing a session whose fix did not hold puts it back to work.
            (Transition::Resume, Paused | AwaitingVerification) => Some(Active),
            (Transition::Abandon, Active | Paused | AwaitingVerification) => Some(Abandoned),
            // Recording "waiting to verify" again only moves the check-back.
            (Transition::AwaitVerification, Active | AwaitingVerification) => {
                Some(AwaitingVerification)
            }
            (Transition::Rate, Resolved | Escalated | Abandoned) => Some(self),
            (Transition::PickUp, Escalated) => Some(Active),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SessionStatus::*;

    #[test]
    fn only_open_sessions_close() {
        assert_eq!(Active.apply(Transition::Resolve), Some(Resolved));
        assert_eq!(Paused.apply(Transition::Escalate), Some(Escalated));
        assert_eq!(Resolved.apply(Transition::Resolve), None);
        assert_eq!(Abandoned.apply(Transition::Resume), None);
    }

    #[test]
    fn responding_needs_an_active_session() {
        assert_eq!(Paused.apply(Transition::Respond), None);
        assert_eq!(Active.apply(Transition::Respond), Some(Active));
    }

    #[test]
    fn transitions_know_where_they_may_start() {
        assert_eq!(
            Transition::Resolve.allowed_from(),
            [Active, Paused, AwaitingVerification]
        );
        assert_eq!(
            Transition::Resume.allowed_from(),
            [Paused, AwaitingVerification]
        );
        assert_eq!(Transition::PickUp.allowed_from(), [Escalated]);
        assert_eq!(
            Transition::Rate.allowed_from(),
            [Resolved, Escalated, Abandoned]
        );
    }

    #[test]
    fn a_ticket_intake_is_the_ticket_then_what_the_engineer_adds() {
        assert_eq!(IntakeType::parse("psa_ticket"), Some(IntakeType::PsaTicket));
        assert_eq!(IntakeType::PsaTicket.needs(), (false, false));
        let intake = Intake::from_ticket("Ticket 7: VPN drops\n", Some(" since Monday "), None);
        assert_eq!(
            intake.text.as_deref(),
            Some("Ticket 7: VPN drops\n\nThe engineer adds:\nsince Monday")
        );
        assert_eq!(
            Intake::from_ticket("", Some("only this"), None)
                .text
                .as_deref(),
            Some("only this")
        );
        assert_eq!(Intake::from_ticket(" ", None, None).text, None);
        let long = "x".repeat(TICKET_TEXT_MAX + 50);
        let clipped = Intake::from_ticket(&long, None, None).text.unwrap();
        assert_eq!(clipped.chars().count(), TICKET_TEXT_MAX + 1);

        let typed = Intake {
            text: Some("Outlook asks for the password".into()),
            log: Some("0x800".into()),
        };
        let linked = typed.with_ticket("Ticket 9: Outlook prompts");
        assert_eq!(
            linked.text.as_deref(),
            Some("Outlook asks for the password\n\nLinked ticket:\nTicket 9: Outlook prompts")
        );
        assert_eq!(linked.log, typed.log);
    }

    #[test]
    fn a_fix_awaiting_verification_is_confirmed_handed_on_or_continued() {
        assert_eq!(
            Active.apply(Transition::AwaitVerification),
            Some(AwaitingVerification)
        );
        assert_eq!(
            AwaitingVerification.apply(Transition::Resolve),
            Some(Resolved)
        );
        assert_eq!(
            AwaitingVerification.apply(Transition::Escalate),
            Some(Escalated)
        );
        assert_eq!(AwaitingVerification.apply(Transition::Resume), Some(Active));
        assert_eq!(AwaitingVerification.apply(Transition::Respond), None);
        assert_eq!(Paused.apply(Transition::AwaitVerification), None);
        assert_eq!(AwaitingVerification.apply(Transition::Rate), None);
    }

    #[test]
    fn rating_waits_for_the_end() {
        assert_eq!(Active.apply(Transition::Rate), None);
        assert_eq!(Paused.apply(Transition::Rate), None);
        assert_eq!(Resolved.apply(Transition::Rate), Some(Resolved));
    }
}
