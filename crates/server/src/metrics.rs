//! `/metrics` for operators (memory.md "Operators"), in the Prometheus text format, from the
//! `prometheus` crate (docs/decisions.md says why that one).
//!
//! Three kinds of figures: what requests and provider calls record as they happen (counters
//! and latency histograms), and what is read from the database when the metrics are scraped
//! (sessions by status, outbox depth, pool use), so a server that restarts or shares its
//! database with others still reports the whole picture for those.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::llm::{LlmError, LlmProvider, LlmReply, LlmRequest, TextSink};
use prometheus::{
    exponential_buckets, Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use store::Store;

/// The server's metrics. One per process, in the application state.
pub struct Metrics {
    registry: Registry,
    /// By method, route and status. The route is its pattern (`/api/v1/ai-sessions/{id}`),
    /// never the path itself, so ids do not make a series each.
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    /// By provider and outcome: `ok`, or the kind of failure (`timeout`, `rate_limited`,
    /// `upstream`, `transport`, `invalid_response`).
    provider_calls: IntCounterVec,
    provider_seconds: HistogramVec,
    sessions: IntGaugeVec,
    outbox: IntGaugeVec,
    /// By backend and state: `open`, `idle`, `max`.
    pool: IntGaugeVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// The metrics' names, help texts and labels are constants: building them cannot fail, and a
/// test builds them, so `Metrics::default` does not need to say how it would.
#[allow(clippy::expect_used)]
impl Default for Metrics {
    fn default() -> Self {
        let registry =
            Registry::new_custom(Some("flowpilot".into()), None).expect("a valid prefix");
        // 5 ms to about 40 s: a page read at the bottom, a slow provider call at the top.
        let buckets = exponential_buckets(0.005, 2.0, 14).expect("valid buckets");
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let metric = IntCounterVec::new(Opts::new(name, help), labels).expect("a counter");
            registry
                .register(Box::new(metric.clone()))
                .expect("registered once");
            metric
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let metric = IntGaugeVec::new(Opts::new(name, help), labels).expect("a gauge");
            registry
                .register(Box::new(metric.clone()))
                .expect("registered once");
            metric
        };
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let opts = HistogramOpts::new(name, help).buckets(buckets.clone());
            let metric = HistogramVec::new(opts, labels).expect("a histogram");
            registry
                .register(Box::new(metric.clone()))
                .expect("registered once");
            metric
        };
        let requests = counter(
            "http_requests_total",
            "HTTP requests answered, by method, route and status",
            &["method", "route", "status"],
        );
        let request_seconds = histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route",
            &["method", "route"],
        );
        let provider_calls = counter(
            "provider_calls_total",
            "Calls to the LLM provider, by provider and outcome",
            &["provider", "outcome"],
        );
        let provider_seconds = histogram(
            "provider_call_duration_seconds",
            "Time an LLM provider call took, by provider",
            &["provider"],
        );
        let sessions = gauge(
            "sessions",
            "Sessions in the database, by status (every account)",
            &["status"],
        );
        let outbox = gauge(
            "outbox_entries",
            "Outbox entries (PSA writes, notifications) by status; failed ones need a person",
            &["status"],
        );
        let pool = gauge(
            "db_connections",
            "Database connections: open, idle and the pool's maximum",
            &["backend", "state"],
        );
        Self {
            registry,
            requests,
            request_seconds,
            provider_calls,
            provider_seconds,
            sessions,
            outbox,
            pool,
        }
    }
}

