//! `/`: an introduction with the ways in; signed-in users go straight to the pilot.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use crate::state::AppState;
use crate::web::csrf::CsrfToken;
use crate::web::error::WebError;
use crate::web::next::AFTER_SIGN_IN;
use crate::web::page::{render, see_other, Layout};
use crate::web::user::MaybeUser;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    signup_open: bool,
}

pub async fn show(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    csrf: CsrfToken,
) -> Result<Response, WebError> {
    if user.is_some() {
        return Ok(see_other(AFTER_SIGN_IN));
    }
    Ok(render(
        StatusCode::OK,
        &HomePage {
            layout: Layout::new("Welcome", &csrf, None),
            signup_open: state.settings.allow_signup,
        },
    ))
}
