//! The types a flow is made of.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowStatus {
    #[default]
    Published,
    Draft,
}

impl FlowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowStatus::Published => "published",
            FlowStatus::Draft => "draft",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Published, Self::Draft]
            .into_iter()
            .find(|status| status.as_str() == s)
    }
}

/// One answer of a question node and the node it leads to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowOption {
    pub label: String,
    pub value: String,
    pub next: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FlowNode {
    Question {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        help: Option<String>,
        // Defaulted so that a question without options reaches validation, which names the
        // node, instead of failing deserialization with a less helpful message.
        #[serde(default)]
        options: Vec<FlowOption>,
    },
    Action {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        help: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expected_outcome: Option<String>,
        next: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        on_failure: Option<String>,
    },
    Solution {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        help: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        follow_up: Vec<String>,
    },
    Escalate {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        help: Option<String>,
    },
}

impl FlowNode {
    pub fn text(&self) -> &str {
        match self {
            FlowNode::Question { text, .. }
            | FlowNode::Action { text, .. }
            | FlowNode::Solution { text, .. }
            | FlowNode::Escalate { text, .. } => text,
        }
    }

    pub fn help(&self) -> Option<&str> {
        match self {
            FlowNode::Question { help, .. }
            | FlowNode::Action { help, .. }
            | FlowNode::Solution { help, .. }
            | FlowNode::Escalate { help, .. } => help.as_deref(),
        }
    }

    /// The `type` tag as it appears in JSON and YAML.
    pub fn kind(&self) -> &'static str {
        match self {
            FlowNode::Question { .. } => "question",
            FlowNode::Action { .. } => "action",
            FlowNode::Solution { .. } => "solution",
            FlowNode::Escalate { .. } => "escalate",
        }
    }

    /// Solutions and escalations end a path; every path must reach one.
    pub fn is_terminal(&self) -> bool {
        matches!(self, FlowNode::Solution { .. } | FlowNode::Escalate { .. })
    }

    /// The node ids this node leads to, in document order (options first to last; an
    /// action's `next` before its `on_failure`). Duplicates are kept.
    pub fn successors(&self) -> Vec<&str> {
        match self {
            FlowNode::Question { options, .. } => options.iter().map(|o| o.next.as_str()).collect(),
            FlowNode::Action {
                next, on_failure, ..
            } => std::iter::once(next.as_str())
                .chain(on_failure.as_deref())
                .collect(),
            FlowNode::Solution { .. } | FlowNode::Escalate { .. } => Vec::new(),
        }
    }
}

/// The writable part of a flow (what clients send on create/update/import).
///
/// In a document each node may carry `"unreviewed": true` (written or changed by an LLM and
/// not yet approved by an admin, memory.md "Versions"); here those marks are one set beside
/// the nodes, so the node types stay what the engine matches on. The set only ever names
/// nodes of `nodes` once read from a document, and a mark without its node is not written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "wire::Definition", into = "wire::Definition")]
pub struct FlowDefinition {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub domain: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub status: FlowStatus,
    pub start: String,
    pub nodes: BTreeMap<String, FlowNode>,
    /// The ids of the nodes marked `unreviewed`.
    pub unreviewed: BTreeSet<String>,
}

/// A node as a document holds it: the node and its review mark side by side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkedNode {
    #[serde(flatten)]
    pub node: FlowNode,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unreviewed: bool,
}

/// The document form of [`FlowDefinition`]: the same fields, the marks inside the nodes.
mod wire {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use super::{FlowStatus, MarkedNode};

    #[derive(Serialize, Deserialize)]
    pub(super) struct Definition {
        pub title: String,
        #[serde(default)]
        pub description: String,
        pub domain: String,
        #[serde(default)]
        pub tags: Vec<String>,
        #[serde(default)]
        pub status: FlowStatus,
        pub start: String,
        pub nodes: BTreeMap<String, MarkedNode>,
    }
}

