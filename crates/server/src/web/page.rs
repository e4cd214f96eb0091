//! Rendering: the layout every page shares, turning a template into a response, redirects.

use askama::Template;
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use domain::User;

use crate::web::assets;

/// What `base.html` needs: the title, who is signed in, the CSRF token for the sign-out
/// form, and the content-hashed asset URLs.
pub struct Layout {
    pub title: String,
    pub user_name: Option<String>,
    /// Whether the signed-in user is an account admin (the settings link).
    pub admin: bool,
    /// Whether they are an engineer or an admin (the analytics link).
    pub works: bool,
    pub csrf: String,
    /// The nav entry to mark `aria-current="page"`.
    pub current: &'static str,
    pub css: &'static str,
    pub js: &'static str,
    pub icon: &'static str,
}

impl Layout {
    /// `csrf` is this browser's token ([`crate::web::csrf::CsrfToken`]), rendered into forms.
    pub fn new(title: &str, csrf: &(impl AsRef<str> + ?Sized), user: Option<&User>) -> Self {
        Layout {
            title: title.to_string(),
            user_name: user.map(|u| u.full_name.clone()),
            admin: user.is_some_and(User::is_admin),
            works: user.is_some_and(User::can_work),
            csrf: csrf.as_ref().to_string(),
            current: "",
            css: assets::url("app.css"),
            js: assets::url("app.js"),
            icon: assets::url("icon.svg"),
        }
    }

    /// For error pages: nobody named, no forms.
    pub fn bare(title: &str) -> Self {
        Layout::new(title, "", None)
    }

    pub fn current(mut self, nav: &'static str) -> Self {
        self.current = nav;
        self
    }
}

pub fn render<T: Template>(status: StatusCode, template: &T) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => {
            tracing::error!(%err, "a page template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html(
                    "<!doctype html><title>Error</title><p>FlowPilot could not show this page.</p>",
                ),
            )
                .into_response()
        }
    }
}

/// 303 See Other, so a form POST is followed by a GET. `location` is always a local path we
/// built or checked (see `next`); anything unfit for a header falls back to the home page.
pub fn see_other(location: &str) -> Response {
    let value = HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(LOCATION, value)]).into_response()
}
