//! The provider probe (engine.md "Probe"): is the configured provider reachable, does it
//! serve the configured model, and does it enforce a schema, checked with one tiny structured
//! call per way of asking. `flowpilot doctor` prints what it finds; the server runs it in the
//! background at start, logs it, and records in [`ProbedMode`](crate::ProbedMode) which mode an
//! OpenAI-compatible server configured `auto` is sent in.
//!
//! Nothing here reads configuration by name: the caller says which variables to name in
//! advice ([`Variables`]), so the wording lives once while the settings stay the server's.

mod call;
mod findings;
mod models;

use std::time::Duration;

use domain::llm::LlmError;

use crate::config::{ProviderConfig, ProviderKind};
use crate::openai::structured_mode::StructuredMode;

pub use call::{Verdict, PROBE_SCHEMA_NAME};
pub use findings::{duration, Finding, Level, Variables};
pub use models::ModelCheck;

/// Everything one probe found.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    pub kind: ProviderKind,
    /// The base URL with any credentials in it hidden, safe to print.
    pub base_url: String,
    pub model: String,
    /// OpenAI-compatible servers only: `FLOWPILOT_OPENAI_STRUCTURED` as configured.
    pub configured_mode: Option<StructuredMode>,
    pub reach: Reach,
    /// `None` when the provider could not be reached or refused the key.
    pub model_check: Option<ModelCheck>,
    /// The structured calls made, in order.
    pub calls: Vec<StructuredCall>,
}

/// Whether the provider answered at all, judged by its model endpoint.
#[derive(Debug, Clone)]
pub enum Reach {
    Reached {
        latency: Duration,
    },
    /// 401 or 403 (or Gemini's 400 for a key it does not know): the key is wrong or lacks access.
    KeyRejected {
        status: u16,
        message: String,
    },
    Unreachable(LlmError),
}

/// One tiny structured call and what its reply showed.
#[derive(Debug, Clone)]
pub struct StructuredCall {
    /// The mode the OpenAI-compatible request was sent in; `None` for the other providers,
    /// which have one way of asking.
    pub mode: Option<StructuredMode>,
    pub verdict: Verdict,
    pub latency: Duration,
}

/// Probes the provider `kind` configured by `config`. Never fails: what went wrong is in
/// the report. Makes at most one model-endpoint request and, for an OpenAI-compatible
/// server, one call per structured mode until one is enforced.
pub async fn probe(kind: ProviderKind, config: &ProviderConfig) -> ProbeReport {
    let configured_mode = (kind == ProviderKind::OpenAi).then_some(config.structured);
    let (reach, model_check) = models::check(kind, config).await;
    let mut report = ProbeReport {
        kind,
        base_url: display_url(&config.base_url),
        model: config.model.clone(),
        configured_mode,
        reach,
        model_check,
        calls: Vec::new(),
    };
    let reached = matches!(report.reach, Reach::Reached { .. });
    // A call for a model the server says it lacks fails the same way, and says less.
    let model_missing = matches!(report.model_check, Some(ModelCheck::Missing { .. }));
    if !reached || model_missing {
        return report;
    }
    match configured_mode {
        Some(configured) => {
            for mode in search_order(configured) {
                let call = call::structured(kind, config, Some(mode)).await;
                let done = call.verdict.settles() || !call.verdict.worth_another_mode();
                report.calls.push(call);
                if done {
                    break;
                }
            }
        }
        None => report
            .calls
            .push(call::structured(kind, config, None).await),
    }
    report
}

/// The modes tried for `configured`: the configured one first, then, should it not be
/// enforced, the others in the order `auto` tries them, so the report can name the one to set.
fn search_order(configured: StructuredMode) -> Vec<StructuredMode> {
    const AUTO_ORDER: [StructuredMode; 4] = [
        StructuredMode::Strict,
        StructuredMode::Vllm,
        StructuredMode::LlamaCpp,
        StructuredMode::Prompt,
    ];
    let mut order = Vec::with_capacity(AUTO_ORDER.len());
    if configured != StructuredMode::Auto {
        order.push(configured);
    }
    order.extend(AUTO_ORDER.into_iter().filter(|m| *m != configured));
    order
}

impl ProbeReport {
    /// The mode `auto` should use: the first mode whose schema the server enforced, else
    /// `prompt` when the model followed a schema given in the instructions. `None` when the
    /// server is not OpenAI-compatible, or the probe could not decide (the default stays).
    pub fn auto_mode(&self) -> Option<StructuredMode> {
        self.configured_mode?;
        let mode_with = |verdict: fn(&Verdict) -> bool| {
            self.calls
                .iter()
                .find(|c| verdict(&c.verdict))
                .and_then(|c| c.mode)
        };
        mode_with(|v| matches!(v, Verdict::Enforced))
            .or_else(|| mode_with(|v| matches!(v, Verdict::Followed)))
    }

    /// What the operator should know, each with its level and, where something should
    /// change, what to change. Names the variables `vars` gives.
    pub fn findings(&self, vars: &Variables) -> Vec<Finding> {
        findings::of(self, vars)
    }

    /// How long the structured call that decided took (the last one made).
    pub fn call_latency(&self) -> Option<Duration> {
        self.calls.last().map(|c| c.latency)
    }
}

/// A base URL with any `user:password@` hidden, for logs and reports.
pub fn display_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let host_end = url[scheme_end..]
        .find('/')
        .map_or(url.len(), |i| scheme_end + i);
    match url[scheme_end..host_end].rfind('@') {
        Some(at) => format!("{}***@{}", &url[..scheme_end], &url[scheme_end + at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_mode_is_tried_first_then_the_auto_order() {
        use StructuredMode::*;
        assert_eq!(search_order(Auto), [Strict, Vllm, LlamaCpp, Prompt]);
        assert_eq!(search_order(LlamaCpp), [LlamaCpp, Strict, Vllm, Prompt]);
    }

    #[test]
    fn credentials_in_a_base_url_are_hidden() {
        assert_eq!(
            display_url("https://user:s3cret@proxy.local/v1"),
            "https://***@proxy.local/v1"
        );
        assert_eq!(
            display_url("http://gpu01:8000/v1/a@b"),
            "http://gpu01:8000/v1/a@b"
        );
        assert_eq!(display_url("localhost:11434"), "localhost:11434");
    }
}
