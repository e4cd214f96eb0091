//! What the session has shown in the flow it is walking: each answered step with how it was
//! answered, and the fixes that did not work. It travels forward in the step state, because
//! the offline pilot reads only the step being answered, while confidence and the hand-off
//! weigh the whole path.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How an answer was given; answers given less firmly count for less.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    /// An option was picked.
    Picked,
    /// Free text, understood as an option at the first try.
    Typed,
    /// Answered only after the engineer was asked again: the first answer was unclear.
    Clarified,
    /// Skipped, or "could not do it": the flow went on without knowing the result.
    NotDone,
}

/// One answered step of the flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    pub node: String,
    /// The step's order in the session (1-based).
    pub step: usize,
    /// The option's value (an action's outcome value).
    pub value: String,
    pub how: How,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The flow the path belongs to; a path never carries over to another flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<Uuid>,
    /// The flow was picked through the triage question, not matched from the description.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_area: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<Visit>,
    /// Solution nodes suggested in this flow that did not fix the problem, with the step
    /// that suggested each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<(String, usize)>,
}

impl Evidence {
    /// Evidence for a flow just entered. Fixes already tried stay tried when the session
    /// comes back to the same flow, so it does not suggest them again as if new.
    pub fn entering(flow: Uuid, by_area: bool, before: &Evidence) -> Evidence {
        Evidence {
            flow: Some(flow),
            by_area,
            path: Vec::new(),
            rejected: if before.flow == Some(flow) {
                before.rejected.clone()
            } else {
                Vec::new()
            },
        }
    }

    /// This evidence as it applies to `flow`: nothing, when it was gathered on another one.
    /// States stored before evidence was kept name no flow and are taken as they are.
    pub fn for_flow(&self, flow: Uuid) -> Evidence {
        match self.flow {
            Some(id) if id != flow => Evidence::entering(flow, false, self),
            _ => Evidence {
                flow: Some(flow),
                ..self.clone()
            },
        }
    }

    pub fn with_visit(mut self, visit: Visit) -> Evidence {
        self.path.push(visit);
        self
    }

    pub fn with_rejected(mut self, node: &str, step: usize) -> Evidence {
        if !self.rejected.iter().any(|(n, _)| n == node) {
            self.rejected.push((node.to_string(), step));
        }
        self
    }

    pub fn is_rejected(&self, node: &str) -> bool {
        self.rejected.iter().any(|(n, _)| n == node)
    }

    pub fn is_empty(&self) -> bool {
        *self == Evidence::default()
    }
}
