//! When an answer does not say which way to go: what to ask, and whether the answer is
//! really about another problem (engine.md "The offline engine").

use domain::flow::FlowNode;

use super::answers::{ActionOutcome, Unclear, Understood};

/// The fewest words of an answer that can describe another problem. Shorter answers are
/// answers to the question asked, however badly they fit it ("the printer", "not sure").
const PROBLEM_WORDS: usize = 6;

/// Whether free text reads as a description of a problem (a sentence with a symptom in
/// it) rather than a short answer to the step.
pub fn describes_a_problem(text: &str) -> bool {
    let words = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().any(char::is_alphabetic))
        .count();
    words >= PROBLEM_WORDS
}

/// What the engineer is asked when their answer to `node` was not clear.
pub fn question(node: &FlowNode, understood: &Understood) -> String {
    let labels: Vec<(String, String)> = match node {
        FlowNode::Question { options, .. } => options
            .iter()
            .map(|o| (o.value.clone(), o.label.clone()))
            .collect(),
        FlowNode::Action { .. } => ActionOutcome::ALL
            .iter()
            .map(|o| (o.value().to_string(), o.label().to_string()))
            .collect(),
        FlowNode::Solution { .. } | FlowNode::Escalate { .. } => Vec::new(),
    };
    let label = |value: &str| {
        labels
            .iter()
            .find(|(v, _)| v == value)
            .map(|(_, l)| format!("“{l}”"))
    };
    let kept = "Your note is kept on this step.";
    match understood {
        Understood::Unclear(Unclear::Between(values)) => {
            let named: Vec<String> = values.iter().filter_map(|v| label(v)).collect();
            if named.len() >= 2 {
                return format!(
                    "That could mean {}. Which one is it? {kept}",
                    or_list(&named)
                );
            }
            nothing_fits(node, &labels, kept)
        }
        _ => nothing_fits(node, &labels, kept),
    }
}

fn nothing_fits(node: &FlowNode, labels: &[(String, String)], kept: &str) -> String {
    match node {
        FlowNode::Action { .. } => format!(
            "I could not tell from that whether it worked. Did it work, change nothing, or \
             could you not do it? {kept}"
        ),
        _ => {
            let named: Vec<String> = labels.iter().map(|(_, l)| format!("“{l}”")).collect();
            format!(
                "I could not tell which answer that is. Which is closest: {}? {kept}",
                or_list(&named)
            )
        }
    }
}

fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_answer_is_never_a_new_problem_and_a_sentence_can_be() {
        assert!(!describes_a_problem("the printer"));
        assert!(!describes_a_problem("not sure, maybe?"));
        assert!(describes_a_problem(
            "actually the whole floor lost its network connection this morning"
        ));
    }
}
