//! `/integrations/psa`: an account's PSA connections, their open tickets and the mapping of
//! users to PSA members (psa.md "Connections"). Credentials go in and never come back out:
//! answers say `secret_set: true`. Engineers list connections and tickets; everything else is
//! for account admins.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use domain::psa::{ConnectionSettings, TicketQuery, TicketSummary};
use domain::{FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};
use store::PsaConnection;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::api::dto::ErrorBody;
use crate::auth::{AdminUser, WorkingUser};
use crate::error::ApiResult;
use crate::extract::{query_value, ApiJson, ApiPath, ApiQuery};
use crate::psa::connections::{self, ConnectionChange, NewConnection};
use crate::psa::members::{self, UserMember};
use crate::psa::tickets;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_connections, create_connection))
        .routes(routes!(update_connection, delete_connection))
        .routes(routes!(test_connection))
        .routes(routes!(list_tickets))
        .routes(routes!(list_members))
        .routes(routes!(map_member))
}

/// A PSA as the API spells it (documentation only: the handlers parse it).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum PsaKindName {
    #[schema(rename = "connectwise")]
    ConnectWise,
    Autotask,
    Halo,
}

/// A connection's `settings` (every field optional; documentation of what the handler reads).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SettingsDoc {
    /// `internal` (default) or `customer`.
    #[schema(example = "internal")]
    note_visibility: Option<String>,
    /// Default both: `["resolve", "escalate"]`.
    post_on: Option<Vec<String>>,
    /// Default false.
    time_entry: Option<bool>,
    /// The PSA's status id or name to set on resolve; default unchanged.
    resolve_status: Option<String>,
    escalate_status: Option<String>,
    /// Default true.
    preview_before_post: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ConnectionIn {
    #[schema(value_type = PsaKindName)]
    pub kind: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// Any http or https URL (self-hosted PSAs sit on private networks).
    #[schema(max_length = 2000, example = "https://psa.example.com")]
    pub base_url: String,
    /// ConnectWise `{company_id, public_key, private_key, client_id}`; Autotask `{username,
    /// secret, integration_code}`; Halo `{client_id, client_secret, tenant?}`.
    #[schema(value_type = Object)]
    pub credentials: serde_json::Value,
    #[schema(value_type = Option<SettingsDoc>)]
    pub settings: Option<serde_json::Value>,
}

