//! The HTML "Page not found" for unknown page paths. `launch` keeps its JSON 404 for the API
//! and for clients that ask only for JSON; people following a stale link get a page.

use axum::extract::Request;
use axum::handler::Handler;
use axum::http::header::ACCEPT;
use axum::http::{HeaderMap, Method};
use axum::middleware;
use axum::response::Response;

use crate::error::ApiError;
use crate::web::error::WebError;
use crate::web::headers;

/// A GET (or HEAD) outside `/api` from a client that does not ask for JSON alone.
pub fn wants_page(method: &Method, path: &str, headers: &HeaderMap) -> bool {
    let reading = method == Method::GET || method == Method::HEAD;
    let api = path == "/api" || path.starts_with("/api/");
    let accept = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let json_only = accept.contains("application/json") && !accept.contains("text/html");
    reading && !api && !json_only
}

/// The error page, through the same header middleware as every other page (CSP, nosniff,
/// no-store) so the fallback cannot drift from them.
pub async fn not_found(req: Request) -> Response {
    let page = (|| async { WebError::Api(ApiError::NotFound) })
        .layer(middleware::from_fn(headers::page_headers));
    Handler::<_, ()>::call(page, req, ()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn only_page_reads_get_the_page() {
        let none = HeaderMap::new();
        assert!(wants_page(&Method::GET, "/nope", &none));
        assert!(wants_page(&Method::HEAD, "/flows/x/y", &none));
        assert!(!wants_page(&Method::POST, "/nope", &none));
        assert!(!wants_page(&Method::GET, "/api/v1/nope", &none));
        assert!(!wants_page(&Method::GET, "/api", &none));
        assert!(wants_page(&Method::GET, "/apiary", &none));
        let mut json = HeaderMap::new();
        json.insert(ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!wants_page(&Method::GET, "/nope", &json));
        let mut browser = HeaderMap::new();
        browser.insert(
            ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml,application/json;q=0.9"),
        );
        assert!(wants_page(&Method::GET, "/nope", &browser));
    }
}
