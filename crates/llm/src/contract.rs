//! The structured-output contracts (engine.md): the JSON Schemas announced to providers and
//! the typed replies for documentation and escalation.
//!
//! The schemas are written for OpenAI's strict mode, the most demanding consumer: every
//! property is listed in `required`, optional fields are nullable (`["string", "null"]`), and
//! every object has `additionalProperties: false`. Length and count limits are not expressed
//! in the schemas (strict mode has rejected such keywords on some models); `parse` checks them.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Schema name of one troubleshooting step.
pub const STEP_SCHEMA_NAME: &str = "flowpilot_step";
/// Schema name of the documentation written on resolve.
pub const DOCUMENTATION_SCHEMA_NAME: &str = "flowpilot_documentation";
/// Schema name of the hand-off package written on escalate.
pub const ESCALATION_SCHEMA_NAME: &str = "flowpilot_escalation";

/// Upper bound on a step's `content`, in characters.
pub const MAX_CONTENT_CHARS: usize = 4000;
/// Upper bound on a question's options.
pub const MAX_OPTIONS: usize = 6;

/// The `flowpilot_step` schema.
pub fn step_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "type": {
                "type": "string",
                "enum": ["question", "action", "resolution_suggestion"],
                "description": "question: ask the engineer; action: something to do or check; resolution_suggestion: the proposed fix"
            },
            "content": {
                "type": "string",
                "description": "The question, the instruction, or the proposed fix in one sentence"
            },
            "context_message": {
                "type": ["string", "null"],
                "description": "Why this step, shown to the engineer (markdown)"
            },
            "reasoning": {
                "type": ["string", "null"],
                "description": "Internal rationale, not shown by default"
            },
            "options": {
                "type": "array",
                "description": "Questions: 2 to 6 answer options with unique values; empty otherwise unless useful",
                "items": {
                    "type": "object",
                    "properties": {
                        "label": { "type": "string" },
                        "value": { "type": "string" },
                        "followup_hint": { "type": ["string", "null"] }
                    },
                    "required": ["label", "value", "followup_hint"],
                    "additionalProperties": false
                }
            },
            "allow_free_text": { "type": "boolean" },
            "allow_skip": { "type": "boolean" },
            "action_type": {
                "type": ["string", "null"],
                "enum": ["instruction", "script", "verification", "info_request", null],
                "description": "For actions only"
            },
            "expected_outcome": {
                "type": ["string", "null"],
                "description": "Actions: what the engineer should see"
            },
            "resolution_summary": {
                "type": ["string", "null"],
                "description": "Resolution suggestions: caused by X, fixed by Y"
            },
            "follow_up_recommendations": {
                "type": "array",
                "items": { "type": "string" }
            },
            "confidence": {
                "type": "number",
                "description": "0 to 1"
            },
            "problem_summary": {
                "type": ["string", "null"],
                "description": "Required on the first step"
            },
            "problem_domain": {
                "type": ["string", "null"],
                "description": "Required on the first step"
            }
        },
        "required": [
            "type", "content", "context_message", "reasoning", "options", "allow_free_text",
            "allow_skip", "action_type", "expected_outcome", "resolution_summary",
            "follow_up_recommendations", "confidence", "problem_summary", "problem_domain"
        ],
        "additionalProperties": false
    })
}

/// The `flowpilot_documentation` schema.
pub fn documentation_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "title": { "type": "string", "description": "A short ticket title" },
            "root_cause": { "type": "string" },
            "resolution_summary": { "type": "string", "description": "What fixed it" },
            "follow_up_recommendations": { "type": "array", "items": { "type": "string" } }
        },
        "required": ["title", "root_cause", "resolution_summary", "follow_up_recommendations"],
        "additionalProperties": false
    })
}

/// The `flowpilot_escalation` schema.
pub fn escalation_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "summary": { "type": "string", "description": "What is known so far, for the next engineer" },
            "hypotheses": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "cause": { "type": "string" },
                        "likelihood": { "type": "string", "enum": ["high", "medium", "low"] }
                    },
                    "required": ["cause", "likelihood"],
                    "additionalProperties": false
                }
            },
            "suggested_next_steps": { "type": "array", "items": { "type": "string" } }
        },
        "required": ["summary", "hypotheses", "suggested_next_steps"],
        "additionalProperties": false
    })
}

/// The reply to a `flowpilot_documentation` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentationReply {
    pub title: String,
    pub root_cause: String,
    pub resolution_summary: String,
    #[serde(default)]
    pub follow_up_recommendations: Vec<String>,
}

/// A cause and how likely it is: the hand-off's own type.
pub use domain::documentation::{Hypothesis, Likelihood};

/// The reply to a `flowpilot_escalation` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationReply {
    pub summary: String,
    #[serde(default)]
    pub hypotheses: Vec<Hypothesis>,
    #[serde(default)]
    pub suggested_next_steps: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Strict mode rejects a schema unless every object lists all its properties as required
    /// and forbids additional ones; checked recursively so a new field cannot slip through.
    fn assert_strict(schema: &Value, path: &str) {
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            assert_eq!(
                schema.get("additionalProperties"),
                Some(&Value::Bool(false)),
                "{path}: additionalProperties must be false"
            );
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for (name, sub) in props {
                assert!(
                    required.contains(&name.as_str()),
                    "{path}.{name} not required"
                );
                assert_strict(sub, &format!("{path}.{name}"));
            }
            assert_eq!(
                required.len(),
                props.len(),
                "{path}: required lists unknown fields"
            );
        }
        if let Some(items) = schema.get("items") {
            assert_strict(items, &format!("{path}[]"));
        }
    }

    #[test]
    fn every_contract_is_strict_mode_compatible() {
        assert_strict(&step_schema(), "flowpilot_step");
        assert_strict(&documentation_schema(), "flowpilot_documentation");
        assert_strict(&escalation_schema(), "flowpilot_escalation");
    }

    #[test]
    fn step_schema_covers_every_step_output_field() {
        let schema = step_schema();
        let props = schema["properties"].as_object().map(|p| p.len());
        assert_eq!(props, Some(14));
        assert_eq!(
            schema["properties"]["problem_summary"]["type"],
            json!(["string", "null"])
        );
    }

    #[test]
    fn likelihood_parses_case_insensitively() {
        assert_eq!(Likelihood::parse(" High "), Some(Likelihood::High));
        assert_eq!(Likelihood::parse("certain"), None);
    }
}
