//! The stylesheet, script and icon, embedded in the binary and served under content-hashed
//! names (`/assets/app.3f9c2a1b7d.css`) so browsers may cache them forever: a new build
//! changes the name.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

struct Asset {
    /// The source name, as pages ask for it.
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    /// `/assets/<stem>.<hash>.<ext>`.
    url: String,
}

const SOURCES: [(&str, &str, &[u8]); 4] = [
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/app.js"),
    ),
    (
        "escalations.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/escalations.js"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_bytes!("../../assets/icon.svg"),
    ),
];

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|&(name, content_type, bytes)| {
            let hash = hex::encode(Sha256::digest(bytes));
            let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
            Asset {
                name,
                content_type,
                bytes,
                url: format!("/assets/{stem}.{}.{ext}", &hash[..10]),
            }
        })
        .collect()
});

/// The hashed URL of asset `name`; an unknown name is a bug caught by the page tests.
pub fn url(name: &str) -> &'static str {
    ASSETS
        .iter()
        .find(|a| a.name == name)
        .map_or("/assets/missing", |a| a.url.as_str())
}

pub async fn serve(Path(file): Path<String>) -> Response {
    let wanted = format!("/assets/{file}");
    match ASSETS.iter().find(|a| a.url == wanted) {
        Some(asset) => (
            [
                (CONTENT_TYPE, asset.content_type),
                (CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            asset.bytes,
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [
                (CACHE_CONTROL, "no-store"),
                (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            "Not found",
        )
            .into_response(),
    }
}
