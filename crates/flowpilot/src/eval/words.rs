//! The scripted engineer's reading of text: content words, roughly stemmed, so that a fact
//! and a step that talk about the same thing share words. Kept apart from the engine's own
//! reading of answers on purpose: the simulated engineer must not judge FlowPilot with
//! FlowPilot's own rules.

use std::collections::BTreeSet;

/// Words that say nothing about what a text is about.
const STOP: &[&str] = &[
    "a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at",
    "be", "been", "before", "being", "but", "by", "can", "could", "did", "do", "does", "doing",
    "done", "each", "else", "even", "ever", "every", "for", "from", "get", "gets", "got", "had",
    "has", "have", "he", "her", "here", "him", "his", "how", "i", "if", "in", "into", "is", "it",
    "its", "just", "me", "my", "n", "no", "nor", "not", "now", "of", "on", "once", "one", "only",
    "or", "other", "our", "out", "over", "own", "same", "she", "should", "so", "some", "such", "t",
    "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those",
    "through", "to", "too", "under", "up", "us", "very", "was", "we", "were", "what", "when",
    "where", "which", "while", "who", "why", "will", "with", "would", "yes", "you", "your", "s",
    "e", "g", "eg", "etc", "via", "see", "check", "still", "shows", "show",
];

/// The content words of `text`, stemmed.
pub fn stems(text: &str) -> BTreeSet<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !STOP.contains(w))
        .map(stem)
        .filter(|w| !w.is_empty())
        .collect()
}

/// A crude suffix stripper: enough that "printers", "printing" and "printed" meet, and
/// "mapped drives" meets "drive mapping".
fn stem(word: &str) -> String {
    let mut w = word.to_string();
    if w.len() > 4 && w.ends_with("ies") {
        w.truncate(w.len() - 3);
        w.push('y');
    } else if w.len() > 4
        && w.ends_with("es")
        && ["xes", "ches", "shes", "sses"]
            .iter()
            .any(|s| w.ends_with(s))
    {
        w.truncate(w.len() - 2);
    } else if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") {
        w.truncate(w.len() - 1);
    }
    for suffix in ["ing", "ed"] {
        if w.len() >= suffix.len() + 3 && w.ends_with(suffix) {
            w.truncate(w.len() - suffix.len());
            let doubled = w.len() > 2 && {
                let b = w.as_bytes();
                b[b.len() - 1] == b[b.len() - 2] && !b"aeiouls".contains(&b[b.len() - 1])
            };
            if doubled {
                w.pop();
            }
            break;
        }
    }
    if w.len() > 4 && w.ends_with('e') {
        w.pop();
    }
    w
}

/// How many content words `a` and `b` share.
pub fn shared(a: &BTreeSet<String>, b: &BTreeSet<String>) -> usize {
    a.intersection(b).count()
}

/// Whether `text` says something is not so ("does not answer", "no link", "can't").
pub fn negated(text: &str) -> bool {
    let t = text.to_lowercase().replace('’', "'");
    t.contains("n't")
        || t.split(|c: char| !c.is_alphanumeric()).any(|w| {
            matches!(
                w,
                "not"
                    | "no"
                    | "never"
                    | "none"
                    | "nothing"
                    | "cannot"
                    | "without"
                    | "fails"
                    | "failed"
            )
        })
}

/// Whether `text` says who or how many are affected ("only Dave", "everyone", "the whole
/// office"): what a question about the scope of a problem asks.
pub fn tells_scope(text: &str) -> bool {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| {
            matches!(
                w,
                "only"
                    | "just"
                    | "single"
                    | "one"
                    | "everyone"
                    | "everybody"
                    | "all"
                    | "every"
                    | "whole"
                    | "several"
                    | "many"
                    | "multiple"
                    | "nobody"
                    | "others"
                    | "else"
            )
        })
}

/// Whether a fact reports that something was tried and made no difference.
pub fn says_no_change(text: &str) -> bool {
    let t = text.to_lowercase().replace('’', "'");
    [
        "no change",
        "no difference",
        "didn't help",
        "did not help",
        "doesn't help",
        "does not help",
        "didn't fix",
        "did not fix",
        "doesn't fix",
        "does not fix",
        "made no",
        "makes no",
        "same error",
        "same result",
        "still fails",
        "still the same",
        "comes back",
        "came back",
    ]
    .iter()
    .any(|cue| t.contains(cue))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_forms_meet_on_one_stem() {
        let a = stems("The printers stopped printing");
        let b = stems("Printer stops; print queue");
        assert!(a.contains("printer") && b.contains("printer"));
        assert!(a.contains("stop"));
        assert_eq!(
            shared(&stems("Mapped drives missing"), &stems("drive mapping")),
            2
        );
        assert_eq!(shared(&stems("patches"), &stems("patch")), 1);
    }

    #[test]
    fn small_words_say_nothing() {
        assert!(stems("it is the one that was on").is_empty());
    }

    #[test]
    fn negation_and_scope_are_noticed() {
        assert!(negated("Printer does not answer ping at all"));
        assert!(negated("The link light isn't on"));
        assert!(!negated("Pinging the new IP answers"));
        assert!(tells_scope("Only Dave is affected"));
        assert!(tells_scope("Is it one user or several?"));
        assert!(!tells_scope("The printer shows offline"));
    }

    #[test]
    fn a_fix_that_made_no_difference_is_told_apart() {
        assert!(says_no_change("Restarting the spooler didn't help"));
        assert!(says_no_change("Clearing the cache makes no difference"));
        assert!(!says_no_change(
            "Re-adding the printer by IP brings it back"
        ));
    }
}
