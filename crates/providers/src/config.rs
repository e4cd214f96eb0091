//! What a provider needs to make calls, and how configuration's settings become that: the
//! kind's defaults fill whatever was left unset, and the key never shows in `Debug` output.

use std::fmt;
use std::time::Duration;

use crate::openai::structured_mode::{ProbedMode, StructuredMode};

/// Per provider call (config.md `FLOWPILOT_LLM_TIMEOUT_SECS`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// What one provider needs to make calls.
#[derive(Clone)]
pub struct ProviderConfig {
    pub api_key: Option<String>,
    pub base_url: String,
    pub model: String,
    pub timeout: Duration,
    /// OpenAI-compatible servers only: which field carries the schema.
    pub structured: StructuredMode,
    /// What a probe found the server enforces, for `structured: Auto`.
    pub probed: ProbedMode,
}

// Hand-written so that a config printed in a log or a panic never shows the key.
impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "[REDACTED]"))
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .field("structured", &self.structured)
            .finish()
    }
}

impl ProviderConfig {
    /// The key, unless it is unset or blank (an empty environment variable means "no key").
    pub(crate) fn key(&self) -> Option<&str> {
        self.api_key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    OpenAi,
    Ollama,
    Anthropic,
    Gemini,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 4] = [Self::OpenAi, Self::Ollama, Self::Anthropic, Self::Gemini];

    /// The name used in configuration, in `LlmProvider::name()` and in the pricing table.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Ollama => "ollama",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
    }

    pub fn default_base_url(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "https://api.openai.com/v1",
            // config.md leaves OLLAMA_BASE_URL unset by default (so auto-selection skips it);
            // naming the provider without an address means the local install.
            ProviderKind::Ollama => "http://localhost:11434",
            ProviderKind::Anthropic => "https://api.anthropic.com",
            ProviderKind::Gemini => "https://generativelanguage.googleapis.com",
        }
    }

    pub fn default_model(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "gpt-4.1-mini",
            // Small enough for a laptop GPU or a CPU, follows a schema under `format` well.
            ProviderKind::Ollama => "llama3.2:3b",
            ProviderKind::Anthropic => "claude-sonnet-4-5",
            ProviderKind::Gemini => "gemini-2.5-flash",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Settings as configuration gives them: anything unset falls back to the kind's default.
#[derive(Clone, Default)]
pub struct ProviderSettings {
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    pub model: Option<String>,
    /// `None` means `DEFAULT_TIMEOUT`.
    pub timeout: Option<Duration>,
    /// OpenAI-compatible servers only (config.md `FLOWPILOT_OPENAI_STRUCTURED`).
    pub structured: StructuredMode,
    /// Shared with the provider probe, which fills it in when `structured` is `Auto`.
    pub probed: ProbedMode,
}

impl fmt::Debug for ProviderSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderSettings")
            .field("api_key", &self.api_key.as_ref().map(|_| "[REDACTED]"))
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .field("structured", &self.structured)
            .finish()
    }
}

impl ProviderSettings {
    /// The complete configuration for `kind`, defaults filled in; blank values count as unset.
    pub fn resolve(&self, kind: ProviderKind) -> ProviderConfig {
        fn given(value: &Option<String>) -> Option<String> {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        }
        ProviderConfig {
            api_key: given(&self.api_key),
            base_url: given(&self.base_url).unwrap_or_else(|| kind.default_base_url().into()),
            model: given(&self.model).unwrap_or_else(|| kind.default_model().into()),
            timeout: self.timeout.unwrap_or(DEFAULT_TIMEOUT),
            structured: self.structured,
            probed: self.probed.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_fall_back_to_the_kind_defaults() {
        let settings = ProviderSettings {
            api_key: Some("  ".into()),
            base_url: None,
            model: Some("".into()),
            ..Default::default()
        };
        let config = settings.resolve(ProviderKind::Gemini);
        assert_eq!(config.api_key, None);
        assert_eq!(config.base_url, "https://generativelanguage.googleapis.com");
        assert_eq!(config.model, "gemini-2.5-flash");
        assert_eq!(config.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn debug_output_hides_the_key() {
        let settings = ProviderSettings {
            api_key: Some("sk-very-secret".into()),
            ..Default::default()
        };
        assert!(!format!("{settings:?}").contains("very-secret"));
        let config = settings.resolve(ProviderKind::OpenAi);
        assert!(!format!("{config:?}").contains("very-secret"));
    }
}
