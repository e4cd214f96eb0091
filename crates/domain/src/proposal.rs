//! Flow proposals (memory.md "The flywheel"): what closed sessions suggest adding to the
//! library, how proposals are told apart and merged, and the change a proposal makes to the
//! flow it would replace, in terms a reviewer reads (nodes and options added, changed,
//! removed) rather than as two JSON documents.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::flow::{FlowDefinition, FlowNode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalKind {
    /// The branch that led to a fix, added to the flow at the node where sessions left it.
    BranchAddition,
    /// A flow built from a resolved session that no flow matched.
    NewFlow,
}

impl ProposalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProposalKind::BranchAddition => "branch_addition",
            ProposalKind::NewFlow => "new_flow",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::BranchAddition, Self::NewFlow]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    Open,
    Approved,
    Rejected,
}

impl ProposalStatus {
    pub const ALL: [ProposalStatus; 3] = [
        ProposalStatus::Open,
        ProposalStatus::Approved,
        ProposalStatus::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProposalStatus::Open => "open",
            ProposalStatus::Approved => "approved",
            ProposalStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// Words that say nothing about a fix: left out of merge keys, so "Reset the MTU of the VPN
/// adapter" and "reset MTU on VPN adapter" are the same fix.
const FILLER: &[&str] = &[
    "a", "an", "the", "to", "of", "and", "or", "on", "in", "it", "its", "is", "was", "were", "be",
    "for", "by", "with", "from", "at", "this", "that", "then", "so", "as", "we", "i", "they",
    "their", "our", "my", "has", "had", "have", "been", "after", "into", "up",
];

/// The words of `text` that identify it, lower-case, without filler, each once, sorted: the
/// part of a merge key that a fix or an answer contributes. Sorting makes the key blind to
/// word order, which engineers vary more than they vary the words.
pub fn key_words(text: &str) -> String {
    let words: BTreeSet<String> = text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !FILLER.contains(w))
        .map(str::to_string)
        .collect();
    let joined = words.into_iter().collect::<Vec<_>>().join("-");
    match joined.char_indices().nth(160) {
        Some((at, _)) => joined[..at].to_string(),
        None => joined,
    }
}

/// A node as a reviewer sees it in a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRef {
    pub id: String,
    #[serde(rename = "type")]
    pub node_type: String,
    pub text: String,
}

/// A node present before and after whose own fields (not its options) differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeChange {
    pub id: String,
    #[serde(rename = "type")]
    pub node_type: String,
    pub text: String,
    /// The fields that differ: `type`, `text`, `help`, `expected_outcome`, `next`,
    /// `on_failure`, `follow_up`.
    pub fields: Vec<String>,
    pub before: FlowNode,
    pub after: FlowNode,
}

/// One option of a question node, where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionRef {
    pub node: String,
    pub label: String,
    pub value: String,
    pub next: String,
}

/// What a proposal changes in the flow it would replace (all added for a new flow).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowDiff {
    /// Flow fields that differ: `title`, `description`, `domain`, `tags`, `status`, `start`.
    pub fields: Vec<String>,
    pub added_nodes: Vec<NodeRef>,
    pub changed_nodes: Vec<NodeChange>,
    pub removed_nodes: Vec<NodeRef>,
    pub added_options: Vec<OptionRef>,
    /// Options whose label or target differs; `next` and `label` are the new ones.
    pub changed_options: Vec<OptionRef>,
    pub removed_options: Vec<OptionRef>,
}

impl FlowDiff {
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
            && self.added_nodes.is_empty()
            && self.changed_nodes.is_empty()
            && self.removed_nodes.is_empty()
            && self.added_options.is_empty()
            && self.changed_options.is_empty()
            && self.removed_options.is_empty()
    }
}

fn node_ref(id: &str, node: &FlowNode) -> NodeRef {
    NodeRef {
        id: id.to_string(),
        node_type: node.kind().to_string(),
        text: node.text().to_string(),
    }
}

fn options_of(node: &FlowNode) -> BTreeMap<&str, (&str, &str)> {
    match node {
        FlowNode::Question { options, .. } => options
            .iter()
            .map(|o| (o.value.as_str(), (o.label.as_str(), o.next.as_str())))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// The node's fields other than its options, by name, for comparing two versions of it.
fn own_fields(node: &FlowNode) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("type", node.kind().to_string()),
        ("text", node.text().to_string()),
        ("help", node.help().unwrap_or_default().to_string()),
    ];
    match node {
        FlowNode::Action {
            expected_outcome,
            next,
            on_failure,
            ..
        } => {
            out.push((
                "expected_outcome",
                expected_outcome.clone().unwrap_or_default(),
            ));
            out.push(("next", next.clone()));
            out.push(("on_failure", on_failure.clone().unwrap_or_default()));
        }
        FlowNode::Solution { follow_up, .. } => out.push(("follow_up", follow_up.join("\n"))),
        FlowNode::Question { .. } | FlowNode::Escalate { .. } => {}
    }
    out
}