impl Metrics {
    fn record_request(&self, method: &str, route: &str, status: StatusCode, seconds: f64) {
        self.requests
            .with_label_values(&[method, route, status.as_str()])
            .inc();
        self.request_seconds
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    fn record_provider_call(&self, provider: &str, outcome: &str, seconds: f64) {
        self.provider_calls
            .with_label_values(&[provider, outcome])
            .inc();
        self.provider_seconds
            .with_label_values(&[provider])
            .observe(seconds);
    }

    /// Reads what the database holds into the gauges, then the whole registry as text.
    pub async fn render(&self, store: &Store) -> Result<String, MetricsError> {
        let by_status = store.sessions_by_status().await?;
        self.sessions.reset();
        for (status, n) in by_status {
            self.sessions.with_label_values(&[status.as_str()]).set(n);
        }
        let depth = store.outbox_depth().await?;
        for (status, n) in [
            ("pending", depth.pending),
            ("in_flight", depth.in_flight),
            ("delivered", depth.delivered),
            ("failed", depth.failed),
        ] {
            self.outbox.with_label_values(&[status]).set(n);
        }
        let pool = store.pool_use();
        let backend = store.backend().as_str();
        for (state, value) in [
            ("open", Some(pool.open)),
            ("idle", Some(pool.idle)),
            ("max", pool.max),
        ] {
            if let Some(value) = value {
                self.pool
                    .with_label_values(&[backend, state])
                    .set(i64::from(value));
            }
        }
        let mut text = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut text)?;
        Ok(String::from_utf8_lossy(&text).into_owned())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("the metrics could not be encoded: {0}")]
    Encode(#[from] prometheus::Error),
}

/// Records every request's route, status and latency.
pub async fn record(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    // Requests no route matched (404s for any path) share one series.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| route_label(p.as_str()));
    let response = next.run(req).await;
    metrics.record_request(
        &method,
        &route,
        response.status(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `/api/v1/ai-sessions/{id}` as `/api/v1/ai-sessions/:id`: braces are legal in a label, but
/// simple scrapers' parsers end the label set at the first closing brace.
fn route_label(pattern: &str) -> String {
    pattern.replace('{', ":").replace('}', "")
}

/// `GET /metrics`.
pub async fn serve(State(state): State<crate::AppState>) -> Response {
    serve_from(&state.metrics, &state.store).await
}

pub(crate) async fn serve_from(metrics: &Metrics, store: &Store) -> Response {
    match metrics.render(store).await {
        Ok(text) => (
            [(header::CONTENT_TYPE, TextEncoder::new().format_type())],
            text,
        )
            .into_response(),
        Err(MetricsError::Store(err)) => crate::error::ApiError::from(err).into_response(),
        Err(err) => crate::error::ApiError::internal(err.to_string()).into_response(),
    }
}

/// A provider whose calls are counted and timed; the edge wraps the configured one in it.
pub struct MeteredProvider {
    inner: Arc<dyn LlmProvider>,
    metrics: Arc<Metrics>,
}

impl MeteredProvider {
    pub fn wrap(inner: Arc<dyn LlmProvider>, metrics: Arc<Metrics>) -> Arc<dyn LlmProvider> {
        Arc::new(Self { inner, metrics })
    }

    fn observe(&self, started: Instant, result: &Result<LlmReply, LlmError>) {
        let outcome = match result {
            Ok(_) => "ok",
            Err(LlmError::Timeout(_)) => "timeout",
            Err(LlmError::RateLimited { .. }) => "rate_limited",
            Err(LlmError::Upstream { .. }) => "upstream",
            Err(LlmError::Transport(_)) => "transport",
            Err(LlmError::InvalidResponse(_)) => "invalid_response",
        };
        self.metrics.record_provider_call(
            self.inner.name(),
            outcome,
            started.elapsed().as_secs_f64(),
        );
    }
}

#[async_trait]
impl LlmProvider for MeteredProvider {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn model(&self) -> &str {
        self.inner.model()
    }

    async fn complete(&self, request: &LlmRequest) -> Result<LlmReply, LlmError> {
        let started = Instant::now();
        let result = self.inner.complete(request).await;
        self.observe(started, &result);
        result
    }

    async fn complete_streaming(
        &self,
        request: &LlmRequest,
        sink: &dyn TextSink,
    ) -> Result<LlmReply, LlmError> {
        let started = Instant::now();
        let result = self.inner.complete_streaming(request, sink).await;
        self.observe(started, &result);
        result
    }
}