/// What is absent stays as stored; credentials are replaced only when given.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ConnectionPatchIn {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[schema(max_length = 2000)]
    pub base_url: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub credentials: Option<serde_json::Value>,
    #[schema(value_type = Option<SettingsDoc>)]
    pub settings: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionOut {
    pub id: Uuid,
    #[schema(value_type = PsaKindName)]
    pub kind: String,
    pub name: String,
    /// Credentials are never returned; this says they are stored.
    pub secret_set: bool,
    /// Admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<SettingsDoc>)]
    pub settings: Option<ConnectionSettings>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ConnectionOut {
    fn of(connection: PsaConnection, admin: bool) -> Self {
        ConnectionOut {
            id: connection.id,
            kind: connection.kind.as_str().into(),
            name: connection.name,
            secret_set: !connection.sealed_credentials.is_empty(),
            base_url: admin.then_some(connection.base_url),
            settings: admin.then_some(connection.settings),
            created_at: connection.created_at,
            updated_at: connection.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestOut {
    pub ok: bool,
    /// What the PSA said, or what to check (which credential, the URL).
    pub detail: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketsQuery {
    /// Only tickets whose summary contains this.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Default 0.
    #[serde(default, deserialize_with = "query_value::opt_i64")]
    #[param(value_type = Option<i64>, minimum = 0, maximum = 1000000)]
    pub skip: Option<i64>,
    /// Default 25.
    #[serde(default, deserialize_with = "query_value::opt_i64")]
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketOut {
    pub id: String,
    pub number: String,
    pub summary: String,
    pub company: Option<String>,
    pub status: Option<String>,
}

impl From<TicketSummary> for TicketOut {
    fn from(t: TicketSummary) -> Self {
        TicketOut {
            id: t.id,
            number: t.number,
            summary: t.summary,
            company: t.company,
            status: t.status,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberOut {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserMemberOut {
    pub user_id: Uuid,
    pub full_name: String,
    pub email: String,
    /// Null: not mapped (or, with `mapped_by: "manual"`, mapped to no member on purpose).
    pub member_id: Option<String>,
    pub member_name: Option<String>,
    /// `email` (found automatically), `manual` (an admin's choice) or null.
    pub mapped_by: Option<String>,
}

impl From<UserMember> for UserMemberOut {
    fn from(u: UserMember) -> Self {
        UserMemberOut {
            user_id: u.user.id,
            full_name: u.user.full_name,
            email: u.user.email,
            member_id: u.mapping.as_ref().and_then(|m| m.member_id.clone()),
            member_name: u.mapping.as_ref().and_then(|m| m.member_name.clone()),
            mapped_by: u.mapping.map(|m| m.mapped_by.as_str().to_string()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembersOut {
    /// The PSA's active members.
    pub members: Vec<MemberOut>,
    /// Every user of the account with the member they are mapped to.
    pub users: Vec<UserMemberOut>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MemberIn {
    /// One of the PSA's members (`GET …/members`); null: this user has no member.
    #[schema(max_length = 64)]
    pub member_id: Option<String>,
}

/// The account's PSA connections; admins also see `base_url` and `settings`.
#[utoipa::path(get, path = "/integrations/psa", tag = "integrations", security(("bearer" = [])), responses(
    (status = 200, body = Vec<ConnectionOut>), (status = 403, body = ErrorBody, description = "Viewers cannot use PSA connections")))]
pub async fn list_connections(
    State(state): State<AppState>,
    WorkingUser(user): WorkingUser,
) -> ApiResult<Json<Vec<ConnectionOut>>> {
    let admin = user.is_admin();
    let found = connections::list(&state, &user).await?;
    Ok(Json(
        found
            .into_iter()
            .map(|c| ConnectionOut::of(c, admin))
            .collect(),
    ))
}

/// Adds a PSA connection to the admin's account; its credentials are encrypted at rest.
#[utoipa::path(post, path = "/integrations/psa", tag = "integrations", security(("bearer" = [])), request_body = ConnectionIn, responses(
    (status = 201, body = ConnectionOut), (status = 403, body = ErrorBody, description = "Not an account admin"),
    (status = 409, body = ErrorBody, description = "The account has a connection of this kind already"),
    (status = 422, body = ErrorBody, description = "A field is invalid, a credential is missing, or FLOWPILOT_SECRET_KEY is not set")))]
pub async fn create_connection(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(body): ApiJson<ConnectionIn>,
) -> ApiResult<(StatusCode, Json<ConnectionOut>)> {
    let new = NewConnection {
        kind: body.kind,
        name: body.name,
        base_url: body.base_url,
        credentials: Some(body.credentials),
        settings: body.settings,
    };
    let connection = connections::create(&state, &admin, new).await?;
    Ok((
        StatusCode::CREATED,
        Json(ConnectionOut::of(connection, true)),
    ))
}

/// Changes a connection; credentials are replaced only when given.
#[utoipa::path(patch, path = "/integrations/psa/{id}", tag = "integrations", security(("bearer" = [])), request_body = ConnectionPatchIn,
    params(("id" = Uuid, Path, description = "Connection id")), responses(
    (status = 200, body = ConnectionOut), (status = 403, body = ErrorBody, description = "Not an account admin"),
    (status = 422, body = ErrorBody, description = "A field is invalid, a credential is missing, or FLOWPILOT_SECRET_KEY is not set")))]
pub async fn update_connection(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<ConnectionPatchIn>,
) -> ApiResult<Json<ConnectionOut>> {
    let change = ConnectionChange {
        name: body.name,
        base_url: body.base_url,
        credentials: body.credentials,
        settings: body.settings,
    };
    let connection = connections::update(&state, &admin, id, change).await?;
    Ok(Json(ConnectionOut::of(connection, true)))
}

/// Deletes a connection; sessions keep the tickets they were linked to.
#[utoipa::path(delete, path = "/integrations/psa/{id}", tag = "integrations", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Connection id")), responses(
    (status = 204, description = "Deleted"), (status = 403, body = ErrorBody, description = "Not an account admin")))]
pub async fn delete_connection(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    connections::delete(&state, &admin, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Calls the PSA with the stored credentials: `ok: false` says what to check.
#[utoipa::path(post, path = "/integrations/psa/{id}/test", tag = "integrations", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Connection id")), responses(
    (status = 200, body = TestOut), (status = 403, body = ErrorBody, description = "Not an account admin"),
    (status = 429, body = ErrorBody, description = "Over the PSA call limit (see Retry-After)")))]
pub async fn test_connection(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<TestOut>> {
    let test = connections::test(&state, &admin, id).await?;
    Ok(Json(TestOut {
        ok: test.ok,
        detail: test.detail,
    }))
}

/// Open tickets of the connection's PSA to pick from, newest first.
#[utoipa::path(get, path = "/integrations/psa/{id}/tickets", tag = "integrations", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Connection id"), TicketsQuery), responses(
    (status = 200, body = Vec<TicketOut>), (status = 403, body = ErrorBody, description = "Viewers cannot use PSA connections"),
    (status = 429, body = ErrorBody, description = "Over the PSA call limit (see Retry-After)"),
    (status = 502, body = ErrorBody, description = "The PSA failed, refused the credentials or did not answer in time"),
    (status = 503, body = ErrorBody, description = "The server's FLOWPILOT_SECRET_KEY cannot open the connection's credentials")))]
pub async fn list_tickets(
    State(state): State<AppState>,
    WorkingUser(user): WorkingUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<TicketsQuery>,
) -> ApiResult<Json<Vec<TicketOut>>> {
    let mut errors = ValidationErrors::new();
    let skip = q.skip.unwrap_or(0);
    let limit = q.limit.unwrap_or(i64::from(TicketQuery::DEFAULT_LIMIT));
    if !(0..=1_000_000).contains(&skip) {
        errors.push(FieldError::query(
            "skip",
            "Input should be between 0 and 1000000",
            "value_error",
        ));
    }
    if !(1..=i64::from(TicketQuery::MAX_LIMIT)).contains(&limit) {
        errors.push(FieldError::query(
            "limit",
            "Input should be between 1 and 100",
            "value_error",
        ));
    }
    if q.q.as_deref().is_some_and(|q| q.chars().count() > 200) {
        errors.push(FieldError::query(
            "q",
            "Use at most 200 characters",
            "string_too_long",
        ));
    }
    errors.into_result()?;
    let query = TicketQuery {
        q: q.q,
        skip: u32::try_from(skip).unwrap_or(0),
        limit: u32::try_from(limit).unwrap_or(TicketQuery::DEFAULT_LIMIT),
    };
    let found = tickets::open_tickets(&state, &user, id, query).await?;
    Ok(Json(found.into_iter().map(TicketOut::from).collect()))
}

/// The PSA's members and every user of the account with the member they map to; users nobody
/// mapped by hand are mapped by email.
#[utoipa::path(get, path = "/integrations/psa/{id}/members", tag = "integrations", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Connection id")), responses(
    (status = 200, body = MembersOut), (status = 403, body = ErrorBody, description = "Not an account admin"),
    (status = 429, body = ErrorBody, description = "Over the PSA call limit (see Retry-After)"),
    (status = 502, body = ErrorBody, description = "The PSA failed, refused the credentials or did not answer in time"),
    (status = 503, body = ErrorBody, description = "The server's FLOWPILOT_SECRET_KEY cannot open the connection's credentials")))]
