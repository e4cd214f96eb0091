//! What a probe report means for the operator: one finding per check, each with a level and,
//! where something should change, which setting or command. Keys never appear: a report
//! holds none (provider messages are scrubbed of them when read), and advice names the
//! variable, not its value.

use std::fmt;
use std::time::Duration;

use domain::llm::LlmError;

use super::call::Verdict;
use super::models::{rejected_key, ModelCheck};
use super::{ProbeReport, Reach, StructuredCall};
use crate::config::ProviderKind;
use crate::openai::structured_mode::StructuredMode;

/// How much a finding matters. Only `Fail` makes `flowpilot doctor` exit non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    /// Worth knowing, nothing to fix.
    Note,
    /// Works, but not as well as it could.
    Warn,
    Fail,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Note => "note",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    pub text: String,
    /// What to change, naming the variable or the command.
    pub fix: Option<String>,
}

impl Finding {
    fn new(level: Level, text: impl Into<String>) -> Self {
        Self {
            level,
            text: text.into(),
            fix: None,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// The names of the settings that configure the probed provider, as the caller's
/// configuration spells them (config.md).
#[derive(Debug, Clone, Copy)]
pub struct Variables {
    /// `None` where the provider takes no key (Ollama).
    pub key: Option<&'static str>,
    pub base_url: &'static str,
    pub model: &'static str,
    /// How an OpenAI-compatible server is asked for structured output.
    pub structured: &'static str,
    pub timeout: &'static str,
}

pub(super) fn of(report: &ProbeReport, vars: &Variables) -> Vec<Finding> {
    let mut findings = vec![reach(report, vars)];
    if let Some(check) = &report.model_check {
        findings.push(model(report, check, vars));
    }
    match report.configured_mode {
        Some(configured) if !report.calls.is_empty() => {
            findings.extend(report.calls.iter().map(|c| openai_call(report, c, vars)));
            findings.push(openai_decision(report, configured, vars));
        }
        _ => findings.extend(report.calls.iter().map(|c| single_call(report, c, vars))),
    }
    findings
}

fn reach(report: &ProbeReport, vars: &Variables) -> Finding {
    match &report.reach {
        Reach::Reached { latency } => Finding::new(
            Level::Ok,
            format!("reachable at {} ({})", report.base_url, duration(*latency)),
        ),
        Reach::KeyRejected { status, message } => key_rejected(report, *status, message, vars),
        Reach::Unreachable(err) => Finding::new(
            Level::Fail,
            format!("cannot reach {}: {}", report.base_url, reason(err)),
        )
        .fix(unreachable_fix(err, vars)),
    }
}

fn key_rejected(report: &ProbeReport, status: u16, message: &str, vars: &Variables) -> Finding {
    let finding = Finding::new(
        Level::Fail,
        format!(
            "{} refused the credentials (HTTP {status}: {message})",
            report.base_url
        ),
    );
    match vars.key {
        Some(key) => finding.fix(format!(
            "check {key}: it is wrong, expired, or has no access to {}",
            report.model
        )),
        None => finding.fix(format!(
            "something in front of the server at {} asks for credentials; check {}",
            report.base_url, vars.base_url
        )),
    }
}

fn unreachable_fix(err: &LlmError, vars: &Variables) -> String {
    match err {
        LlmError::Timeout(_) => format!(
            "check {} points at the server; a slow local model may need a larger {}",
            vars.base_url, vars.timeout
        ),
        _ => format!(
            "is the server running and listening there? check {}",
            vars.base_url
        ),
    }
}

fn model(report: &ProbeReport, check: &ModelCheck, vars: &Variables) -> Finding {
    match check {
        ModelCheck::Present { served_as } if served_as == &report.model => {
            Finding::new(Level::Ok, format!("model {} is served", report.model))
        }
        ModelCheck::Present { served_as } => Finding::new(
            Level::Ok,
            format!("model {} is served (as {served_as})", report.model),
        ),
        ModelCheck::Missing { available } => {
            let finding = Finding::new(
                Level::Fail,
                format!(
                    "model {} is not served at {}",
                    report.model, report.base_url
                ),
            );
            let others = if available.is_empty() {
                String::new()
            } else {
                format!(": {}", available.join(", "))
            };
            match report.kind {
                ProviderKind::Ollama => finding.fix(format!(
                    "run `ollama pull {}` on that host, or set {} to a model it has{others}",
                    report.model, vars.model
                )),
                _ if available.is_empty() => {
                    finding.fix(format!("set {} to a model the key can use", vars.model))
                }
                _ => finding.fix(format!("set {} to one it serves{others}", vars.model)),
            }
        }
        ModelCheck::Unknown { reason } => Finding::new(
            Level::Note,
            format!("could not list the served models ({reason}); the call below tries the model"),
        ),
    }
}

/// The label of an OpenAI-compatible mode and the field it sends.
fn mode_label(mode: StructuredMode) -> &'static str {
    match mode {
        StructuredMode::Strict | StructuredMode::Auto => "strict (response_format)",
        StructuredMode::Vllm => "vllm (structured_outputs)",
        StructuredMode::LlamaCpp => "llamacpp (json_schema)",
        StructuredMode::Prompt => "prompt (schema in the instructions)",
    }
}

fn openai_call(report: &ProbeReport, call: &StructuredCall, vars: &Variables) -> Finding {
    let label = call.mode.map_or("structured call", mode_label);
    let took = duration(call.latency);
    match &call.verdict {
        Verdict::Enforced => Finding::new(Level::Ok, format!("{label}: schema enforced ({took})")),
        Verdict::Followed => Finding::new(
            Level::Ok,
            format!("{label}: the model followed the schema ({took})"),
        ),
        Verdict::NotEnforced { .. } => Finding::new(
            Level::Note,
            format!("{label}: not enforced, {} ({took})", broke(&call.verdict)),
        ),
        Verdict::Failed(err) => call_failed(report, label, err, vars),
    }
}

/// What auto uses, or why the configured mode does not work and which to set.
fn openai_decision(report: &ProbeReport, configured: StructuredMode, vars: &Variables) -> Finding {
    let found = report.auto_mode();
    let enforced = |mode| {
        report
            .calls
            .iter()
            .any(|c| c.mode == Some(mode) && matches!(c.verdict, Verdict::Enforced))
    };
    let var = vars.structured;
    match (configured, found) {
        (StructuredMode::Auto, Some(StructuredMode::Prompt)) => Finding::new(
            Level::Warn,
            format!("{var}=auto uses prompt: this server enforces no schema, so every step relies on validation and one repair"),
        )
        .fix("a server that enforces a schema keeps a small model on it (vLLM, llama.cpp's server, or Ollama's native API through OLLAMA_BASE_URL)"),
        (StructuredMode::Auto, Some(mode)) => Finding::new(
            Level::Ok,
            format!("{var}=auto uses {mode} with this server (the server's start-up probe finds the same)"),
        ),
        (fixed, _) if enforced(fixed) => {
            Finding::new(Level::Ok, format!("{var}={fixed} is enforced by this server"))
        }
        (StructuredMode::Prompt, Some(StructuredMode::Prompt)) => Finding::new(
            Level::Ok,
            format!("{var}=prompt: the model follows the schema in its instructions"),
        ),
        (fixed, Some(mode)) => Finding::new(
            Level::Fail,
            format!("{var}={fixed} does not work with this server, {mode} does"),
        )
        .fix(format!("set {var}={mode} (or auto, which finds it at start)")),
        (_, None) => no_mode_works(report, vars),
    }
}

fn no_mode_works(report: &ProbeReport, vars: &Variables) -> Finding {
    let stopped_on = report.calls.last().and_then(|c| match &c.verdict {
        Verdict::Failed(err) if !c.verdict.worth_another_mode() => Some(err),
        _ => None,
    });
    match stopped_on {
        // The call's own finding says what failed and what to change.
        Some(_) => Finding::new(
            Level::Fail,
            "no structured call succeeded, so no mode could be chosen",
        ),
        None => Finding::new(
            Level::Fail,
            format!(
                "{} keeps to the schema in no mode: sessions with it would fail",
                report.model
            ),
        )
        .fix(format!(
            "use a model that follows instructions better ({}), or a server that enforces a schema",
            vars.model
        )),
    }
}

/// Ollama, Anthropic, Gemini: one way of asking, one finding.
fn single_call(report: &ProbeReport, call: &StructuredCall, vars: &Variables) -> Finding {
    let took = duration(call.latency);
    match &call.verdict {
        Verdict::Enforced | Verdict::Followed => Finding::new(
            Level::Ok,
            format!("structured call: schema enforced ({took})"),
        ),
        Verdict::NotEnforced { json: true, .. } => Finding::new(
            Level::Warn,
            format!(
                "structured call: schema not enforced, {} ({took}); every step is validated and repaired once",
                broke(&call.verdict)
            ),
        ),
        Verdict::NotEnforced { json: false, .. } => {
            let finding = Finding::new(
                Level::Fail,
                format!("structured call: {} ({took})", broke(&call.verdict)),
            );
            match report.kind {
                ProviderKind::Ollama => finding.fix(format!(
                    "Ollama enforces a JSON Schema `format` from version 0.5: upgrade it, or try another model ({})",
                    vars.model
                )),
                _ => finding.fix(format!("try another model ({})", vars.model)),
            }
        }
        Verdict::Failed(err) => call_failed(report, "structured call", err, vars),
    }
}

fn call_failed(report: &ProbeReport, label: &str, err: &LlmError, vars: &Variables) -> Finding {
    if let Some((status, message)) = rejected_key(report.kind, err) {
        let mut finding = key_rejected(report, status, &message, vars);
        finding.text = format!("{label}: {}", finding.text);
        return finding;
    }
    let finding = Finding::new(Level::Fail, format!("{label}: {err}"));
    match err {
        LlmError::Upstream { status: 404, .. } if report.kind == ProviderKind::OpenAi => finding
            .fix(format!(
                "check {}: OpenAI-compatible servers usually answer under /v1",
                vars.base_url
            )),
        LlmError::Upstream { status: 404, .. } => {
            finding.fix(format!("check {} and {}", vars.base_url, vars.model))
        }
        LlmError::Upstream {
            status: 400 | 422, ..
        } => {
            // The server refused this mode's field: another mode may still work.
            Finding::new(Level::Note, finding.text)
        }
        LlmError::Timeout(_) => finding.fix(format!(
            "a slow local model may need a larger {}",
            vars.timeout
        )),
        LlmError::RateLimited { .. } => finding.fix("wait and run the check again"),
        _ => finding,
    }
}

/// The error without the "could not reach the AI provider" its message starts with, which
/// the finding says already.
fn reason(err: &LlmError) -> String {
    match err {
        LlmError::Transport(message) => message.clone(),
        LlmError::Timeout(secs) => format!("no answer within {secs} s"),
        other => other.to_string(),
    }
}

fn broke(verdict: &Verdict) -> String {
    match verdict {
        Verdict::NotEnforced { json: true, reply } => {
            format!("the model answered JSON outside the schema: {reply}")
        }
        Verdict::NotEnforced { json: false, reply } => {
            format!("the model answered prose: \"{reply}\"")
        }
        _ => String::new(),
    }
}

/// Milliseconds below ten seconds, seconds with one decimal above.
pub fn duration(d: Duration) -> String {
    if d < Duration::from_secs(10) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}
