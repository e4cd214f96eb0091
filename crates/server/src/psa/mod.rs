//! PSA connections as the use cases see them (psa.md "Connections"): [`Psa`] holds the
//! adapters' connector and the server's sealing key, and every call to a PSA goes
//! through it, bounded by `FLOWPILOT_PSA_TIMEOUT_SECS` whatever the adapter does. The server
//! speaks only the port (`domain::psa::PsaClient`); the wire formats are the adapters'.
//!
//! A reading guide: `connections` (create, change, delete, list, test), `members` (users
//! mapped to PSA members), `tickets` (the open tickets to pick from, one ticket read).

pub mod connections;
pub mod members;
pub mod tickets;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use domain::psa::{Credentials, PsaClient, PsaError, PsaKind};
use domain::User;
use integrations::{PsaConnector, SecretError};
use store::PsaConnection;

use crate::error::ApiResult;
use crate::rate_limit::Action;
use crate::sealing::SealingKey;
use crate::settings::Settings;

/// Counts one PSA call made for `user` (the API's PSA routes and the web's ticket picker and
/// settings pages alike), one allowance per user across the account's connections: a 429
/// with `Retry-After` past it, before the PSA is asked anything.
pub async fn limit(state: &crate::state::AppState, user: &User) -> ApiResult<()> {
    state
        .limiter
        .check(Action::PsaCall, &user.id.to_string(), Utc::now())
        .await
        .map(|_| ())
}

/// What a PSA operation can fail on, with the cause kept: the PSA itself, or the key its
/// credentials are sealed with. Mapped to HTTP in `error.rs`.
#[derive(Debug, thiserror::Error)]
pub enum PsaProblem {
    #[error("{}", call_message(*kind, source))]
    Call {
        kind: PsaKind,
        #[source]
        source: PsaError,
    },
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// "HaloPSA: the PSA did not answer within 20 seconds"; a refusal names its PSA already.
fn call_message(kind: PsaKind, source: &PsaError) -> String {
    match source {
        PsaError::Unauthorized { .. } => source.to_string(),
        other => format!("{}: {other}", kind.display_name()),
    }
}

impl PsaProblem {
    /// The PSA's own error, when the PSA was reached (or tried).
    pub fn psa_error(&self) -> Option<&PsaError> {
        match self {
            PsaProblem::Call { source, .. } => Some(source),
            PsaProblem::Secret(_) => None,
        }
    }
}

/// The PSA side of the application state: one connector per process (its Autotask limits and
/// Halo tokens outlive a request), the key credentials are sealed with, and the time any one
/// operation may take.
pub struct Psa {
    connector: PsaConnector,
    key: Arc<SealingKey>,
    timeout: Duration,
}

impl std::fmt::Debug for Psa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Psa")
            .field("key_set", &self.key.get().is_ok())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Psa {
    pub fn from_settings(settings: &Settings, key: Arc<SealingKey>) -> Psa {
        let timeout = Duration::from_secs(settings.psa_timeout_secs.max(1));
        Psa {
            connector: PsaConnector::new(timeout),
            key,
            timeout,
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Seals credentials for the store; without a key, [`SecretError::MissingKey`].
    pub fn seal(&self, credentials: &Credentials) -> Result<String, SecretError> {
        self.key.get()?.seal(credentials)
    }

    /// A client for `connection`, its credentials opened with the key.
    pub fn client(&self, connection: &PsaConnection) -> Result<Arc<dyn PsaClient>, PsaProblem> {
        let credentials = self.key.get()?.open(&connection.sealed_credentials)?;
        self.connector
            .client(&connection.base_url, &credentials)
            .map_err(|source| PsaProblem::Call {
                kind: connection.kind,
                source,
            })
    }

    /// Runs one operation on `connection`'s PSA, given up after the timeout even when the
    /// adapter makes several requests for it: an engineer never waits longer than that.
    pub async fn call<T, F, Fut>(&self, connection: &PsaConnection, op: F) -> Result<T, PsaProblem>
    where
        F: FnOnce(Arc<dyn PsaClient>) -> Fut,
        Fut: Future<Output = Result<T, PsaError>>,
    {
        let client = self.client(connection)?;
        let kind = connection.kind;
        match tokio::time::timeout(self.timeout, op(client)).await {
            Ok(result) => result.map_err(|source| PsaProblem::Call { kind, source }),
            Err(_) => Err(PsaProblem::Call {
                kind,
                source: PsaError::Timeout {
                    seconds: self.timeout.as_secs(),
                },
            }),
        }
    }
}
