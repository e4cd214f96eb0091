//! `/flows`: the troubleshooting library (flows.md "API"). Built-in flows (no account) are
//! visible to everyone and read-only here; only the shipped files change them.

pub mod dto;
mod import;
pub mod versions;

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use domain::flow::{to_json, to_yaml, Flow, FlowChange, FlowDefinition, FlowStatus};
use domain::{FieldError, User, ValidationErrors};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::api::dto::ErrorBody;
use crate::auth::{CurrentUser, WorkingUser};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use dto::*;
use import::ImportBody;

pub fn routes() -> OpenApiRouter<AppState> {
    // The static paths (import, export, match, domains) win over `/flows/{id}`: axum's
    // router prefers a static segment to a capture whatever the registration order.
    OpenApiRouter::new()
        .routes(routes!(list_flows, create_flow))
        .routes(routes!(get_flow, update_flow, delete_flow))
        .routes(routes!(versions::list_versions))
        .routes(routes!(versions::get_version))
        .routes(routes!(import_flows))
        .routes(routes!(export_flows))
        .routes(routes!(match_flows))
        .routes(routes!(flow_domains))
}

const MAX_MATCH_TEXT: usize = 10_000;
/// The longest note an edit may carry into the flow's history.
const MAX_WHY: usize = 2000;

/// The library visible to the caller: the account's flows and the built-in ones, sorted by
/// title. `q` is a case-insensitive substring of the title, description or a tag (a filter
/// for browsing; ranking by relevance is `POST /flows/match`).
#[utoipa::path(get, path = "/flows", tag = "flows", security(("bearer" = [])), params(ListQuery), responses(
    (status = 200, body = Vec<FlowOut>, headers(("X-Total-Count" = i64, description = "Flows matching the filter")))))]
pub async fn list_flows(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let mut errors = ValidationErrors::new();
    let status = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => FlowStatus::parse(s).or_else(|| {
            errors.push(FieldError::query(
                "status",
                "Input should be 'published' or 'draft'",
                "enum",
            ));
            None
        }),
    };
    let skip = q.skip.unwrap_or(0);
    let limit = q.limit.unwrap_or(20);
    if skip < 0 {
        errors.push(FieldError::query(
            "skip",
            "Input should be greater than or equal to 0",
            "greater_than_equal",
        ));
    }
    if !(1..=100).contains(&limit) {
        errors.push(FieldError::query(
            "limit",
            "Input should be between 1 and 100",
            "value_error",
        ));
    }
    errors.into_result()?;
    let domain = q.domain.as_deref().map(str::trim).filter(|d| !d.is_empty());
    let mut flows = state
        .store
        .library_flows(current.user.account_id, domain, status)
        .await?;
    if let Some(needle) = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let needle = needle.to_lowercase();
        flows.retain(|f| mentions(&f.definition, &needle));
    }
    let total = flows.len();
    // Both bounds were checked above, so these conversions cannot fail; saturate anyway.
    let skip = usize::try_from(skip).unwrap_or(usize::MAX);
    let limit = usize::try_from(limit).unwrap_or(20);
    let page: Vec<FlowOut> = flows
        .into_iter()
        .skip(skip)
        .take(limit)
        .map(FlowOut::from)
        .collect();
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", HeaderValue::from(total));
    Ok((headers, Json(page)).into_response())
}

/// `needle` is already lower-case.
fn mentions(def: &FlowDefinition, needle: &str) -> bool {
    def.title.to_lowercase().contains(needle)
        || def.description.to_lowercase().contains(needle)
        || def.tags.iter().any(|t| t.to_lowercase().contains(needle))
}

/// Adds a flow to the caller's account library.
#[utoipa::path(post, path = "/flows", tag = "flows", security(("bearer" = [])), request_body = FlowIn, responses(
    (status = 201, body = FlowOut), (status = 403, body = ErrorBody, description = "Viewers cannot change the library")))]
pub async fn create_flow(
    State(state): State<AppState>,
    WorkingUser(user): WorkingUser,
    ApiJson(def): ApiJson<FlowDefinition>,
) -> ApiResult<(StatusCode, Json<FlowOut>)> {
    def.validate()?;
    let flow = state
        .store
        .create_flow(user.account_id, user.id, &def, Utc::now())
        .await?;
    Ok((StatusCode::CREATED, Json(flow.into())))
}

