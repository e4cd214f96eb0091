//! `/ai-sessions`: the guided troubleshooting loop (api.md, "AI sessions").

pub mod dto;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::session::{SessionStatus, Transition};
use domain::{FieldError, ValidationErrors};
use serde::Deserialize;
use store::SessionFilter;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::api::dto::ErrorBody;
use crate::auth::{CurrentUser, WorkingUser};
use crate::error::{ApiError, ApiResult};
use crate::extract::{query_value, ApiJson, ApiPath, ApiQuery};
use crate::rate_limit::Action;
use crate::sessions as actions;
use crate::state::AppState;
use dto::*;

mod outcome;
mod psa_push;
mod similar;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_session, list_sessions))
        .routes(routes!(session_detail))
        .routes(routes!(respond))
        .routes(routes!(resolve))
        .routes(routes!(escalate))
        .routes(routes!(documentation))
        .routes(routes!(rate))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(abandon))
        .routes(routes!(link_ticket))
        .routes(routes!(psa_push::retry_push))
        .routes(routes!(similar::similar_to_session))
        .routes(routes!(similar::similar_to_text))
        .routes(routes!(outcome::record_outcome))
        .routes(routes!(outcome::mark_not_relevant))
}

/// Starts a session: matches the intake to a flow and produces the first step.
#[utoipa::path(post, path = "/ai-sessions", tag = "sessions", security(("bearer" = [])), request_body = StartIn, responses(
    (status = 201, body = StartOut, links(("respond" = (operation_id = "respond",
        parameters(("id" = "$response.body#/session_id")),
        request_body = json!({"step_id": "$response.body#/first_step/step_id"}),
        description = "Answer the first step")))),
    (status = 403, body = ErrorBody, description = "Viewers cannot start sessions"),
    (status = 404, body = ErrorBody, description = "`psa_ticket`: the connection is not one of this account's"),
    (status = 429, body = ErrorBody, description = "Over the create limit, or the AI quota is used up"),
    (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn start_session(
    State(state): State<AppState>,
    WorkingUser(user): WorkingUser,
    ApiJson(body): ApiJson<StartIn>,
) -> ApiResult<(StatusCode, Json<StartOut>)> {
    let started = actions::start(&state, &user, body.into()).await?;
    let s = &started.session;
    Ok((
        StatusCode::CREATED,
        Json(StartOut {
            session_id: s.id,
            status: s.status.as_str().into(),
            confidence_tier: s.confidence_tier().as_str().into(),
            confidence_score: s.confidence_score,
            problem_summary: s.problem_summary.clone(),
            problem_domain: s.problem_domain.clone(),
            matched_flow_id: s.matched_flow_id,
            matched_flow_name: s.matched_flow_name.clone(),
            matched_flow_version: s.matched_flow_version,
            match_score: s.match_score,
            engine: s.engine.clone(),
            first_step: StepOut::from(&started.first),
            psa: started.ticket.as_ref().map(SessionTicketOut::from),
        }),
    ))
}

/// Answers the latest step and returns the next one.
#[utoipa::path(post, path = "/ai-sessions/{id}/respond", tag = "sessions", security(("bearer" = [])), request_body = RespondIn,
    params(("id" = Uuid, Path)), responses(
    (status = 200, body = RespondOut, links(("respond" = (operation_id = "respond",
        parameters(("id" = "$request.path.id")),
        request_body = json!({"step_id": "$response.body#/next_step/step_id"}),
        description = "Answer the next step")))),
    (status = 403, body = ErrorBody, description = "A viewer, or not the session's owner"),
    (status = 409, body = ErrorBody, description = "The session is not active, the step is not the latest unanswered one, or the step limit is reached"),
    (status = 429, body = ErrorBody, description = "Over the write limit, or the AI quota is used up"), (status = 502, body = ErrorBody)))]
pub async fn respond(
    State(state): State<AppState>,
    WorkingUser(user): WorkingUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<RespondIn>,
) -> ApiResult<Json<RespondOut>> {
    let answered = actions::respond(&state, &user, id, body.into()).await?;
    Ok(Json(answered.into()))
}

