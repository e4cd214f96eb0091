//! Resolving and escalating: documentation and the hand-off package. Neither ever fails
//! because of the AI: written text is optional, the deterministic documentation is not.

use domain::session::Session;
use domain::step::Step;
use std::future::Future;

use chrono::Utc;
use domain::documentation::{self, Documentation, SessionFacts, StepFacts, WrittenText};
use domain::escalation::{Escalation as DomainEscalation, EscalationTarget, HandoffAuthor};
use domain::psa::PostOn;
use domain::session::{SessionStatus, Transition};
use domain::step::{StepMarks, StepType};
use domain::{FieldError, Role, User, ValidationErrors};
use engine::{History, MatchedFlow, SessionRecap, Usage};
use store::Closing;
use uuid::Uuid;

use super::input::{Escalation, Resolution};
use super::{history, ledger};
use crate::error::ApiError;
use crate::quota;
use crate::state::AppState;

/// The answer given to a step, in words, with how a fix turned out and why the step was
/// not relevant (`None` while unanswered and unmarked).
pub fn answer_text(step: &Step) -> Option<String> {
    let marks = step.marks.describe();
    let Some(answered) = answered_text(step).filter(|t| !t.is_empty()) else {
        return marks.or_else(|| step.response.as_ref().map(|_| String::new()));
    };
    Some(match marks {
        Some(marks) => format!("{answered} ({marks})"),
        None => answered,
    })
}

fn answered_text(step: &Step) -> Option<String> {
    let r = step.response.as_ref()?;
    if r.answer.skipped {
        return Some("skipped".into());
    }
    let label = r.answer.selected_option.as_ref().map(|v| {
        step.output
            .options
            .iter()
            .find(|o| &o.value == v)
            .map_or(v.clone(), |o| o.label.clone())
    });
    Some(match (label, &r.answer.free_text_input) {
        (Some(l), Some(t)) => format!("{l}: {t}"),
        (Some(l), None) => l,
        (None, Some(t)) => t.clone(),
        (None, None) => String::new(),
    })
}

async fn facts(
    state: &AppState,
    s: &Session,
    steps: &[Step],
    status: SessionStatus,
    escalated_to: Option<&User>,
) -> Result<SessionFacts, ApiError> {
    let owner = state.store.user(s.user_id).await?;
    Ok(SessionFacts {
        session_id: s.id,
        status: status.as_str().into(),
        title: s.title.clone(),
        problem_summary: s.problem_summary.clone().unwrap_or_else(|| s.title.clone()),
        problem_domain: s.problem_domain.clone().unwrap_or_else(|| "unknown".into()),
        matched_flow: s.matched_flow_name.clone(),
        engineer: format!("{} <{}>", owner.full_name, owner.email),
        escalated_to: escalated_to.map(|u| format!("{} <{}>", u.full_name, u.email)),
        started_at: s.created_at,
        steps: steps
            .iter()
            .map(|st| StepFacts {
                step_order: st.step_order,
                step_type: st.output.step_type,
                content: st.output.content.clone(),
                expected_outcome: st.output.expected_outcome.clone(),
                resolution_summary: st.output.resolution_summary.clone(),
                follow_ups: st.output.follow_up_recommendations.clone(),
                answer: answer_text(st),
                observations: st.observations.clone(),
            })
            .collect(),
    })
}

/// The optional AI write-up of a closing session, made only when the quota has room for it
/// (the quota is checked before every AI call). A used-up quota, or a failure to check it,
/// means the deterministic text alone: closing a session never waits on the AI. A pilot
/// without AI writes from what it knows (the offline hand-off from the flow), with no quota.
async fn optional_ai<T>(
    state: &AppState,
    user: &User,
    session_id: Uuid,
    call: impl Future<Output = (Option<T>, Vec<Usage>)>,
) -> (Option<T>, Vec<Usage>) {
    if !state.pilot.uses_ai() {
        return call.await;
    }
    let reservation = match quota::reserve(state, user, Utc::now()).await {
        Ok(reservation) => reservation,
        Err(err) => {
            tracing::info!(%err, "no AI write-up: the quota has no room for it");
            return (None, Vec::new());
        }
    };
    let (written, usage) = call.await;
    ledger::record_reserved(state, user, Some(session_id), &usage, reservation).await;
    (written, usage)
}

