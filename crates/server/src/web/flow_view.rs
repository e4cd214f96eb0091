//! `/flows/{id}`: one flow of the library, its stats and its decision graph as an outline.
//! Visibility is the API's (`Store::visible_flow`): built-in or the user's account; anything
//! else, a malformed id included, is the same 404 page.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::flow::domain_label;
use domain::flow::{Flow, FlowStatus};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;
use crate::web::csrf::CsrfToken;
use crate::web::error::WebError;
use crate::web::flow_outline::{self, Line, Outline};
use crate::web::page::{render, Layout};
use crate::web::user::WebUser;

struct Stats {
    version: i64,
    usage_count: i64,
    success_rate: Option<String>,
    last_matched_iso: Option<String>,
    last_matched: Option<String>,
    built_in: bool,
    draft: bool,
    domain: String,
    tags: Vec<String>,
}

/// The version the page shows when it is not the current one.
struct PastVersion {
    version: i64,
    changed_by: Option<String>,
    changed_at: String,
    changed_at_iso: String,
}

/// One line of the flow's history.
struct HistoryLine {
    version: i64,
    changed_by: Option<String>,
    changed_at: String,
    changed_at_iso: String,
    why: Option<String>,
    from_proposal: bool,
    unreviewed: usize,
    /// The flow's version now (its page is the flow's own).
    current: bool,
    /// The version this page shows.
    shown: bool,
}

#[derive(Template)]
#[template(path = "flow.html")]
struct FlowPage {
    layout: Layout,
    flow_id: Uuid,
    title: String,
    /// The current version's title, for the way back from a past one.
    current_title: String,
    description: String,
    stats: Stats,
    outline: Outline,
    /// Steps of the shown version still unreviewed.
    unreviewed: usize,
    past: Option<PastVersion>,
    history: Vec<HistoryLine>,
}

pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
) -> Result<Response, WebError> {
    page(&state, &user, &csrf, &raw, None).await
}

/// `/flows/{id}/versions/{n}`: a past version of the flow, read-only, with the history.
pub async fn show_version(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path((raw, n)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let n: i64 = n.trim().parse().map_err(|_| ApiError::NotFound)?;
    page(&state, &user, &csrf, &raw, Some(n)).await
}

async fn page(
    state: &AppState,
    user: &WebUser,
    csrf: &CsrfToken,
    raw: &str,
    version: Option<i64>,
) -> Result<Response, WebError> {
    let id = Uuid::parse_str(raw).map_err(|_| ApiError::NotFound)?;
    let flow = state
        .store
        .visible_flow(user.user.account_id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let versions = state.store.flow_versions(id).await?;
    let shown_version = version.unwrap_or(flow.version);
    let past = match version.filter(|v| *v != flow.version) {
        None => None,
        Some(n) => Some(
            versions
                .iter()
                .find(|v| v.version == n)
                .ok_or(ApiError::NotFound)?,
        ),
    };
    let def = past.map_or(&flow.definition, |v| &v.definition);
    let history = versions
        .iter()
        .map(|v| HistoryLine {
            version: v.version,
            changed_by: v.changed_by_name.clone(),
            changed_at: when(v.changed_at),
            changed_at_iso: v.changed_at.to_rfc3339(),
            why: v.why.clone().filter(|w| !w.trim().is_empty()),
            from_proposal: v.proposal_id.is_some(),
            unreviewed: v.definition.unreviewed.len(),
            current: v.version == flow.version,
            shown: v.version == shown_version,
        })
        .collect();
    let heading = match past {
        Some(v) => format!("{} (version {})", def.title, v.version),
        None => def.title.clone(),
    };
    Ok(render(
        StatusCode::OK,
        &FlowPage {
            layout: Layout::new(&heading, csrf, Some(&user.user)).current("flows"),
            flow_id: flow.id,
            title: def.title.clone(),
            current_title: flow.definition.title.clone(),
            description: def.description.trim().to_string(),
            outline: flow_outline::outline(def),
            unreviewed: def.unreviewed.len(),
            stats: stats(&flow),
            past: past.map(|v| PastVersion {
                version: v.version,
                changed_by: v.changed_by_name.clone(),
                changed_at: when(v.changed_at),
                changed_at_iso: v.changed_at.to_rfc3339(),
            }),
            history,
        },
    ))
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn stats(flow: &Flow) -> Stats {
    let def = &flow.definition;
    Stats {
        version: flow.version,
        usage_count: flow.usage_count,
        success_rate: flow.success_rate.map(percent),
        last_matched_iso: flow.last_matched_at.map(|t| t.to_rfc3339()),
        last_matched: flow
            .last_matched_at
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
        built_in: flow.account_id.is_none(),
        draft: def.status == FlowStatus::Draft,
        domain: domain_label(&def.domain),
        tags: def.tags.clone(),
    }
}

/// A rate in 0..=1 as a whole percentage ("83%"); out-of-range values are clamped.
pub fn percent(rate: f64) -> String {
    let rate = if rate.is_nan() {
        0.0
    } else {
        rate.clamp(0.0, 1.0)
    };
    format!("{:.0}%", rate * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_whole_percentages() {
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(0.834), "83%");
        assert_eq!(percent(1.0), "100%");
        assert_eq!(percent(1.7), "100%");
        assert_eq!(percent(f64::NAN), "0%");
    }
}
