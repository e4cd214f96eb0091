//! The web UI: server-rendered pages from the same binary that work without JavaScript.
//! Pages sign in with an `HttpOnly` cookie holding an ordinary access token; every form is
//! CSRF-protected (see `csrf`). Layout and design notes: docs/web-ui.md.

mod assets;
mod cookies;
mod csrf;
mod error;
mod fields;
mod headers;
mod home;
mod login;
mod logout;
mod next;
mod page;
mod pilot;
mod sign_in;
mod signup;
mod user;

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
        .layer(middleware::from_fn(csrf::ensure_cookie))
        .layer(middleware::from_fn(headers::page_headers));
    Router::new()
        .merge(pages)
        .route("/assets/{file}", get(assets::serve))
}