/// The fix of the latest resolution suggestion: its summary, else its text.
pub fn suggested_resolution(steps: &[Step]) -> Option<String> {
    steps
        .iter()
        .rev()
        .find(|st| st.output.step_type == StepType::ResolutionSuggestion)
        .map(|st| {
            st.output
                .resolution_summary
                .clone()
                .unwrap_or_else(|| st.output.content.clone())
        })
}

fn conflict(s: &Session) -> ApiError {
    ApiError::Conflict(format!(
        "The session is {}; only active or paused sessions can be closed",
        s.status.as_str()
    ))
}

async fn matched(state: &AppState, s: &Session) -> Option<MatchedFlow> {
    let id = s.matched_flow_id?;
    let flow = state
        .catalog
        .followed_flow(s.account_id, id, s.matched_flow_version, None)
        .await?;
    Some(MatchedFlow {
        flow,
        score: s.match_score.unwrap_or(0.0),
    })
}

pub async fn resolve(
    state: &AppState,
    user: &User,
    s: Session,
    body: Resolution,
) -> Result<Documentation, ApiError> {
    resolve_marked(state, user, s, body, None).await
}

/// [`resolve`], the documentation written as if `marked` (a step and what was said of it:
/// the fix that worked) were already stored, as it is once the close is done.
pub async fn resolve_marked(
    state: &AppState,
    user: &User,
    s: Session,
    body: Resolution,
    marked: Option<(Uuid, &StepMarks)>,
) -> Result<Documentation, ApiError> {
    if s.status.apply(Transition::Resolve).is_none() {
        return Err(conflict(&s));
    }
    let own_note = super::write_back::checked_note(body.psa_note.as_deref())?;
    let mut steps = state.store.steps(s.id).await?;
    if let Some((id, marks)) = marked {
        if let Some(step) = steps.iter_mut().find(|st| st.id == id) {
            step.marks = marks.clone();
        }
    }
    let suggested = suggested_resolution(&steps);
    let summary = match body
        .summary
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        Some(text) => {
            let mut errors = ValidationErrors::new();
            errors.check_len(&["resolution_summary"], text, 1, 5000);
            errors.into_result()?;
            text.to_string()
        }
        None if body.use_suggested => suggested.ok_or_else(|| {
            ApiError::field(
                &["used_suggested_resolution"],
                "This session has no suggested resolution yet; describe the fix",
                "value_error",
            )
        })?,
        None => {
            return Err(ApiError::field(
                &["resolution_summary"],
                "Describe the fix, or set used_suggested_resolution to use the suggested one",
                "missing",
            ))
        }
    };
    let intake = &s.intake;
    let past = history::history(&steps);
    let m = matched(state, &s).await;
    let recap = SessionRecap {
        account_id: s.account_id,
        intake,
        matched: m.as_ref(),
        history: History::whole(&past),
        resolution_summary: Some(&summary),
        escalation_reason: None,
    };
    let (written, usage) =
        optional_ai(state, user, s.id, state.pilot.write_documentation(&recap)).await;
    let written = written
        .map(|w| WrittenText {
            title: Some(w.title),
            root_cause: Some(w.root_cause),
            resolution_summary: Some(w.resolution_summary),
            follow_ups: w.follow_up_recommendations,
            ..Default::default()
        })
        .unwrap_or_default();
    let facts = facts(state, &s, &steps, SessionStatus::Resolved, None).await?;
    let now = Utc::now();
    let doc = documentation::resolved(&facts, &summary, written, now);
    // Queued with the close, in its transaction: a close that loses its race posts nothing.
    let mut outbox =
        super::write_back::entries(state, &s, PostOn::Resolve, &doc, own_note, now).await?;
    // What the session teaches the library is worked out in the background, from the
    // outbox: it neither slows this request nor is lost when the server stops.
    outbox.push(crate::proposals::analysis_entry(&s));
    let (input_tokens, output_tokens) = ledger::tokens(&usage);
    let closing = Closing {
        resolution_summary: Some(summary),
        documentation: Some(doc.clone()),
        input_tokens,
        output_tokens,
        outbox,
        ..Default::default()
    };
    let open = Transition::Resolve.allowed_from();
    if !state
        .store
        .transition_session(s.id, &open, SessionStatus::Resolved, &closing, Utc::now())
        .await?
    {
        return Err(ApiError::Conflict(
            "The session was closed by another request".into(),
        ));
    }
    if let Some(flow_id) = s.matched_flow_id {
        state.catalog.record_resolved(flow_id).await;
    }
    Ok(doc)
}