/// Resolves the session and returns its documentation.
#[utoipa::path(post, path = "/ai-sessions/{id}/resolve", tag = "sessions", security(("bearer" = [])), request_body = ResolveIn,
    params(("id" = Uuid, Path)), responses((status = 200, body = ClosedOut),
    (status = 403, body = ErrorBody, description = "A viewer, or not the session's owner"),
    (status = 409, body = ErrorBody, description = "The session is neither active nor paused"),
    (status = 429, body = ErrorBody, description = "Over the write limit")))]
pub async fn resolve(
    State(state): State<AppState>,
    WorkingUser(user): WorkingUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<ResolveIn>,
) -> ApiResult<Json<ClosedOut>> {
    let doc = actions::resolve(&state, &user, id, body.into()).await?;
    Ok(Json(ClosedOut {
        session_id: id,
        status: "resolved".into(),
        documentation: serde_json::to_value(doc)
            .map_err(|e| ApiError::fault("the documentation could not be encoded", e))?,
    }))
}

/// Escalates the session to a colleague with a hand-off package.
#[utoipa::path(post, path = "/ai-sessions/{id}/escalate", tag = "sessions", security(("bearer" = [])), request_body = EscalateIn,
    params(("id" = Uuid, Path)), responses((status = 200, body = ClosedOut),
    (status = 403, body = ErrorBody, description = "A viewer, or not the session's owner"),
    (status = 409, body = ErrorBody, description = "The session is neither active nor paused"),
    (status = 429, body = ErrorBody, description = "Over the write limit")))]
pub async fn escalate(
    State(state): State<AppState>,
    WorkingUser(user): WorkingUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<EscalateIn>,
) -> ApiResult<Json<ClosedOut>> {
    let doc = actions::escalate(&state, &user, id, body.into()).await?;
    Ok(Json(ClosedOut {
        session_id: id,
        status: "escalated".into(),
        documentation: serde_json::to_value(doc)
            .map_err(|e| ApiError::fault("the documentation could not be encoded", e))?,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(value_type = Option<SessionStatusName>, inline)]
    pub status: Option<String>,
    /// Only the sessions escalated to the caller.
    #[serde(default, deserialize_with = "query_value::opt_bool")]
    #[param(value_type = Option<bool>)]
    pub escalated_to_me: Option<bool>,
    /// Default 0.
    #[serde(default, deserialize_with = "query_value::opt_i64")]
    #[param(value_type = Option<i64>, minimum = 0)]
    pub skip: Option<i64>,
    /// Default 20.
    #[serde(default, deserialize_with = "query_value::opt_i64")]
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// A session's status as the API spells it (documentation only: the handler parses it).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum SessionStatusName {
    Active,
    Paused,
    AwaitingVerification,
    Resolved,
    Escalated,
    Abandoned,
}

/// Sessions the caller may see, newest first; `X-Total-Count` carries the total.
#[utoipa::path(get, path = "/ai-sessions", tag = "sessions", security(("bearer" = [])), params(ListQuery), responses(
    (status = 200, body = Vec<SessionSummary>, headers(("X-Total-Count" = i64, description = "Sessions matching the filter"))),
    (status = 429, body = ErrorBody, description = "Over the read limit")))]
pub async fn list_sessions(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let user = current.user;
    let mut errors = ValidationErrors::new();
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match SessionStatus::parse(s) {
            Some(st) => Some(st),
            None => {
                errors.push(FieldError::query(
                    "status",
                    "Input should be one of active, paused, awaiting_verification, resolved, escalated, abandoned",
                    "enum",
                ));
                None
            }
        },
    };
    let skip = q.skip.unwrap_or(0);
    let lim = q.limit.unwrap_or(20);
    if skip < 0 {
        errors.push(FieldError::query(
            "skip",
            "Input should be greater than or equal to 0",
            "greater_than_equal",
        ));
    }
    if !(1..=100).contains(&lim) {
        errors.push(FieldError::query(
            "limit",
            "Input should be between 1 and 100",
            "value_error",
        ));
    }
    errors.into_result()?;
    actions::limit(&state, Action::SessionRead, user.id, "list").await?;
    let filter = SessionFilter {
        status,
        escalated_to_me: q.escalated_to_me.unwrap_or(false),
        skip,
        limit: lim,
    };
    let (sessions, total) = state
        .store
        .list_sessions(user.account_id, user.id, user.is_admin(), &filter)
        .await?;
    let body: Vec<SessionSummary> = sessions.iter().map(SessionSummary::from).collect();
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", HeaderValue::from(total));
    Ok((headers, Json(body)).into_response())
}

