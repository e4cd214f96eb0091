//! A flow's decision graph as a readable outline: nested lists from the start node, each
//! question with its answers and where each leads. A node reached again (by another path,
//! or by a cycle in a flow stored before validation forbade them) is written once; later
//! mentions link back to it by anchor.
//!
//! The outline comes out as a flat list of open/close lines so the template needs no
//! recursion, and it is built with an explicit stack so a deep flow cannot exhaust ours.

use std::collections::HashSet;

use domain::flow::{FlowDefinition, FlowNode};

#[derive(Debug, PartialEq)]
pub enum Line {
    /// `<ul>` around one node.
    ListOpen,
    ListClose,
    /// `<li>` with the node's text and details; its branches follow.
    NodeOpen(NodeView),
    NodeClose,
    BranchesOpen,
    BranchesClose,
    /// One way on from a node: an answer, or an action's outcome.
    BranchOpen(Branch),
    BranchClose,
    /// A node already written above.
    SeeAbove(Reference),
    /// A reference to no node (validation refuses these; shown rather than hidden).
    Missing(String),
}

#[derive(Debug, PartialEq)]
pub struct NodeView {
    pub anchor: String,
    pub id: String,
    /// `question`, `action`, `solution` or `escalate` (CSS class), and how people say it.
    pub class: &'static str,
    pub kind: &'static str,
    pub text: String,
    pub help: Option<String>,
    pub expected_outcome: Option<String>,
    pub follow_up: Vec<String>,
    /// Written or changed by an LLM and not yet approved by an admin.
    pub unreviewed: bool,
}

#[derive(Debug, PartialEq)]
pub struct Reference {
    pub anchor: String,
    pub kind: &'static str,
    pub text: String,
}

#[derive(Debug, PartialEq)]
pub struct Branch {
    /// "Answer", "If it works", "If it does not work".
    pub lead: &'static str,
    /// The option's label for answers.
    pub label: Option<String>,
}

#[derive(Debug, PartialEq)]
pub struct Outline {
    pub lines: Vec<Line>,
    /// Nodes the start does not lead to (validation refuses these too), each its own tree.
    pub unreachable: Vec<Line>,
}

pub fn outline(def: &FlowDefinition) -> Outline {
    let mut walk = Walk {
        def,
        seen: HashSet::new(),
    };
    let lines = walk.from(&def.start);
    let mut unreachable = Vec::new();
    for id in def.nodes.keys() {
        if !walk.seen.contains(id.as_str()) {
            unreachable.extend(walk.from(id));
        }
    }
    Outline { lines, unreachable }
}

/// The fragment id of a node. Node ids are validated to letters, digits, `_` and `-`; any
/// other id (an old row) gets a positional anchor in a form no valid id produces.
pub fn anchor(def: &FlowDefinition, id: &str) -> String {
    let plain = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        return format!("node-{id}");
    }
    let position = def.nodes.keys().position(|k| k == id).unwrap_or(0);
    format!("nx-{position}")
}

fn kind(node: &FlowNode) -> &'static str {
    match node {
        FlowNode::Question { .. } => "Question",
        FlowNode::Action { .. } => "Action",
        FlowNode::Solution { .. } => "Solution",
        FlowNode::Escalate { .. } => "Escalation",
    }
}

enum Work<'a> {
    Emit(Line),
    Visit(&'a str),
}

struct Walk<'a> {
    def: &'a FlowDefinition,
    seen: HashSet<&'a str>,
}

impl<'a> Walk<'a> {
    fn from(&mut self, root: &'a str) -> Vec<Line> {
        let mut out = Vec::new();
        let mut stack = vec![Work::Visit(root)];
        while let Some(work) = stack.pop() {
            match work {
                Work::Emit(line) => out.push(line),
                Work::Visit(id) => self.visit(id, &mut out, &mut stack),
            }
        }
        out
    }

