//! The escalation queue, claim, pick-up and briefing (escalation.md).

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use domain::escalation::{human_duration, Escalation};
use domain::User;
use serde::{Deserialize, Serialize};
use store::QueueEntry;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::api::dto::ErrorBody;
use crate::api::sessions::dto::StepOut;
use crate::auth::{CurrentUser, WorkingUser};
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::sessions::escalation::{self as actions, Names};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(queue))
        .routes(routes!(claim))
        .routes(routes!(pickup))
        .routes(routes!(briefing))
}

#[allow(non_camel_case_types, dead_code)] // the values as the query spells them
#[derive(ToSchema)]
enum QueueScopeParam {
    mine,
    team,
    account,
}

#[allow(non_camel_case_types, dead_code)]
#[derive(ToSchema)]
enum QueueStatusParam {
    open,
    claimed,
    all,
}

#[allow(non_camel_case_types, dead_code)]
#[derive(ToSchema)]
enum PickupModeParam {
    r#continue,
    fresh,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueParams {
    /// `mine` (escalated to me or claimed by me; the default), `team` (escalated to my team)
    /// or `account` (every escalation of the account I may see).
    #[param(value_type = Option<QueueScopeParam>)]
    pub scope: Option<String>,
    /// `open` (unclaimed; the default), `claimed` or `all`.
    #[param(value_type = Option<QueueStatusParam>)]
    pub status: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonOut {
    pub id: Uuid,
    pub full_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TargetOut {
    /// `person`, `team` or `queue`.
    pub kind: String,
    /// The person's or the team's id; null for the queue.
    pub id: Option<Uuid>,
    pub name: String,
}

/// The metrics kept per escalation, in seconds (null until they happen).
#[derive(Debug, Serialize, ToSchema)]
pub struct EscalationMetrics {
    pub time_to_claim_seconds: Option<i64>,
    pub claim_to_first_answer_seconds: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EscalationOut {
    pub id: Uuid,
    pub session_id: Uuid,
    pub title: String,
    pub problem_summary: Option<String>,
    pub session_status: String,
    pub target: TargetOut,
    pub escalated_to_id: Option<Uuid>,
    pub escalated_to_team_id: Option<Uuid>,
    pub escalation_reason: String,
    pub escalated_by: PersonOut,
    pub escalated_at: DateTime<Utc>,
    /// How long it waited: until claimed, or until now.
    pub age_seconds: i64,
    /// The same, as people say it ("12 min").
    pub age: String,
    pub claimed_by: Option<PersonOut>,
    pub claimed_at: Option<DateTime<Utc>>,
    /// `continue` or `fresh`, once picked up.
    pub picked_up: Option<String>,
    pub picked_up_at: Option<DateTime<Utc>>,
    /// `fresh`: the new session.
    pub picked_up_as_id: Option<Uuid>,
    /// `ai` or `deterministic`: who wrote the hand-off package's hypotheses.
    pub handoff_author: String,
    pub metrics: EscalationMetrics,
}

impl EscalationOut {
    pub fn new(
        e: &Escalation,
        title: &str,
        problem_summary: Option<String>,
        session_status: &str,
        names: &Names,
        now: DateTime<Utc>,
    ) -> EscalationOut {
        let person = |id: Uuid| PersonOut {
            id,
            full_name: names.user(id),
        };
        let age = e.age(now);
        EscalationOut {
            id: e.id,
            session_id: e.session_id,
            title: title.to_string(),
            problem_summary,
            session_status: session_status.to_string(),
            target: TargetOut {
                kind: e.target.kind().into(),
                id: e.target.person().or(e.target.team()),
                name: names.target(e.target),
            },
            escalated_to_id: e.target.person(),
            escalated_to_team_id: e.target.team(),
            escalation_reason: e.reason.clone(),
            escalated_by: person(e.escalated_by),
            escalated_at: e.escalated_at,
            age_seconds: age.num_seconds().max(0),
            age: human_duration(age),
            claimed_by: e.claimed_by.map(person),
            claimed_at: e.claimed_at,
            picked_up: e.picked_up.map(|m| m.as_str().into()),
            picked_up_at: e.picked_up_at,
            picked_up_as_id: e.picked_up_as_id,
            handoff_author: e.handoff_author.as_str().into(),
            metrics: EscalationMetrics {
                time_to_claim_seconds: e.time_to_claim().map(|d| d.num_seconds()),
                claim_to_first_answer_seconds: e.claim_to_first_answer().map(|d| d.num_seconds()),
            },
        }
    }

    fn of_entry(entry: &QueueEntry, names: &Names, now: DateTime<Utc>) -> EscalationOut {
        EscalationOut::new(
            &entry.escalation,
            &entry.title,
            entry.problem_summary.clone(),
            &entry.session_status,
            names,
            now,
        )
    }
}

/// The escalation queue: escalated sessions the caller may see, oldest unclaimed first.
#[utoipa::path(get, path = "/escalations", tag = "escalations", security(("bearer" = [])), params(QueueParams), responses(
    (status = 200, body = Vec<EscalationOut>),
    (status = 422, body = ErrorBody, description = "An unknown scope or status"),
    (status = 429, body = ErrorBody, description = "Over the read limit")))]
pub async fn queue(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiQuery(q): ApiQuery<QueueParams>,
) -> ApiResult<Json<Vec<EscalationOut>>> {
    let (entries, names) = actions::queue(
        &state,
        &current.user,
        q.scope.as_deref(),
        q.status.as_deref(),
    )
    .await?;
    let now = Utc::now();
    Ok(Json(
        entries
            .iter()
            .map(|e| EscalationOut::of_entry(e, &names, now))
            .collect(),
    ))
}

/// Claims an escalated session: exactly one claim wins.
#[utoipa::path(post, path = "/ai-sessions/{id}/claim", tag = "escalations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = EscalationOut),
    (status = 403, body = ErrorBody, description = "A viewer; escalated to someone else (only they or an admin may claim it); or the caller escalated it"),
    (status = 404, body = ErrorBody, description = "Not visible to the caller, or never escalated"),
    (status = 409, body = ErrorBody, description = "Claimed by someone else already (named in `detail`), or no longer escalated"),
    (status = 429, body = ErrorBody, description = "Over the write limit")))]