/// A session with all its steps.
#[utoipa::path(get, path = "/ai-sessions/{id}", tag = "sessions", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = SessionDetail), (status = 429, body = ErrorBody, description = "Over the read limit")))]
pub async fn session_detail(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<SessionDetail>> {
    let (s, steps) = actions::detail(&state, &current.user, id).await?;
    let ticket = actions::ticket::of_session(&state, s.id).await?;
    let push = actions::write_back::push(&state, s.id).await?;
    let escalation = crate::api::escalations::of_session(&state, &current.user, &s).await?;
    Ok(Json(SessionDetail {
        summary: SessionSummary::from(&s),
        user_id: s.user_id,
        intake_content: intake_content(&s, ticket.as_ref()),
        match_score: s.match_score,
        resolution_summary: s.resolution_summary.clone(),
        escalation_reason: s.escalation_reason.clone(),
        escalated_to_id: s.escalated_to_id,
        feedback: s.feedback.clone(),
        engine: s.engine.clone(),
        total_input_tokens: s.total_input_tokens,
        total_output_tokens: s.total_output_tokens,
        steps: steps.iter().map(StepOut::from).collect(),
        psa: ticket
            .as_ref()
            .map(|t| SessionTicketOut::from(t).with_push(push.as_ref())),
        escalation,
    }))
}

/// The intake as stored, and for a `psa_ticket` session the ticket it names, as it was sent.
fn intake_content(
    s: &domain::session::Session,
    ticket: Option<&domain::ticket_link::TicketLink>,
) -> serde_json::Value {
    let mut content = serde_json::to_value(&s.intake).unwrap_or_default();
    if let (Some(ticket), Some(object)) = (ticket, content.as_object_mut()) {
        if s.intake_type == domain::session::IntakeType::PsaTicket {
            object.insert(
                "connection_id".into(),
                ticket.connection_id.to_string().into(),
            );
            object.insert("ticket_id".into(), ticket.ticket_id.clone().into());
        }
    }
    content
}

/// Links a PSA ticket to a running session: its context joins the next step's prompt.
#[utoipa::path(post, path = "/ai-sessions/{id}/link-ticket", tag = "sessions", security(("bearer" = [])), request_body = LinkTicketIn,
    params(("id" = Uuid, Path)), responses((status = 200, body = LinkedOut),
    (status = 403, body = ErrorBody, description = "A viewer, or not the session's owner"),
    (status = 404, body = ErrorBody, description = "The session, or the connection, is not visible to this user"),
    (status = 409, body = ErrorBody, description = "The session is closed, or linked to another ticket already"),
    (status = 422, body = ErrorBody, description = "A field is invalid, or the PSA has no such ticket"),
    (status = 429, body = ErrorBody, description = "Over the write limit"),
    (status = 502, body = ErrorBody, description = "The PSA failed, refused the credentials or did not answer in time; nothing changed"),
    (status = 503, body = ErrorBody, description = "The server's FLOWPILOT_SECRET_KEY cannot open the connection's credentials")))]