impl From<wire::Definition> for FlowDefinition {
    fn from(w: wire::Definition) -> Self {
        let unreviewed = w
            .nodes
            .iter()
            .filter(|(_, n)| n.unreviewed)
            .map(|(id, _)| id.clone())
            .collect();
        FlowDefinition {
            title: w.title,
            description: w.description,
            domain: w.domain,
            tags: w.tags,
            status: w.status,
            start: w.start,
            nodes: w.nodes.into_iter().map(|(id, n)| (id, n.node)).collect(),
            unreviewed,
        }
    }
}

impl From<FlowDefinition> for wire::Definition {
    fn from(mut d: FlowDefinition) -> Self {
        wire::Definition {
            nodes: d.take_marked_nodes(),
            title: d.title,
            description: d.description,
            domain: d.domain,
            tags: d.tags,
            status: d.status,
            start: d.start,
        }
    }
}

impl FlowDefinition {
    /// The nodes as a document writes them, each with its review mark.
    pub fn marked_nodes(self) -> BTreeMap<String, MarkedNode> {
        FlowDefinition::with_marks(self.nodes, self.unreviewed)
    }

    /// [`FlowDefinition::marked_nodes`], leaving the rest of the definition to the caller.
    pub fn take_marked_nodes(&mut self) -> BTreeMap<String, MarkedNode> {
        let nodes = std::mem::take(&mut self.nodes);
        let marks = std::mem::take(&mut self.unreviewed);
        FlowDefinition::with_marks(nodes, marks)
    }

    fn with_marks(
        nodes: BTreeMap<String, FlowNode>,
        unreviewed: BTreeSet<String>,
    ) -> BTreeMap<String, MarkedNode> {
        nodes
            .into_iter()
            .map(|(id, node)| {
                let mark = unreviewed.contains(&id);
                (
                    id,
                    MarkedNode {
                        node,
                        unreviewed: mark,
                    },
                )
            })
            .collect()
    }

    pub fn is_unreviewed(&self, node_id: &str) -> bool {
        self.unreviewed.contains(node_id)
    }

    /// Marks every node that `self` adds to `base` or writes differently (all of them when
    /// there is no base: a new flow): what an LLM wrote stays unreviewed until an admin
    /// approves it. Marks already on `self` are kept.
    pub fn mark_changes_unreviewed(&mut self, base: Option<&FlowDefinition>) {
        let changed: Vec<String> = self
            .nodes
            .iter()
            .filter(|(id, node)| base.and_then(|b| b.nodes.get(*id)) != Some(node))
            .map(|(id, _)| id.clone())
            .collect();
        self.unreviewed.extend(changed);
    }

    /// An admin approved the whole flow: no node is unreviewed any more.
    pub fn mark_reviewed(&mut self) {
        self.unreviewed.clear();
    }

    /// What a writer who may not approve (not an admin) can do to the marks: keep the ones
    /// `current` has on nodes still present, and add its own; never clear them.
    pub fn keep_unreviewed_marks(&mut self, current: &FlowDefinition) {
        let kept: Vec<String> = current
            .unreviewed
            .iter()
            .filter(|id| self.nodes.contains_key(*id))
            .cloned()
            .collect();
        self.unreviewed.extend(kept);
        self.unreviewed.retain(|id| self.nodes.contains_key(id));
    }

    /// What matching indexes: title, description, tags, domain, and the text of every
    /// question with its option labels, one field per line. Actions and solutions are left
    /// out on purpose: they describe fixes, not the symptoms an intake describes.
    /// What the flow is about, for a sentence embedding: its title and description. The
    /// questions and tags that the keyword signal also reads are about diagnosing the
    /// problem, and in one long text they dilute the similarity of an intake that describes
    /// it (docs/matching.md).
    pub fn semantic_text(&self) -> String {
        format!("{}\n{}", self.title.trim(), self.description.trim())
    }

