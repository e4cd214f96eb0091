//! Knowledge gaps (memory.md): problems no flow matched, grouped by topic.
//!
//! Deterministic greedy grouping by shared keywords: take the term most of the ungrouped
//! problems share (ties: the alphabetically first), make every ungrouped problem holding it a
//! group, and repeat while a term is shared by at least two. What is left stands alone,
//! one group each. A group is labelled by its seed term and the other terms at least half of
//! its problems share, most shared first. The same input gives the same groups in the same
//! order on every run and every backend.

use std::collections::{BTreeMap, BTreeSet};

use crate::similar::words_by_term;

/// The most terms in a group's label.
const LABEL_TERMS: usize = 3;

/// A group of problems about the same thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    /// The label's words, as the problems wrote them, most shared first.
    pub terms: Vec<String>,
    /// Positions in the input, in input order.
    pub members: Vec<usize>,
}

/// Groups `texts` by topic; the largest groups first (ties: the earliest member first).
pub fn group_by_topic(texts: &[&str]) -> Vec<Topic> {
    // Per problem: its terms, and the first spelling of each term anywhere.
    let mut spelling: BTreeMap<String, String> = BTreeMap::new();
    let terms: Vec<BTreeSet<String>> = texts
        .iter()
        .map(|t| {
            words_by_term(t)
                .into_iter()
                .map(|(term, word)| {
                    spelling.entry(term.clone()).or_insert(word);
                    term
                })
                .collect()
        })
        .collect();
    let mut left: BTreeSet<usize> = (0..texts.len()).collect();
    let mut topics = Vec::new();
    loop {
        let mut df: BTreeMap<&str, usize> = BTreeMap::new();
        for &i in &left {
            for t in &terms[i] {
                *df.entry(t.as_str()).or_default() += 1;
            }
        }
        // Alphabetical iteration, keeping the first of equal counts: the alphabetically first
        // of the most shared terms.
        let Some((seed, count)) =
            df.iter()
                .map(|(t, n)| (*t, *n))
                .fold(None, |best: Option<(&str, usize)>, (t, n)| match best {
                    Some((_, bn)) if bn >= n => best,
                    _ => Some((t, n)),
                })
        else {
            break;
        };
        if count < 2 {
            break;
        }
        let seed = seed.to_string();
        let members: Vec<usize> = left
            .iter()
            .copied()
            .filter(|&i| terms[i].contains(&seed))
            .collect();
        for i in &members {
            left.remove(i);
        }
        topics.push(label(&seed, &members, &terms, &spelling));
    }
    for i in left {
        let mut own: Vec<&String> = terms[i].iter().collect();
        // Its own words in the order written, for a readable label.
        let order = words_by_term(texts[i]);
        own.sort_by_key(|t| order.iter().position(|(o, _)| o == *t));
        topics.push(Topic {
            terms: own
                .into_iter()
                .take(LABEL_TERMS)
                .map(|t| spelling.get(t).cloned().unwrap_or_else(|| t.clone()))
                .collect(),
            members: vec![i],
        });
    }
    topics.sort_by(|a, b| {
        b.members
            .len()
            .cmp(&a.members.len())
            .then(a.members.first().cmp(&b.members.first()))
    });
    topics
}

fn label(
    seed: &str,
    members: &[usize],
    terms: &[BTreeSet<String>],
    spelling: &BTreeMap<String, String>,
) -> Topic {
    let mut shared: BTreeMap<&str, usize> = BTreeMap::new();
    for &i in members {
        for t in &terms[i] {
            if t != seed {
                *shared.entry(t.as_str()).or_default() += 1;
            }
        }
    }
    let mut others: Vec<(&str, usize)> = shared
        .into_iter()
        .filter(|(_, n)| n * 2 >= members.len() && *n >= 2)
        .collect();
    others.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let words = std::iter::once(seed)
        .chain(others.into_iter().map(|(t, _)| t))
        .take(LABEL_TERMS)
        .map(|t| spelling.get(t).cloned().unwrap_or_else(|| t.to_string()))
        .collect();
    Topic {
        terms: words,
        members: members.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_sharing_keywords_form_one_group_labelled_by_them() {
        let texts = [
            "Scanner jams on the Ricoh",
            "Teams audio drops in calls",
            "Ricoh scanner paper jam",
            "scanner jam again on the Ricoh",
            "Teams calls lose audio",
            "Label maker prints blank labels",
        ];
        let topics = group_by_topic(&texts);
        assert_eq!(topics.len(), 3, "{topics:?}");
        assert_eq!(topics[0].members, vec![0, 2, 3]);
        assert_eq!(topics[0].terms, vec!["jams", "ricoh", "scanner"]);
        assert_eq!(topics[1].members, vec![1, 4]);
        assert_eq!(topics[1].terms, vec!["audio", "calls", "teams"]);
        assert_eq!(topics[2].members, vec![5]);
        assert_eq!(topics[2].terms, vec!["label", "maker", "prints"]);
    }

    #[test]
    fn grouping_is_the_same_whatever_the_run() {
        let texts = ["a1 widget broke", "widget broke again", "gizmo broke"];
        assert_eq!(group_by_topic(&texts), group_by_topic(&texts));
        assert!(group_by_topic(&[]).is_empty());
    }
}
