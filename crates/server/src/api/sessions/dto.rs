//! The shapes of the AI sessions API (api.md, "AI sessions").

use chrono::{DateTime, Utc};
use domain::session::Session;
use domain::step::Step;
use domain::step::{Answer, StepOption};
use domain::ticket_link::TicketLink;
use serde::{Deserialize, Serialize};

use utoipa::ToSchema;
use uuid::Uuid;

use crate::sessions::input::{Escalation, LinkTicket, NewSession, Rating, Resolution, Respond};
use crate::sessions::write_back::Push;
use crate::sessions::{is_resolution, Answered};

#[derive(Debug, Deserialize, ToSchema)]
pub struct IntakeContentIn {
    /// Needed by `free_text` and `combined`.
    #[schema(min_length = 1, max_length = 10000)]
    pub text: Option<String>,
    /// Needed by `log_paste` and `combined`.
    #[schema(min_length = 1, max_length = 200000)]
    pub log: Option<String>,
    /// Needed by `psa_ticket`: a PSA connection of the caller's account.
    pub connection_id: Option<Uuid>,
    /// Needed by `psa_ticket`: the PSA's id of the ticket.
    #[schema(min_length = 1, max_length = 64)]
    pub ticket_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StartIn {
    #[schema(value_type = IntakeType)]
    pub intake_type: String,
    pub intake_content: IntakeContentIn,
    #[schema(max_length = 200)]
    pub title: Option<String>,
}

/// What the intake holds (documentation only: the handler checks the string).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum IntakeType {
    FreeText,
    LogPaste,
    Combined,
    PsaTicket,
}

/// At least one of `selected_option`, `free_text_input` and `skipped`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RespondIn {
    pub step_id: Uuid,
    /// The `value` of one of the step's options.
    pub selected_option: Option<String>,
    /// Only where the step allows free text.
    #[schema(min_length = 1, max_length = 5000)]
    pub free_text_input: Option<String>,
    /// Only where the step allows skipping.
    pub skipped: Option<bool>,
}

