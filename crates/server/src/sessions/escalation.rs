//! After an escalation (escalation.md): the queue, the claim (one wins), the pick-up
//! (`continue` with a briefing step, or `fresh` from the hand-off package) and the briefing.
//! Escalating itself is in `close` with resolving: both close a session and write its package.

use std::collections::HashMap;

use chrono::Utc;
use domain::briefing::{self, Briefing};
use domain::escalation::{
    ClaimRefusal, Escalation, EscalationTarget, PickupMode, QueueScope, QueueStatus,
};
use domain::notification::NotifyEvent;
use domain::session::{Session, SessionStatus, Transition};
use domain::step::{ActionType, Step, StepOption, StepOutput, StepType};
use domain::{FieldError, User};
use serde_json::json;
use store::{NewOutboxEntry, QueueEntry, QueueQuery};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::access;
use super::input::NewSession;
use crate::error::{ApiError, ApiResult};
use crate::rate_limit::Action;
use crate::state::AppState;

/// The most lines the queue answers with: a queue longer than this is read by scope.
pub const QUEUE_LIMIT: i64 = 200;

/// How long a fresh pick-up that has not linked its new session yet is taken to be still
/// under way: within it a second pick-up (a double click) is refused; after it the pick-up
/// is taken to have died (a crash between its two halves) and the claimer may pick up again.
/// Longer than making a first step can take.
pub const FRESH_PICKUP_GRACE_SECONDS: i64 = 120;

/// What happened to an escalation, for the pages that show the queue live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationEvent {
    pub account_id: Uuid,
    pub session_id: Uuid,
    /// `escalated`, `claimed` or `picked_up`.
    pub kind: &'static str,
}

/// Tells this process's open queue pages that an account's queue changed. Per process: with
/// several servers on one database a page also reloads on its own (docs/decisions.md).
#[derive(Clone)]
pub struct EscalationEvents(broadcast::Sender<EscalationEvent>);

impl Default for EscalationEvents {
    fn default() -> Self {
        // A page that falls this far behind reloads the queue anyway (`Lagged`).
        EscalationEvents(broadcast::channel(64).0)
    }
}

impl EscalationEvents {
    pub fn subscribe(&self) -> broadcast::Receiver<EscalationEvent> {
        self.0.subscribe()
    }

    pub(super) fn send(&self, account_id: Uuid, session_id: Uuid, kind: &'static str) {
        // No page listening is not an error.
        let _ = self.0.send(EscalationEvent {
            account_id,
            session_id,
            kind,
        });
    }
}

/// What to send out when a session is escalated (escalation.md "Notifications"): queued in
/// the escalation's own transaction through the outbox (`notifications::entries`).
pub(super) async fn notifications_on_escalate(
    state: &AppState,
    s: &Session,
    e: &Escalation,
) -> ApiResult<Vec<NewOutboxEntry>> {
    crate::notifications::entries::for_escalation(
        state,
        s,
        e,
        NotifyEvent::Escalated,
        Some(e.escalated_by),
        None,
        e.escalated_at,
    )
    .await
}

/// The same, when an escalation is claimed: queued with the claim, only when it wins.
async fn notifications_on_claim(
    state: &AppState,
    s: &Session,
    e: &Escalation,
    claimer: &User,
    at: chrono::DateTime<Utc>,
) -> ApiResult<Vec<NewOutboxEntry>> {
    crate::notifications::entries::for_escalation(
        state,
        s,
        e,
        NotifyEvent::Claimed,
        Some(claimer.id),
        Some(claimer),
        at,
    )
    .await
}

/// The names a queue line or a briefing shows, read once per request.
pub struct Names {
    users: HashMap<Uuid, User>,
    teams: HashMap<Uuid, String>,
}

impl Names {
    pub async fn of_account(state: &AppState, account_id: Uuid) -> ApiResult<Names> {
        let users = state.store.users_of_account(account_id).await?;
        let teams = state.store.teams_of_account(account_id).await?;
        Ok(Names {
            users: users.into_iter().map(|u| (u.id, u)).collect(),
            teams: teams.into_iter().map(|t| (t.id, t.name)).collect(),
        })
    }

    pub fn user(&self, id: Uuid) -> String {
        self.users
            .get(&id)
            .map_or_else(|| "a former user".into(), |u| u.full_name.clone())
    }

    /// "Ada Lovelace <ada@example.com>", as a 409 names who holds a claim.
    pub fn user_with_email(&self, id: Uuid) -> String {
        self.users.get(&id).map_or_else(
            || "a former user".into(),
            |u| format!("{} <{}>", u.full_name, u.email),
        )
    }

