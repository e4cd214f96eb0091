//! FlowPilot's integrations with the systems around it: the PSA adapters (ConnectWise PSA,
//! Autotask, HaloPSA) behind `domain::psa::PsaClient`, and the sealing of their credentials
//! at rest. Only the edge that wires adapters in (the binary, the server's state) links this
//! crate; the use cases speak the port.
//!
//! Wiring, in short:
//! - at start: `SecretKey::from_env_value(env FLOWPILOT_SECRET_KEY)` (keep the error: storing
//!   credentials is refused with its message) and
//!   `PsaConnector::new(timeout_from_env(env FLOWPILOT_PSA_TIMEOUT_SECS)?)`, one per process;
//! - storing a connection: `Credentials::from_json(kind, &body.credentials)`, then
//!   `key.seal(&credentials)` into a TEXT column; `ConnectionSettings` deserializes the
//!   `settings` object with psa.md's defaults;
//! - using one: `key.open(&sealed)`, `connector.client(&base_url, &credentials)`, then the
//!   `PsaClient` calls. Clients are cheap; build one per use.

pub mod psa;
pub mod secrets;

pub use psa::{timeout_from_env, PsaConnector, DEFAULT_TIMEOUT};
pub use secrets::{SecretError, SecretKey};
