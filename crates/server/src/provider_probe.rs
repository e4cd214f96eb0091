//! The provider probe at start (engine.md "Probe"): the same checks as `flowpilot doctor`,
//! run in the background so that neither start-up nor the first requests wait on a slow or
//! absent provider. Its findings go to the log; for an OpenAI-compatible server configured
//! `auto`, its choice of structured-output mode is recorded in the provider's `ProbedMode`,
//! which requests read from then on (until then they go out as `AUTO_UNPROBED`).

use providers::probe::{self, Level, ProbeReport, Variables};
use providers::{ProviderKind, ProviderSettings, StructuredMode};
use tokio::task::JoinHandle;

/// The settings that configure each provider, as config.md names them, for the advice.
pub fn variables(kind: ProviderKind) -> Variables {
    let (key, base_url, model) = match kind {
        ProviderKind::OpenAi => (
            Some("OPENAI_API_KEY"),
            "OPENAI_BASE_URL",
            "FLOWPILOT_OPENAI_MODEL",
        ),
        ProviderKind::Ollama => (None, "OLLAMA_BASE_URL", "FLOWPILOT_OLLAMA_MODEL"),
        ProviderKind::Anthropic => (
            Some("ANTHROPIC_API_KEY"),
            "ANTHROPIC_BASE_URL",
            "FLOWPILOT_ANTHROPIC_MODEL",
        ),
        ProviderKind::Gemini => (
            Some("GEMINI_API_KEY (or GOOGLE_AI_API_KEY)"),
            "GEMINI_BASE_URL",
            "FLOWPILOT_GEMINI_MODEL",
        ),
    };
    Variables {
        key,
        base_url,
        model,
        structured: "FLOWPILOT_OPENAI_STRUCTURED",
        timeout: "FLOWPILOT_LLM_TIMEOUT_SECS",
    }
}

/// Starts the probe of the provider `settings` configure; the task ends when the probe has.
pub fn spawn(kind: ProviderKind, settings: ProviderSettings) -> JoinHandle<()> {
    tokio::spawn(async move {
        run(kind, &settings).await;
    })
}

/// Probes, logs what was found and, for `auto`, records the mode requests use from now on.
pub async fn run(kind: ProviderKind, settings: &ProviderSettings) -> ProbeReport {
    let config = settings.resolve(kind);
    tracing::info!(
        provider = kind.as_str(),
        model = %config.model,
        base_url = %probe::display_url(&config.base_url),
        "probing the LLM provider in the background"
    );
    let report = probe::probe(kind, &config).await;
    log(&report);
    if config.structured == StructuredMode::Auto {
        if let Some(mode) = report.auto_mode() {
            if config.probed.set(mode) {
                tracing::info!(
                    mode = mode.as_str(),
                    "FLOWPILOT_OPENAI_STRUCTURED=auto now sends requests in the mode the probe found"
                );
            }
        }
    }
    report
}

fn log(report: &ProbeReport) {
    let vars = variables(report.kind);
    let findings = report.findings(&vars);
    for finding in &findings {
        let fix = finding.fix.as_deref().unwrap_or("");
        match finding.level {
            Level::Ok | Level::Note => {
                tracing::info!(
                    provider = report.kind.as_str(),
                    fix,
                    "provider probe: {}",
                    finding.text
                )
            }
            Level::Warn => {
                tracing::warn!(
                    provider = report.kind.as_str(),
                    fix,
                    "provider probe: {}",
                    finding.text
                )
            }
            Level::Fail => {
                tracing::error!(
                    provider = report.kind.as_str(),
                    fix,
                    "provider probe: {}",
                    finding.text
                )
            }
        }
    }
    let healthy = findings.iter().all(|f| f.level != Level::Fail);
    tracing::info!(
        provider = report.kind.as_str(),
        model = %report.model,
        healthy,
        latency_ms = report.call_latency().map(|d| d.as_millis() as u64),
        "provider probe finished (run `flowpilot doctor` for the same checks on demand)"
    );
}
