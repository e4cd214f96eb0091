//! The JSON API under `/api/v1`: one router per resource, merged here.

pub mod accounts;
pub mod analytics;
pub mod auth;
pub mod dto;
pub mod escalations;
pub mod flow_proposals;
pub mod flows;
pub mod gaps;
pub mod health;
pub mod notifications;
pub mod psa;
pub mod quota;
pub mod sessions;
pub mod teams;
pub mod users;

use utoipa::Modify;
use utoipa_axum::router::OpenApiRouter;

use crate::openapi::StandardResponses;
use crate::state::AppState;

/// Every `/api/v1` route, with the OpenAPI description collected from the handlers.
pub fn routes() -> OpenApiRouter<AppState> {
    let mut routes = OpenApiRouter::new()
        .merge(auth::routes())
        .merge(users::routes())
        .merge(teams::routes())
        .merge(accounts::routes())
        .merge(analytics::routes())
        .merge(gaps::routes())
        .merge(quota::routes())
        .merge(sessions::routes())
        .merge(escalations::routes())
        .merge(flows::routes())
        .merge(flow_proposals::routes())
        .merge(psa::routes())
        .merge(notifications::routes());
    // Here and not in `ApiDoc`'s modifiers: those run before any route is added to it.
    StandardResponses.modify(routes.get_openapi_mut());
    routes
}
