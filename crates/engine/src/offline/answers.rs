//! Mapping an engineer's free text to one of a step's choices, only when the match is clear.

use domain::flow::FlowOption;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionOutcome {
    Worked,
    NoChange,
    CouldNotDo,
}

impl ActionOutcome {
    pub const ALL: [ActionOutcome; 3] = [
        ActionOutcome::Worked,
        ActionOutcome::NoChange,
        ActionOutcome::CouldNotDo,
    ];

    pub fn value(self) -> &'static str {
        match self {
            ActionOutcome::Worked => "done_worked",
            ActionOutcome::NoChange => "done_no_change",
            ActionOutcome::CouldNotDo => "could_not_do",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ActionOutcome::Worked => "Done, that worked",
            ActionOutcome::NoChange => "Done, no change",
            ActionOutcome::CouldNotDo => "Could not do it",
        }
    }

    pub fn from_value(v: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.value() == v)
    }
}

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

const STOP: &[&str] = &[
    "the", "a", "an", "it", "is", "of", "to", "and", "or", "on", "in", "i", "we", "my", "its",
    "this", "that", "for", "with", "at", "be", "are", "was",
];

fn content_words(text: &str) -> Vec<String> {
    words(text)
        .into_iter()
        .filter(|w| !STOP.contains(&w.as_str()))
        .collect()
}

/// The option `text` clearly names: its value or label verbatim, or the only option sharing
/// most words with it. `None` when two options fit about equally or none fits.
pub fn map_to_option<'a>(text: &str, options: &'a [FlowOption]) -> Option<&'a FlowOption> {
    let norm = text.trim().to_lowercase();
    if let Some(exact) = options
        .iter()
        .find(|o| o.value.to_lowercase() == norm || o.label.to_lowercase() == norm)
    {
        return Some(exact);
    }
    let said = content_words(text);
    if said.is_empty() {
        return None;
    }
    let mut scored: Vec<(f64, &FlowOption)> = options
        .iter()
        .map(|o| {
            let label = content_words(&format!("{} {}", o.label, o.value.replace('_', " ")));
            let shared = label.iter().filter(|w| said.contains(w)).count() as f64;
            let score = if label.is_empty() {
                0.0
            } else {
                shared / label.len() as f64
            };
            (score, o)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    match scored.as_slice() {
        [(best, option), rest @ ..] if *best >= 0.5 => {
            let second = rest.first().map_or(0.0, |r| r.0);
            (best - second >= 0.25).then_some(*option)
        }
        _ => None,
    }
}

/// Reads "worked" / "no change" / "could not" from what the engineer wrote after an action.
pub fn map_action_answer(text: &str) -> Option<ActionOutcome> {
    let t = text.to_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| t.contains(n));
    let could_not = has(&[
        "can't",
        "cannot",
        "can not",
        "couldn't",
        "could not",
        "unable",
        "not allowed",
        "access denied",
        "no permission",
        "don't have",
    ]);
    let no_change = has(&[
        "no change",
        "didn't work",
        "did not work",
        "still",
        "same",
        "not fixed",
        "no luck",
        "nothing changed",
        "no difference",
        "doesn't work",
        "does not work",
    ]);
    let worked = has(&[
        "worked",
        "works now",
        "fixed",
        "solved",
        "resolved",
        "that did it",
        "working now",
        "success",
    ]);
    match (could_not, no_change, worked) {
        (true, false, false) => Some(ActionOutcome::CouldNotDo),
        (false, true, false) => Some(ActionOutcome::NoChange),
        (false, false, true) => Some(ActionOutcome::Worked),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Vec<FlowOption> {
        [
            ("One user", "one"),
            ("Several users", "many"),
            ("Everyone in the office", "all"),
        ]
        .iter()
        .map(|(l, v)| FlowOption {
            label: l.to_string(),
            value: v.to_string(),
            next: "x".into(),
        })
        .collect()
    }

    #[test]
    fn exact_labels_and_values_map() {
        let o = opts();
        assert_eq!(
            map_to_option("many", &o).map(|o| o.value.as_str()),
            Some("many")
        );
        assert_eq!(
            map_to_option("  one user ", &o).map(|o| o.value.as_str()),
            Some("one")
        );
    }

    #[test]
    fn a_clear_wording_maps_and_a_vague_one_does_not() {
        let o = opts();
        assert_eq!(
            map_to_option("it's everyone in the whole office", &o).map(|o| o.value.as_str()),
            Some("all")
        );
        assert_eq!(map_to_option("the printer is on fire", &o), None);
    }

    #[test]
    fn action_answers_are_read_only_when_unambiguous() {
        assert_eq!(
            map_action_answer("Yes that worked, thanks"),
            Some(ActionOutcome::Worked)
        );
        assert_eq!(
            map_action_answer("still the same error"),
            Some(ActionOutcome::NoChange)
        );
        assert_eq!(
            map_action_answer("I can't, access denied"),
            Some(ActionOutcome::CouldNotDo)
        );
        assert_eq!(map_action_answer("the sky is blue"), None);
        assert_eq!(map_action_answer("worked but still slow"), None);
    }
}
