use std::sync::Arc;

use store::Store;

use crate::rate_limit::RateLimiter;
use crate::settings::Settings;

/// Everything a handler needs, shared by all requests. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub limiter: RateLimiter,
}