    /// Writes `id` (or a reference to it) and schedules its branches; the stack is popped
    /// last-in first-out, so they are pushed in reverse.
    fn visit(&mut self, id: &'a str, out: &mut Vec<Line>, stack: &mut Vec<Work<'a>>) {
        let Some((key, node)) = self.def.nodes.get_key_value(id) else {
            out.push(Line::Missing(id.to_string()));
            return;
        };
        if !self.seen.insert(key.as_str()) {
            out.push(Line::SeeAbove(Reference {
                anchor: anchor(self.def, id),
                kind: kind(node),
                text: node.text().to_string(),
            }));
            return;
        }
        out.push(Line::ListOpen);
        out.push(Line::NodeOpen(view(self.def, id, node)));
        stack.push(Work::Emit(Line::ListClose));
        stack.push(Work::Emit(Line::NodeClose));
        let branches = branches(node);
        if branches.is_empty() {
            return;
        }
        stack.push(Work::Emit(Line::BranchesClose));
        for (branch, next) in branches.into_iter().rev() {
            stack.push(Work::Emit(Line::BranchClose));
            stack.push(Work::Visit(next));
            stack.push(Work::Emit(Line::BranchOpen(branch)));
        }
        stack.push(Work::Emit(Line::BranchesOpen));
    }
}

fn view(def: &FlowDefinition, id: &str, node: &FlowNode) -> NodeView {
    let (expected_outcome, follow_up) = match node {
        FlowNode::Action {
            expected_outcome, ..
        } => (expected_outcome.clone(), Vec::new()),
        FlowNode::Solution { follow_up, .. } => (None, follow_up.clone()),
        FlowNode::Question { .. } | FlowNode::Escalate { .. } => (None, Vec::new()),
    };
    NodeView {
        anchor: anchor(def, id),
        id: id.to_string(),
        class: node.kind(),
        kind: kind(node),
        text: node.text().to_string(),
        help: node
            .help()
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(String::from),
        expected_outcome: expected_outcome.filter(|o| !o.trim().is_empty()),
        follow_up,
        unreviewed: def.is_unreviewed(id),
    }
}