/// The escalation's target, checked (api.md): a person must be an active engineer or admin
/// of the caller's account and not the caller; a team must be one of the account's; at most
/// one of the two; neither is the account's queue.
async fn check_target(
    state: &AppState,
    user: &User,
    body: &Escalation,
) -> Result<(EscalationTarget, Option<User>), ApiError> {
    let bad = |field: &str, msg: &str| {
        ApiError::Validation(vec![FieldError::body(&[field], msg, "value_error")])
    };
    let Some(target) = EscalationTarget::from_parts(body.to, body.team) else {
        return Err(bad(
            "escalated_to_team_id",
            "Escalate to a person or to a team, not both",
        ));
    };
    match target {
        EscalationTarget::Queue => Ok((target, None)),
        EscalationTarget::Team(team) => {
            if state.store.team_in_account(user.account_id, team).await? {
                Ok((target, None))
            } else {
                Err(bad(
                    "escalated_to_team_id",
                    "Escalate to a team of your account",
                ))
            }
        }
        EscalationTarget::Person(id) => {
            if id == user.id {
                return Err(bad(
                    "escalated_to_id",
                    "You cannot escalate a session to yourself",
                ));
            }
            match state.store.user(id).await {
                Ok(t)
                    if t.account_id == user.account_id
                        && t.is_active
                        && t.role >= Role::Engineer =>
                {
                    Ok((target, Some(t)))
                }
                Ok(_) | Err(store::StoreError::NotFound) => Err(bad(
                    "escalated_to_id",
                    "Escalate to an active engineer or admin of your account",
                )),
                Err(other) => Err(other.into()),
            }
        }
    }
}

