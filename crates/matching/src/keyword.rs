//! BM25 over an inverted index, scaled into 0..1.
//!
//! # Scaling
//! Raw BM25 grows with the number of query terms and with the log of the corpus size, so a
//! fixed threshold on it means different things for a one-line intake and a pasted log, or
//! for a library of 30 flows and one of 30,000. Three steps make it comparable:
//!
//! 1. Each term's IDF is divided by the IDF a term found in exactly one flow would have, so
//!    a term weighs 1 when it singles out a flow and little when every flow has it. The
//!    term-frequency factor is divided by its value for one occurrence in a flow of average
//!    length, so one typical occurrence counts 1 (more occurrences, or a short flow, up to
//!    `(k1 + 1) / (1 + k1 (1 - b))` ≈ 1.7). The sum, `evidence`, reads as "how many
//!    distinctive query terms this flow contains", whatever the corpus or query length.
//! 2. Evidence is multiplied by `coverage^c`, the share of the query's term weight the flow
//!    contains (a word no flow has is explained by none, and counts `unknown_word`: often
//!    it is only context, when or who or how many, that no flow would mention; the
//!    share is taken against at most `coverage_cap` units, so a long intake is not asked to be
//!    explained word by word). A flow sharing one word of a three-word intake is weak evidence.
//! 3. `keyword = x^p / (x^p + h^p)`: low for a single shared word (common, or one rare token
//!    such as an error code), ½ at `h` distinctive terms, towards 1 beyond. With the coverage
//!    factor this keeps a few shared words from giving a near-certain signal when the rest of
//!    the intake is about something else (flows.md).
//!
//! `h`, `p`, `c` and the cap are [`KeywordScale`]; the defaults were calibrated on the
//! labelled queries in `flows/queries/labelled.yaml` (see `tests/labelled_set.rs` and
//! docs/matching.md).

use std::collections::HashMap;

use crate::text::tokenize;

const K1: f64 = 1.2;
/// The most a word naming where a problem is (a laptop, the users) weighs.
const CONTEXT_WEIGHT: f64 = 0.25;
const B: f64 = 0.75;

/// How keyword evidence becomes a 0..1 signal (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeywordScale {
    /// Evidence (in "distinctive terms") at which the signal is ½.
    pub half: f64,
    /// Steepness of the S-curve.
    pub power: f64,
    /// Exponent of the coverage factor; 0 turns coverage off.
    pub coverage_power: f64,
    /// Query weight beyond which a long intake is not asked to be explained further.
    pub coverage_cap: f64,
    /// The weight in the query of a word no flow has.
    pub unknown_word: f64,
}

impl Default for KeywordScale {
    fn default() -> Self {
        Self {
            half: 2.1,
            power: 2.0,
            coverage_power: 1.0,
            coverage_cap: 5.0,
            unknown_word: 0.5,
        }
    }
}

impl KeywordScale {
    /// The S-curve: 0 at no evidence, ½ at `half`, towards 1 beyond.
    pub fn apply(&self, evidence: f64) -> f64 {
        if evidence <= 0.0 {
            return 0.0;
        }
        let e = (evidence / self.half).powf(self.power);
        e / (e + 1.0)
    }
}

/// The keyword signal per slot (dense, 0 where untouched) and the slots touched.
pub(crate) struct KeywordHits {
    pub(crate) signal: Vec<f64>,
    pub(crate) touched: Vec<u32>,
}

#[derive(Debug, Clone, Copy)]
struct Posting {
    doc: u32,
    tf: u32,
}

/// Term statistics per document slot. Slots are handed out by the caller; a slot must be
/// removed before it is inserted again.
#[derive(Debug, Default)]
pub(crate) struct KeywordIndex {
    terms: HashMap<Box<str>, u32>,
    /// Per term id, sorted by slot.
    postings: Vec<Vec<Posting>>,
    /// Per slot: length in tokens, and its distinct term ids (to undo on removal).
    doc_len: Vec<u32>,
    doc_terms: Vec<Box<[u32]>>,
    docs: u64,
    total_len: u64,
    /// The corpus size IDF is computed against when the index holds fewer documents.
    min_docs: u64,
}

impl KeywordIndex {
    /// An index whose IDF counts at least `n` documents. In a handful of similar sessions
    /// every shared term is in every document, and true IDF would call the terms that make
    /// them alike worthless; a floor keeps them distinctive until the corpus is large enough
    /// to say otherwise.
    pub(crate) fn with_min_docs(n: u64) -> Self {
        Self {
            min_docs: n,
            ..Self::default()
        }
    }

