//! Flow health and analytics (memory.md): the overview the JSON API answers and the
//! Analytics page draws, one use case for both. Who sees what: an admin the account's
//! sessions, an engineer their own; viewers none (403).

pub mod figures;
pub mod range;

use chrono::Utc;
use domain::User;
use store::AnalyticsScope;

use crate::error::{ApiError, ApiResult};
use crate::rate_limit::Action;
use crate::sessions::limit;
use crate::state::AppState;

pub use figures::Overview;
pub use range::Range;

/// Reads the filters as the query gives them, then the overview of the caller's sessions.
pub async fn overview(
    state: &AppState,
    user: &User,
    from: Option<&str>,
    to: Option<&str>,
    domain: Option<&str>,
) -> ApiResult<Overview> {
    if !user.can_work() {
        return Err(ApiError::Forbidden(
            "Analytics are for engineers and admins".into(),
        ));
    }
    let range = Range::parse(from, to, domain, Utc::now())?;
    limit(state, Action::SessionRead, user.id, "analytics").await?;
    let (scope, user_id) = if user.is_admin() {
        ("account", None)
    } else {
        ("own", Some(user.id))
    };
    let rows = state
        .store
        .analytics_rows(&AnalyticsScope {
            account_id: user.account_id,
            user_id,
            from: range.from,
            to: range.to,
            domain: range.domain.clone(),
        })
        .await?;
    let mut flows = figures::FlowNodes::new();
    let flow_ids: std::collections::BTreeSet<_> = rows
        .sessions
        .iter()
        .filter_map(|s| s.matched_flow_id)
        .collect();
    for id in flow_ids {
        // A flow deleted since is still counted, by the name the sessions kept.
        if let Some(flow) = state.store.visible_flow(user.account_id, id).await? {
            flows.insert(id, flow.definition.nodes);
        }
    }
    Ok(figures::compute(
        &rows,
        &flows,
        range.from,
        range.to,
        range.domain,
        scope,
    ))
}
