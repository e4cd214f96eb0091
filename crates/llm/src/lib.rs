//! FlowPilot's LLM contract: the structured-output contracts and how replies are parsed,
//! validated and repaired, the structured call loop over the `LlmProvider` port, redaction of
//! secrets before text leaves the network, and a cost estimate for the usage ledger.
//! No HTTP here: the wire formats live in `flowpilot-providers`, so the engine (and any tool
//! that only checks replies against the contract) depends on the contract alone.

pub mod contract;
pub mod flow_choices;
pub mod forming;
pub mod parse;
pub mod pricing;
pub mod redact;
pub mod structured;
pub mod text;

pub use contract::{
    documentation_schema, escalation_schema, step_schema, DocumentationReply, EscalationReply,
    Hypothesis, Likelihood, DOCUMENTATION_SCHEMA_NAME, ESCALATION_SCHEMA_NAME, STEP_SCHEMA_NAME,
};
pub use flow_choices::{FlowChoices, FLOW_NODE_FIELD};
pub use forming::{FormingText, StepField, StepTextReader};
pub use parse::{
    extract_json, parse_documentation, parse_escalation, parse_step, parse_step_within, FlowStep,
};
pub use pricing::{estimate_cached_cost_usd, estimate_cost_usd};
pub use redact::Redactor;
pub use structured::{
    call_structured, call_structured_once, call_structured_streaming, repair_request,
    StructuredError,
};
