//! Similar sessions (memory.md "Similar sessions"): which closed sessions of an account read
//! most like a problem.
//!
//! A [`SessionCorpus`] is built per request over the account's latest closed sessions (the
//! caller bounds how many) and searched once. It reuses the flow index's tokenizer and BM25
//! scaling (`keyword`), so "distinctive shared terms" means the same here as for flows: a
//! word every session has weighs little, a word one session has weighs about one. IDF is
//! taken against at least 50 sessions, so that in a young account the three sessions about
//! the same Outlook prompt still find each other by the words they share.
//!
//! Relevance is the keyword signal, mixed with the semantic signal when the caller has
//! embeddings (`(keyword + semantic) / 2`), plus [`SAME_FLOW_BONUS`] when the session
//! followed the flow this problem follows. A session is similar only above
//! [`MIN_RELEVANCE`]: the bonus alone never gets a session there, nor does one shared
//! common word.

use std::collections::HashMap;

use crate::keyword::{KeywordIndex, KeywordScale};
use crate::text::{is_context_word, tokenize};

/// Below this a session is not worth showing: about two distinctive shared terms, or a
/// strong semantic match. Chosen on the stories in crates/server/tests/api/similar_sessions.rs
/// and docs/memory.md's examples; not calibrated on a labelled set like flow matching.
pub const MIN_RELEVANCE: f64 = 0.3;

/// What following the same flow adds: evidence that the problems were alike, never enough
/// on its own.
pub const SAME_FLOW_BONUS: f64 = 0.15;

/// The corpus size IDF assumes at least (see `KeywordIndex::with_min_docs`).
const MIN_CORPUS: u64 = 50;

/// The most shared terms reported per session.
const MAX_SHARED_TERMS: usize = 6;

/// One session as the corpus needs it.
#[derive(Debug, Clone, Default)]
pub struct SessionText {
    /// The problem, the answers and the resolution (or the escalation reason), as one text.
    pub text: String,
    pub flow_id: Option<uuid::Uuid>,
    /// Cosine similarity (0..1) of this session's embedding with the query's, when the
    /// caller has an embedder.
    pub semantic: Option<f64>,
}

/// A session that cleared [`MIN_RELEVANCE`].
#[derive(Debug, Clone, PartialEq)]
pub struct SimilarHit {
    /// Its position in the slice the corpus was built from.
    pub index: usize,
    pub relevance: f64,
    pub keyword: f64,
    pub semantic: Option<f64>,
    pub same_flow: bool,
    /// The query's words the session also has, as the query wrote them, most distinctive
    /// first.
    pub shared_terms: Vec<String>,
}

/// The closed sessions searched by one request.
pub struct SessionCorpus<'a> {
    sessions: &'a [SessionText],
    keywords: KeywordIndex,
    /// Per session, its distinct index terms.
    terms: Vec<Vec<String>>,
    /// Per term, in how many sessions it appears.
    df: HashMap<String, usize>,
}

impl<'a> SessionCorpus<'a> {
    pub fn new(sessions: &'a [SessionText]) -> Self {
        let mut keywords = KeywordIndex::with_min_docs(MIN_CORPUS);
        let mut terms = Vec::with_capacity(sessions.len());
        let mut df: HashMap<String, usize> = HashMap::new();
        for (slot, s) in sessions.iter().enumerate() {
            keywords.insert(slot as u32, &s.text);
            let mut own = tokenize(&s.text);
            own.sort_unstable();
            own.dedup();
            for t in &own {
                *df.entry(t.clone()).or_default() += 1;
            }
            terms.push(own);
        }
        Self {
            sessions,
            keywords,
            terms,
            df,
        }
    }

