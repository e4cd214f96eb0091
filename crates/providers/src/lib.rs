//! FlowPilot's LLM providers: the `LlmProvider` implementations for each wire format (OpenAI
//! compatible, Ollama native, Anthropic, Gemini) over HTTP, and the factory that picks one by configuration.
//! The step contract, parsing and repair, redaction and pricing are `flowpilot-llm`'s and
//! carry no HTTP stack; only the edge that wires the providers in links this crate.

pub mod anthropic;
pub mod config;
pub mod gemini;
pub mod http;
pub mod ollama;
pub mod openai;
pub mod probe;
pub mod sse;

use std::sync::Arc;

use domain::llm::{ChatRole, LlmError, LlmProvider};

pub use anthropic::AnthropicProvider;
pub use config::{ProviderConfig, ProviderKind, ProviderSettings, DEFAULT_TIMEOUT};
pub use gemini::GeminiProvider;
pub use ollama::OllamaProvider;
pub use openai::structured_mode::{ProbedMode, StructuredMode, AUTO_UNPROBED};
pub use openai::OpenAiProvider;

/// Sampling temperature for every provider: low, because steps should be reproducible and
/// follow the contract, not creative.
pub(crate) const TEMPERATURE: f64 = 0.2;

/// Builds the provider `kind` with `settings`. Fails only when the HTTP client cannot be
/// built (no TLS backend), which is a startup error.
pub fn build_provider(
    kind: ProviderKind,
    settings: &ProviderSettings,
) -> Result<Arc<dyn LlmProvider>, LlmError> {
    let config = settings.resolve(kind);
    tracing::info!(
        provider = kind.as_str(),
        model = %config.model,
        base_url = %config.base_url,
        has_key = config.key().is_some(),
        "LLM provider configured"
    );
    if kind == ProviderKind::OpenAi {
        let effective = openai::structured_mode::effective(config.structured, &config.probed);
        tracing::info!(
            configured = config.structured.as_str(),
            effective = effective.as_str(),
            "structured output mode of the OpenAI-compatible server"
        );
    }
    Ok(match kind {
        ProviderKind::OpenAi => Arc::new(OpenAiProvider::new(config)?),
        ProviderKind::Ollama => Arc::new(OllamaProvider::new(config)?),
        ProviderKind::Anthropic => Arc::new(AnthropicProvider::new(config)?),
        ProviderKind::Gemini => Arc::new(GeminiProvider::new(config)?),
    })
}

/// The role names of OpenAI, Ollama and Anthropic (Gemini calls the assistant "model").
pub(crate) fn role_name(role: ChatRole) -> &'static str {
    match role {
        ChatRole::User => "user",
        ChatRole::Assistant => "assistant",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_each_kind_under_its_name() {
        for kind in ProviderKind::ALL {
            let provider = build_provider(kind, &ProviderSettings::default()).unwrap();
            assert_eq!(provider.name(), kind.as_str());
            assert_eq!(provider.model(), kind.default_model());
            assert_eq!(
                ProviderKind::parse(&kind.as_str().to_uppercase()),
                Some(kind)
            );
        }
    }
}