pub async fn escalate(
    state: &AppState,
    user: &User,
    s: Session,
    body: Escalation,
) -> Result<Documentation, ApiError> {
    let reason = body.reason.trim().to_string();
    let mut errors = ValidationErrors::new();
    errors.check_len(&["escalation_reason"], &reason, 1, 2000);
    errors.into_result()?;
    let (target, person) = check_target(state, user, &body).await?;
    if s.status.apply(Transition::Escalate).is_none() {
        return Err(conflict(&s));
    }
    let own_note = super::write_back::checked_note(body.psa_note.as_deref())?;
    let steps = state.store.steps(s.id).await?;
    let intake = &s.intake;
    let past = history::history(&steps);
    let m = matched(state, &s).await;
    let recap = SessionRecap {
        account_id: s.account_id,
        intake,
        matched: m.as_ref(),
        history: History::whole(&past),
        resolution_summary: None,
        escalation_reason: Some(&reason),
    };
    // One write-up at most, and never a long wait for it (escalation.md): past the timeout
    // the deterministic package goes out, and the call that did not answer counts nothing.
    let wait = std::time::Duration::from_secs(state.settings.escalation_ai_timeout_secs);
    let timed = async {
        match tokio::time::timeout(wait, state.pilot.write_escalation(&recap)).await {
            Ok(written) => written,
            Err(_) => {
                tracing::warn!(
                    timeout_secs = wait.as_secs(),
                    "the AI hand-off did not arrive in time; using the deterministic package"
                );
                (None, Vec::new())
            }
        }
    };
    let (written, usage) = optional_ai(state, user, s.id, timed).await;
    let author = if written.is_some() && state.pilot.uses_ai() {
        HandoffAuthor::Ai
    } else {
        HandoffAuthor::Deterministic
    };
    let written = written
        .map(|w| WrittenText {
            root_cause: None,
            hypotheses: w.hypotheses,
            next_steps: w.suggested_next_steps,
            title: None,
            resolution_summary: None,
            follow_ups: Vec::new(),
        })
        .unwrap_or_default();
    let facts = facts(state, &s, &steps, SessionStatus::Escalated, person.as_ref()).await?;
    let now = Utc::now();
    let doc = documentation::escalated(&facts, &reason, written, now);
    let (input_tokens, output_tokens) = ledger::tokens(&usage);
    let escalation = DomainEscalation {
        id: Uuid::new_v4(),
        session_id: s.id,
        account_id: s.account_id,
        escalated_by: user.id,
        target,
        reason: reason.clone(),
        escalated_at: now,
        handoff_author: author,
        claimed_by: None,
        claimed_at: None,
        picked_up: None,
        picked_up_at: None,
        picked_up_as_id: None,
        briefing_step_id: None,
        first_answered_at: None,
    };
    let notifications =
        super::escalation::notifications_on_escalate(state, &s, &escalation).await?;
    let mut closing = Closing {
        escalation_reason: Some(reason),
        escalated_to_id: target.person(),
        documentation: Some(doc.clone()),
        input_tokens,
        output_tokens,
        outbox: notifications,
        escalation: Some(escalation),
        ..Default::default()
    };
    // The ticket's note, with whatever else the close queues, in the close's transaction.
    let psa_writes =
        super::write_back::entries(state, &s, PostOn::Escalate, &doc, own_note, Utc::now()).await?;
    closing.outbox.extend(psa_writes);
    let open = Transition::Escalate.allowed_from();
    if !state
        .store
        .transition_session(s.id, &open, SessionStatus::Escalated, &closing, now)
        .await?
    {
        return Err(ApiError::Conflict(
            "The session was closed by another request".into(),
        ));
    }
    state
        .escalation_events
        .send(s.account_id, s.id, "escalated");
    Ok(doc)
}

/// What the web UI shows, editable, before the engineer confirms a close that posts to the
/// linked ticket (psa.md `preview_before_post`): the documentation as it stands, written
/// without the AI and, for a resolve, from the latest suggested fix. `None` when nothing
/// would be posted, or the connection asks for no preview. Sent back unchanged, the final
/// documentation is posted instead (web::session), so the preview never replaces the AI's
/// write-up or the summary the engineer types.
pub async fn psa_preview(
    state: &AppState,
    s: &Session,
    steps: &[Step],
    event: PostOn,
) -> Result<Option<String>, ApiError> {
    let Some((connection, _)) = super::write_back::target(state, s, event).await? else {
        return Ok(None);
    };
    if !connection.settings.preview_before_post {
        return Ok(None);
    }
    let now = Utc::now();
    let doc = match event {
        PostOn::Resolve => {
            let facts = facts(state, s, steps, SessionStatus::Resolved, None).await?;
            let summary = suggested_resolution(steps)
                .unwrap_or_else(|| "(the resolution summary you give)".into());
            documentation::resolved(&facts, &summary, WrittenText::default(), now)
        }
        PostOn::Escalate => {
            let facts = facts(state, s, steps, SessionStatus::Escalated, None).await?;
            documentation::escalated(&facts, "(the reason you give)", WrittenText::default(), now)
        }
    };
    Ok(Some(doc.markdown))
}