    pub(crate) fn insert(&mut self, slot: u32, text: &str) {
        let tokens = tokenize(text);
        let mut counts: HashMap<u32, u32> = HashMap::new();
        for token in &tokens {
            let next_id = self.terms.len() as u32;
            let term = *self.terms.entry(token.as_str().into()).or_insert(next_id);
            if term == next_id {
                self.postings.push(Vec::new());
            }
            *counts.entry(term).or_default() += 1;
        }
        let mut ids: Vec<u32> = counts.keys().copied().collect();
        ids.sort_unstable();
        for &term in &ids {
            let list = &mut self.postings[term as usize];
            let tf = counts[&term];
            match list.binary_search_by_key(&slot, |p| p.doc) {
                Ok(at) => list[at].tf = tf,
                Err(at) => list.insert(at, Posting { doc: slot, tf }),
            }
        }
        let s = slot as usize;
        if self.doc_len.len() <= s {
            self.doc_len.resize(s + 1, 0);
            self.doc_terms.resize_with(s + 1, Default::default);
        }
        self.doc_len[s] = tokens.len() as u32;
        self.doc_terms[s] = ids.into_boxed_slice();
        self.docs += 1;
        self.total_len += tokens.len() as u64;
    }

    pub(crate) fn remove(&mut self, slot: u32) {
        let s = slot as usize;
        let Some(ids) = self.doc_terms.get_mut(s).map(std::mem::take) else {
            return;
        };
        for term in ids.iter() {
            let list = &mut self.postings[*term as usize];
            if let Ok(at) = list.binary_search_by_key(&slot, |p| p.doc) {
                list.remove(at);
            }
        }
        self.docs = self.docs.saturating_sub(1);
        self.total_len = self.total_len.saturating_sub(u64::from(self.doc_len[s]));
        self.doc_len[s] = 0;
    }

    /// The keyword signal (0..1) of every slot `query` touches.
    pub(crate) fn search(&self, query: &str, scale: &KeywordScale) -> KeywordHits {
        let mut hits = KeywordHits {
            signal: vec![0.0; self.doc_len.len()],
            touched: Vec::new(),
        };
        if self.docs == 0 {
            return hits;
        }
        let avg_len = (self.total_len as f64 / self.docs as f64).max(1.0);
        let n = self.docs.max(self.min_docs) as f64;
        let idf_unique = idf(n, 1.0);
        // Per touched slot: BM25 evidence and the weight of the query terms it contains.
        let mut matched = vec![0.0; self.doc_len.len()];
        let mut query_weight = 0.0;
        let mut seen: Vec<String> = Vec::new();
        for token in tokenize(query) {
            // A word said twice in an intake is not twice the evidence.
            if seen.contains(&token) {
                continue;
            }
            let postings = self
                .terms
                .get(token.as_str())
                .map(|&t| &self.postings[t as usize])
                .filter(|list| !list.is_empty());
            let context = crate::text::is_context_word(&token);
            let number = token.chars().all(|c| c.is_ascii_digit());
            seen.push(token);
            let Some(list) = postings else {
                // A word no flow has is explained by none, but it is often only context
                // (when, who, how many), so it counts for less than a word that singles out
                // a flow; a number no flow has (a count, a date, a ticket's number) counts
                // for nothing.
                if !number {
                    query_weight += scale.unknown_word;
                }
                continue;
            };
            let weight = idf(n, list.len() as f64) / idf_unique;
            // Where the problem is (a laptop, the users) is context, not what it is.
            let weight = if context {
                weight.min(CONTEXT_WEIGHT)
            } else {
                weight
            };
            query_weight += weight;
            for posting in list {
                let tf = f64::from(posting.tf);
                let len_ratio = f64::from(self.doc_len[posting.doc as usize]) / avg_len;
                // Divided by the value at tf = 1 and average length, which is exactly 1.
                let tf_part = tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len_ratio));
                let slot = posting.doc as usize;
                if matched[slot] == 0.0 {
                    hits.touched.push(posting.doc);
                }
                hits.signal[slot] += weight * tf_part;
                matched[slot] += weight;
            }
        }
        let explainable = query_weight.min(scale.coverage_cap);
        for &slot in &hits.touched {
            let s = slot as usize;
            let coverage = (matched[s] / explainable).min(1.0);
            hits.signal[s] = scale.apply(hits.signal[s] * coverage.powf(scale.coverage_power));
        }
        hits
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.postings.iter_mut().for_each(Vec::shrink_to_fit);
        self.postings.shrink_to_fit();
        self.doc_len.shrink_to_fit();
        self.doc_terms.shrink_to_fit();
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        let vocab: usize = self
            .terms
            .keys()
            .map(|k| k.len() + size_of::<Box<str>>() + size_of::<u32>() + 8)
            .sum();
        let postings: usize = self
            .postings
            .iter()
            .map(|l| l.capacity() * size_of::<Posting>() + size_of::<Vec<Posting>>())
            .sum();
        let docs: usize = self
            .doc_terms
            .iter()
            .map(|t| t.len() * size_of::<u32>() + size_of::<Box<[u32]>>() + size_of::<u32>())
            .sum();
        vocab + postings + docs
    }
}

