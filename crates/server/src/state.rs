use std::sync::Arc;

use engine::Pilot;
use store::Store;

use crate::catalog::Catalog;

use crate::rate_limit::RateLimiter;
use crate::settings::Settings;

/// Everything a handler needs, shared by all requests. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub limiter: RateLimiter,
    pub catalog: Arc<Catalog>,
    /// What produces steps: the offline pilot, or an LLM pilot when a provider is configured.
    pub pilot: Arc<dyn Pilot>,
    /// The PSA connector, sealing credentials with [`AppState::sealing_key`].
    pub psa: Arc<crate::psa::Psa>,
    /// What PSA credentials and webhook secrets are sealed with.
    pub sealing_key: Arc<crate::sealing::SealingKey>,
    /// What `/metrics` reports.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Tells open queue pages that an account's escalations changed.
    pub escalation_events: crate::sessions::EscalationEvents,
}