    pub fn target(&self, t: EscalationTarget) -> String {
        match t {
            EscalationTarget::Person(p) => self.user(p),
            EscalationTarget::Team(team) => match self.teams.get(&team) {
                Some(name) => format!("team {name}"),
                None => "a former team".into(),
            },
            EscalationTarget::Queue => "the account's queue".into(),
        }
    }
}

/// The queue as `user` may see it (escalation.md "Queue"); `scope` and `status` as given,
/// `None` for their defaults (`mine`, `open`); an unknown value is a 422.
pub async fn queue(
    state: &AppState,
    user: &User,
    scope: Option<&str>,
    status: Option<&str>,
) -> ApiResult<(Vec<QueueEntry>, Names)> {
    let mut errors = Vec::new();
    let scope = match scope {
        None => Some(QueueScope::Mine),
        Some(s) => QueueScope::parse(s),
    };
    if scope.is_none() {
        errors.push(FieldError::query(
            "scope",
            "Input should be 'mine', 'team' or 'account'",
            "enum",
        ));
    }
    let status = match status {
        None => Some(QueueStatus::Open),
        Some(s) => QueueStatus::parse(s),
    };
    if status.is_none() {
        errors.push(FieldError::query(
            "status",
            "Input should be 'open', 'claimed' or 'all'",
            "enum",
        ));
    }
    let (Some(scope), Some(status)) = (scope, status) else {
        return Err(ApiError::Validation(errors));
    };
    super::limit(state, Action::SessionRead, user.id, "escalations").await?;
    let entries = state
        .store
        .escalation_queue(&QueueQuery {
            account_id: user.account_id,
            viewer: user.id,
            viewer_team: user.team_id,
            viewer_is_admin: user.is_admin(),
            scope,
            status,
            limit: QUEUE_LIMIT,
        })
        .await?;
    // The store's filter is the fast part; the domain's rule is the one that decides.
    let entries = entries
        .into_iter()
        .filter(|e| user.is_admin() || e.escalation.lets_see(user))
        .collect();
    let names = Names::of_account(state, user.account_id).await?;
    Ok((entries, names))
}

/// The session and its newest escalation, when `user` may see it; 404 otherwise, and also
/// when it was never escalated.
async fn escalated_session(
    state: &AppState,
    user: &User,
    id: Uuid,
) -> ApiResult<(Session, Escalation)> {
    let s = access::visible(state, user, id).await?;
    let latest = state
        .store
        .escalations_of_session(s.id)
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    Ok((s, latest))
}

/// The newest escalation of a session, if it has one, and the escalation a fresh session was
/// picked up from: what the session's detail shows.
pub async fn links(
    state: &AppState,
    s: &Session,
) -> ApiResult<(Option<Escalation>, Option<Escalation>)> {
    let latest = match s.escalated_at {
        Some(_) => state.store.escalations_of_session(s.id).await?.pop(),
        None => None,
    };
    let from = state.store.escalation_picked_up_as(s.id).await?;
    Ok((latest, from))
}

/// Claims the session's escalation for `user`: exactly one claim wins; any other gets 409
/// naming who holds it.
#[tracing::instrument(skip_all, fields(user_id = %user.id, session_id = %id))]
pub async fn claim(state: &AppState, user: &User, id: Uuid) -> ApiResult<(Escalation, Names)> {
    let (s, e) = escalated_session(state, user, id).await?;
    match e.may_claim(user) {
        Ok(()) => {}
        Err(ClaimRefusal::NotVisible) => return Err(ApiError::NotFound),
        Err(ClaimRefusal::Role) => {
            return Err(ApiError::Forbidden(
                "Viewers cannot claim escalations".into(),
            ))
        }
        Err(ClaimRefusal::NotAddressed) => {
            return Err(ApiError::Forbidden(
                "This session was escalated to someone else; only they or an admin can claim it"
                    .into(),
            ))
        }
        Err(ClaimRefusal::OwnEscalation) => {
            return Err(ApiError::Forbidden(
                "You escalated this session; a colleague claims it".into(),
            ))
        }
    }
    super::limit(state, Action::SessionWrite, user.id, "claim").await?;
    let names = Names::of_account(state, user.account_id).await?;
    if let Some(holder) = e.claimed_by {
        if holder == user.id {
            // Claiming again what one holds changes nothing.
            return Ok((e, names));
        }
        return Err(held_by(&names, holder));
    }
    if s.status != SessionStatus::Escalated {
        return Err(ApiError::Conflict(format!(
            "The session is {}; only an escalated session can be claimed",
            s.status.as_str()
        )));
    }
    let now = Utc::now();
    let outbox = notifications_on_claim(state, &s, &e, user, now).await?;
    if !state
        .store
        .claim_escalation(e.id, user.id, now, &outbox)
        .await?
    {
        // Lost the race, or the session moved on: say who has it.
        let latest = state.store.escalations_of_session(s.id).await?.pop();
        return Err(match latest.and_then(|l| l.claimed_by) {
            Some(holder) => held_by(&names, holder),
            None => ApiError::Conflict("The session is no longer escalated".into()),
        });
    }
    state.escalation_events.send(s.account_id, s.id, "claimed");
    let claimed = Escalation {
        claimed_by: Some(user.id),
        claimed_at: Some(now),
        ..e
    };
    Ok((claimed, names))
}