    /// The sessions like `query`, best first (ties by position, so the caller's order, newest
    /// first, decides), at most `limit`. `flow_id` is the flow the query's problem follows.
    pub fn search(
        &self,
        query: &str,
        flow_id: Option<uuid::Uuid>,
        limit: usize,
    ) -> Vec<SimilarHit> {
        if limit == 0 || self.sessions.is_empty() {
            return Vec::new();
        }
        let hits = self.keywords.search(query, &KeywordScale::default());
        let words = words_by_term(query);
        let mut found: Vec<SimilarHit> = self
            .sessions
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let keyword = hits.signal.get(i).copied().unwrap_or(0.0);
                let evidence = match s.semantic {
                    Some(semantic) => (keyword + semantic.clamp(0.0, 1.0)) / 2.0,
                    None => keyword,
                };
                let same_flow = flow_id.is_some() && s.flow_id == flow_id;
                let relevance = evidence + if same_flow { SAME_FLOW_BONUS } else { 0.0 };
                (relevance > MIN_RELEVANCE && evidence > 0.0).then(|| SimilarHit {
                    index: i,
                    relevance: relevance.min(1.0),
                    keyword,
                    semantic: s.semantic,
                    same_flow,
                    shared_terms: self.shared(i, &words),
                })
            })
            .collect();
        found.sort_by(|a, b| {
            b.relevance
                .total_cmp(&a.relevance)
                .then(a.index.cmp(&b.index))
        });
        found.truncate(limit);
        found
    }

    /// The query's words session `i` has, rarest in the corpus first.
    fn shared(&self, i: usize, words: &[(String, String)]) -> Vec<String> {
        let own = &self.terms[i];
        let mut shared: Vec<(usize, &str)> = words
            .iter()
            .filter(|(term, _)| own.binary_search(term).is_ok())
            .map(|(term, word)| (self.df.get(term).copied().unwrap_or(0), word.as_str()))
            .collect();
        shared.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)));
        shared
            .into_iter()
            .map(|(_, w)| w.to_string())
            .take(MAX_SHARED_TERMS)
            .collect()
    }
}

/// Each distinct index term of `text` with the first word that produced it, lower-cased,
/// in order; context words (a laptop, the users) and bare numbers are left out, as they say
/// little about why two problems are alike.
pub fn words_by_term(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for raw in text.split(|c: char| !c.is_alphanumeric()) {
        for term in tokenize(raw) {
            if is_context_word(&term)
                || term.chars().all(|c| c.is_ascii_digit())
                || out.iter().any(|(t, _)| *t == term)
            {
                continue;
            }
            out.push((term, raw.to_lowercase()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(texts: &[&str]) -> Vec<SessionText> {
        texts
            .iter()
            .map(|t| SessionText {
                text: t.to_string(),
                ..SessionText::default()
            })
            .collect()
    }

    #[test]
    fn the_same_problem_ranks_above_an_unrelated_one_and_says_why() {
        let sessions = corpus(&[
            "Printer in the office shows offline. Restarted the spooler service.",
            "Outlook keeps asking for the password. Cleared the cached credentials in Credential Manager.",
            "VPN drops every few minutes. Updated the client.",
        ]);
        let c = SessionCorpus::new(&sessions);
        let hits = c.search("Outlook asks for a password again and again", None, 5);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].index, 1);
        assert_eq!(hits[0].shared_terms.len(), 3);
        assert!(hits[0].shared_terms.contains(&"outlook".to_string()));
        assert!(hits[0].shared_terms.contains(&"password".to_string()));
    }

    #[test]
    fn one_shared_common_word_is_not_similar() {
        let sessions = corpus(&[
            "Outlook password prompt on a laptop",
            "Printer offline on a laptop",
        ]);
        let c = SessionCorpus::new(&sessions);
        assert!(c.search("laptop fan is loud", None, 5).is_empty());
    }

    #[test]
    fn the_same_flow_helps_but_never_alone() {
        let flow = uuid::Uuid::from_u128(7);
        let mut sessions = corpus(&["Scanner jams on every page", "Teams audio drops"]);
        sessions[1].flow_id = Some(flow);
        let c = SessionCorpus::new(&sessions);
        assert!(c.search("keyboard sticky keys", Some(flow), 5).is_empty());
        let without = c.search("Teams audio", None, 5);
        let with = c.search("Teams audio", Some(flow), 5);
        assert!(with[0].same_flow && !without[0].same_flow);
        assert!(with[0].relevance > without[0].relevance);
    }

    #[test]
    fn limit_and_ties_keep_the_callers_order() {
        let sessions = corpus(&["Scanner jam tray two", "Scanner jam tray two"]);
        let c = SessionCorpus::new(&sessions);
        let hits = c.search("scanner jam in tray two", None, 5);
        assert_eq!(hits.iter().map(|h| h.index).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(c.search("scanner jam in tray two", None, 1).len(), 1);
        assert!(c.search("scanner jam", None, 0).is_empty());
    }

    #[test]
    fn words_keep_their_first_spelling() {
        let words = words_by_term("Printers printing on the laptop 42 times");
        assert_eq!(
            words,
            vec![
                ("printer".to_string(), "printers".to_string()),
                ("print".to_string(), "printing".to_string()),
                ("tim".to_string(), "times".to_string()),
            ]
        );
    }
}