    pub fn search_text(&self) -> String {
        let mut parts: Vec<&str> = vec![&self.title, &self.description];
        parts.extend(self.tags.iter().map(String::as_str));
        parts.push(&self.domain);
        for node in self.nodes.values() {
            if let FlowNode::Question { text, options, .. } = node {
                parts.push(text);
                parts.extend(options.iter().map(|o| o.label.as_str()));
            }
        }
        parts.retain(|p| !p.trim().is_empty());
        parts.join("\n")
    }
}

/// A stored flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    pub id: Uuid,
    /// `None` for the built-in library, visible to every account and read-only.
    pub account_id: Option<Uuid>,
    #[serde(flatten)]
    pub definition: FlowDefinition,
    pub version: i64,
    pub usage_count: i64,
    pub success_rate: Option<f64>,
    pub last_matched_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(json: serde_json::Value) -> FlowNode {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn status_round_trips_through_its_name() {
        for status in [FlowStatus::Published, FlowStatus::Draft] {
            assert_eq!(FlowStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(FlowStatus::parse("archived"), None);
        assert_eq!(FlowStatus::default(), FlowStatus::Published);
    }

    #[test]
    fn nodes_are_tagged_by_type() {
        let q = node(
            serde_json::json!({"type": "question", "text": "One user or several?",
            "options": [{"label": "One", "value": "one", "next": "a1"}]}),
        );
        assert_eq!(q.kind(), "question");
        assert_eq!(q.text(), "One user or several?");
        assert_eq!(q.help(), None);
        assert_eq!(q.successors(), vec!["a1"]);
    }

    #[test]
    fn an_action_leads_to_next_then_on_failure() {
        let a = node(
            serde_json::json!({"type": "action", "text": "Clear credentials",
            "help": "Credential Manager", "next": "s1", "on_failure": "q2"}),
        );
        assert_eq!(a.successors(), vec!["s1", "q2"]);
        assert_eq!(a.help(), Some("Credential Manager"));
        assert!(!a.is_terminal());
    }

    #[test]
    fn solutions_and_escalations_end_a_path() {
        let s = node(serde_json::json!({"type": "solution", "text": "Fixed"}));
        let e = node(serde_json::json!({"type": "escalate", "text": "Call the admin"}));
        assert!(s.is_terminal() && e.is_terminal());
        assert!(s.successors().is_empty() && e.successors().is_empty());
        assert_eq!(
            s,
            FlowNode::Solution {
                text: "Fixed".into(),
                help: None,
                follow_up: vec![]
            }
        );
    }

    #[test]
    fn a_stored_flow_serializes_flat() {
        let def: FlowDefinition = serde_json::from_value(serde_json::json!({
            "title": "T", "domain": "email", "start": "s",
            "nodes": {"s": {"type": "solution", "text": "done"}}}))
        .unwrap();
        assert_eq!(def.status, FlowStatus::Published);
        assert_eq!(def.description, "");
        let now = Utc::now();
        let flow = Flow {
            id: Uuid::nil(),
            account_id: None,
            definition: def.clone(),
            version: 1,
            usage_count: 0,
            success_rate: None,
            last_matched_at: None,
            created_by: None,
            created_at: now,
            updated_at: now,
        };
        let json = serde_json::to_value(&flow).unwrap();
        assert_eq!(json["title"], "T");
        assert_eq!(json["status"], "published");
        let back: Flow = serde_json::from_value(json).unwrap();
        assert_eq!(back, flow);
    }

    fn two_step_flow(extra: serde_json::Value) -> serde_json::Value {
        let mut doc = serde_json::json!({
            "title": "T", "domain": "email", "start": "a1",
            "nodes": {
                "a1": {"type": "action", "text": "Restart the service", "next": "s1"},
                "s1": {"type": "solution", "text": "done"}}});
        if let (Some(nodes), Some(more)) = (doc["nodes"].as_object_mut(), extra.as_object()) {
            for (id, node) in more {
                nodes.insert(id.clone(), node.clone());
            }
        }
        doc
    }

    #[test]
    fn a_document_without_marks_reads_and_writes_unchanged() {
        let doc = two_step_flow(serde_json::json!({}));
        let def: FlowDefinition = serde_json::from_value(doc.clone()).unwrap();
        assert!(def.unreviewed.is_empty());
        let back = serde_json::to_value(&def).unwrap();
        assert_eq!(back["nodes"], doc["nodes"]);
        assert!(back["nodes"]["a1"].get("unreviewed").is_none(), "{back}");
    }

    #[test]
    fn an_unreviewed_node_keeps_its_mark_through_json_and_yaml() {
        let doc = two_step_flow(serde_json::json!({
            "s1": {"type": "solution", "text": "done", "unreviewed": true}}));
        let def: FlowDefinition = serde_json::from_value(doc).unwrap();
        assert!(def.is_unreviewed("s1") && !def.is_unreviewed("a1"));
        assert_eq!(def.nodes["s1"].text(), "done");
        let json = serde_json::to_value(&def).unwrap();
        assert_eq!(json["nodes"]["s1"]["unreviewed"], true);
        let yaml = serde_yaml::to_string(&def).unwrap();
        let again: FlowDefinition = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(again, def);
    }

    #[test]
    fn what_an_llm_adds_or_rewrites_is_marked_and_an_admin_clears_it() {
        let base: FlowDefinition =
            serde_json::from_value(two_step_flow(serde_json::json!({}))).unwrap();
        let mut proposed = base.clone();
        proposed.nodes.insert(
            "s1".into(),
            FlowNode::Solution {
                text: "Renew the certificate".into(),
                help: None,
                follow_up: vec![],
            },
        );
        proposed.nodes.insert(
            "e1".into(),
            FlowNode::Escalate {
                text: "Call the vendor".into(),
                help: None,
            },
        );
        proposed.mark_changes_unreviewed(Some(&base));
        let marked: Vec<&str> = proposed.unreviewed.iter().map(String::as_str).collect();
        assert_eq!(marked, ["e1", "s1"]);

        let mut new_flow = base.clone();
        new_flow.mark_changes_unreviewed(None);
        assert_eq!(new_flow.unreviewed.len(), 2);

        proposed.mark_reviewed();
        assert!(proposed.unreviewed.is_empty());
    }

    #[test]
    fn a_writer_who_may_not_approve_cannot_clear_a_mark() {
        let current: FlowDefinition = serde_json::from_value(two_step_flow(serde_json::json!({
            "s1": {"type": "solution", "text": "done", "unreviewed": true}})))
        .unwrap();
        let mut edit: FlowDefinition =
            serde_json::from_value(two_step_flow(serde_json::json!({}))).unwrap();
        edit.keep_unreviewed_marks(&current);
        assert!(edit.is_unreviewed("s1"));
        // A mark on a node the edit removed goes with the node.
        edit.nodes.remove("s1");
        edit.keep_unreviewed_marks(&current);
        assert!(edit.unreviewed.is_empty());
    }

    #[test]
    fn search_text_holds_what_describes_the_problem() {
        let def: FlowDefinition = serde_json::from_value(serde_json::json!({
            "title": "Outlook asks for a password", "description": "Prompts loop",
            "domain": "email", "tags": ["m365"], "start": "q1",
            "nodes": {
                "q1": {"type": "question", "text": "One user or several?", "options": [
                    {"label": "Only one", "value": "one", "next": "s1"},
                    {"label": "Many", "value": "many", "next": "s1"}]},
                "s1": {"type": "solution", "text": "Clear the cached credentials"}}}))
        .unwrap();
        let text = def.search_text();
        for part in [
            "Outlook asks",
            "Prompts loop",
            "m365",
            "email",
            "One user",
            "Only one",
        ] {
            assert!(text.contains(part), "{part} missing from {text}");
        }
        assert!(!text.contains("cached credentials"));
    }
}