fn held_by(names: &Names, holder: Uuid) -> ApiError {
    ApiError::Conflict(format!(
        "Already claimed by {}",
        names.user_with_email(holder)
    ))
}

/// What a pick-up made: the session now worked on (the same one, or the fresh one) and its
/// next step.
pub struct PickedUp {
    pub mode: PickupMode,
    pub session: Session,
    pub next_step: Step,
    pub escalated_from_id: Option<Uuid>,
    pub picked_up_as_id: Option<Uuid>,
}

/// Picks up a claimed escalation, by its claimer.
#[tracing::instrument(skip_all, fields(user_id = %user.id, session_id = %id))]
pub async fn pickup(state: &AppState, user: &User, id: Uuid, mode: &str) -> ApiResult<PickedUp> {
    let mode = PickupMode::parse(mode).ok_or_else(|| {
        ApiError::field(&["mode"], "Input should be 'continue' or 'fresh'", "enum")
    })?;
    let (s, e) = escalated_session(state, user, id).await?;
    match e.claimed_by {
        Some(holder) if holder == user.id => {}
        Some(_) => {
            return Err(ApiError::Forbidden(
                "Only the engineer who claimed this session can pick it up".into(),
            ))
        }
        None => {
            return Err(ApiError::Conflict(
                "Claim the session before picking it up".into(),
            ))
        }
    }
    let unfinished_fresh = match (e.picked_up, e.picked_up_at, e.picked_up_as_id) {
        (None, _, _) => None,
        (Some(PickupMode::Fresh), Some(at), None)
            if mode == PickupMode::Fresh
                && Utc::now() - at > chrono::Duration::seconds(FRESH_PICKUP_GRACE_SECONDS) =>
        {
            Some(at)
        }
        _ => {
            return Err(ApiError::Conflict(
                "The session was picked up already".into(),
            ))
        }
    };
    if s.status.apply(Transition::PickUp).is_none() {
        return Err(ApiError::Conflict(format!(
            "The session is {}, not escalated",
            s.status.as_str()
        )));
    }
    super::limit(state, Action::SessionWrite, user.id, "pickup").await?;
    let package = s
        .documentation
        .clone()
        .ok_or_else(|| ApiError::internal("an escalated session without its hand-off package"))?;
    let names = Names::of_account(state, user.account_id).await?;
    match mode {
        PickupMode::Continue => {
            let steps = state.store.steps(s.id).await?;
            let Some(open) = steps.last().filter(|st| st.response.is_none()) else {
                return Err(ApiError::Conflict(
                    "The session stopped with no open step; pick it up fresh".into(),
                ));
            };
            // The briefing and the step it resumes both count toward the limit.
            if s.step_count + 2 > state.settings.max_steps {
                return Err(ApiError::Conflict(
                    "The session is at its step limit; pick it up fresh".into(),
                ));
            }
            let brief = briefing::build(&s, &steps, &package);
            let step = briefing_step(&s, open, &brief, &names.user(e.escalated_by));
            let now = Utc::now();
            if !state
                .store
                .pick_up_continue(&e, user.id, &step, now)
                .await?
            {
                return Err(ApiError::Conflict(
                    "The session was picked up already".into(),
                ));
            }
            state
                .escalation_events
                .send(s.account_id, s.id, "picked_up");
            let session = state.store.session(s.id).await?;
            Ok(PickedUp {
                mode,
                session,
                next_step: step,
                escalated_from_id: None,
                picked_up_as_id: None,
            })
        }
        PickupMode::Fresh => {
            let now = Utc::now();
            if !state
                .store
                .begin_fresh_pickup(e.id, user.id, now, unfinished_fresh)
                .await?
            {
                return Err(ApiError::Conflict(
                    "The session was picked up already".into(),
                ));
            }
            let body = NewSession {
                intake_type: "free_text".into(),
                text: Some(clip(&package.markdown, 10_000)),
                title: Some(clip(&format!("Picked up: {}", s.title), 200)),
                ..Default::default()
            };
            let started = match super::start::start(state, user, body, None).await {
                Ok(started) => started,
                Err(err) => {
                    if let Err(undo) = state.store.abandon_fresh_pickup(e.id, now).await {
                        tracing::error!(%undo, "could not undo a failed fresh pick-up");
                    }
                    return Err(err);
                }
            };
            if !state
                .store
                .finish_fresh_pickup(e.id, &started.session, now)
                .await?
            {
                // Only when this pick-up outlived the grace and a retry took it over: the
                // retry's session is the one linked.
                return Err(ApiError::Conflict(
                    "The session was picked up again while this pick-up was under way".into(),
                ));
            }
            state
                .escalation_events
                .send(s.account_id, s.id, "picked_up");
            Ok(PickedUp {
                mode,
                escalated_from_id: Some(s.id),
                picked_up_as_id: Some(started.session.id),
                session: started.session,
                next_step: started.first,
            })
        }
    }
}

