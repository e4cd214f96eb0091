//! What a step may choose when it follows the matched flow (engine.md "Small and local models").
//!
//! The model says which of the flow's questions a step asks (`flow_node`); a step that names
//! one must offer that question's options and no others. When the engineer has just picked
//! an option of a flow question, the flow itself says which question comes next, and the schema
//! is narrowed to it: `flow_node` and the option values become `enum`s, so a server that
//! enforces the schema cannot produce an option that does not exist. A step that leaves the
//! flow (names no node) keeps its own options: the flow is guidance, not a cage, and an
//! off-flow question such as "GUI or command line?" is part of the job.

use std::collections::BTreeMap;

use domain::flow::{FlowDefinition, FlowNode};
use serde_json::{json, Value};

use crate::contract::step_schema;

/// The step field naming the flow question a step asks.
pub const FLOW_NODE_FIELD: &str = "flow_node";

/// One option of a flow question: the value the engineer picks and the node it leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Choice {
    value: String,
    next: String,
}

/// The matched flow's questions and, once known, the one the flow leads to next.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowChoices {
    questions: BTreeMap<String, Vec<Choice>>,
    due: Option<String>,
}

impl FlowChoices {
    /// No flow: nothing is narrowed and `flow_node` is not asked for.
    pub fn none() -> Self {
        Self::default()
    }

    /// Every question of `flow` with its options.
    pub fn of(flow: &FlowDefinition) -> Self {
        let questions = flow
            .nodes
            .iter()
            .filter_map(|(id, node)| match node {
                FlowNode::Question { options, .. } if !options.is_empty() => Some((
                    id.clone(),
                    options
                        .iter()
                        .map(|o| Choice {
                            value: o.value.clone(),
                            next: o.next.clone(),
                        })
                        .collect(),
                )),
                _ => None,
            })
            .collect();
        Self {
            questions,
            due: None,
        }
    }

    /// After the engineer answered the flow question `node` with `selected`: when that option
    /// leads to another question, the next step is that question. Anything else (an answer in
    /// free text, an option the flow does not have, a branch ending in a fix) leaves the
    /// choice to the model.
    pub fn after_answer(mut self, node: &str, selected: &str) -> Self {
        let next = self
            .questions
            .get(node)
            .and_then(|choices| choices.iter().find(|c| c.value == selected.trim()))
            .map(|c| c.next.clone());
        self.due = next.filter(|n| self.questions.contains_key(n));
        self
    }

    /// Whether there is a flow question to follow at all.
    pub fn is_empty(&self) -> bool {
        self.questions.is_empty()
    }

    /// The question the flow leads to next, when the last answer decided it.
    pub fn due(&self) -> Option<&str> {
        self.due.as_deref()
    }

    pub fn is_question(&self, node: &str) -> bool {
        self.questions.contains_key(node)
    }

    /// The option values of the flow question `node`, in the flow's order.
    pub fn values_of(&self, node: &str) -> Option<Vec<&str>> {
        self.questions
            .get(node)
            .map(|choices| choices.iter().map(|c| c.value.as_str()).collect())
    }

    pub fn question_ids(&self) -> impl Iterator<Item = &str> {
        self.questions.keys().map(String::as_str)
    }

    /// The `flowpilot_step` schema for a step within this flow.
    pub fn step_schema(&self) -> Value {
        let mut schema = step_schema();
        if self.is_empty() {
            return schema;
        }
        let (node_type, node_enum) = match self.due() {
            Some(due) => (json!("string"), vec![json!(due)]),
            None => (
                json!(["string", "null"]),
                self.question_ids()
                    .map(|id| json!(id))
                    .chain(std::iter::once(Value::Null))
                    .collect(),
            ),
        };
        schema["properties"][FLOW_NODE_FIELD] = json!({
            "type": node_type,
            "enum": node_enum,
            "description": "The id of the matched flow's question this step asks (its options are then exactly that question's option values); null when the step is not one of the flow's questions"
        });
        if let Some(required) = schema["required"].as_array_mut() {
            required.push(json!(FLOW_NODE_FIELD));
        }
        if let Some(values) = self.due().and_then(|due| self.values_of(due)) {
            schema["properties"]["type"]["enum"] = json!(["question"]);
            schema["properties"]["options"]["items"]["properties"]["value"] = json!({
                "type": "string",
                "enum": values,
            });
        }
        schema
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::flow::FlowOption;

    fn flow() -> FlowDefinition {
        let question = |text: &str, options: &[(&str, &str)]| FlowNode::Question {
            text: text.into(),
            help: None,
            options: options
                .iter()
                .map(|(value, next)| FlowOption {
                    label: value.replace('_', " "),
                    value: (*value).into(),
                    next: (*next).into(),
                })
                .collect(),
        };
        let mut nodes = BTreeMap::new();
        nodes.insert(
            "scope".to_string(),
            question(
                "One user or all?",
                &[("one_user", "client"), ("everyone", "fix_tenant")],
            ),
        );
        nodes.insert(
            "client".to_string(),
            question(
                "Desktop or web?",
                &[("desktop", "fix_profile"), ("web", "fix_tenant")],
            ),
        );
        for fix in ["fix_profile", "fix_tenant"] {
            nodes.insert(
                fix.to_string(),
                FlowNode::Solution {
                    text: "Fix it".into(),
                    help: None,
                    follow_up: vec![],
                },
            );
        }
        FlowDefinition {
            title: "Outlook prompts".into(),
            description: String::new(),
            domain: "email".into(),
            tags: vec![],
            status: Default::default(),
            start: "scope".into(),
            nodes,
            unreviewed: Default::default(),
        }
    }

    #[test]
    fn without_a_flow_the_schema_is_the_contract() {
        assert_eq!(FlowChoices::none().step_schema(), step_schema());
    }

    #[test]
    fn a_matched_flow_offers_its_questions_as_the_flow_node() {
        let schema = FlowChoices::of(&flow()).step_schema();
        assert_eq!(
            schema["properties"]["flow_node"]["enum"],
            json!(["client", "scope", null])
        );
        assert!(schema["required"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("flow_node"))));
        // Off-flow steps keep their own option values.
        assert_eq!(
            schema["properties"]["options"]["items"]["properties"]["value"],
            json!({"type": "string"})
        );
    }

