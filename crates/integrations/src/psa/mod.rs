//! The PSA adapters behind `domain::psa::PsaClient`, and [`PsaConnector`], which builds one for
//! a connection and keeps what must outlive a single client: Autotask's per-endpoint request
//! limits and Halo's tokens.

pub mod autotask;
pub mod connectwise;
pub mod halo;
pub mod http;
pub mod text;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::psa::{Credentials, PsaClient, PsaError};

pub use autotask::{AutotaskClient, EndpointLimits, MAX_CONCURRENT_PER_ENDPOINT};
pub use connectwise::ConnectWiseClient;
pub use halo::{HaloClient, TokenCache};

/// `FLOWPILOT_PSA_TIMEOUT_SECS` when unset.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// Builds PSA clients. Hold one per process (in the application state) and ask it for a
/// client whenever a connection is used: clients are cheap, and the shared parts are keyed by
/// the PSA and the credentials' public part, so a new client for the same connection waits
/// behind the same Autotask limits and reuses the same Halo token.
pub struct PsaConnector {
    timeout: Duration,
    autotask_limits: Mutex<HashMap<String, Arc<EndpointLimits>>>,
    halo_tokens: Mutex<HashMap<String, Arc<TokenCache>>>,
}

impl PsaConnector {
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            autotask_limits: Mutex::default(),
            halo_tokens: Mutex::default(),
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A client for the connection at `base_url` with `credentials`; its kind is theirs.
    /// Fails only on a base URL or a credential that cannot go into a request.
    pub fn client(
        &self,
        base_url: &str,
        credentials: &Credentials,
    ) -> Result<Arc<dyn PsaClient>, PsaError> {
        let base = normalize_base(base_url)?;
        Ok(match credentials {
            Credentials::ConnectWise(c) => {
                Arc::new(ConnectWiseClient::new(&base, c, self.timeout)?)
            }
            Credentials::Autotask(c) => {
                let limits = shared(
                    &self.autotask_limits,
                    format!("{base}\n{}", c.integration_code),
                );
                Arc::new(AutotaskClient::new(&base, c, self.timeout, limits)?)
            }
            Credentials::Halo(c) => {
                // The secret is part of the key so that replaced credentials never reuse a
                // token issued for the old ones.
                let key = format!(
                    "{base}\n{}\n{}\n{}",
                    c.client_id,
                    c.tenant.as_deref().unwrap_or(""),
                    c.client_secret
                );
                let tokens = shared(&self.halo_tokens, key);
                Arc::new(HaloClient::new(&base, c, self.timeout, tokens)?)
            }
        })
    }
}

impl Default for PsaConnector {
    fn default() -> Self {
        Self::new(DEFAULT_TIMEOUT)
    }
}

fn shared<T: Default>(map: &Mutex<HashMap<String, Arc<T>>>, key: String) -> Arc<T> {
    let mut map = match map.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    map.entry(key).or_default().clone()
}

/// `FLOWPILOT_PSA_TIMEOUT_SECS`'s value as a duration: unset or empty is the default, anything
/// but a positive whole number of seconds is an error for the configuration to report.
pub fn timeout_from_env(value: Option<&str>) -> Result<Duration, String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(DEFAULT_TIMEOUT),
        Some(v) => match v.parse::<u64>() {
            Ok(secs) if secs > 0 => Ok(Duration::from_secs(secs)),
            _ => Err(format!(
                "FLOWPILOT_PSA_TIMEOUT_SECS must be a positive number of seconds, not {v:?}"
            )),
        },
    }
}

/// The admin's `base_url`: any http or https URL (self-hosted PSAs sit on private networks),
/// without a trailing slash.
pub fn normalize_base(base_url: &str) -> Result<String, PsaError> {
    let base = base_url.trim().trim_end_matches('/');
    let lower = base.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty()
                && !host.starts_with('/')
                && !base.contains(char::is_whitespace) =>
        {
            Ok(base.to_string())
        }
        _ => Err(PsaError::Misconfigured(format!(
            "base_url must be an http or https URL, not {base_url:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::psa::{AutotaskCredentials, HaloCredentials, PsaKind};

    #[test]
    fn base_urls_are_http_or_https() {
        assert_eq!(
            normalize_base(" https://psa.example/ ").unwrap(),
            "https://psa.example"
        );
        assert!(normalize_base("http://10.0.0.5:8080").is_ok());
        for bad in [
            "ftp://x",
            "psa.example",
            "https://",
            "https:///x",
            "http://a b",
        ] {
            assert!(normalize_base(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timeouts_read_from_the_environment_value() {
        assert_eq!(timeout_from_env(None).unwrap(), DEFAULT_TIMEOUT);
        assert_eq!(
            timeout_from_env(Some(" 5 ")).unwrap(),
            Duration::from_secs(5)
        );
        assert!(timeout_from_env(Some("0")).is_err());
        assert!(timeout_from_env(Some("soon")).is_err());
    }

    #[test]
    fn clients_of_one_integration_share_their_limits_and_tokens() {
        let connector = PsaConnector::default();
        let autotask = Credentials::Autotask(AutotaskCredentials {
            username: "api@acme.example".into(),
            secret: "s".into(),
            integration_code: "CODE".into(),
        });
        let halo = Credentials::Halo(HaloCredentials {
            client_id: "c".into(),
            client_secret: "s".into(),
            tenant: None,
        });
        for credentials in [&autotask, &halo, &autotask, &halo] {
            let client = connector
                .client("https://psa.example/", credentials)
                .unwrap();
            assert_eq!(client.kind(), credentials.kind());
        }
        assert_eq!(connector.autotask_limits.lock().unwrap().len(), 1);
        assert_eq!(connector.halo_tokens.lock().unwrap().len(), 1);
        assert!(connector.client("nope", &halo).is_err());
        assert_eq!(PsaKind::Halo, halo.kind());
    }
}
