//! The matched flow as the model sees it: a compact outline of the flow's nodes, in the order a
//! walk from the start reaches them, capped so a large flow cannot crowd out the session.

use std::collections::{BTreeMap, HashSet, VecDeque};

use domain::flow::{FlowDefinition, FlowNode};

use super::text::{clip_line, one_line};
use crate::library::MatchedFlow;

/// The whole rendering stays under this many characters.
pub(super) const MAX_FLOW_CHARS: usize = 4_000;
const NODE_TEXT_CHARS: usize = 200;
const HELP_CHARS: usize = 150;
const LABEL_CHARS: usize = 60;
const DESCRIPTION_CHARS: usize = 300;

/// The flow's title, domain and match score, then one line per node.
pub(super) fn render_flow(matched: &MatchedFlow) -> String {
    let def = &matched.flow.definition;
    let mut out = flow_header(matched);
    out.push('\n');
    if !def.description.trim().is_empty() {
        out.push_str(&clip_line(&def.description, DESCRIPTION_CHARS));
        out.push('\n');
    }
    out.push_str(&format!("Starts at {}. Nodes:\n", def.start));

    let order = walk_order(def);
    for (i, id) in order.iter().enumerate() {
        let Some(node) = def.nodes.get(*id) else {
            continue;
        };
        let line = format!("  {}\n", node_line(id, node));
        // Leave room for the "omitted" marker so the cap holds even when it is added.
        if out.chars().count() + line.chars().count() > MAX_FLOW_CHARS - 60 {
            out.push_str(&format!("  … {} more nodes omitted\n", order.len() - i));
            break;
        }
        out.push_str(&line);
    }
    out
}

/// `"title" (domain: d, match score 0.87)`: all a recap needs to know of the flow.
pub(super) fn flow_header(matched: &MatchedFlow) -> String {
    let def = &matched.flow.definition;
    format!(
        "\"{}\" (domain: {}, match score {:.2})",
        clip_line(&def.title, 200),
        clip_line(&def.domain, 60),
        matched.score
    )
}

/// Node ids breadth-first from the start, then any node the walk did not reach (a flow under
/// edit may have orphans), in id order.
fn walk_order(def: &FlowDefinition) -> Vec<&str> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut order = Vec::with_capacity(def.nodes.len());
    let mut queue: VecDeque<&str> = VecDeque::new();
    if let Some((start, _)) = def.nodes.get_key_value(&def.start) {
        queue.push_back(start.as_str());
    }
    while let Some(id) = queue.pop_front() {
        if !seen.insert(id) {
            continue;
        }
        order.push(id);
        if let Some(node) = def.nodes.get(id) {
            queue.extend(
                node.successors()
                    .into_iter()
                    .filter_map(|next| key_of(&def.nodes, next)),
            );
        }
    }
    order.extend(
        def.nodes
            .keys()
            .map(String::as_str)
            .filter(|id| !seen.contains(id)),
    );
    order
}

/// The map's own key for `id`, so the returned `&str` borrows from the flow, not the node.
fn key_of<'a>(nodes: &'a BTreeMap<String, FlowNode>, id: &str) -> Option<&'a str> {
    nodes.get_key_value(id).map(|(k, _)| k.as_str())
}