/// One flow of the account or of the built-in library.
#[utoipa::path(get, path = "/flows/{id}", tag = "flows", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = FlowOut)))]
pub async fn get_flow(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<FlowOut>> {
    let flow = visible(&state, &current.user, id).await?;
    Ok(Json(flow.into()))
}

async fn visible(state: &AppState, user: &User, id: Uuid) -> ApiResult<Flow> {
    state
        .store
        .visible_flow(user.account_id, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// A flow the caller may change: 404 when not visible, 403 for the built-in library.
async fn writable(state: &AppState, user: &User, id: Uuid) -> ApiResult<Flow> {
    let flow = visible(state, user, id).await?;
    if flow.account_id.is_none() {
        return Err(ApiError::Forbidden("Built-in flows are read-only".into()));
    }
    Ok(flow)
}

/// Publishes a new version of a flow. The request names the version it edits, in
/// `If-Match` (`"3"` or `3`) or as `version` in the body; when the flow has moved on since,
/// nothing is written and the answer is 409 naming the current version. Without either the
/// current version is taken (clients written before versions keep working). A creator who is
/// not an admin cannot clear a node's `unreviewed` mark; an admin's document is taken as it is.
#[utoipa::path(put, path = "/flows/{id}", tag = "flows", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "The version this edit is based on, e.g. \"3\"")),
    request_body = FlowUpdateIn,
    responses((status = 200, body = FlowOut, headers(("ETag" = String, description = "The new version, quoted"))),
    (status = 403, body = ErrorBody, description = "A built-in flow, or neither the flow's creator nor an account admin"),
    (status = 409, body = ErrorBody, description = "The flow changed since the given version; `detail.current_version` names the current one")))]
pub async fn update_flow(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<FlowUpdate>,
) -> ApiResult<Response> {
    let user = current.user;
    let flow = writable(&state, &user, id).await?;
    // A creator demoted to viewer no longer writes: viewers never change anything.
    let creator = user.can_work() && flow.created_by == Some(user.id);
    if !(user.is_admin() || creator) {
        return Err(ApiError::Forbidden(
            "Only the flow's creator or an account admin can change it".into(),
        ));
    }
    let expected = edited_version(&headers, body.version.as_ref())?.unwrap_or(flow.version);
    let mut def = body.definition;
    def.validate()?;
    if !user.is_admin() {
        def.keep_unreviewed_marks(&flow.definition);
    }
    let why = body.why.as_deref().map(str::trim).filter(|w| !w.is_empty());
    let mut errors = ValidationErrors::new();
    errors.check_len(&["why"], why.unwrap_or_default(), 0, MAX_WHY);
    errors.into_result()?;
    let change = FlowChange {
        changed_by: Some(user.id),
        proposal_id: None,
        why,
    };
    let updated = state
        .store
        .publish_flow_version(id, expected, &def, change, Utc::now())
        .await?;
    let tag = version_tag(updated.version);
    Ok(([(header::ETAG, tag)], Json(FlowOut::from(updated))).into_response())
}

/// The version an update says it edits: `If-Match` first, else the body's `version`.
/// `If-Match: *` means any version, as in HTTP.
fn edited_version(headers: &HeaderMap, body: Option<&serde_json::Value>) -> ApiResult<Option<i64>> {
    let bad_header = || {
        ApiError::Validation(vec![FieldError {
            loc: vec!["header".into(), "if-match".into()],
            msg: "If-Match should be the flow's version, such as \"3\"".into(),
            kind: "value_error".into(),
        }])
    };
    if let Some(value) = headers.get(header::IF_MATCH) {
        let text = value.to_str().map_err(|_| bad_header())?.trim();
        if text == "*" {
            return Ok(None);
        }
        let bare = text.strip_prefix("W/").unwrap_or(text);
        let bare = bare
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or(bare);
        return bare
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|v| *v >= 1)
            .map(Some)
            .ok_or_else(bad_header);
    }
    let Some(value) = body.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let parsed = match value {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    parsed.filter(|v| *v >= 1).map(Some).ok_or_else(|| {
        ApiError::field(
            &["version"],
            "Input should be the flow's version, a whole number from 1",
            "int_parsing",
        )
    })
}

fn version_tag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// Deletes a flow. Sessions that matched it keep its name in their history.
#[utoipa::path(delete, path = "/flows/{id}", tag = "flows", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted"),
    (status = 403, body = ErrorBody, description = "A built-in flow, or not an account admin")))]
