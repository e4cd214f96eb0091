//! The web UI: server-rendered pages that work without JavaScript.

use axum::Router;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