fn node_line(id: &str, node: &FlowNode) -> String {
    let mut line = format!(
        "{id} [{}] {}",
        node.kind(),
        clip_line(node.text(), NODE_TEXT_CHARS)
    );
    if let Some(help) = node.help().filter(|h| !h.trim().is_empty()) {
        line.push_str(&format!(" (help: {})", clip_line(help, HELP_CHARS)));
    }
    match node {
        FlowNode::Question { options, .. } => {
            let rendered: Vec<String> = options
                .iter()
                // The value is what a step that asks this question must offer.
                .map(|o| {
                    format!(
                        "{} [{}]→{}",
                        clip_line(&o.label, LABEL_CHARS),
                        clip_line(&o.value, LABEL_CHARS),
                        o.next
                    )
                })
                .collect();
            line.push_str(&format!(" → options: {}", rendered.join("; ")));
        }
        FlowNode::Action {
            expected_outcome,
            next,
            on_failure,
            ..
        } => {
            if let Some(expected) = expected_outcome.as_deref().filter(|e| !e.trim().is_empty()) {
                line.push_str(&format!(" (expect: {})", clip_line(expected, HELP_CHARS)));
            }
            line.push_str(&format!(" → next: {next}"));
            if let Some(failure) = on_failure {
                line.push_str(&format!("; on failure: {failure}"));
            }
        }
        FlowNode::Solution { follow_up, .. } => {
            if !follow_up.is_empty() {
                let items: Vec<String> = follow_up
                    .iter()
                    .map(|f| clip_line(f, LABEL_CHARS))
                    .collect();
                line.push_str(&format!(" (follow-up: {})", items.join("; ")));
            }
        }
        FlowNode::Escalate { .. } => {}
    }
    one_line(&line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::flow::Flow;

    fn flow(nodes: serde_json::Value, start: &str) -> MatchedFlow {
        let flow: Flow = serde_json::from_value(serde_json::json!({
            "id": "00000000-0000-0000-0000-000000000001",
            "account_id": null,
            "title": "Outlook keeps asking for a password",
            "description": "Credential prompts loop in Outlook",
            "domain": "email",
            "tags": [],
            "start": start,
            "nodes": nodes,
            "version": 1,
            "usage_count": 0,
            "success_rate": null,
            "last_matched_at": null,
            "created_by": null,
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z"
        }))
        .expect("test flow");
        MatchedFlow { flow, score: 0.82 }
    }

    #[test]
    fn renders_nodes_in_walk_order() {
        let matched = flow(
            serde_json::json!({
                "q1": {"type": "question", "text": "One user or several?", "options": [
                    {"label": "Only one", "value": "one", "next": "a1"},
                    {"label": "Many", "value": "many", "next": "e1"}]},
                "a1": {"type": "action", "text": "Clear cached credentials",
                       "help": "Control Panel > Credential Manager",
                       "expected_outcome": "No more prompts", "next": "s1", "on_failure": "e1"},
                "s1": {"type": "solution", "text": "Stale credentials", "follow_up": ["Enable MFA"]},
                "e1": {"type": "escalate", "text": "Tenant-wide problem"},
                "zz": {"type": "solution", "text": "Orphan"}
            }),
            "q1",
        );
        let text = render_flow(&matched);
        assert!(text.starts_with(
            "\"Outlook keeps asking for a password\" (domain: email, match score 0.82)\n"
        ));
        let q1 = text.find(
            "q1 [question] One user or several? → options: Only one [one]→a1; Many [many]→e1",
        );
        let a1 = text.find(
            "a1 [action] Clear cached credentials (help: Control Panel > Credential Manager) \
             (expect: No more prompts) → next: s1; on failure: e1",
        );
        let e1 = text.find("e1 [escalate] Tenant-wide problem");
        let s1 = text.find("s1 [solution] Stale credentials (follow-up: Enable MFA)");
        let zz = text.find("zz [solution] Orphan");
        let positions: Vec<usize> = [q1, a1, e1, s1, zz]
            .into_iter()
            .map(|p| p.expect("node rendered"))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    #[test]
    fn large_flows_are_capped() {
        let mut nodes = serde_json::Map::new();
        for i in 0..200 {
            nodes.insert(
                format!("a{i}"),
                serde_json::json!({"type": "action", "text": "x".repeat(300), "next": format!("a{}", i + 1)}),
            );
        }
        nodes.insert(
            "a200".into(),
            serde_json::json!({"type": "solution", "text": "done"}),
        );
        let text = render_flow(&flow(serde_json::Value::Object(nodes), "a0"));
        assert!(
            text.chars().count() <= MAX_FLOW_CHARS,
            "{}",
            text.chars().count()
        );
        assert!(text.contains("more nodes omitted"));
    }
}