/// BM25's IDF (the Lucene form, never negative).
fn idf(n: f64, df: f64) -> f64 {
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Raw evidence: no S-curve, no coverage.
    const RAW: KeywordScale = KeywordScale {
        half: 1.0,
        power: 1.0,
        coverage_power: 0.0,
        coverage_cap: 5.0,
        unknown_word: 1.0,
    };

    fn index(docs: &[&str]) -> KeywordIndex {
        let mut index = KeywordIndex::default();
        for (slot, text) in docs.iter().enumerate() {
            index.insert(slot as u32, text);
        }
        index
    }

    fn evidence(index: &KeywordIndex, query: &str) -> Vec<f64> {
        // Undo the S-curve x / (x + 1) of RAW.
        let hits = index.search(query, &RAW);
        hits.signal.iter().map(|k| k / (1.0 - k)).collect()
    }

    #[test]
    fn a_distinctive_term_in_an_average_flow_counts_about_one() {
        let idx = index(&[
            "outlook password prompt",
            "printer offline queue",
            "vpn tunnel down",
        ]);
        let ev = evidence(&idx, "outlook");
        assert!((ev[0] - 1.0).abs() < 1e-9, "{ev:?}");
        assert_eq!(&ev[1..], &[0.0, 0.0]);
    }

    #[test]
    fn common_terms_weigh_less_than_rare_ones() {
        let idx = index(&[
            "network printer offline",
            "network vpn down",
            "network dns stale",
            "network dhcp apipa",
        ]);
        let common = evidence(&idx, "network")[0];
        let rare = evidence(&idx, "printer")[0];
        assert!(common < 0.3 * rare, "{common} vs {rare}");
    }

    #[test]
    fn repeating_a_query_word_adds_nothing() {
        let idx = index(&["outlook password", "printer"]);
        assert_eq!(
            evidence(&idx, "outlook"),
            evidence(&idx, "outlook outlook Outlook")
        );
    }

    #[test]
    fn a_flow_explaining_little_of_a_short_intake_scores_lower() {
        let idx = index(&[
            "outlook password prompt",
            "printer offline queue",
            "vpn tunnel down",
        ]);
        let scale = KeywordScale {
            coverage_power: 1.0,
            ..RAW
        };
        let full = idx.search("outlook password", &scale).signal[0];
        let half = idx.search("outlook espresso", &scale).signal[0];
        assert!(half < full, "{half} vs {full}");
        // Beyond the cap, more unexplained words cost nothing more.
        let long = "outlook password a1 b2 c3 d4 e5 f6 g7";
        let longer = "outlook password a1 b2 c3 d4 e5 f6 g7 h8 i9 j10";
        assert_eq!(
            idx.search(long, &scale).signal[0],
            idx.search(longer, &scale).signal[0]
        );
    }

    #[test]
    fn removed_documents_stop_matching_and_slots_can_be_reused() {
        let mut idx = index(&["outlook password", "printer offline"]);
        idx.remove(0);
        assert_eq!(evidence(&idx, "outlook")[0], 0.0);
        idx.insert(0, "scanner jam");
        assert!(evidence(&idx, "scanner")[0] > 0.0);
        assert_eq!(idx.docs, 2);
    }

    #[test]
    fn the_scale_is_an_s_curve_from_zero_to_one() {
        let scale = KeywordScale::default();
        assert_eq!(scale.apply(0.0), 0.0);
        assert!((scale.apply(scale.half) - 0.5).abs() < 1e-12);
        assert!(
            scale.apply(1.0) < 0.2,
            "one distinctive word is weak evidence"
        );
        assert!(scale.apply(3.0) > 0.6);
        assert!(scale.apply(100.0) <= 1.0);
    }
}
