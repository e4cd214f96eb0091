//! The web UI: server-rendered pages from the same binary that work without JavaScript.
//! Pages sign in with an `HttpOnly` cookie holding an ordinary access token; every form is
//! CSRF-protected (see `csrf`). Layout and design notes: docs/web-ui.md.

mod analytics;
mod answer_stream;
mod assets;
mod charts;
mod cookies;
mod csrf;
mod csv;
mod documentation;
mod error;
mod escalations;
mod fields;
mod fix_outcome;
mod flow_outline;
mod flow_view;
mod gaps;
mod headers;
mod history;
mod home;
mod library;
mod listing;
mod login;
mod logout;
mod markdown;
pub mod missing;
mod next;
mod notice;
mod notification_settings;
mod page;
mod pilot;
mod psa_settings;
mod review_queue;
mod session;
mod session_ticket;
mod session_view;
mod sign_in;
mod signup;
mod similar;
mod ticket_picker;
mod user;
mod why_matched;

use axum::middleware;
use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    let pages = Router::new()
        .route("/", get(home::show))
        .route("/login", get(login::show).post(login::submit))
        .route("/signup", get(signup::show).post(signup::submit))
        .route("/logout", post(logout::submit))
        .route("/pilot", get(pilot::show).post(pilot::submit))
        .route("/pilot/similar", post(similar::check))
        .route("/sessions", get(history::show))
        .route("/escalations", get(escalations::show))
        .route("/analytics", get(analytics::show))
        .route("/analytics/{file}", get(analytics::download))
        .route("/analytics/gaps", get(gaps::show))
        .route("/analytics/gaps/draft", get(gaps::draft).post(gaps::save))
        .route("/escalations/events", get(escalations::events))
        .route("/escalations/{id}/claim", post(escalations::claim))
        .route("/escalations/{id}/pickup", post(escalations::pickup))
        .route("/review", get(review_queue::show))
        .route("/review/{id}", get(review_queue::show_one))
        .route("/review/{id}/approve", post(review_queue::approve))
        .route("/review/{id}/reject", post(review_queue::reject))
        .route("/flows", get(library::list))
        .route("/flows/{id}", get(flow_view::show))
        .route("/flows/{id}/versions/{n}", get(flow_view::show_version))
        .route("/pilot/{id}", get(session::show))
        .route("/pilot/{id}/respond", post(session::respond))
        .route("/pilot/{id}/respond/stream", post(answer_stream::respond))
        .route("/pilot/{id}/resolve", post(session::resolve))
        .route("/pilot/{id}/escalate", post(session::escalate))
        .route("/pilot/{id}/pause", post(session::pause))
        .route("/pilot/{id}/resume", post(session::resume))
        .route(
            "/pilot/{id}/steps/{step_id}/outcome",
            post(fix_outcome::outcome),
        )
        .route(
            "/pilot/{id}/steps/{step_id}/not-relevant",
            post(fix_outcome::not_relevant),
        )
        .route("/pilot/{id}/documentation", get(documentation::show))
        .route("/pilot/{id}/documentation.md", get(documentation::download))
        .route("/pilot/{id}/rate", post(documentation::rate))
        .route("/pilot/{id}/link-ticket", post(session_ticket::link))
        .route(
            "/pilot/{id}/psa-push/retry",
            post(session_ticket::retry_push),
        )
        .route(
            "/settings/notifications",
            get(notification_settings::show).post(notification_settings::save),
        )
        .route(
            "/settings/notifications/test",
            post(notification_settings::test),
        )
        .route(
            "/settings/psa",
            get(psa_settings::list).post(psa_settings::create),
        )
        .route("/settings/psa/new", get(psa_settings::new))
        .route(
            "/settings/psa/{id}",
            get(psa_settings::edit).post(psa_settings::update),
        )
        .route("/settings/psa/{id}/test", post(psa_settings::test))
        .route("/settings/psa/{id}/delete", post(psa_settings::delete))
        .route(
            "/settings/psa/{id}/members",
            get(psa_settings::members_show),
        )
        .route(
            "/settings/psa/{id}/members/{user_id}",
            post(psa_settings::members_map),
        )
        .layer(middleware::from_fn(csrf::ensure_cookie))
        .layer(middleware::from_fn(headers::page_headers));
    Router::new()
        .merge(pages)
        .route("/assets/{file}", get(assets::serve))
}
