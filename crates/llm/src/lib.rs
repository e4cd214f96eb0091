//! FlowPilot's LLM adapters: the `LlmProvider` implementations for each wire format, the
//! structured-output contracts and how replies are parsed, validated and repaired, redaction
//! of secrets before text leaves the network, and a cost estimate for the usage ledger.

pub mod contract;
pub mod http;
pub mod parse;
pub mod pricing;
pub mod providers;
pub mod redact;
pub mod structured;

pub use contract::{
    documentation_schema, escalation_schema, step_schema, DocumentationReply, EscalationReply,
    Hypothesis, Likelihood, DOCUMENTATION_SCHEMA_NAME, ESCALATION_SCHEMA_NAME, STEP_SCHEMA_NAME,
};
pub use parse::{extract_json, parse_documentation, parse_escalation, parse_step};
pub use pricing::estimate_cost_usd;
pub use providers::{
    build_provider, AnthropicProvider, GeminiProvider, OpenAiProvider, ProviderConfig,
    ProviderKind, ProviderSettings, DEFAULT_TIMEOUT,
};
pub use redact::Redactor;
pub use structured::{call_structured, repair_request, StructuredError};
