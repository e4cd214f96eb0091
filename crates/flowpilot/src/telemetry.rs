use tracing_subscriber::EnvFilter;

/// Structured logs on stderr; `RUST_LOG` (or the configured filter) chooses the detail.
/// Each request's lines carry its span, including the request id.
pub fn init(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