pub async fn link_ticket(
    State(state): State<AppState>,
    WorkingUser(user): WorkingUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<LinkTicketIn>,
) -> ApiResult<Json<LinkedOut>> {
    let link = actions::ticket::link(&state, &user, id, body.into()).await?;
    Ok(Json(LinkedOut {
        session_id: id,
        psa: SessionTicketOut::from(&link),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DocQuery {
    /// `markdown` answers `text/markdown`; default `json`.
    #[param(value_type = Option<DocFormat>, inline)]
    pub format: Option<String>,
}

/// How the documentation is answered (documentation only: the handler parses it).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum DocFormat {
    Json,
    Markdown,
}

/// The documentation (or hand-off package) of a closed session.
#[utoipa::path(get, path = "/ai-sessions/{id}/documentation", tag = "sessions", security(("bearer" = [])), params(("id" = Uuid, Path), DocQuery),
    responses((status = 200, description = "The documentation as JSON, or as markdown with `format=markdown`",
        content((Object = "application/json"), (String = "text/markdown"))),
    (status = 404, body = ErrorBody, description = "Not found, not visible to this user, or no documentation yet"),
    (status = 429, body = ErrorBody, description = "Over the read limit")))]
pub async fn documentation(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<DocQuery>,
) -> ApiResult<Response> {
    let (_, doc) = actions::documentation(&state, &current.user, id).await?;
    match q.format.as_deref() {
        Some("markdown") | Some("md") => {
            let md = doc.markdown;
            Ok(([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], md).into_response())
        }
        None | Some("json") | Some("") => Ok(Json(doc).into_response()),
        Some(_) => Err(ApiError::Validation(vec![FieldError::query(
            "format",
            "Input should be 'json' or 'markdown'",
            "enum",
        )])),
    }
}

/// Rates a closed session (again overwrites).
#[utoipa::path(post, path = "/ai-sessions/{id}/rate", tag = "sessions", security(("bearer" = [])), request_body = RateIn, params(("id" = Uuid, Path)),
    responses((status = 204, description = "Rated"), (status = 403, body = ErrorBody, description = "A viewer, or not the session's owner"),
    (status = 409, body = ErrorBody, description = "The session is still active or paused"),
    (status = 429, body = ErrorBody, description = "Over the write limit")))]
pub async fn rate(
    State(state): State<AppState>,
    WorkingUser(user): WorkingUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<RateIn>,
) -> ApiResult<StatusCode> {
    actions::rate(&state, &user, id, body.into()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn move_to(
    state: &AppState,
    user: &domain::User,
    id: Uuid,
    transition: Transition,
) -> ApiResult<Json<SessionSummary>> {
    let s = actions::move_to(state, user, id, transition).await?;
    Ok(Json(SessionSummary::from(&s)))
}

/// Pauses an active session.
#[utoipa::path(post, path = "/ai-sessions/{id}/pause", tag = "sessions", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = SessionSummary, links(("resume" = (operation_id = "resume",
        parameters(("id" = "$request.path.id")), description = "Resume the paused session")))), (status = 403, body = ErrorBody, description = "A viewer, or not the session's owner"),
    (status = 409, body = ErrorBody, description = "The session's status does not allow this")))]
pub async fn pause(
    State(state): State<AppState>,
    WorkingUser(user): WorkingUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<SessionSummary>> {
    move_to(&state, &user, id, Transition::Pause).await
}

/// Resumes a paused session.
#[utoipa::path(post, path = "/ai-sessions/{id}/resume", tag = "sessions", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = SessionSummary), (status = 403, body = ErrorBody, description = "A viewer, or not the session's owner"),
    (status = 409, body = ErrorBody, description = "The session's status does not allow this")))]
pub async fn resume(
    State(state): State<AppState>,
    WorkingUser(user): WorkingUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<SessionSummary>> {
    move_to(&state, &user, id, Transition::Resume).await
}

/// Abandons an open session.
#[utoipa::path(post, path = "/ai-sessions/{id}/abandon", tag = "sessions", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = SessionSummary), (status = 403, body = ErrorBody, description = "A viewer, or not the session's owner"),
    (status = 409, body = ErrorBody, description = "The session's status does not allow this")))]
pub async fn abandon(
    State(state): State<AppState>,
    WorkingUser(user): WorkingUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<SessionSummary>> {
    move_to(&state, &user, id, Transition::Abandon).await
}
