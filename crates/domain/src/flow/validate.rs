//! The rules every flow write must pass (flows.md "Validation on every write").
//!
//! Errors are collected, never short-circuited, so an editor can show them all at once,
//! and come out in a fixed order: top-level fields, then each node in id order, then the
//! graph rules (reachability, cycles). Each `loc` names the offending node.

use std::collections::{BTreeMap, HashSet, VecDeque};

use serde_json::Value;

use super::model::{FlowDefinition, FlowNode};
use crate::validation::{FieldError, ValidationErrors};

/// Bounds enforced by [`FlowDefinition::validate`].
pub mod limits {
    pub const MAX_NODES: usize = 500;
    pub const TITLE: usize = 200;
    pub const DESCRIPTION: usize = 5000;
    pub const DOMAIN: usize = 64;
    pub const MAX_TAGS: usize = 30;
    pub const TAG: usize = 64;
    pub const NODE_ID: usize = 64;
    pub const NODE_TEXT: usize = 2000;
    pub const HELP: usize = 5000;
    pub const LABEL: usize = 200;
    pub const MIN_OPTIONS: usize = 2;
    pub const MAX_OPTIONS: usize = 6;
    pub const MAX_FOLLOW_UPS: usize = 20;
}

/// Longest cycle spelled out in a message; longer ones are elided.
const CYCLE_SHOWN: usize = 8;

impl FlowDefinition {
    /// Checks every rule and reports all violations.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = Validator::default();
        v.fields(self);
        for (id, node) in &self.nodes {
            v.node(self, id, node);
        }
        Graph::new(self).check(self, &mut v);
        v.errors.into_result()
    }
}

/// Builds a `loc` under `body`.
macro_rules! loc {
    ($($seg:expr),* $(,)?) => { vec![Value::from("body"), $(Value::from($seg)),*] };
}

#[derive(Default)]
struct Validator {
    errors: ValidationErrors,
}

impl Validator {
    fn push(&mut self, loc: Vec<Value>, msg: impl Into<String>, kind: &str) {
        self.errors.push(FieldError {
            loc,
            msg: msg.into(),
            kind: kind.to_owned(),
        });
    }

    /// `subject` is how the message names the field, e.g. "node 'q1' text". A required
    /// field made only of whitespace counts as empty.
    fn length(&mut self, loc: Vec<Value>, subject: &str, value: &str, min: usize, max: usize) {
        let n = value.chars().count();
        if min > 0 && value.trim().is_empty() {
            let s = if min == 1 { "" } else { "s" };
            self.push(
                loc,
                format!("{subject} should have at least {min} character{s}"),
                "string_too_short",
            );
        } else if n > max {
            self.push(
                loc,
                format!("{subject} should have at most {max} characters"),
                "string_too_long",
            );
        }
    }

    fn fields(&mut self, flow: &FlowDefinition) {
        self.length(loc!["title"], "title", &flow.title, 1, limits::TITLE);
        self.length(
            loc!["description"],
            "description",
            &flow.description,
            0,
            limits::DESCRIPTION,
        );
        self.length(loc!["domain"], "domain", &flow.domain, 1, limits::DOMAIN);
        if !flow.domain.is_empty() && !is_domain(&flow.domain) {
            self.push(
                loc!["domain"],
                format!(
                    "domain '{}' must be lower case letters, digits, '_' and '-', starting with a letter or digit",
                    flow.domain
                ),
                "string_pattern_mismatch",
            );
        }
        if flow.tags.len() > limits::MAX_TAGS {
            self.push(
                loc!["tags"],
                format!("a flow has at most {} tags", limits::MAX_TAGS),
                "too_long",
            );
        }
        for (i, tag) in flow.tags.iter().enumerate() {
            self.length(loc!["tags", i], &format!("tag {i}"), tag, 1, limits::TAG);
        }
        if flow.nodes.len() > limits::MAX_NODES {
            self.push(
                loc!["nodes"],
                format!(
                    "a flow has at most {} nodes, this one has {}",
                    limits::MAX_NODES,
                    flow.nodes.len()
                ),
                "flow.too_many_nodes",
            );
        }
        if !flow.nodes.contains_key(&flow.start) {
            self.push(
                loc!["start"],
                format!("start node '{}' is not a node of the flow", flow.start),
                "flow.unknown_node",
            );
        }
    }

