//! Chooses what produces steps, from the configuration.

use std::sync::Arc;
use std::time::Duration;

use domain::llm::LlmError;
use engine::{LlmPilot, OfflinePilot, Pilot};
use providers::{build_provider, ProviderKind, ProviderSettings, StructuredMode};

use crate::catalog::Catalog;
use crate::settings::{ProviderChoice, ProviderEndpoint, Settings};

/// The configured pilot; an error when the configured provider cannot be set up.
pub fn build(settings: &Settings, catalog: Arc<Catalog>) -> Result<Arc<dyn Pilot>, LlmError> {
    let (kind, endpoint) = match settings.resolved_provider() {
        ProviderChoice::Offline | ProviderChoice::Auto => {
            return Ok(Arc::new(OfflinePilot::new(catalog)))
        }
        ProviderChoice::OpenAi => (ProviderKind::OpenAi, &settings.openai),
        ProviderChoice::Ollama => (ProviderKind::Ollama, &settings.ollama),
        ProviderChoice::Anthropic => (ProviderKind::Anthropic, &settings.anthropic),
        ProviderChoice::Gemini => (ProviderKind::Gemini, &settings.gemini),
    };
    let provider = build_provider(
        kind,
        &provider_settings(
            endpoint,
            settings.openai_structured,
            settings.llm_timeout_secs,
        ),
    )?;
    tracing::info!(
        provider = provider.name(),
        model = provider.model(),
        redact = settings.redact,
        "LLM sessions on"
    );
    Ok(Arc::new(LlmPilot::new(provider, settings.redact)))
}

/// `structured` matters to the OpenAI-compatible provider only; the others ignore it. The
/// probe's finding (`ProviderSettings::probed`) stays empty here: `auto` sends strict requests
/// until the start-up probe exists and fills it in.
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
