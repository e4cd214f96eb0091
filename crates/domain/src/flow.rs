//! Flows: the decision-graph format and its validation (flows.md).
