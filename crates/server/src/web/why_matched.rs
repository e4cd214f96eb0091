//! The reason shown beside a matched flow: the engineer's own words that the flow also uses.
//! Recomputed from the intake and the flow, so nothing extra is stored and the reason always
//! fits the flow as it is now.

use std::collections::HashSet;

use domain::flow::Flow;
use matching::text::tokenize;

const MAX_WORDS: usize = 6;
/// Shorter words ("up", "pc") say little about why a flow fits.
const MIN_LETTERS: usize = 3;

/// Words of `intake` (as the engineer wrote them, lower-cased, first occurrence first) whose
/// index terms appear in what matching indexes for `flow`.
pub fn shared_words(intake: &str, flow: &Flow) -> Vec<String> {
    let indexed: HashSet<String> = tokenize(&flow.definition.search_text())
        .into_iter()
        .collect();
    let mut seen = HashSet::new();
    intake
        .split(|c: char| !c.is_alphanumeric())
        .filter(|raw| raw.chars().count() >= MIN_LETTERS)
        .filter(|raw| tokenize(raw).iter().any(|t| indexed.contains(t)))
        .map(str::to_lowercase)
        .filter(|w| seen.insert(w.clone()))
        .take(MAX_WORDS)
        .collect()
}

/// One sentence for the sidebar.
pub fn explain(intake: &str, flow: Option<&Flow>, score: Option<f64>) -> Option<String> {
    let flow = flow?;
    let words = shared_words(intake, flow);
    let score = score.map(|s| format!(" (match score {:.0}%)", s * 100.0));
    Some(if words.is_empty() {
        format!(
            "Chosen by meaning or by the area picked during triage{}.",
            score.unwrap_or_default()
        )
    } else {
        format!(
            "The description mentions {}{}.",
            words.join(", "),
            score.unwrap_or_default()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use domain::flow::FlowDefinition;
    use uuid::Uuid;

    fn flow(title: &str, tags: &[&str]) -> Flow {
        let definition: FlowDefinition = serde_json::from_value(serde_json::json!({
            "title": title,
            "domain": "email",
            "tags": tags,
            "start": "fixed",
            "nodes": {"fixed": {"type": "solution", "text": "Done."}}
        }))
        .expect("definition");
        Flow {
            id: Uuid::new_v4(),
            account_id: None,
            definition,
            version: 1,
            usage_count: 0,
            success_rate: None,
            last_matched_at: None,
            created_by: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn names_the_engineers_words_that_the_flow_shares_once_each() {
        let f = flow("Outlook keeps prompting for a password", &["credentials"]);
        let words = shared_words(
            "Outlook asking; PASSWORD wrong, outlook restarted, passwords reset",
            &f,
        );
        assert_eq!(words, ["outlook", "password", "passwords"]);
    }

    #[test]
    fn says_so_when_no_word_is_shared() {
        let f = flow("Printer offline", &[]);
        let text = explain("cannot reach the internet", Some(&f), Some(0.5)).expect("text");
        assert!(text.starts_with("Chosen by meaning"), "{text}");
        assert!(text.contains("50%"), "{text}");
        assert_eq!(explain("anything", None, None), None);
    }
}