    #[test]
    fn an_answer_that_leads_to_a_question_narrows_to_its_options() {
        let choices = FlowChoices::of(&flow()).after_answer("scope", "one_user");
        assert_eq!(choices.due(), Some("client"));
        let schema = choices.step_schema();
        assert_eq!(schema["properties"]["flow_node"]["enum"], json!(["client"]));
        assert_eq!(schema["properties"]["type"]["enum"], json!(["question"]));
        assert_eq!(
            schema["properties"]["options"]["items"]["properties"]["value"]["enum"],
            json!(["desktop", "web"])
        );
    }

    #[test]
    fn an_answer_that_ends_the_flow_or_is_unknown_narrows_nothing() {
        for (node, selected) in [("scope", "everyone"), ("scope", "invented"), ("gone", "x")] {
            let choices = FlowChoices::of(&flow()).after_answer(node, selected);
            assert_eq!(choices.due(), None, "{node}/{selected}");
        }
    }

    fn step(flow_node: Value, values: &[&str]) -> String {
        let options: Vec<Value> = values
            .iter()
            .map(|v| json!({"label": v, "value": v, "followup_hint": null}))
            .collect();
        json!({
            "type": "question", "content": "Desktop or web?", "context_message": null,
            "reasoning": null, "options": options, "allow_free_text": false,
            "allow_skip": false, "action_type": null, "expected_outcome": null,
            "resolution_summary": null, "follow_up_recommendations": [], "confidence": 0.4,
            "problem_summary": null, "problem_domain": null, "flow_node": flow_node
        })
        .to_string()
    }

    #[test]
    fn a_step_naming_a_flow_question_must_offer_its_options() {
        let choices = FlowChoices::of(&flow());
        let ok =
            crate::parse_step_within(&step(json!("client"), &["desktop", "web"]), false, &choices)
                .unwrap();
        assert_eq!(ok.flow_node.as_deref(), Some("client"));
        assert_eq!(ok.output.options.len(), 2);

        let errors = crate::parse_step_within(
            &step(json!("client"), &["desktop", "reinstall_office"]),
            false,
            &choices,
        )
        .unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains(
                "\"reinstall_office\", which is not an option of the flow's question \"client\""
            ),
            "{errors:?}"
        );
        assert!(
            errors[0].contains("use only \"desktop\", \"web\""),
            "{errors:?}"
        );

        let unknown =
            crate::parse_step_within(&step(json!("nowhere"), &["a", "b"]), false, &choices)
                .unwrap_err();
        assert!(
            unknown[0].contains("one of the flow's questions: \"client\", \"scope\""),
            "{unknown:?}"
        );
    }

    #[test]
    fn a_step_off_the_flow_keeps_its_own_options() {
        let choices = FlowChoices::of(&flow());
        let off =
            crate::parse_step_within(&step(Value::Null, &["gui", "cli"]), false, &choices).unwrap();
        assert_eq!(off.flow_node, None);
        // And a reply without the field at all reads as off the flow too.
        let plain = crate::parse_step(&step(Value::Null, &["gui", "cli"]), false).unwrap();
        assert_eq!(plain, off.output);
    }

    #[test]
    fn the_question_the_flow_leads_to_is_held_even_when_the_field_is_left_out() {
        let choices = FlowChoices::of(&flow()).after_answer("scope", "one_user");
        let mut reply: Value =
            serde_json::from_str(&step(Value::Null, &["desktop", "invented"])).unwrap();
        reply.as_object_mut().unwrap().remove("flow_node");
        let errors = crate::parse_step_within(&reply.to_string(), false, &choices).unwrap_err();
        assert!(
            errors.iter().any(|e| e.contains("\"invented\"")),
            "{errors:?}"
        );
        let wrong = crate::parse_step_within(
            &step(json!("scope"), &["one_user", "everyone"]),
            false,
            &choices,
        )
        .unwrap_err();
        assert!(
            wrong[0].contains("leads to the flow's question \"client\""),
            "{wrong:?}"
        );
        let ok = crate::parse_step_within(&step(Value::Null, &["web", "desktop"]), false, &choices)
            .unwrap();
        assert_eq!(ok.flow_node.as_deref(), Some("client"));
    }
}
