//! Chooses what produces steps, from the configuration.

use std::sync::Arc;
use std::time::Duration;

use domain::llm::LlmError;
use engine::{LlmPilot, OfflinePilot, Pilot};
use providers::{build_provider, ProviderKind, ProviderSettings, StructuredMode};

use crate::catalog::Catalog;
use crate::metrics::{MeteredProvider, Metrics};
use crate::settings::{ProviderChoice, ProviderEndpoint, Settings};

/// The configured LLM provider and its settings, `None` for the offline engine. The settings
/// hold the cell the start-up probe fills in (`ProviderSettings::probed`): whoever builds the
/// pilot from them and whoever probes with them share it.
pub fn configured_provider(settings: &Settings) -> Option<(ProviderKind, ProviderSettings)> {
    let (kind, endpoint) = match settings.resolved_provider() {
        ProviderChoice::Offline | ProviderChoice::Auto => return None,
        ProviderChoice::OpenAi => (ProviderKind::OpenAi, &settings.openai),
        ProviderChoice::Ollama => (ProviderKind::Ollama, &settings.ollama),
        ProviderChoice::Anthropic => (ProviderKind::Anthropic, &settings.anthropic),
        ProviderChoice::Gemini => (ProviderKind::Gemini, &settings.gemini),
    };
    Some((
        kind,
        provider_settings(
            endpoint,
            settings.openai_structured,
            settings.llm_timeout_secs,
        ),
    ))
}

/// The configured pilot; an error when the configured provider cannot be set up.
pub fn build(settings: &Settings, catalog: Arc<Catalog>) -> Result<Arc<dyn Pilot>, LlmError> {
    build_with(
        settings,
        catalog,
        configured_provider(settings),
        Arc::default(),
    )
}

/// The pilot for `provider` (from [`configured_provider`]); the offline one for `None`.
pub fn build_with(
    settings: &Settings,
    catalog: Arc<Catalog>,
    provider: Option<(ProviderKind, ProviderSettings)>,
    metrics: Arc<Metrics>,
) -> Result<Arc<dyn Pilot>, LlmError> {
    let Some((kind, provider_settings)) = provider else {
        return Ok(Arc::new(OfflinePilot::new(catalog)));
    };
    let provider = MeteredProvider::wrap(build_provider(kind, &provider_settings)?, metrics);
    tracing::info!(
        provider = provider.name(),
        model = provider.model(),
        redact = settings.redact,
        "LLM sessions on"
    );
    Ok(Arc::new(LlmPilot::new(provider, settings.redact)))
}

/// `structured` matters to the OpenAI-compatible provider only; the others ignore it. The
/// probe's finding (`probed`) starts empty: `auto` sends `AUTO_UNPROBED` requests until the
/// start-up probe (`provider_probe`) records what the server enforces.
fn provider_settings(
    e: &ProviderEndpoint,
    structured: StructuredMode,
    timeout_secs: u64,
) -> ProviderSettings {
    ProviderSettings {
        api_key: e.api_key.clone(),
        base_url: e.base_url.clone(),
        model: Some(e.model.clone()),
        timeout: Some(Duration::from_secs(timeout_secs)),
        structured,
        probed: Default::default(),
    }
}