pub async fn list_members(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<MembersOut>> {
    let found = members::mappings(&state, &admin, id).await?;
    Ok(Json(MembersOut {
        members: found
            .members
            .into_iter()
            .map(|m| MemberOut {
                id: m.id,
                name: m.name,
                email: m.email,
            })
            .collect(),
        users: found.users.into_iter().map(UserMemberOut::from).collect(),
    }))
}

/// Maps a user of the account to a PSA member by hand (null: no member).
#[utoipa::path(put, path = "/integrations/psa/{id}/members/{user_id}", tag = "integrations", security(("bearer" = [])), request_body = MemberIn,
    params(("id" = Uuid, Path, description = "Connection id"), ("user_id" = Uuid, Path, description = "A user of the account")), responses(
    (status = 200, body = UserMemberOut), (status = 403, body = ErrorBody, description = "Not an account admin"),
    (status = 422, body = ErrorBody, description = "The PSA has no active member with this id"),
    (status = 429, body = ErrorBody, description = "Over the PSA call limit (see Retry-After)"),
    (status = 502, body = ErrorBody, description = "The PSA failed, refused the credentials or did not answer in time"),
    (status = 503, body = ErrorBody, description = "The server's FLOWPILOT_SECRET_KEY cannot open the connection's credentials")))]
pub async fn map_member(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiPath((id, user_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<MemberIn>,
) -> ApiResult<Json<UserMemberOut>> {
    if body
        .member_id
        .as_deref()
        .is_some_and(|m| m.chars().count() > 64)
    {
        return Err(crate::error::ApiError::field(
            &["member_id"],
            "Use at most 64 characters",
            "string_too_long",
        ));
    }
    let mapped = members::map(&state, &admin, id, user_id, body.member_id).await?;
    Ok(Json(mapped.into()))
}
