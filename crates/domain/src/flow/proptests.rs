//! Properties of validation over generated graphs.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use serde_json::Value;

use super::{FlowDefinition, FlowNode, FlowOption, FlowStatus};

/// A small deterministic generator, so one `u64` seed describes a whole graph and
/// proptest can still shrink the seed and the size.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        // xorshift64*: plenty for picking edges.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }
}

fn id(i: usize) -> String {
    format!("n{i}")
}

/// A random valid flow: node 0 is the start, every other node gets a parent with a smaller
/// index (so all are reachable and edges only go "forward", hence no cycle), plus extra
/// forward edges. Nodes without children become solutions or escalations.
fn random_dag(seed: u64, n: usize) -> FlowDefinition {
    let mut rng = Rng(seed | 1);
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 1..n {
        // i-1 has no children yet (they would need an index >= i), so this always finds one.
        let open: Vec<usize> = (0..i).filter(|&p| children[p].len() < 6).collect();
        let parent = open[rng.below(open.len())];
        children[parent].push(i);
    }
    for _ in 0..rng.below(n * 2) {
        let a = rng.below(n);
        let b = rng.below(n);
        let (a, b) = (a.min(b), a.max(b));
        if a != b && children[a].len() < 6 && !children[a].contains(&b) {
            children[a].push(b);
        }
    }
    let nodes = children
        .iter()
        .enumerate()
        .map(|(i, kids)| {
            let text = format!("step {i}");
            let node = match kids.len() {
                0 if rng.below(2) == 0 => FlowNode::Solution {
                    text,
                    help: None,
                    follow_up: vec![],
                },
                0 => FlowNode::Escalate { text, help: None },
                1 | 2 if kids.len() == 1 || rng.below(2) == 0 => FlowNode::Action {
                    text,
                    help: None,
                    expected_outcome: None,
                    next: id(kids[0]),
                    on_failure: kids.get(1).map(|&k| id(k)),
                },
                _ => FlowNode::Question {
                    text,
                    help: None,
                    options: kids
                        .iter()
                        .map(|&k| FlowOption {
                            label: format!("to {k}"),
                            value: format!("v{k}"),
                            next: id(k),
                        })
                        .collect(),
                },
            };
            (id(i), node)
        })
        .collect();
    FlowDefinition {
        title: "generated".into(),
        description: String::new(),
        domain: "testing".into(),
        tags: vec![],
        status: FlowStatus::Published,
        start: id(0),
        nodes,
        unreviewed: Default::default(),
    }
}

/// Makes `from` lead to `to`, whatever kind of node `from` is.
fn add_edge(flow: &mut FlowDefinition, from: &str, to: &str) {
    let Some(node) = flow.nodes.get_mut(from) else {
        return;
    };
    match node {
        FlowNode::Question { options, .. } if options.len() < 6 => options.push(FlowOption {
            label: "back".into(),
            value: "back".into(),
            next: to.into(),
        }),
        FlowNode::Question { options, .. } => {
            if let Some(last) = options.last_mut() {
                last.next = to.into();
            }
        }
        FlowNode::Action { on_failure, .. } => *on_failure = Some(to.into()),
        FlowNode::Solution { .. } | FlowNode::Escalate { .. } => {
            *node = FlowNode::Action {
                text: "loop".into(),
                help: None,
                expected_outcome: None,
                next: to.into(),
                on_failure: None,
            }
        }
    }
}

/// Nodes reachable from `from` following successors.
fn reach(flow: &FlowDefinition, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_owned()];
    while let Some(n) = todo.pop() {
        if flow.nodes.contains_key(&n) && seen.insert(n.clone()) {
            todo.extend(flow.nodes[&n].successors().into_iter().map(str::to_owned));
        }
    }
    seen
}

fn errors(flow: &FlowDefinition) -> Vec<crate::FieldError> {
    flow.validate().err().map(|e| e.0).unwrap_or_default()
}

proptest! {
    #[test]
    fn generated_dags_are_valid(seed in any::<u64>(), n in 1usize..60) {
        let flow = random_dag(seed, n);
        prop_assert_eq!(flow.validate(), Ok(()));
    }

    #[test]
    fn a_back_edge_always_makes_a_cycle_named_by_a_node_on_it(
        seed in any::<u64>(), n in 2usize..60, pick in any::<usize>(), up in any::<usize>(),
    ) {
        let mut flow = random_dag(seed, n);
        // Pick a node and one of its ancestors (or itself) by walking parent links up.
        let from = id(pick % n);
        let ancestors: Vec<String> = flow
            .nodes
            .keys()
            .filter(|k| reach(&flow, k).contains(&from))
            .cloned()
            .collect();
        let to = ancestors[up % ancestors.len()].clone();
        add_edge(&mut flow, &from, &to);
        // Every node both reachable from `to` and reaching `from` is on a cycle through the
        // new edge.
        let on_cycle: BTreeSet<String> = reach(&flow, &to)
            .into_iter()
            .filter(|k| reach(&flow, k).contains(&from))
            .collect();
        let cycles: Vec<_> = errors(&flow).into_iter().filter(|e| e.kind == "flow.cycle").collect();
        prop_assert!(!cycles.is_empty());
        for cycle in cycles {
            let named = cycle.loc.get(2).and_then(Value::as_str).unwrap_or_default().to_owned();
            prop_assert!(on_cycle.contains(&named), "{} not in {:?}", named, on_cycle);
        }
    }

    #[test]
    fn removing_a_referenced_node_reports_the_dangling_reference(
        seed in any::<u64>(), n in 2usize..60, pick in any::<usize>(),
    ) {
        let mut flow = random_dag(seed, n);
        // Every node but the start has a parent, so it is referenced.
        let gone = id(1 + pick % (n - 1));
        flow.nodes.remove(&gone);
        let needle = format!("unknown node '{gone}'");
        prop_assert!(errors(&flow)
            .iter()
            .any(|e| e.kind == "flow.unknown_node" && e.msg.contains(&needle)));
    }

    #[test]
    fn validation_never_panics_and_is_deterministic(graph in arbitrary_graph()) {
        let first = graph.validate();
        prop_assert_eq!(graph.validate(), first);
    }
}

/// Any shape at all: ids from a small alphabet (so edges often hit), dangling edges,
/// self-loops, empty and odd strings.
fn arbitrary_graph() -> impl Strategy<Value = FlowDefinition> {
    let name = "[a-d]{0,2}|[ -~]{0,4}";
    let option =
        (name, name, name).prop_map(|(label, value, next)| FlowOption { label, value, next });
    let node = prop_oneof![
        (name, prop::collection::vec(option, 0..8)).prop_map(|(text, options)| {
            FlowNode::Question {
                text,
                help: None,
                options,
            }
        }),
        (name, name, prop::option::of(name)).prop_map(|(text, next, on_failure)| {
            FlowNode::Action {
                text,
                help: None,
                expected_outcome: None,
                next,
                on_failure,
            }
        }),
        name.prop_map(|text| FlowNode::Solution {
            text,
            help: None,
            follow_up: vec![]
        }),
        name.prop_map(|text| FlowNode::Escalate {
            text,
            help: Some(String::new())
        }),
    ];
    (name, prop::collection::btree_map(name, node, 0..30)).prop_map(
        |(start, nodes): (String, BTreeMap<_, _>)| FlowDefinition {
            title: start.clone(),
            description: String::new(),
            domain: start.clone(),
            tags: vec![start.clone()],
            status: FlowStatus::Draft,
            start,
            nodes,
            unreviewed: Default::default(),
        },
    )
}