/// The briefing step that resumes a continued session: the briefing to read, with the step
/// the first engineer stopped at kept in its state, to come next as it was (the offline
/// engine's flow position with it).
fn briefing_step(s: &Session, open: &Step, brief: &Briefing, from: &str) -> Step {
    let output = StepOutput {
        step_type: StepType::Action,
        content: briefing::as_markdown(brief, from),
        context_message: Some(
            "You picked this session up: read what was done, then go on where it stopped.".into(),
        ),
        reasoning: None,
        options: vec![StepOption {
            label: "Continue where they stopped".into(),
            value: "continue".into(),
            followup_hint: None,
        }],
        allow_free_text: false,
        allow_skip: false,
        action_type: Some(ActionType::Instruction),
        expected_outcome: None,
        resolution_summary: None,
        follow_up_recommendations: Vec::new(),
        confidence: s.confidence_score,
        problem_summary: None,
        problem_domain: None,
    };
    Step {
        id: Uuid::new_v4(),
        session_id: s.id,
        step_order: s.step_count + 1,
        earlier: open.earlier.as_ref().map(|e| e.then(&open.output, false)),
        engine_state: json!({
            "briefing": {
                "output": open.output,
                "state": open.engine_state,
                "confidence_reasons": open.confidence_reasons,
            }
        }),
        output,
        response: None,
        observations: Vec::new(),
        clarification: None,
        confidence_reasons: vec!["The confidence the session had when it was handed over.".into()],
        marks: Default::default(),
        created_at: Utc::now(),
    }
}

/// When `answered` is a briefing step, the step it resumes, as the next step (no pilot call:
/// the guidance starts where the first engineer stopped).
pub(super) fn resumed_after(session: &Session, answered: &Step) -> Option<Step> {
    let held = answered.engine_state.get("briefing")?;
    let output: StepOutput = serde_json::from_value(held.get("output")?.clone()).ok()?;
    let reasons: Vec<String> = held
        .get("confidence_reasons")
        .and_then(|r| serde_json::from_value(r.clone()).ok())
        .unwrap_or_default();
    Some(Step {
        id: Uuid::new_v4(),
        session_id: session.id,
        step_order: session.step_count + 1,
        earlier: answered
            .earlier
            .as_ref()
            .map(|e| e.then(&answered.output, false)),
        engine_state: held.get("state").cloned().unwrap_or_default(),
        output,
        response: None,
        observations: Vec::new(),
        clarification: None,
        confidence_reasons: reasons,
        marks: Default::default(),
        created_at: Utc::now(),
    })
}

/// The briefing of a session the caller may see, with its newest escalation.
#[tracing::instrument(skip_all, fields(user_id = %user.id, session_id = %id))]
pub async fn briefing(
    state: &AppState,
    user: &User,
    id: Uuid,
) -> ApiResult<(Session, Escalation, Briefing, Names)> {
    let (s, e) = escalated_session(state, user, id).await?;
    super::limit(state, Action::SessionRead, user.id, "briefing").await?;
    let Some(package) = s
        .documentation
        .as_ref()
        .filter(|d| d.escalation_reason.is_some())
    else {
        return Err(ApiError::NotFound);
    };
    let steps = state.store.steps(s.id).await?;
    let brief = briefing::build(&s, &steps, package);
    let names = Names::of_account(state, user.account_id).await?;
    Ok((s, e, brief, names))
}

/// The briefing for the session's own page (not counted against the read limit, as the
/// page itself is not); `None` when the session has none.
pub async fn briefing_for_page(
    state: &AppState,
    user: &User,
    s: &Session,
    steps: &[Step],
) -> ApiResult<Option<(Escalation, Briefing, Names)>> {
    if s.escalated_at.is_none() {
        return Ok(None);
    }
    let Some(e) = state.store.escalations_of_session(s.id).await?.pop() else {
        return Ok(None);
    };
    let Some(package) = s
        .documentation
        .as_ref()
        .filter(|d| d.escalation_reason.is_some())
    else {
        return Ok(None);
    };
    let brief = briefing::build(s, steps, package);
    let names = Names::of_account(state, user.account_id).await?;
    Ok(Some((e, brief, names)))
}

fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max - 1) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}
