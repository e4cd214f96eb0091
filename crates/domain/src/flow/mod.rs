//! Flows: the decision-graph format, its validation and its import/export forms (flows.md).
//!
//! - [`model`]: the types a flow is made of.
//! - [`validate`]: the rules every write must pass, reported per offending node.
//! - [`format`]: JSON and YAML documents holding one or many flows.

mod format;
mod label;
mod model;
mod validate;
mod version;

#[cfg(test)]
mod proptests;

pub use format::{
    parse_flow_documents, to_json, to_yaml, FlowExportError, FlowFormat, FlowParseError,
};
pub use label::domain_label;
pub use model::{Flow, FlowDefinition, FlowNode, FlowOption, FlowStatus, MarkedNode};
pub use validate::limits;
pub use version::{FlowChange, FlowVersion};
