//! The key the server seals what it keeps secret in the database with
//! (`FLOWPILOT_SECRET_KEY`): PSA credentials and webhook signing secrets alike. It is read
//! once, here, so the features that seal and the outbox that opens agree on one key.

use std::sync::Arc;

use integrations::{SecretError, SecretKey};

use crate::settings::Settings;

/// The key, or why there is none (unset, not base64, the wrong length): a feature that seals
/// reports that reason when it is asked to keep a secret.
pub struct SealingKey {
    key: Result<Arc<SecretKey>, SecretError>,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealingKey")
            .field("key_set", &self.key.is_ok())
            .finish()
    }
}

impl SealingKey {
    pub fn from_settings(settings: &Settings) -> SealingKey {
        SealingKey {
            key: SecretKey::from_env_value(settings.secret_key.as_deref()).map(Arc::new),
        }
    }

    /// The key; without one, [`SecretError::MissingKey`] or why the one given is unusable.
    pub fn get(&self) -> Result<&SecretKey, SecretError> {
        self.key.as_deref().map_err(Clone::clone)
    }

    /// The key for a worker that outlives the request (the outbox's webhook signer).
    pub fn shared(&self) -> Option<Arc<SecretKey>> {
        self.key.as_ref().ok().cloned()
    }
}
