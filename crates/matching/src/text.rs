//! The tokenizer shared by indexing and querying.
//!
//! Lower-cases, splits on anything that is not a letter or digit, drops English stop words
//! (negations included) and single characters, and applies a light stemmer to purely alphabetic words so that
//! "printers", "printing" and "printed" meet. Tokens holding a digit ("0x80070005", "m365",
//! "w32tm", "802.1x" → "802", "1x") are kept as written: they are identifiers, not words.
//! Last, words engineers use interchangeably are folded onto one term ([`crate::synonyms`]).

/// The index terms of `text`, in order, repeats kept.
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|raw| !raw.is_empty())
        .filter_map(|raw| {
            let lower = raw.to_lowercase();
            if lower.chars().count() < 2 || is_stop_word(&lower) {
                return None;
            }
            let term = if lower.chars().all(char::is_alphabetic) {
                stem(&lower)
            } else {
                lower
            };
            Some(crate::synonyms::fold(term))
        })
        .collect()
}

/// A deliberately light suffix stripper (a small part of Porter's step 1). Stems need not be
/// words, only agree: "update", "updated", "updates" and "updating" all become "updat".
pub(crate) fn stem(word: &str) -> String {
    let mut w = word.to_owned();
    if w.chars().count() <= 3 {
        return w;
    }
    if let Some(base) = w.strip_suffix("ies").filter(|b| b.len() >= 2) {
        w = format!("{base}y");
    } else if w.ends_with("sses") {
        w.truncate(w.len() - 2);
    } else if w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is") {
        w.truncate(w.len() - 1);
    }
    if let Some(base) = w.strip_suffix("ing").filter(|b| is_stem(b)) {
        w = undouble(base);
    } else if let Some(base) = w
        .strip_suffix("ed")
        .filter(|b| is_stem(b) && !b.ends_with('e'))
    {
        w = undouble(base);
    }
    if w.len() > 3 && w.ends_with('e') {
        w.pop();
    }
    w
}

/// What is left after removing "-ing" or "-ed" is a stem if it could be a word: three
/// letters or more with a vowel ("string" and "bring" keep their "-ing").
fn is_stem(base: &str) -> bool {
    base.len() >= 3 && base.chars().any(|c| "aeiouy".contains(c))
}

/// "mapp" → "map", "logg" → "log", but "miss" and "install" keep their pairs.
fn undouble(base: &str) -> String {
    let bytes = base.as_bytes();
    match bytes {
        [.., a, b] if a == b && b.is_ascii_lowercase() && !b"lszaeiou".contains(b) => {
            base[..base.len() - 1].to_owned()
        }
        _ => base.to_owned(),
    }
}

/// Index terms that name where or on what a problem shows (the machine, the people), which
/// nearly every intake mentions and no flow is about.
pub(crate) fn is_context_word(term: &str) -> bool {
    const CONTEXT: &[&str] = &["computer", "desktop", "device", "laptop", "user"];
    CONTEXT.iter().any(|w| stem(w) == term)
}

fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

/// Function words, the filler of a help request (greetings, when it started, how many, the ticket's
/// case number),
/// and negations with the stubs that
/// splitting contractions leaves ("won't" → "won"); sorted for binary search. Negations go
/// because nearly every flow has them (options answer "No"), so they only add noise:
/// "no internet" is matched by "internet".
const STOP_WORDS: &[&str] = &[
    "about",
    "after",
    "afternoon",
    "again",
    "ago",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "anyone",
    "are",
    "aren",
    "as",
    "asap",
    "at",
    "be",
    "been",
    "before",
    "being",
    "but",
    "by",
    "can",
    "cannot",
    "cant",
    "case",
    "cheers",
    "could",
    "couldn",
    "couple",
    "did",
    "didn",
    "do",
    "does",
    "doesn",
    "doesnt",
    "doing",
    "don",
    "dont",
    "eight",
    "evening",
    "five",
    "for",
    "four",
    "friday",
    "from",
    "get",
    "gets",
    "getting",
    "got",
    "had",
    "has",
    "hasn",
    "have",
    "haven",
    "having",
    "he",
    "hello",
    "help",
    "her",
    "here",
    "hi",
    "him",
    "his",
    "how",
    "however",
    "if",
    "in",
    "into",
    "is",
    "isn",
    "isnt",
    "it",
    "its",
    "just",
    "keep",
    "keeps",
    "like",
    "me",
    "monday",
    "month",
    "morning",
    "my",
    "nine",
    "no",
    "not",
    "of",
    "on",
    "or",
    "our",
    "please",
    "ref",
    "regards",
    "saturday",
    "seem",
    "seems",
    "seven",
    "she",
    "should",
    "shouldn",
    "since",
    "six",
    "so",
    "some",
    "still",
    "sunday",
    "ten",
    "than",
    "thank",
    "thanks",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "three",
    "thursday",
    "ticket",
    "to",
    "today",
    "tomorrow",
    "tonight",
    "too",
    "trying",
    "tuesday",
    "two",
    "urgent",
    "us",
    "very",
    "was",
    "wasn",
    "we",
    "wednesday",
    "week",
    "weekend",
    "were",
    "weren",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "why",
    "will",
    "with",
    "won",
    "wont",
    "would",
    "wouldn",
    "yes",
    "yesterday",
    "you",
    "your",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn splits_lowercases_and_drops_filler() {
        assert_eq!(
            tokenize("Hi, my Outlook keeps asking for the PASSWORD!"),
            ["outlook", "ask", "password"]
        );
    }

    #[test]
    fn keeps_technical_identifiers_whole() {
        assert_eq!(
            tokenize("Error 0x80070005 in M365 after w32tm /resync"),
            ["error", "0x80070005", "m365", "w32tm", "resync"]
        );
    }

    #[test]
    fn word_forms_meet_at_one_stem() {
        for group in [
            &["printer", "printers"][..],
            &["print", "printing", "printed", "prints"],
            &["update", "updated", "updates", "updating"],
            &["policy", "policies"],
            &["map", "mapped", "mapping", "maps"],
            &["drive", "drives", "driving"],
            &["process", "processes"],
            &["share", "shared", "sharing", "shares"],
        ] {
            let stems: Vec<String> = group.iter().flat_map(|w| tokenize(w)).collect();
            assert!(
                stems.windows(2).all(|w| w[0] == w[1]),
                "{group:?} -> {stems:?}"
            );
        }
    }

    #[test]
    fn short_and_unusual_words_are_left_alone() {
        assert_eq!(tokenize("dns vpn ssd"), ["dns", "vpn", "ssd"]);
        assert_eq!(
            tokenize("string status access"),
            ["string", "status", "access"]
        );
        assert_eq!(tokenize("speed need"), ["speed", "need"]);
    }

    #[test]
    fn negations_and_contraction_stubs_are_noise() {
        assert_eq!(
            tokenize("No internet, can't print, won't connect"),
            ["internet", "print", "connect"]
        );
    }
}