fn branches(node: &FlowNode) -> Vec<(Branch, &str)> {
    match node {
        FlowNode::Question { options, .. } => options
            .iter()
            .map(|o| {
                let branch = Branch {
                    lead: "Answer",
                    label: Some(o.label.clone()),
                };
                (branch, o.next.as_str())
            })
            .collect(),
        FlowNode::Action {
            next, on_failure, ..
        } => {
            let worked = Branch {
                lead: if on_failure.is_some() {
                    "If it works"
                } else {
                    "Then"
                },
                label: None,
            };
            let failed = on_failure.as_deref().map(|f| {
                let branch = Branch {
                    lead: "If it does not work",
                    label: None,
                };
                (branch, f)
            });
            std::iter::once((worked, next.as_str()))
                .chain(failed)
                .collect()
        }
        FlowNode::Solution { .. } | FlowNode::Escalate { .. } => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(json: serde_json::Value) -> FlowDefinition {
        serde_json::from_value(json).unwrap()
    }

    fn opened(lines: &[Line]) -> Vec<&str> {
        lines
            .iter()
            .filter_map(|l| match l {
                Line::NodeOpen(n) => Some(n.id.as_str()),
                _ => None,
            })
            .collect()
    }

    fn referenced(lines: &[Line]) -> Vec<&str> {
        lines
            .iter()
            .filter_map(|l| match l {
                Line::SeeAbove(r) => Some(r.anchor.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Every open has its close, in order.
    fn balanced(lines: &[Line]) -> bool {
        let mut depth: Vec<&str> = Vec::new();
        for line in lines {
            let (open, close) = match line {
                Line::ListOpen => (Some("list"), None),
                Line::NodeOpen(_) => (Some("node"), None),
                Line::BranchesOpen => (Some("branches"), None),
                Line::BranchOpen(_) => (Some("branch"), None),
                Line::ListClose => (None, Some("list")),
                Line::NodeClose => (None, Some("node")),
                Line::BranchesClose => (None, Some("branches")),
                Line::BranchClose => (None, Some("branch")),
                Line::SeeAbove(_) | Line::Missing(_) => (None, None),
            };
            if let Some(o) = open {
                depth.push(o);
            }
            if let Some(c) = close {
                if depth.pop() != Some(c) {
                    return false;
                }
            }
        }
        depth.is_empty()
    }

    #[test]
    fn a_shared_node_is_written_once_then_referenced() {
        let def = flow(serde_json::json!({
            "title": "T", "domain": "email", "start": "q1",
            "nodes": {
                "q1": {"type": "question", "text": "One user or several?", "options": [
                    {"label": "One", "value": "one", "next": "a1"},
                    {"label": "Several", "value": "many", "next": "s1"}]},
                "a1": {"type": "action", "text": "Clear credentials", "expected_outcome": "It connects",
                       "next": "s1", "on_failure": "e1"},
                "s1": {"type": "solution", "text": "Fixed", "follow_up": ["Tell the user"]},
                "e1": {"type": "escalate", "text": "Call the admin"}}}));
        let out = outline(&def);
        assert!(balanced(&out.lines));
        assert_eq!(opened(&out.lines), ["q1", "a1", "s1", "e1"], "depth first");
        assert_eq!(referenced(&out.lines), ["node-s1"]);
        assert!(out.unreachable.is_empty());
        let Some(Line::NodeOpen(action)) = out.lines.get(5) else {
            panic!("{:?}", out.lines)
        };
        assert_eq!(action.expected_outcome.as_deref(), Some("It connects"));
        assert!(out.lines.contains(&Line::BranchOpen(Branch {
            lead: "Answer",
            label: Some("Several".into())
        })));
    }

    #[test]
    fn cycles_and_dangling_references_end_the_walk() {
        let def = flow(serde_json::json!({
            "title": "T", "domain": "email", "start": "q1",
            "nodes": {
                "q1": {"type": "question", "text": "Again?", "options": [
                    {"label": "Yes", "value": "y", "next": "q1"},
                    {"label": "No", "value": "n", "next": "gone"}]},
                "x": {"type": "question", "text": "Orphan", "options": [
                    {"label": "On", "value": "on", "next": "q1"},
                    {"label": "Off", "value": "off", "next": "x"}]}}}));
        let out = outline(&def);
        assert!(balanced(&out.lines) && balanced(&out.unreachable));
        assert_eq!(referenced(&out.lines), ["node-q1"]);
        assert!(out.lines.contains(&Line::Missing("gone".into())));
        assert_eq!(opened(&out.unreachable), ["x"]);
        assert_eq!(referenced(&out.unreachable), ["node-q1", "node-x"]);
    }

    #[test]
    fn odd_node_ids_get_positional_anchors() {
        let def = flow(serde_json::json!({
            "title": "T", "domain": "email", "start": "a b",
            "nodes": {"a b": {"type": "solution", "text": "done"}}}));
        assert_eq!(anchor(&def, "a b"), "nx-0");
        assert_eq!(anchor(&def, "q-1_x"), "node-q-1_x");
    }

    #[test]
    fn a_long_chain_does_not_recurse() {
        let mut nodes = serde_json::Map::new();
        for i in 0..5000 {
            nodes.insert(
                format!("a{i}"),
                serde_json::json!({"type": "action", "text": "step", "next": format!("a{}", i + 1)}),
            );
        }
        nodes.insert(
            "a5000".into(),
            serde_json::json!({"type": "solution", "text": "done"}),
        );
        let def =
            flow(serde_json::json!({"title": "T", "domain": "d", "start": "a0", "nodes": nodes}));
        let out = outline(&def);
        assert!(balanced(&out.lines));
        assert_eq!(opened(&out.lines).len(), 5001);
    }
}
