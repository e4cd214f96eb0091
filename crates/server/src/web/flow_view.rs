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

#[derive(Template)]
#[template(path = "flow.html")]
struct FlowPage {
    layout: Layout,
    title: String,
    description: String,
    stats: Stats,
    outline: Outline,
}

pub async fn show(
    State(state): State<AppState>,
    user: WebUser,
    csrf: CsrfToken,
    Path(raw): Path<String>,
) -> Result<Response, WebError> {
    let id = Uuid::parse_str(&raw).map_err(|_| ApiError::NotFound)?;
    let flow = state
        .store
        .visible_flow(user.user.account_id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let def = &flow.definition;
    Ok(render(
        StatusCode::OK,
        &FlowPage {
            layout: Layout::new(&def.title, &csrf, Some(&user.user)).current("flows"),
            title: def.title.clone(),
            description: def.description.trim().to_string(),
            outline: flow_outline::outline(def),
            stats: stats(&flow),
        },
    ))
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
