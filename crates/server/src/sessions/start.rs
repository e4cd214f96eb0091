//! Starting a session: the intake checked, matched to a flow, and the first step produced.

use chrono::Utc;
use domain::session::{IntakeType, Session, SessionStatus};
use domain::step::Step;
use domain::ticket_link::TicketLink;
use domain::{FieldError, User, ValidationErrors};
use engine::{History, Intake, MatchedFlow, PilotError, PilotInput, StepTextSink};
use store::EarlierSteps;
use uuid::Uuid;

use super::input::NewSession;
use super::ledger;
use crate::error::ApiError;
use crate::quota;
use crate::state::AppState;

pub struct Started {
    pub session: Session,
    pub first: Step,
    /// The ticket a `psa_ticket` session started from (read or not).
    pub ticket: Option<TicketLink>,
}

fn check_start(body: &NewSession) -> Result<(IntakeType, Intake), ApiError> {
    let mut errors = ValidationErrors::new();
    let kind = IntakeType::parse(&body.intake_type);
    if kind.is_none() {
        errors.push(FieldError::body(
            &["intake_type"],
            "Input should be 'free_text', 'log_paste', 'combined' or 'psa_ticket'",
            "enum",
        ));
    }
    let (needs_text, needs_log) = kind.map_or((false, false), IntakeType::needs);
    let text = body.text.as_deref().filter(|t| !t.trim().is_empty());
    let log = body.log.as_deref().filter(|t| !t.trim().is_empty());
    if needs_text && text.is_none() {
        errors.push(FieldError::body(
            &["intake_content", "text"],
            "Field required",
            "missing",
        ));
    }
    if needs_log && log.is_none() {
        errors.push(FieldError::body(
            &["intake_content", "log"],
            "Field required",
            "missing",
        ));
    }
    if kind == Some(IntakeType::PsaTicket) {
        if body.connection_id.is_none() {
            errors.push(FieldError::body(
                &["intake_content", "connection_id"],
                "Field required",
                "missing",
            ));
        }
        match body.ticket_id.as_deref().map(str::trim) {
            None | Some("") => errors.push(FieldError::body(
                &["intake_content", "ticket_id"],
                "Field required",
                "missing",
            )),
            Some(id) => errors.check_len(&["intake_content", "ticket_id"], id, 1, 64),
        }
    }
    if let Some(t) = text {
        errors.check_len(&["intake_content", "text"], t, 1, 10_000);
    }
    if let Some(l) = log {
        errors.check_len(&["intake_content", "log"], l, 1, 200_000);
    }
    if let Some(title) = &body.title {
        errors.check_len(&["title"], title, 0, 200);
    }
    errors.into_result()?;
    let keeps = kind.is_some_and(IntakeType::keeps_extras);
    let intake = Intake {
        text: text.filter(|_| needs_text || keeps).map(String::from),
        log: log.filter(|_| needs_log || keeps).map(String::from),
    };
    match kind {
        Some(kind) => Ok((kind, intake)),
        None => Err(ApiError::internal(
            "an unknown intake type passed the checks",
        )),
    }
}

/// Holds one AI call against the caller's quota until its outcome is known (429 when used
/// up); the ledger settles it. The offline engine never counts.
async fn ensure_quota(state: &AppState, user: &User) -> Result<quota::Reservation, ApiError> {
    if !state.pilot.uses_ai() {
        return Ok(quota::Reservation::none());
    }
    quota::reserve(state, user, Utc::now()).await
}

pub(super) fn pilot_failure(err: PilotError) -> ApiError {
    match err {
        PilotError::Provider { message, retry_after, .. } => ApiError::BadGateway { message, retry_after },
        PilotError::InvalidReply { .. } => ApiError::BadGateway {
            message: "The AI provider's answer was not a valid step, even after a repair attempt. Nothing was saved; try again.".into(),
            retry_after: None,
        },
    }
}

/// `sink`, when given, is shown the first step's text while the pilot writes it.
pub async fn start(
    state: &AppState,
    user: &User,
    body: NewSession,
    sink: Option<&dyn StepTextSink>,
) -> Result<Started, ApiError> {
    let (intake_type, intake) = check_start(&body)?;
    let (intake, ticket) = super::ticket::read_for_intake(state, user, &body, intake).await?;
    let reservation = ensure_quota(state, user).await?;
    let matched: Option<MatchedFlow> = state
        .catalog
        .search(user.account_id, &intake.match_text(), None, 1)
        .await
        .into_iter()
        .next()
        .map(|(flow, m)| MatchedFlow {
            flow,
            score: m.score,
        });
    let input = PilotInput {
        account_id: user.account_id,
        intake: &intake,
        matched: matched.as_ref(),
        history: History::whole(&[]),
        remaining_after: state.settings.max_steps - 1,
    };
    let session_id = Uuid::new_v4();
    let produced = match sink {
        Some(sink) => state.pilot.first_step_forming(input, sink).await,
        None => state.pilot.first_step(input).await,
    };
    let step = match produced {
        Ok(step) => step,
        Err(err) => {
            ledger::record_reserved(state, user, None, err.usage(), reservation).await;
            return Err(pilot_failure(err));
        }
    };
    let now = Utc::now();
    let matched = step.rematched.clone().or(matched);
    let (input_tokens, output_tokens) = ledger::tokens(&step.usage);
    let output = step.output;
    let title = body
        .title
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .or_else(|| ticket.as_ref().and_then(|t| t.title()))
        .or_else(|| output.problem_summary.clone())
        .unwrap_or_else(|| "Troubleshooting session".into());
    let session = Session {
        id: session_id,
        account_id: user.account_id,
        user_id: user.id,
        title: title.chars().take(200).collect(),
        status: SessionStatus::Active,
        intake_type,
        intake,
        problem_summary: output.problem_summary.clone(),
        problem_domain: output.problem_domain.clone(),
        confidence_score: output.confidence,
        matched_flow_id: matched.as_ref().map(|m| m.flow.id),
        matched_flow_name: matched.as_ref().map(|m| m.flow.definition.title.clone()),
        matched_flow_version: matched.as_ref().map(|m| m.flow.version),
        match_score: matched.as_ref().map(|m| m.score),
        engine: state.pilot.engine(),
        step_count: 1,
        resolution_summary: None,
        escalation_reason: None,
        escalated_to_id: None,
        rating: None,
        feedback: None,
        documentation: None,
        total_input_tokens: input_tokens,
        total_output_tokens: output_tokens,
        created_at: now,
        updated_at: now,
        resolved_at: None,
        escalated_at: None,
    };
    let first = Step {
        id: Uuid::new_v4(),
        session_id,
        step_order: 1,
        output,
        engine_state: step.state,
        response: None,
        earlier: Some(EarlierSteps::default()),
        observations: Vec::new(),
        clarification: None,
        confidence_reasons: step.confidence_reasons,
        marks: Default::default(),
        created_at: now,
    };
    let ticket = ticket.map(|t| t.link(session_id, now));
    match &ticket {
        Some(link) => {
            state
                .store
                .create_session_with_ticket(&session, &first, link)
                .await?
        }
        None => state.store.create_session(&session, &first).await?,
    }
    ledger::record_reserved(state, user, Some(session_id), &step.usage, reservation).await;
    if let Some(m) = &matched {
        state.catalog.record_match(m.flow.id).await;
    }
    Ok(Started {
        session,
        first,
        ticket,
    })
}