pub async fn delete_flow(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    let user = current.user;
    writable(&state, &user, id).await?;
    if !user.is_admin() {
        return Err(ApiError::Forbidden(
            "Only account admins can delete flows".into(),
        ));
    }
    state.store.delete_flow(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Imports flows into the caller's account, all or nothing: a JSON array (or one object),
/// or YAML with `Content-Type: application/yaml` (one document, several, or a list).
#[utoipa::path(post, path = "/flows/import", tag = "flows", security(("bearer" = [])),
    request_body(content((ImportIn = "application/json"), (ImportIn = "application/yaml"))),
    responses((status = 201, body = ImportOut), (status = 403, body = ErrorBody, description = "Viewers cannot change the library")))]
pub async fn import_flows(
    State(state): State<AppState>,
    WorkingUser(user): WorkingUser,
    body: ImportBody,
) -> ApiResult<(StatusCode, Json<ImportOut>)> {
    let flows = import::parse(&body)?;
    let ids = state
        .store
        .import_flows(user.account_id, Some(user.id), &flows, Utc::now())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ImportOut {
            imported: ids.len(),
            ids,
        }),
    ))
}

/// The account's own flows (not the built-in ones) as definitions, ready to import again.
#[utoipa::path(get, path = "/flows/export", tag = "flows", security(("bearer" = [])), params(ExportQuery),
    responses((status = 200, description = "A JSON array, or with `format=yaml` a YAML list, of flow definitions",
        content((Vec<FlowIn> = "application/json"), (Vec<FlowIn> = "application/yaml")))))]
pub async fn export_flows(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let yaml = match q.format.as_deref().map(str::trim) {
        None | Some("") | Some("json") => false,
        Some("yaml") | Some("yml") => true,
        Some(_) => {
            return Err(ApiError::Validation(vec![FieldError::query(
                "format",
                "Input should be 'json' or 'yaml'",
                "enum",
            )]))
        }
    };
    let defs: Vec<FlowDefinition> = state
        .store
        .account_flows(current.user.account_id)
        .await?
        .into_iter()
        .map(|f| f.definition)
        .collect();
    let (text, content_type) = if yaml {
        (to_yaml(&defs), "application/yaml")
    } else {
        (to_json(&defs), "application/json")
    };
    let text = text.map_err(|e| ApiError::fault("exporting the flows failed", e))?;
    Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
}

/// Ranks the visible published flows against a problem description, best first; only
/// flows above the match threshold are returned, each with the signals behind its score.
#[utoipa::path(post, path = "/flows/match", tag = "flows", security(("bearer" = [])), request_body = MatchIn,
    responses((status = 200, body = Vec<MatchOut>)))]
pub async fn match_flows(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiJson(body): ApiJson<MatchIn>,
) -> ApiResult<Json<Vec<MatchOut>>> {
    let text = body.text.trim();
    let mut errors = ValidationErrors::new();
    errors.check_len(&["text"], text, 1, MAX_MATCH_TEXT);
    let limit = body.limit.unwrap_or(3);
    if !(1..=20).contains(&limit) {
        errors.push(FieldError::body(
            &["limit"],
            "Input should be between 1 and 20",
            "value_error",
        ));
    }
    errors.into_result()?;
    let domain = body
        .domain
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    let limit = usize::try_from(limit).unwrap_or(3);
    let found = state
        .catalog
        .search(current.user.account_id, text, domain, limit)
        .await;
    Ok(Json(
        found
            .into_iter()
            .map(|(flow, m)| MatchOut {
                flow_id: flow.id,
                title: flow.definition.title,
                domain: flow.definition.domain,
                score: m.score,
                signals: SignalsOut {
                    semantic: m.signals.semantic,
                    keyword: m.signals.keyword,
                    recency: m.signals.recency,
                },
            })
            .collect(),
    ))
}

/// The domains of the visible library (drafts included), most flows first.
#[utoipa::path(get, path = "/flows/domains", tag = "flows", security(("bearer" = [])),
    responses((status = 200, body = Vec<DomainOut>)))]
pub async fn flow_domains(
    State(state): State<AppState>,
    current: CurrentUser,
) -> ApiResult<Json<Vec<DomainOut>>> {
    let flows = state
        .store
        .library_flows(current.user.account_id, None, None)
        .await?;
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for f in flows {
        *counts.entry(f.definition.domain).or_default() += 1;
    }
    let mut out: Vec<DomainOut> = counts
        .into_iter()
        .map(|(domain, count)| DomainOut { domain, count })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.domain.cmp(&b.domain)));
    Ok(Json(out))
}
