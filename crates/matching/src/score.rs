//! Combining the signals into a relevance, a decision and a reported score (flows.md
//! "Matching").
//!
//! Relevance is what the intake says: the weighted mean of the semantic and keyword signals
//! that are available. Only relevance decides whether a flow matches. Recency is not
//! evidence that a flow fits a problem; it only nudges the reported score, by at most
//! [`MAX_RECENCY_ADJUSTMENT`], so that among flows of nearly equal relevance the one in use
//! comes first.

use serde::{Deserialize, Serialize};

use crate::keyword::KeywordScale;

/// Relative weight of each evidence signal. Only their ratio matters: relevance is divided
/// by the sum of the weights of the signals that are available.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Weights {
    pub semantic: f64,
    pub keyword: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            semantic: 0.8,
            keyword: 0.2,
        }
    }
}

/// Calibrated on the labelled set (docs/matching.md).
pub const DEFAULT_THRESHOLD: f64 = 0.45;

/// The most recency may add to a reported score (flows.md).
pub const MAX_RECENCY_ADJUSTMENT: f64 = 0.05;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchConfig {
    pub weights: Weights,
    /// Only relevance strictly above it matches.
    pub threshold: f64,
    /// What a flow used today adds to its score; held within 0..=[`MAX_RECENCY_ADJUSTMENT`].
    pub recency_adjustment: f64,
    pub keyword_scale: KeywordScale,
}

impl Default for MatchConfig {
    fn default() -> Self {
        Self {
            weights: Weights::default(),
            threshold: DEFAULT_THRESHOLD,
            recency_adjustment: MAX_RECENCY_ADJUSTMENT,
            keyword_scale: KeywordScale::default(),
        }
    }
}

/// Why a flow matched: each signal in 0..1. `semantic` is `None` when no embedding model is
/// loaded (or the flow or intake could not be embedded).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Signals {
    pub semantic: Option<f64>,
    pub keyword: f64,
    pub recency: f64,
}

/// A flow's standing against one intake.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    pub relevance: f64,
    /// Relevance nudged by recency; what results are ordered and reported by.
    pub score: f64,
    pub matches: bool,
}

impl Weights {
    /// The weighted mean of the available evidence signals; 0 when their weights sum to 0.
    pub fn relevance(&self, signals: &Signals) -> f64 {
        let mut total = self.keyword * signals.keyword;
        let mut weight = self.keyword;
        if let Some(semantic) = signals.semantic {
            total += self.semantic * semantic;
            weight += self.semantic;
        }
        if weight > 0.0 {
            total / weight
        } else {
            0.0
        }
    }
}

impl MatchConfig {
    pub fn judge(&self, signals: &Signals) -> Verdict {
        let relevance = self.weights.relevance(signals);
        let adjustment = self.recency_adjustment.clamp(0.0, MAX_RECENCY_ADJUSTMENT);
        Verdict {
            relevance,
            score: (relevance + adjustment * signals.recency.clamp(0.0, 1.0)).min(1.0),
            matches: relevance > self.threshold,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signals(semantic: Option<f64>, keyword: f64, recency: f64) -> Signals {
        Signals {
            semantic,
            keyword,
            recency,
        }
    }

    #[test]
    fn relevance_is_the_weighted_mean_of_the_evidence() {
        let w = Weights {
            semantic: 0.5,
            keyword: 0.3,
        };
        let r = w.relevance(&signals(Some(0.8), 0.5, 1.0));
        assert!((r - (0.5 * 0.8 + 0.3 * 0.5) / 0.8).abs() < 1e-12);
    }

    #[test]
    fn without_semantic_the_keyword_weight_is_renormalised() {
        let r = Weights::default().relevance(&signals(None, 0.7, 0.0));
        assert!((r - 0.7).abs() < 1e-12);
    }

    #[test]
    fn recency_never_makes_a_flow_match() {
        let config = MatchConfig::default();
        let used_today = config.judge(&signals(None, 0.0, 1.0));
        assert!(!used_today.matches);
        let just_under = config.judge(&signals(None, config.threshold - 1e-9, 1.0));
        assert!(!just_under.matches);
        assert!(just_under.score > config.threshold);
    }

    #[test]
    fn recency_moves_the_score_by_at_most_the_spec_bound() {
        let config = MatchConfig {
            recency_adjustment: 0.5,
            ..MatchConfig::default()
        };
        let v = config.judge(&signals(None, 0.7, 1.0));
        assert!((v.score - v.relevance - MAX_RECENCY_ADJUSTMENT).abs() < 1e-12);
        let stale = config.judge(&signals(None, 0.7, 0.0));
        assert_eq!(stale.score, stale.relevance);
        assert!(config.judge(&signals(Some(1.0), 1.0, 1.0)).score <= 1.0);
    }

    #[test]
    fn zero_weights_give_no_relevance() {
        let w = Weights {
            semantic: 0.0,
            keyword: 0.0,
        };
        assert_eq!(w.relevance(&signals(Some(1.0), 1.0, 1.0)), 0.0);
    }
}