    fn node(&mut self, flow: &FlowDefinition, id: &str, node: &FlowNode) {
        if !is_node_id(id) {
            self.push(
                loc!["nodes", id],
                format!(
                    "node id '{id}' must be 1 to {} letters, digits, '_' or '-'",
                    limits::NODE_ID
                ),
                "string_pattern_mismatch",
            );
        }
        let subject = |field: &str| format!("node '{id}' {field}");
        self.length(
            loc!["nodes", id, "text"],
            &subject("text"),
            node.text(),
            1,
            limits::NODE_TEXT,
        );
        if let Some(help) = node.help() {
            self.length(
                loc!["nodes", id, "help"],
                &subject("help"),
                help,
                0,
                limits::HELP,
            );
        }
        let exists = |target: &str| flow.nodes.contains_key(target);
        match node {
            FlowNode::Question { options, .. } => self.options(id, options, exists),
            FlowNode::Action {
                expected_outcome,
                next,
                on_failure,
                ..
            } => {
                if let Some(outcome) = expected_outcome {
                    self.length(
                        loc!["nodes", id, "expected_outcome"],
                        &subject("expected_outcome"),
                        outcome,
                        0,
                        limits::NODE_TEXT,
                    );
                }
                if !exists(next) {
                    self.push(
                        loc!["nodes", id, "next"],
                        format!("node '{id}' next points to unknown node '{next}'"),
                        "flow.unknown_node",
                    );
                }
                if let Some(target) = on_failure.as_deref().filter(|t| !exists(t)) {
                    self.push(
                        loc!["nodes", id, "on_failure"],
                        format!("node '{id}' on_failure points to unknown node '{target}'"),
                        "flow.unknown_node",
                    );
                }
            }
            FlowNode::Solution { follow_up, .. } => {
                if follow_up.len() > limits::MAX_FOLLOW_UPS {
                    self.push(
                        loc!["nodes", id, "follow_up"],
                        format!(
                            "node '{id}' has more than {} follow-ups",
                            limits::MAX_FOLLOW_UPS
                        ),
                        "too_long",
                    );
                }
                for (i, item) in follow_up.iter().enumerate() {
                    self.length(
                        loc!["nodes", id, "follow_up", i],
                        &subject(&format!("follow-up {i}")),
                        item,
                        1,
                        limits::NODE_TEXT,
                    );
                }
            }
            FlowNode::Escalate { .. } => {}
        }
    }

    fn options(&mut self, id: &str, options: &[super::FlowOption], exists: impl Fn(&str) -> bool) {
        if options.is_empty() {
            self.push(
                loc!["nodes", id, "options"],
                format!("node '{id}' is a question without options: its path ends without a solution or escalation"),
                "flow.dead_end",
            );
        } else if !(limits::MIN_OPTIONS..=limits::MAX_OPTIONS).contains(&options.len()) {
            self.push(
                loc!["nodes", id, "options"],
                format!(
                    "node '{id}' has {} options; a question has {} to {}",
                    options.len(),
                    limits::MIN_OPTIONS,
                    limits::MAX_OPTIONS
                ),
                "flow.option_count",
            );
        }
        let mut seen = HashSet::new();
        for (i, option) in options.iter().enumerate() {
            self.length(
                loc!["nodes", id, "options", i, "label"],
                &format!("node '{id}' option {i} label"),
                &option.label,
                1,
                limits::LABEL,
            );
            self.length(
                loc!["nodes", id, "options", i, "value"],
                &format!("node '{id}' option {i} value"),
                &option.value,
                1,
                limits::LABEL,
            );
            if !seen.insert(option.value.as_str()) {
                self.push(
                    loc!["nodes", id, "options", i, "value"],
                    format!(
                        "node '{id}' has option value '{}' more than once",
                        option.value
                    ),
                    "flow.duplicate_value",
                );
            }
            if !exists(&option.next) {
                self.push(
                    loc!["nodes", id, "options", i, "next"],
                    format!(
                        "node '{id}' option '{}' points to unknown node '{}'",
                        option.value, option.next
                    ),
                    "flow.unknown_node",
                );
            }
        }
    }
}