pub async fn claim(
    State(state): State<AppState>,
    WorkingUser(user): WorkingUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<EscalationOut>> {
    let (e, names) = actions::claim(&state, &user, id).await?;
    Ok(Json(out_for_session(&state, &e, &names).await?))
}

async fn out_for_session(
    state: &AppState,
    e: &Escalation,
    names: &Names,
) -> ApiResult<EscalationOut> {
    let s = state.store.session(e.session_id).await?;
    Ok(EscalationOut::new(
        e,
        &s.title,
        s.problem_summary.clone(),
        s.status.as_str(),
        names,
        Utc::now(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PickupIn {
    /// `continue` (the same session, now yours, resuming with a briefing step) or `fresh`
    /// (a new session whose intake is the hand-off package).
    #[schema(value_type = PickupModeParam)]
    pub mode: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PickupOut {
    pub mode: String,
    /// The session to work on: the same one (`continue`) or the new one (`fresh`).
    pub session_id: Uuid,
    pub session_status: String,
    /// `fresh`: the escalated session the new one came from.
    pub escalated_from_id: Option<Uuid>,
    /// `fresh`: the new session (the same as `session_id`).
    pub picked_up_as_id: Option<Uuid>,
    /// `continue`: the briefing step; `fresh`: the new session's first step.
    pub next_step: StepOut,
}

/// Picks up a claimed session, by its claimer.
#[utoipa::path(post, path = "/ai-sessions/{id}/pickup", tag = "escalations", security(("bearer" = [])), request_body = PickupIn,
    params(("id" = Uuid, Path)), responses((status = 200, body = PickupOut),
    (status = 403, body = ErrorBody, description = "A viewer, or not the engineer who claimed it"),
    (status = 404, body = ErrorBody, description = "Not visible to the caller, or never escalated"),
    (status = 409, body = ErrorBody, description = "Not claimed yet, picked up already, not escalated, or (`continue`) no open step or at the step limit"),
    (status = 429, body = ErrorBody, description = "Over the write limit, or (`fresh`) the AI quota is used up"),
    (status = 502, body = ErrorBody, description = "`fresh`: the AI provider failed; nothing changed"),
    (status = 503, body = ErrorBody, description = "`fresh`: AI needed but not configured")))]
pub async fn pickup(
    State(state): State<AppState>,
    WorkingUser(user): WorkingUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<PickupIn>,
) -> ApiResult<Json<PickupOut>> {
    let picked = actions::pickup(&state, &user, id, &body.mode).await?;
    Ok(Json(PickupOut {
        mode: picked.mode.as_str().into(),
        session_id: picked.session.id,
        session_status: picked.session.status.as_str().into(),
        escalated_from_id: picked.escalated_from_id,
        picked_up_as_id: picked.picked_up_as_id,
        next_step: StepOut::from(&picked.next_step),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FactOut {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BriefStepOut {
    pub step_order: i64,
    pub step_type: String,
    /// What was asked or done.
    pub asked: String,
    /// What it showed (the answer and notes); null for the step left open.
    pub showed: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BriefHypothesisOut {
    pub cause: String,
    /// `high`, `medium`, `low` or `unknown`.
    pub likelihood: String,
    pub suggested_steps: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BriefingOut {
    pub session_id: Uuid,
    pub title: String,
    pub problem: String,
    /// Why it was escalated.
    pub reason: String,
    pub environment: Vec<FactOut>,
    pub steps: Vec<BriefStepOut>,
    pub ruled_out: Vec<String>,
    pub hypotheses: Vec<BriefHypothesisOut>,
    /// The session's confidence when it was handed over.
    pub confidence_tier: String,
    pub confidence_score: f64,
    pub escalation: EscalationOut,
}

/// The briefing of an escalated session: what was tried, what it showed, what is likely.
#[utoipa::path(get, path = "/ai-sessions/{id}/briefing", tag = "escalations", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = BriefingOut),
    (status = 404, body = ErrorBody, description = "Not visible to the caller, or never escalated"),
    (status = 429, body = ErrorBody, description = "Over the read limit")))]
pub async fn briefing(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<BriefingOut>> {
    let (s, e, b, names) = actions::briefing(&state, &current.user, id).await?;
    Ok(Json(briefing_out(&s, &e, b, &names)))
}

pub fn briefing_out(
    s: &domain::session::Session,
    e: &Escalation,
    b: domain::briefing::Briefing,
    names: &Names,
) -> BriefingOut {
    BriefingOut {
        session_id: s.id,
        title: b.title,
        problem: b.problem,
        reason: b.reason,
        environment: b
            .environment
            .into_iter()
            .map(|f| FactOut {
                label: f.label,
                value: f.value,
            })
            .collect(),
        steps: b
            .steps
            .into_iter()
            .map(|st| BriefStepOut {
                step_order: st.step_order,
                step_type: st.step_type,
                asked: st.asked,
                showed: st.showed,
            })
            .collect(),
        ruled_out: b.ruled_out,
        hypotheses: b
            .hypotheses
            .into_iter()
            .map(|h| BriefHypothesisOut {
                cause: h.cause,
                likelihood: h.likelihood.as_str().into(),
                suggested_steps: h.suggested_steps,
            })
            .collect(),
        confidence_tier: b.confidence_tier.into(),
        confidence_score: b.confidence_score,
        escalation: EscalationOut::new(
            e,
            &s.title,
            s.problem_summary.clone(),
            s.status.as_str(),
            names,
            Utc::now(),
        ),
    }
}

/// What a session's detail shows of its escalation (api.md "session detail").
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionEscalationOut {
    /// The newest escalation, with its claim and metrics.
    pub escalation: Option<EscalationOut>,
    /// A session picked up `fresh`: the escalated session it came from.
    pub escalated_from_id: Option<Uuid>,
    /// An escalated session picked up `fresh`: the new session.
    pub picked_up_as_id: Option<Uuid>,
}

pub async fn of_session(
    state: &AppState,
    user: &User,
    s: &domain::session::Session,
) -> ApiResult<SessionEscalationOut> {
    let (latest, from) = actions::links(state, s).await?;
    let escalation = match &latest {
        Some(e) => {
            let names = Names::of_account(state, user.account_id).await?;
            Some(EscalationOut::new(
                e,
                &s.title,
                s.problem_summary.clone(),
                s.status.as_str(),
                &names,
                Utc::now(),
            ))
        }
        None => None,
    };
    Ok(SessionEscalationOut {
        picked_up_as_id: latest.as_ref().and_then(|e| e.picked_up_as_id),
        escalation,
        escalated_from_id: from.map(|e| e.session_id),
    })
}