/// Without a summary, `used_suggested_resolution: true` takes the latest suggested one.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResolveIn {
    #[schema(max_length = 5000)]
    pub resolution_summary: Option<String>,
    pub used_suggested_resolution: Option<bool>,
    /// The note to post to the session's linked ticket (psa.md "Write-back") instead of
    /// the generated documentation; blank or absent posts the documentation.
    #[schema(max_length = 20000)]
    pub psa_note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EscalateIn {
    #[schema(min_length = 1, max_length = 2000)]
    pub escalation_reason: String,
    /// An active engineer or admin of the same account, not the caller.
    pub escalated_to_id: Option<Uuid>,
    /// The note to post to the session's linked ticket instead of the hand-off package;
    /// blank or absent posts the package.
    #[schema(max_length = 20000)]
    pub psa_note: Option<String>,
    /// A team of the same account. At most one of the two targets; neither escalates to the
    /// account's queue.
    pub escalated_to_team_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RateIn {
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i64,
    #[schema(max_length = 2000)]
    pub feedback: Option<String>,
}

impl From<StartIn> for NewSession {
    fn from(body: StartIn) -> Self {
        NewSession {
            intake_type: body.intake_type,
            text: body.intake_content.text,
            log: body.intake_content.log,
            title: body.title,
            connection_id: body.intake_content.connection_id,
            ticket_id: body.intake_content.ticket_id,
        }
    }
}

impl From<RespondIn> for Respond {
    fn from(body: RespondIn) -> Self {
        Respond {
            step_id: body.step_id,
            answer: Answer {
                selected_option: body.selected_option,
                free_text_input: body.free_text_input,
                skipped: body.skipped.unwrap_or(false),
            },
        }
    }
}

impl From<ResolveIn> for Resolution {
    fn from(body: ResolveIn) -> Self {
        Resolution {
            summary: body.resolution_summary,
            use_suggested: body.used_suggested_resolution == Some(true),
            psa_note: body.psa_note,
        }
    }
}

impl From<EscalateIn> for Escalation {
    fn from(body: EscalateIn) -> Self {
        Escalation {
            reason: body.escalation_reason,
            psa_note: body.psa_note,
            to: body.escalated_to_id,
            team: body.escalated_to_team_id,
        }
    }
}

impl From<RateIn> for Rating {
    fn from(body: RateIn) -> Self {
        Rating {
            rating: body.rating,
            feedback: body.feedback,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OptionOut {
    pub label: String,
    pub value: String,
    pub followup_hint: Option<String>,
}

impl From<&StepOption> for OptionOut {
    fn from(o: &StepOption) -> Self {
        OptionOut {
            label: o.label.clone(),
            value: o.value.clone(),
            followup_hint: o.followup_hint.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResponseOut {
    pub selected_option: Option<String>,
    pub free_text_input: Option<String>,
    pub skipped: bool,
    pub responded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StepOut {
    pub step_id: Uuid,
    pub step_order: i64,
    /// `question`, `action` or `resolution_suggestion`.
    pub step_type: String,
    /// The validated engine output for this step.
    #[schema(value_type = Object)]
    pub content: serde_json::Value,
    pub context_message: Option<String>,
    pub options: Vec<OptionOut>,
    pub allow_free_text: bool,
    pub allow_skip: bool,
    pub action_type: Option<String>,
    pub expected_outcome: Option<String>,
    pub resolution_summary: Option<String>,
    pub follow_up_recommendations: Vec<String>,
    pub confidence_tier: String,
    pub confidence_score: f64,
    /// Why this confidence, in plain sentences.
    pub confidence_reasons: Vec<String>,
    /// Free text the engineer gave that did not answer the step.
    pub observations: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub response: Option<ResponseOut>,
    /// How the suggested fix turned out (escalation.md "Fix outcomes"): `worked`, `failed`,
    /// `partial` or `awaiting_verification`; null until said.
    pub outcome: Option<String>,
    pub outcome_note: Option<String>,
    /// Why the engineer marked the step not relevant; null unless marked.
    pub not_relevant_reason: Option<String>,
}

impl From<&Step> for StepOut {
    fn from(s: &Step) -> Self {
        let o = &s.output;
        StepOut {
            step_id: s.id,
            step_order: s.step_order,
            step_type: o.step_type.as_str().into(),
            content: serde_json::to_value(o).unwrap_or(serde_json::Value::Null),
            context_message: o.context_message.clone(),
            options: o.options.iter().map(OptionOut::from).collect(),
            allow_free_text: o.allow_free_text,
            allow_skip: o.allow_skip,
            action_type: o
                .action_type
                .and_then(|a| serde_json::to_value(a).ok())
                .and_then(|v| v.as_str().map(String::from)),
            expected_outcome: o.expected_outcome.clone(),
            resolution_summary: o.resolution_summary.clone(),
            follow_up_recommendations: o.follow_up_recommendations.clone(),
            confidence_tier: s.confidence_tier().as_str().into(),
            confidence_score: o.confidence,
            confidence_reasons: s.confidence_reasons.clone(),
            observations: s.observations.clone(),
            created_at: s.created_at,
            response: s.response.as_ref().map(|r| ResponseOut {
                selected_option: r.answer.selected_option.clone(),
                free_text_input: r.answer.free_text_input.clone(),
                skipped: r.answer.skipped,
                responded_at: r.responded_at,
            }),
            outcome: s.marks.outcome.map(|o| o.as_str().to_string()),
            outcome_note: s.marks.outcome_note.clone(),
            not_relevant_reason: s.marks.not_relevant.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StartOut {
    pub session_id: Uuid,
    pub status: String,
    pub confidence_tier: String,
    pub confidence_score: f64,
    pub problem_summary: Option<String>,
    pub problem_domain: Option<String>,
    pub matched_flow_id: Option<Uuid>,
    pub matched_flow_name: Option<String>,
    /// The version of the matched flow the session follows.
    pub matched_flow_version: Option<i64>,
    pub match_score: Option<f64>,
    pub engine: String,
    pub first_step: StepOut,
    /// The ticket of a `psa_ticket` session; null otherwise.
    pub psa: Option<SessionTicketOut>,
}

/// A session's PSA ticket (psa.md "Intake from a ticket").
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionTicketOut {
    pub connection_id: Uuid,
    pub ticket_id: String,
    /// Null while the ticket could not be read.
    pub ticket_number: Option<String>,
    pub summary: Option<String>,
    pub company: Option<String>,
    /// The ticket in the PSA's web UI.
    pub url: Option<String>,
    pub linked_at: DateTime<Utc>,
    /// Set when the ticket could not be read: the session went on from the text given.
    pub notice: Option<String>,
    /// The write-back to the ticket on resolve or escalate (psa.md "Write-back"); null
    /// until the session queued one.
    pub push: Option<PsaPushOut>,
}

impl From<&TicketLink> for SessionTicketOut {
    fn from(link: &TicketLink) -> Self {
        SessionTicketOut {
            connection_id: link.connection_id,
            ticket_id: link.ticket_id.clone(),
            ticket_number: link.ticket_number.clone(),
            summary: link.summary.clone(),
            company: link.company.clone(),
            url: link.url.clone(),
            linked_at: link.linked_at,
            notice: link.read_error.clone(),
            push: None,
        }
    }
}

impl SessionTicketOut {
    pub fn with_push(mut self, push: Option<&Push>) -> Self {
        self.push = push.map(PsaPushOut::from);
        self
    }
}

/// The push status of the write-back: `pending` (queued or being retried), `posted` (in the
/// PSA, `remote_id` the note's id) or `failed` (`last_error` says why; retry with
/// `POST /ai-sessions/{id}/psa-push/retry`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PsaPushOut {
    #[schema(example = "posted")]
    pub status: String,
    /// Attempts to post the note so far (a retry counts from zero again).
    pub attempts: i64,
    pub last_error: Option<String>,
    /// The note's id in the PSA, once posted.
    pub remote_id: Option<String>,
}

impl From<&Push> for PsaPushOut {
    fn from(push: &Push) -> Self {
        PsaPushOut {
            status: push.status.as_str().into(),
            attempts: push.attempts,
            last_error: push.last_error.clone(),
            remote_id: push.remote_id.clone(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LinkTicketIn {
    /// A PSA connection of the caller's account.
    pub connection_id: Uuid,
    /// The PSA's id of the ticket.
    #[schema(min_length = 1, max_length = 64)]
    pub ticket_id: String,
}

impl From<LinkTicketIn> for LinkTicket {
    fn from(body: LinkTicketIn) -> Self {
        LinkTicket {
            connection_id: body.connection_id,
            ticket_id: body.ticket_id,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkedOut {
    pub session_id: Uuid,
    pub psa: SessionTicketOut,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RespondOut {
    pub session_id: Uuid,
    pub session_status: String,
    pub confidence_tier: String,
    pub confidence_score: f64,
    /// The next step; when the engine could not tell what a free-text answer means, the
    /// same step again (same `step_id`, still unanswered, the text in its `observations`).
    pub next_step: Option<StepOut>,
    pub is_resolution_suggested: bool,
    /// What the engine needs to know, when it could not tell what the answer means.
    pub clarification: Option<String>,
}

/// An answer, an outcome and a not-relevant mark all come back as the session and its next step.
impl From<Answered> for RespondOut {
    fn from(answered: Answered) -> RespondOut {
        let s = &answered.session;
        RespondOut {
            session_id: s.id,
            session_status: s.status.as_str().into(),
            confidence_tier: s.confidence_tier().as_str().into(),
            confidence_score: s.confidence_score,
            is_resolution_suggested: is_resolution(answered.next.as_ref()),
            next_step: answered.next.as_ref().map(StepOut::from),
            clarification: answered.clarification,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionSummary {
    pub id: Uuid,
    pub title: String,
    pub status: String,
    pub intake_type: String,
    pub problem_summary: Option<String>,
    pub problem_domain: Option<String>,
    pub confidence_tier: String,
    pub confidence_score: f64,
    pub matched_flow_id: Option<Uuid>,
    pub matched_flow_name: Option<String>,
    /// The version of the flow this session follows (`GET /flows/{id}/versions/{n}`), kept
    /// when the flow changes later.
    pub matched_flow_version: Option<i64>,
    pub step_count: i64,
    pub rating: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub escalated_at: Option<DateTime<Utc>>,
}

impl From<&Session> for SessionSummary {
    fn from(s: &Session) -> Self {
        SessionSummary {
            id: s.id,
            title: s.title.clone(),
            status: s.status.as_str().into(),
            intake_type: s.intake_type.as_str().into(),
            problem_summary: s.problem_summary.clone(),
            problem_domain: s.problem_domain.clone(),
            confidence_tier: s.confidence_tier().as_str().into(),
            confidence_score: s.confidence_score,
            matched_flow_id: s.matched_flow_id,
            matched_flow_name: s.matched_flow_name.clone(),
            matched_flow_version: s.matched_flow_version,
            step_count: s.step_count,
            rating: s.rating,
            created_at: s.created_at,
            updated_at: s.updated_at,
            resolved_at: s.resolved_at,
            escalated_at: s.escalated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionDetail {
    #[serde(flatten)]
    pub summary: SessionSummary,
    pub user_id: Uuid,
    #[schema(value_type = Object)]
    pub intake_content: serde_json::Value,
    pub match_score: Option<f64>,
    pub resolution_summary: Option<String>,
    pub escalation_reason: Option<String>,
    pub escalated_to_id: Option<Uuid>,
    pub feedback: Option<String>,
    pub engine: String,
    pub total_input_tokens: i64,
    pub total_output_tokens: i64,
    pub steps: Vec<StepOut>,
    /// The session's PSA ticket, if it has one.
    pub psa: Option<SessionTicketOut>,
    /// Its escalation (claim, pick-up and metrics) and the sessions it is linked to.
    #[serde(flatten)]
    pub escalation: crate::api::escalations::SessionEscalationOut,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClosedOut {
    pub session_id: Uuid,
    pub status: String,
    /// The documentation (resolve) or the hand-off package (escalate).
    #[schema(value_type = Object)]
    pub documentation: serde_json::Value,
}
