//! Which node of the matched flow a stored step showed, read back from the step's state:
//! what flow health (memory.md) counts per node. Each pilot keeps it its own way: the offline
//! pilot walks the flow (`{"at": "node", "node": …}`), a model-led step names the flow
//! question it asked (`{"flow_node": …}`).

use serde_json::Value;

/// The flow node a step showed, if it showed one.
pub fn shown_node(state: &Value) -> Option<&str> {
    if let Some(node) = state.get("flow_node").and_then(Value::as_str) {
        return Some(node);
    }
    match state.get("at").and_then(Value::as_str) {
        Some("node") => state.get("node").and_then(Value::as_str),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_pilots_states_name_their_node() {
        // As the offline pilot stores it, evidence beside the position.
        let offline = json!({"at": "node", "node": "q_scope", "evidence": {"visits": []}});
        assert_eq!(shown_node(&offline), Some("q_scope"));
        assert_eq!(
            shown_node(&json!({"flow_node": "a_clear", "folded": 3})),
            Some("a_clear")
        );
    }

    #[test]
    fn steps_off_the_flow_name_none() {
        for state in [
            json!({"at": "triage"}),
            json!({"at": "after_solution"}),
            json!({"at": "offer_escalation"}),
            Value::Null,
        ] {
            assert_eq!(shown_node(&state), None, "{state}");
        }
    }
}