/// What changes from `before` (the current version; `None` for a new flow) to `after`.
pub fn diff(before: Option<&FlowDefinition>, after: &FlowDefinition) -> FlowDiff {
    let mut change = FlowDiff::default();
    let empty = BTreeMap::new();
    let old_nodes = before.map_or(&empty, |b| &b.nodes);
    if let Some(b) = before {
        let pairs = [
            ("title", b.title != after.title),
            ("description", b.description != after.description),
            ("domain", b.domain != after.domain),
            ("tags", b.tags != after.tags),
            ("status", b.status != after.status),
            ("start", b.start != after.start),
        ];
        change.fields = pairs
            .into_iter()
            .filter(|(_, differs)| *differs)
            .map(|(name, _)| name.to_string())
            .collect();
    }
    for (id, node) in &after.nodes {
        let Some(old) = old_nodes.get(id) else {
            change.added_nodes.push(node_ref(id, node));
            continue;
        };
        let fields: Vec<String> = own_fields(old)
            .into_iter()
            .zip(own_fields(node))
            .filter(|(a, b)| a != b)
            .map(|(a, _)| a.0.to_string())
            .collect();
        // A node whose type changed has different fields: say so once.
        let fields = if old.kind() != node.kind() {
            vec!["type".to_string()]
        } else {
            fields
        };
        if !fields.is_empty() {
            change.changed_nodes.push(NodeChange {
                id: id.clone(),
                node_type: node.kind().to_string(),
                text: node.text().to_string(),
                fields,
                before: old.clone(),
                after: node.clone(),
            });
        }
        let (was, now) = (options_of(old), options_of(node));
        for (value, (label, next)) in &now {
            let opt = OptionRef {
                node: id.clone(),
                label: label.to_string(),
                value: value.to_string(),
                next: next.to_string(),
            };
            match was.get(value) {
                None => change.added_options.push(opt),
                Some(old) if old != &(*label, *next) => change.changed_options.push(opt),
                Some(_) => {}
            }
        }
        for (value, (label, next)) in &was {
            if !now.contains_key(value) {
                change.removed_options.push(OptionRef {
                    node: id.clone(),
                    label: label.to_string(),
                    value: value.to_string(),
                    next: next.to_string(),
                });
            }
        }
    }
    for (id, node) in old_nodes {
        if !after.nodes.contains_key(id) {
            change.removed_nodes.push(node_ref(id, node));
        }
    }
    change
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(json: serde_json::Value) -> FlowDefinition {
        serde_json::from_value(json).unwrap()
    }

    fn base() -> FlowDefinition {
        def(serde_json::json!({
            "title": "VPN drops", "domain": "network", "start": "q1",
            "nodes": {
                "q1": {"type": "question", "text": "Wired or wireless?", "options": [
                    {"label": "Wired", "value": "wired", "next": "s1"},
                    {"label": "Wireless", "value": "wifi", "next": "a1"}]},
                "a1": {"type": "action", "text": "Forget the network", "next": "s1"},
                "s1": {"type": "solution", "text": "Update the client"}}
        }))
    }

    #[test]
    fn kinds_and_statuses_round_trip_through_their_names() {
        for k in [ProposalKind::BranchAddition, ProposalKind::NewFlow] {
            assert_eq!(ProposalKind::parse(k.as_str()), Some(k));
        }
        for s in ProposalStatus::ALL {
            assert_eq!(ProposalStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(ProposalStatus::parse("pending"), None);
    }

    #[test]
    fn key_words_ignore_case_order_punctuation_and_filler() {
        assert_eq!(
            key_words("Reset the MTU of the VPN adapter to 1400."),
            key_words("vpn adapter: reset MTU to 1400")
        );
        assert_eq!(key_words("Reset the MTU to 1400"), "1400-mtu-reset");
        assert_ne!(
            key_words("Reset the MTU"),
            key_words("Reinstall the client")
        );
    }

    #[test]
    fn the_same_flow_changes_nothing() {
        assert!(diff(Some(&base()), &base()).is_empty());
    }

    #[test]
    fn an_added_branch_is_an_added_option_and_its_nodes() {
        let mut after = base();
        if let Some(FlowNode::Question { options, .. }) = after.nodes.get_mut("q1") {
            options.push(crate::flow::FlowOption {
                label: "Only on the VPN".into(),
                value: "only_on_the_vpn".into(),
                next: "p1".into(),
            });
        }
        after.nodes.insert(
            "p1".into(),
            FlowNode::Solution {
                text: "Lower the MTU".into(),
                help: None,
                follow_up: vec![],
            },
        );
        let change = diff(Some(&base()), &after);
        assert_eq!(change.added_nodes.len(), 1);
        assert_eq!(change.added_nodes[0].id, "p1");
        assert_eq!(change.added_options.len(), 1);
        assert_eq!(change.added_options[0].node, "q1");
        assert_eq!(change.added_options[0].next, "p1");
        // The question gained an option; its own fields did not change.
        assert!(change.changed_nodes.is_empty());
        assert!(change.removed_nodes.is_empty() && change.fields.is_empty());
    }

    #[test]
    fn changed_and_removed_nodes_and_options_are_named() {
        let mut after = base();
        after.title = "VPN keeps dropping".into();
        after.nodes.remove("a1");
        if let Some(FlowNode::Question { options, .. }) = after.nodes.get_mut("q1") {
            options.retain(|o| o.value == "wired");
            options[0].label = "Cable".into();
        }
        if let Some(FlowNode::Solution { text, .. }) = after.nodes.get_mut("s1") {
            *text = "Update the VPN client".into();
        }
        let change = diff(Some(&base()), &after);
        assert_eq!(change.fields, ["title"]);
        assert_eq!(change.removed_nodes[0].id, "a1");
        assert_eq!(change.removed_options[0].value, "wifi");
        assert_eq!(change.changed_options[0].label, "Cable");
        assert_eq!(change.changed_nodes[0].id, "s1");
        assert_eq!(change.changed_nodes[0].fields, ["text"]);
    }

    #[test]
    fn a_new_flow_is_all_added() {
        let change = diff(None, &base());
        assert_eq!(change.added_nodes.len(), 3);
        assert!(change.added_options.is_empty() && change.fields.is_empty());
    }
}
