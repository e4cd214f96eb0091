//! Flow versions (memory.md "Versions"): every published state of a flow is kept, with who
//! made it, when, and why.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::FlowDefinition;

/// Who publishes a new version of a flow, and why: what its history shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowChange<'a> {
    /// `None` for the shipped files and the command line.
    pub changed_by: Option<Uuid>,
    /// The flow proposal approved into this version.
    pub proposal_id: Option<Uuid>,
    /// The author's note, or the proposal's summary.
    pub why: Option<&'a str>,
}

/// One stored version of a flow. Version 1 is the flow as created; the flow's own `version`
/// is always its newest.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowVersion {
    pub flow_id: Uuid,
    pub version: i64,
    pub definition: FlowDefinition,
    pub changed_by: Option<Uuid>,
    /// The changer's name, read with the version (`None` once the user is deleted).
    pub changed_by_name: Option<String>,
    pub changed_at: DateTime<Utc>,
    pub proposal_id: Option<Uuid>,
    pub why: Option<String>,
}
