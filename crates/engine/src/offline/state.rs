use domain::flow::FlowNode;
use serde::{Deserialize, Serialize};

/// Where a step left the walk; stored with the step and handed back with its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "at", rename_all = "snake_case")]
pub enum OfflineState {
    /// Asking which problem domain the issue belongs to.
    Triage,
    /// Showing a node of the session's current flow.
    Node { node: String },
    /// A solution was suggested; answering it means it did not fix the problem.
    AfterSolution,
    /// Escalation has been suggested.
    OfferEscalation,
    /// Asked the engineer to describe the problem again.
    Rematch,
}

impl OfflineState {
    pub fn for_node(node: &FlowNode, id: &str) -> Self {
        match node {
            FlowNode::Solution { .. } => OfflineState::Node {
                node: id.to_string(),
            },
            FlowNode::Escalate { .. } => OfflineState::OfferEscalation,
            _ => OfflineState::Node {
                node: id.to_string(),
            },
        }
    }

    pub fn from_value(value: &serde_json::Value) -> Self {
        serde_json::from_value(value.clone()).unwrap_or(OfflineState::Rematch)
    }

    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}
