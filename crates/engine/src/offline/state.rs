use domain::flow::FlowNode;
use serde::{Deserialize, Serialize};

use super::evidence::Evidence;

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
            FlowNode::Escalate { .. } => OfflineState::OfferEscalation,
            _ => OfflineState::Node {
                node: id.to_string(),
            },
        }
    }
}

/// The state as stored: where the walk is, and what the path so far has shown. Evidence
/// is a sibling of `at` so that states stored before it existed still read (as no
/// evidence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    #[serde(flatten)]
    pub at: OfflineState,
    #[serde(default, skip_serializing_if = "Evidence::is_empty")]
    pub evidence: Evidence,
}

impl Stored {
    pub fn new(at: OfflineState, evidence: Evidence) -> Self {
        Stored { at, evidence }
    }

    pub fn from_value(value: &serde_json::Value) -> Self {
        serde_json::from_value(value.clone())
            .unwrap_or_else(|_| Stored::new(OfflineState::Rematch, Evidence::default()))
    }

    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offline::evidence::{How, Visit};
    use serde_json::json;

    #[test]
    fn states_stored_before_evidence_was_kept_still_read() {
        let old = Stored::from_value(&json!({"at": "node", "node": "q_scope"}));
        assert_eq!(
            old.at,
            OfflineState::Node {
                node: "q_scope".into()
            }
        );
        assert!(old.evidence.is_empty());
        assert_eq!(
            Stored::from_value(&json!({"at": "triage"})).at,
            OfflineState::Triage
        );
    }

    #[test]
    fn a_state_keeps_its_evidence_through_storage() {
        let evidence = Evidence::default().with_visit(Visit {
            node: "q_scope".into(),
            step: 1,
            value: "one".into(),
            how: How::Clarified,
        });
        for at in [
            OfflineState::Node { node: "a".into() },
            OfflineState::AfterSolution,
            OfflineState::Rematch,
        ] {
            let stored = Stored::new(at, evidence.clone());
            assert_eq!(Stored::from_value(&stored.to_value()), stored);
        }
    }
}