fn is_node_id(id: &str) -> bool {
    (1..=limits::NODE_ID).contains(&id.chars().count())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn is_domain(domain: &str) -> bool {
    domain
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && domain
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// The flow's nodes numbered in id order, with edges to unknown nodes left out (those are
/// reported per node already).
struct Graph<'a> {
    ids: Vec<&'a str>,
    edges: Vec<Vec<usize>>,
}

impl<'a> Graph<'a> {
    fn new(flow: &'a FlowDefinition) -> Self {
        let ids: Vec<&str> = flow.nodes.keys().map(String::as_str).collect();
        let index: BTreeMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let edges = flow
            .nodes
            .values()
            .map(|node| {
                let mut out: Vec<usize> = node
                    .successors()
                    .into_iter()
                    .filter_map(|s| index.get(s).copied())
                    .collect();
                out.dedup();
                out
            })
            .collect();
        Self { ids, edges }
    }

    fn check(&self, flow: &FlowDefinition, v: &mut Validator) {
        if let Some(start) = self.ids.iter().position(|id| *id == flow.start) {
            let reached = self.reachable_from(start);
            for (i, id) in self.ids.iter().enumerate() {
                if !reached[i] {
                    v.push(
                        loc!["nodes", *id],
                        format!(
                            "node '{id}' cannot be reached from start node '{}'",
                            flow.start
                        ),
                        "flow.unreachable",
                    );
                }
            }
        }
        for component in self.cyclic_components() {
            // Naming the smallest id keeps the report stable whatever order the search ran in.
            let Some(&first) = component.iter().min() else {
                continue;
            };
            let id = self.ids[first];
            v.push(
                loc!["nodes", id],
                format!(
                    "node '{id}' is on a cycle ({}); a flow must not loop back",
                    self.describe_cycle(first, &component)
                ),
                "flow.cycle",
            );
        }
    }

    fn reachable_from(&self, start: usize) -> Vec<bool> {
        let mut seen = vec![false; self.ids.len()];
        let mut queue = VecDeque::from([start]);
        seen[start] = true;
        while let Some(n) = queue.pop_front() {
            for &m in &self.edges[n] {
                if !seen[m] {
                    seen[m] = true;
                    queue.push_back(m);
                }
            }
        }
        seen
    }

    /// Strongly connected components that contain a cycle (more than one node, or a node
    /// leading to itself). Iterative Tarjan, so a deep graph cannot overflow the stack.
    fn cyclic_components(&self) -> Vec<Vec<usize>> {
        const UNSEEN: usize = usize::MAX;
        let n = self.ids.len();
        let mut index = vec![UNSEEN; n];
        let mut low = vec![0; n];
        let mut on_stack = vec![false; n];
        let mut stack = Vec::new();
        let mut counter = 0;
        let mut found = Vec::new();
        for root in 0..n {
            if index[root] != UNSEEN {
                continue;
            }
            index[root] = counter;
            low[root] = counter;
            counter += 1;
            stack.push(root);
            on_stack[root] = true;
            let mut calls = vec![(root, 0usize)];
            while let Some(top) = calls.last_mut() {
                let node = top.0;
                if let Some(&next) = self.edges[node].get(top.1) {
                    top.1 += 1;
                    if index[next] == UNSEEN {
                        index[next] = counter;
                        low[next] = counter;
                        counter += 1;
                        stack.push(next);
                        on_stack[next] = true;
                        calls.push((next, 0));
                    } else if on_stack[next] {
                        low[node] = low[node].min(index[next]);
                    }
                    continue;
                }
                calls.pop();
                if let Some(&(parent, _)) = calls.last() {
                    low[parent] = low[parent].min(low[node]);
                }
                if low[node] == index[node] {
                    let mut component = Vec::new();
                    while let Some(member) = stack.pop() {
                        on_stack[member] = false;
                        component.push(member);
                        if member == node {
                            break;
                        }
                    }
                    if component.len() > 1 || self.edges[node].contains(&node) {
                        found.push(component);
                    }
                }
            }
        }
        found.sort_by_key(|c| c.iter().min().copied());
        found
    }

    /// A shortest cycle through `first` inside its component, e.g. "a -> b -> a".
    fn describe_cycle(&self, first: usize, component: &[usize]) -> String {
        let members: HashSet<usize> = component.iter().copied().collect();
        let mut parent = vec![usize::MAX; self.ids.len()];
        let mut queue = VecDeque::from([first]);
        let mut closing = None;
        'search: while let Some(n) = queue.pop_front() {
            for &m in &self.edges[n] {
                if m == first {
                    closing = Some(n);
                    break 'search;
                }
                if members.contains(&m) && parent[m] == usize::MAX {
                    parent[m] = n;
                    queue.push_back(m);
                }
            }
        }
        // Walk back from the node that closes the loop; `parent` only holds component
        // members, so the walk ends at `first` (the guard is for safety, not expected).
        let mut back = Vec::new();
        let mut at = closing.unwrap_or(first);
        while at != first && at != usize::MAX && back.len() < component.len() {
            back.push(at);
            at = parent[at];
        }
        let names: Vec<&str> = std::iter::once(first)
            .chain(back.into_iter().rev())
            .chain(std::iter::once(first))
            .map(|i| self.ids[i])
            .collect();
        if names.len() > CYCLE_SHOWN {
            format!(
                "{} -> … -> {}",
                names[..CYCLE_SHOWN - 1].join(" -> "),
                self.ids[first]
            )
        } else {
            names.join(" -> ")
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::flow::{FlowOption, FlowStatus};

    /// The flows.md example, completed so that it is valid.
    fn outlook() -> FlowDefinition {
        serde_json::from_value(json!({
            "title": "Outlook keeps asking for a password", "description": "Prompt loops",
            "domain": "email", "tags": ["outlook", "m365"], "start": "q1",
            "nodes": {
                "q1": {"type": "question", "text": "Is it one user or several?", "options": [
                    {"label": "One user", "value": "one", "next": "a1"},
                    {"label": "Several", "value": "many", "next": "q2"}]},
                "q2": {"type": "question", "text": "Is the service degraded?", "options": [
                    {"label": "Yes", "value": "yes", "next": "e1"},
                    {"label": "No", "value": "no", "next": "e1"}]},
                "a1": {"type": "action", "text": "Clear the saved credentials",
                       "expected_outcome": "Outlook connects", "next": "s1", "on_failure": "q2"},
                "s1": {"type": "solution", "text": "Stale cached credentials", "follow_up": ["Enable MFA"]},
                "e1": {"type": "escalate", "text": "Needs the tenant admin"}}
        }))
        .unwrap()
    }

    fn errors(flow: &FlowDefinition) -> Vec<FieldError> {
        flow.validate().err().map(|e| e.0).unwrap_or_default()
    }

    fn kinds(flow: &FlowDefinition) -> Vec<String> {
        errors(flow).into_iter().map(|e| e.kind).collect()
    }

    fn question_mut<'a>(flow: &'a mut FlowDefinition, id: &str) -> &'a mut Vec<FlowOption> {
        match flow.nodes.get_mut(id) {
            Some(FlowNode::Question { options, .. }) => options,
            other => panic!("{id} is not a question: {other:?}"),
        }
    }

    fn option(value: &str, next: &str) -> FlowOption {
        FlowOption {
            label: value.to_uppercase(),
            value: value.into(),
            next: next.into(),
        }
    }

    fn solution(text: &str) -> FlowNode {
        FlowNode::Solution {
            text: text.into(),
            help: None,
            follow_up: vec![],
        }
    }

    #[test]
    fn the_spec_example_is_valid() {
        assert_eq!(outlook().validate(), Ok(()));
    }

    #[test]
    fn start_must_be_a_node() {
        let mut flow = outlook();
        flow.start = "q0".into();
        let errs = errors(&flow);
        assert_eq!(errs[0].loc, loc!["start"]);
        assert_eq!(errs[0].kind, "flow.unknown_node");
        assert!(errs[0].msg.contains("'q0'"));
    }

    #[test]
    fn an_option_pointing_nowhere_names_its_node_and_option() {
        let mut flow = outlook();
        question_mut(&mut flow, "q2")[1].next = "q9".into();
        let errs = errors(&flow);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].loc, loc!["nodes", "q2", "options", 1, "next"]);
        assert_eq!(
            errs[0].msg,
            "node 'q2' option 'no' points to unknown node 'q9'"
        );
        assert_eq!(errs[0].kind, "flow.unknown_node");
    }

    #[test]
    fn action_next_and_on_failure_must_exist() {
        let mut flow = outlook();
        flow.nodes.insert(
            "a1".into(),
            FlowNode::Action {
                text: "Clear".into(),
                help: None,
                expected_outcome: None,
                next: "gone".into(),
                on_failure: Some("lost".into()),
            },
        );
        let errs = errors(&flow);
        let locs: Vec<_> = errs.iter().map(|e| e.loc.clone()).collect();
        assert!(locs.contains(&loc!["nodes", "a1", "next"]), "{errs:?}");
        assert!(
            locs.contains(&loc!["nodes", "a1", "on_failure"]),
            "{errs:?}"
        );
        // s1 was only reachable through a1.next.
        assert!(locs.contains(&loc!["nodes", "s1"]), "{errs:?}");
    }

    #[test]
    fn option_values_are_unique_within_a_question() {
        let mut flow = outlook();
        question_mut(&mut flow, "q1")[1].value = "one".into();
        let errs = errors(&flow);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].loc, loc!["nodes", "q1", "options", 1, "value"]);
        assert_eq!(errs[0].kind, "flow.duplicate_value");
    }

    #[test]
    fn the_same_value_may_appear_in_different_questions() {
        let mut flow = outlook();
        question_mut(&mut flow, "q2")[0].value = "one".into();
        assert_eq!(flow.validate(), Ok(()));
    }

    #[test]
    fn a_question_has_two_to_six_options() {
        let mut flow = outlook();
        question_mut(&mut flow, "q2").truncate(1);
        assert_eq!(kinds(&flow), ["flow.option_count"]);

        let mut flow = outlook();
        let options = question_mut(&mut flow, "q2");
        for i in 0..5 {
            options.push(option(&format!("extra{i}"), "e1"));
        }
        let errs = errors(&flow);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].loc, loc!["nodes", "q2", "options"]);
        assert!(errs[0].msg.contains("7 options"));

        let mut flow = outlook();
        question_mut(&mut flow, "q2").truncate(6);
        assert_eq!(flow.validate(), Ok(()));
    }

    #[test]
    fn a_question_without_options_is_a_dead_end() {
        let mut flow = outlook();
        question_mut(&mut flow, "q2").clear();
        let errs = errors(&flow);
        assert_eq!(errs[0].loc, loc!["nodes", "q2", "options"]);
        assert_eq!(errs[0].kind, "flow.dead_end");
        // e1 was only reachable through q2.
        assert_eq!(kinds(&flow), ["flow.dead_end", "flow.unreachable"]);
    }

    #[test]
    fn every_node_is_reachable_from_start() {
        let mut flow = outlook();
        flow.nodes
            .insert("orphan".into(), solution("Nobody gets here"));
        let errs = errors(&flow);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].loc, loc!["nodes", "orphan"]);
        assert_eq!(errs[0].kind, "flow.unreachable");
        assert_eq!(
            errs[0].msg,
            "node 'orphan' cannot be reached from start node 'q1'"
        );
    }

    #[test]
    fn a_cycle_is_reported_once_naming_a_node_on_it() {
        let mut flow = outlook();
        // q2 -> q1 -> q2 (via "many"), and q2 -> q1 -> a1 -> q2 (via on_failure).
        question_mut(&mut flow, "q2")[1].next = "q1".into();
        let errs = errors(&flow);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].kind, "flow.cycle");
        // 'a1' is the smallest id of the loop {q1, q2, a1}.
        assert_eq!(errs[0].loc, loc!["nodes", "a1"]);
        assert!(
            errs[0].msg.contains("a1 -> q2 -> q1 -> a1"),
            "{}",
            errs[0].msg
        );
    }

    #[test]
    fn a_node_leading_to_itself_is_a_cycle() {
        let mut flow = outlook();
        if let Some(FlowNode::Action { on_failure, .. }) = flow.nodes.get_mut("a1") {
            *on_failure = Some("a1".into());
        }
        let errs = errors(&flow);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].loc, loc!["nodes", "a1"]);
        assert!(errs[0].msg.contains("a1 -> a1"));
    }

    #[test]
    fn a_flow_has_at_most_500_nodes() {
        let mut flow = outlook();
        let options = question_mut(&mut flow, "q2");
        options[0].next = "n0".into();
        for i in 0..limits::MAX_NODES {
            let next = format!("n{}", i + 1);
            flow.nodes.insert(
                format!("n{i}"),
                FlowNode::Action {
                    text: "step".into(),
                    help: None,
                    expected_outcome: None,
                    next,
                    on_failure: None,
                },
            );
        }
        flow.nodes
            .insert(format!("n{}", limits::MAX_NODES), solution("end"));
        let errs = errors(&flow);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].loc, loc!["nodes"]);
        assert_eq!(errs[0].kind, "flow.too_many_nodes");
    }

    #[test]
    fn top_level_text_fields_have_sane_lengths() {
        let mut flow = outlook();
        flow.title = "  ".into();
        flow.description = "d".repeat(limits::DESCRIPTION + 1);
        flow.domain = "Email Stuff".into();
        flow.tags = vec!["t".repeat(limits::TAG + 1)];
        let errs = errors(&flow);
        let got: Vec<_> = errs
            .iter()
            .map(|e| (e.loc.clone(), e.kind.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (loc!["title"], "string_too_short"),
                (loc!["description"], "string_too_long"),
                (loc!["domain"], "string_pattern_mismatch"),
                (loc!["tags", 0], "string_too_long"),
            ]
        );
    }

    #[test]
    fn titles_domains_and_tags_have_limits() {
        let mut flow = outlook();
        flow.title = "t".repeat(limits::TITLE + 1);
        flow.domain = "d".repeat(limits::DOMAIN + 1);
        flow.tags = vec!["tag".into(); limits::MAX_TAGS + 1];
        assert_eq!(
            kinds(&flow),
            ["string_too_long", "string_too_long", "too_long"]
        );

        let mut flow = outlook();
        flow.domain = "active_directory".into();
        flow.tags = vec!["tag".into(); limits::MAX_TAGS];
        assert_eq!(flow.validate(), Ok(()));
    }

    #[test]
    fn node_fields_have_sane_lengths() {
        let mut flow = outlook();
        flow.nodes.insert(
            "s1".into(),
            FlowNode::Solution {
                text: String::new(),
                help: Some("h".repeat(limits::HELP + 1)),
                follow_up: vec![String::new()],
            },
        );
        question_mut(&mut flow, "q1")[0].label = "l".repeat(limits::LABEL + 1);
        let got: Vec<_> = errors(&flow).into_iter().map(|e| (e.loc, e.kind)).collect();
        assert_eq!(
            got,
            vec![
                (
                    loc!["nodes", "q1", "options", 0, "label"],
                    "string_too_long".to_owned()
                ),
                (loc!["nodes", "s1", "text"], "string_too_short".to_owned()),
                (loc!["nodes", "s1", "help"], "string_too_long".to_owned()),
                (
                    loc!["nodes", "s1", "follow_up", 0],
                    "string_too_short".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn node_ids_are_short_and_plain() {
        let mut flow = outlook();
        let node = flow.nodes.remove("e1").unwrap();
        flow.nodes.insert("e 1".into(), node);
        for option in question_mut(&mut flow, "q2") {
            option.next = "e 1".into();
        }
        let errs = errors(&flow);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].loc, loc!["nodes", "e 1"]);
        assert_eq!(errs[0].kind, "string_pattern_mismatch");
        assert!(is_node_id("q_2-b") && !is_node_id("") && !is_node_id(&"x".repeat(65)));
    }

    #[test]
    fn all_errors_are_reported_in_a_stable_order() {
        let mut flow = outlook();
        flow.title = String::new();
        flow.status = FlowStatus::Draft;
        question_mut(&mut flow, "q1")[0].next = "nowhere".into();
        flow.nodes.insert("z".into(), solution("unreached"));
        let first = errors(&flow);
        assert_eq!(
            first.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
            [
                "string_too_short",
                "flow.unknown_node",
                "flow.unreachable",
                "flow.unreachable",
                "flow.unreachable"
            ]
        );
        // a1 and s1 hang off the broken option; z was never linked.
        assert_eq!(first[2].loc, loc!["nodes", "a1"]);
        assert_eq!(first[3].loc, loc!["nodes", "s1"]);
        assert_eq!(first[4].loc, loc!["nodes", "z"]);
        assert_eq!(errors(&flow), first);
    }
}
