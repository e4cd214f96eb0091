//! FlowPilot's integrations with the systems around it: the PSA adapters (ConnectWise PSA,
//! Autotask, HaloPSA) behind `domain::psa::PsaClient`, and the sealing of their credentials
//! at rest. Only the edge that wires adapters in (the binary, the server's state) links this
//! crate; the use cases speak the port.

pub mod psa;
pub mod secrets;

pub use psa::{timeout_from_env, PsaConnector, DEFAULT_TIMEOUT};
pub use secrets::{SecretError, SecretKey};
