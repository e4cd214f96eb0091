//! Building the application and serving it: one entry point for `main` and for the tests.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use store::Store;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::api;
use crate::catalog::Catalog;
use crate::error::ApiError;
use crate::extract::BodyLimit;
use crate::openapi::ApiDoc;
use crate::rate_limit::RateLimiter;
use crate::settings::Settings;
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("cannot open the database: {0}")]
    Database(#[from] store::StoreError),
    #[error("cannot set up the AI provider: {0}")]
    Provider(#[from] domain::llm::LlmError),
    #[error("cannot serve: {0}")]
    Serve(#[from] std::io::Error),
}

/// Connects to the database, applies migrations and builds the shared state.
pub async fn build_state(settings: Settings) -> Result<AppState, LaunchError> {
    let provider = crate::pilots::configured_provider(&settings);
    build_state_with(settings, provider).await
}

/// [`build_state`] with the provider settings the caller keeps (for the probe's cell).
async fn build_state_with(
    settings: Settings,
    provider: Option<(providers::ProviderKind, providers::ProviderSettings)>,
) -> Result<AppState, LaunchError> {
    let store = Store::connect(&settings.database_url).await?;
    store.migrate().await?;
    let limiter = RateLimiter::new(store.clone(), settings.rate_limits)
        .with_signups_per_minute(settings.signups_per_minute)
        .with_logins_per_address(settings.logins_per_address_per_minute);
    crate::catalog::load_builtin_flows(&store).await?;
    let config = matching::MatchConfig {
        threshold: settings.match_threshold,
        ..matching::MatchConfig::default()
    };
    let catalog = Catalog::new(store.clone(), config, crate::embedding::load(&settings)).await?;
    let metrics = Arc::new(crate::metrics::Metrics::default());
    let pilot = crate::pilots::build_with(&settings, catalog.clone(), provider, metrics.clone())?;
    let sealing_key = Arc::new(crate::sealing::SealingKey::from_settings(&settings));
    let psa = Arc::new(crate::psa::Psa::from_settings(
        &settings,
        sealing_key.clone(),
    ));
    Ok(AppState {
        store,
        settings: Arc::new(settings),
        limiter,
        catalog,
        pilot,
        psa,
        sealing_key,
        metrics,
        escalation_events: Default::default(),
    })
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let (api_router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", api::routes())
        .routes(utoipa_axum::routes!(api::health::healthz))
        .routes(utoipa_axum::routes!(api::health::readyz))
        .split_for_parts();
    openapi.info.version = env!("CARGO_PKG_VERSION").to_string();
    let openapi = Arc::new(openapi);
    let body_limit = state.settings.max_body_bytes;
    let metrics = state.metrics.clone();
    // With its own address the metrics are not on the main listener at all (`launch`).
    let metrics_here = state.settings.metrics_bind.is_none();
    let trusted: Arc<[ipnet::IpNet]> = state.settings.trusted_proxies.clone().into();

    api_router
        .route("/api/openapi.json", get(move || {
            let doc = openapi.clone();
            async move { Json(doc.as_ref().clone()) }
        }))
        .merge(crate::web::routes())
        .merge(if metrics_here {
            Router::new().route("/metrics", get(crate::metrics::serve))
        } else {
            Router::new()
        })
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(middleware::from_fn_with_state(
            metrics,
            crate::metrics::record,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(move |mut req: Request, next: Next| async move {
            req.extensions_mut().insert(BodyLimit(body_limit));
            next.run(req).await
        }))
        .layer(CatchPanicLayer::custom(|_panic| {
            tracing::error!("a request handler panicked");
            ApiError::internal("a handler panicked").into_response()
        }))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            crate::client_addr::resolve(trusted.clone(), req, next)
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path(), client = tracing::field::Empty)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// People following a stale link get the HTML error page; the API and JSON clients keep
/// the JSON error shape.
async fn not_found(req: Request) -> Response {
    if crate::web::missing::wants_page(req.method(), req.uri().path(), req.headers()) {
        return crate::web::missing::not_found(req).await;
    }
    ApiError::NotFound.into_response()
}

async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(serde_json::json!({"detail": "Method Not Allowed"})),
    )
        .into_response()
}

/// Serves on `listener` until `shutdown` completes, then drains in-flight requests.
pub async fn launch(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), LaunchError> {
    let provider = crate::pilots::configured_provider(&settings);
    let probe_at_start = settings.provider_probe;
    let state = build_state_with(settings, provider.clone()).await?;
    let store = state.store.clone();
    let housekeeping = tokio::spawn(housekeeping(store.clone()));
    let reminders = tokio::spawn(crate::notifications::reminders::run(state.clone()));
    let outbox = crate::outbox::start(
        store.clone(),
        crate::outbox::Deliverers::standard()
            .with_psa(store.clone(), state.psa.clone())
            .with_flow_analysis(store.clone())
            .with_notifications(&state.settings, &state.sealing_key),
        crate::outbox::WorkerConfig::default(),
    );
    // In the background: a provider that is slow or down must not hold up start-up.
    let probe = match provider {
        Some((kind, provider_settings)) if probe_at_start => {
            Some(crate::provider_probe::spawn(kind, provider_settings))
        }
        _ => None,
    };
    let metrics_listener = match state.settings.metrics_bind.as_deref() {
        Some(addr) => Some(serve_metrics(addr, state.clone()).await?),
        None => None,
    };
    let app = router(state);
    tracing::info!(addr = %listener.local_addr()?, "FlowPilot listening");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    housekeeping.abort();
    reminders.abort();
    if let Some(metrics) = metrics_listener {
        metrics.abort();
    }
    outbox.stop().await;
    if let Some(probe) = probe {
        probe.abort();
    }
    store.close().await;
    tracing::info!("FlowPilot stopped");
    Ok(())
}

/// `/metrics` alone on `addr` (`FLOWPILOT_METRICS_BIND`), so it can stay off the address
/// users reach. Binding fails at start, like the main listener.
async fn serve_metrics(
    addr: &str,
    state: AppState,
) -> Result<tokio::task::JoinHandle<()>, LaunchError> {
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "metrics listening");
    let app = Router::new()
        .route("/metrics", get(crate::metrics::serve))
        .with_state(state);
    Ok(tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::error!(%err, "the metrics listener stopped");
        }
    }))
}

/// Hourly clean-up of expired tokens and old rate-limit windows.
async fn housekeeping(store: Store) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let now = chrono::Utc::now();
        if let Err(err) = store.purge_expired_tokens(now).await {
            tracing::warn!(%err, "token clean-up failed");
        }
        if let Err(err) = store
            .purge_rate_windows(now - chrono::Duration::hours(1))
            .await
        {
            tracing::warn!(%err, "rate-limit clean-up failed");
        }
    }
}
