//! `/analytics/gaps`: knowledge gaps (memory.md), the sessions that matched no flow grouped
//! by topic, from the same use case as `GET /api/v1/analytics/gaps`; and "Draft a flow from
//! these" (`/analytics/gaps/draft`): the drafted flow as YAML in a form, saved as a draft
//! flow of the account after the same validation as `POST /api/v1/flows`.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use domain::flow::{parse_flow_documents, to_yaml, FlowFormat};
use serde::Deserialize;

use crate::error::ApiError;
use crate::state::AppState;
use crate::team_memory::gaps::{self, Gap};
use crate::web::csrf::{CsrfForm, CsrfToken};
use crate::web::error::WebError;
use crate::web::fields;
use crate::web::page::{render, see_other, Layout};
use crate::web::user::WebUser;

/// The largest flow document the form takes (the API's body limit is 1 MiB).
const YAML_MAX: usize = 500_000;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RangeQuery {
    from: String,
    to: String,
    topic: String,
}

struct GapRow {
    gap: Gap,
    draft_link: String,
}

#[derive(Template)]
#[template(path = "gaps.html")]
struct GapsPage {
    layout: Layout,
    from: String,
    to: String,
    problem: Option<String>,
    rows: Vec<GapRow>,
    total: usize,
    admin: bool,
}

#[derive(Template)]
#[template(path = "gap_draft.html")]
struct DraftPage {
    layout: Layout,
    label: String,
    count: usize,
    yaml: String,
    problem: Option<String>,
    back: String,
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// A link back to the list for the same range.
fn list_link(from: &str, to: &str) -> String {
    format!("/analytics/gaps?from={}&to={}", encode(from), encode(to))
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Query(q): Query<RangeQuery>,
) -> Result<Response, WebError> {
    let u = &user.user;
    if !u.can_work() {
        return Err(ApiError::Forbidden("Viewers do not see knowledge gaps".into()).into());
    }
    let layout = Layout::new("Knowledge gaps", &csrf, Some(u)).current("gaps");
    let (from, to) = match gaps::range(Some(&q.from), Some(&q.to), Utc::now()) {
        Ok(range) => range,
        Err(ApiError::Validation(errors)) => {
            return Ok(render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &GapsPage {
                    layout,
                    from: q.from,
                    to: q.to,
                    problem: Some(fields::sentences(errors)),
                    rows: Vec::new(),
                    total: 0,
                    admin: u.is_admin(),
                },
            ))
        }
        Err(other) => return Err(other.into()),
    };
    let found = gaps::gaps(&state, u, from, to).await?;
    // The form shows whole days; `to` is exclusive, so its day is the one before.
    let (from_day, to_day) = (day(from), day(to - chrono::Duration::seconds(1)));
    let rows: Vec<GapRow> = found
        .into_iter()
        .map(|gap| GapRow {
            draft_link: format!(
                "/analytics/gaps/draft?from={}&to={}&topic={}",
                encode(&from_day),
                encode(&to_day),
                encode(&gap.topic)
            ),
            gap,
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &GapsPage {
            layout,
            total: rows.iter().map(|r| r.gap.count).sum(),
            from: from_day,
            to: to_day,
            problem: None,
            rows,
            admin: u.is_admin(),
        },
    ))
}

/// The form prefilled with the gap's drafted flow.
pub async fn draft(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Query(q): Query<RangeQuery>,
) -> Result<Response, WebError> {
    let u = &user.user;
    if !u.can_work() {
        return Err(ApiError::Forbidden("Viewers cannot draft flows".into()).into());
    }
    let (from, to) = gaps::range(Some(&q.from), Some(&q.to), Utc::now())?;
    let (gap, flow) = gaps::draft_flow(&state, u, from, to, q.topic.trim()).await?;
    let yaml =
        to_yaml(&[flow]).map_err(|e| ApiError::fault("the draft could not be written", e))?;
    Ok(render(
        StatusCode::OK,
        &DraftPage {
            layout: Layout::new("Draft a flow", &csrf, Some(u)).current("gaps"),
            label: gap.label(),
            count: gap.count,
            yaml,
            problem: None,
            back: list_link(&q.from, &q.to),
        },
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DraftForm {
    yaml: String,
    label: String,
    count: usize,
    back: String,
}

/// Saves the (possibly edited) draft as a flow of the account, or shows why it cannot be.
pub async fn save(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    CsrfForm(form): CsrfForm<DraftForm>,
) -> Result<Response, WebError> {
    let u = &user.user;
    if !u.can_work() {
        return Err(ApiError::Forbidden("Viewers cannot create flows".into()).into());
    }
    let problem = if form.yaml.chars().count() > YAML_MAX {
        Err(format!("Keep the flow under {YAML_MAX} characters."))
    } else {
        match parse_flow_documents(&form.yaml, FlowFormat::Yaml) {
            Ok(mut flows) if flows.len() == 1 => {
                let flow = flows.remove(0);
                match flow.validate() {
                    Ok(()) => Ok(flow),
                    Err(errors) => Err(fields::sentences(errors.0)),
                }
            }
            Ok(flows) => Err(format!("Send one flow, not {}.", flows.len())),
            Err(err) => Err(err.to_string()),
        }
    };
    match problem {
        Ok(flow) => {
            let saved = state
                .store
                .create_flow(u.account_id, u.id, &flow, Utc::now())
                .await?;
            Ok(see_other(&format!("/flows/{}", saved.id)))
        }
        Err(problem) => {
            let back = if form.back.starts_with("/analytics/gaps") {
                form.back
            } else {
                "/analytics/gaps".into()
            };
            Ok(render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &DraftPage {
                    layout: Layout::new("Draft a flow", &csrf, Some(u)).current("gaps"),
                    label: form.label,
                    count: form.count,
                    yaml: form.yaml,
                    problem: Some(problem),
                    back,
                },
            ))
        }
    }
}
