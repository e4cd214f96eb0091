//! The configured LLM provider, through the same probe the server runs at start.

use providers::probe::{self, Level};
use providers::ProviderKind;
use server::Settings;

use super::report::{finding, Section};

pub async fn check(settings: &Settings) -> Section {
    let Some((kind, provider_settings)) = server::pilots::configured_provider(settings) else {
        return Section {
            key: "llm_provider",
            title: "LLM provider: none".into(),
            findings: vec![finding(
                Level::Ok,
                "no provider configured: sessions run on the offline engine (the flows, no AI)",
                Some(
                    "to have an LLM guide sessions, set ANTHROPIC_API_KEY, OPENAI_API_KEY or OPENAI_BASE_URL, OLLAMA_BASE_URL, or GEMINI_API_KEY"
                        .into(),
                ),
            )],
        };
    };
    let config = provider_settings.resolve(kind);
    let report = probe::probe(kind, &config).await;
    let mode = match kind {
        ProviderKind::OpenAi => format!(", FLOWPILOT_OPENAI_STRUCTURED={}", config.structured),
        _ => String::new(),
    };
    Section {
        key: "llm_provider",
        title: format!(
            "LLM provider: {kind}, model {} at {}{mode}",
            report.model, report.base_url
        ),
        findings: report.findings(&server::provider_probe::variables(kind)),
    }
}
