//! FlowPilot's HTTP layer. It never writes SQL (that is `store`) and never speaks a provider's
//! wire format (that is `llm`); it turns requests into calls on those and answers in JSON.

pub mod analytics;
pub mod api;
pub mod auth;
pub mod catalog;
pub mod client_addr;
pub mod embedding;
pub mod error;
pub mod extract;
pub mod launch;
pub mod metrics;
pub mod notifications;
pub mod openapi;
pub mod outbox;
pub mod pilots;
pub mod proposals;
pub mod provider_probe;
pub mod psa;
pub mod quota;
pub mod rate_limit;
pub mod sealing;
pub mod sessions;
pub mod settings;
pub mod state;
pub mod team_memory;
pub mod web;

pub use launch::{build_state, launch, router, LaunchError};
pub use settings::Settings;
pub use state::AppState;
