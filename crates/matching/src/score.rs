//! Combining the signals into one score (flows.md "Matching").

use serde::{Deserialize, Serialize};

use crate::keyword::KeywordScale;

/// Relative weight of each signal. Only their ratios matter: the score is divided by the
/// sum of the weights of the signals that are available.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Weights {
    pub semantic: f64,
    pub keyword: f64,
    pub recency: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            semantic: 0.5,
            keyword: 0.3,
            recency: 0.2,
        }
    }
}

pub const DEFAULT_THRESHOLD: f64 = 0.5;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchConfig {
    pub weights: Weights,
    /// Only scores strictly above it match.
    pub threshold: f64,
    pub keyword_scale: KeywordScale,
}

impl Default for MatchConfig {
    fn default() -> Self {
        Self {
            weights: Weights::default(),
            threshold: DEFAULT_THRESHOLD,
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

impl Weights {
    /// The weighted mean of the available signals; 0 when every weight is 0.
    pub fn score(&self, signals: &Signals) -> f64 {
        let mut total = self.keyword * signals.keyword + self.recency * signals.recency;
        let mut weight = self.keyword + self.recency;
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

    /// The best score a flow with no keyword and no semantic evidence can reach: through
    /// recency alone. When it is at or below the threshold, search may skip such flows.
    pub(crate) fn recency_only_ceiling(&self) -> f64 {
        self.score(&Signals {
            semantic: None,
            keyword: 0.0,
            recency: 1.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_signals_use_the_spec_weights() {
        let s = Signals {
            semantic: Some(0.8),
            keyword: 0.5,
            recency: 0.25,
        };
        let expected = 0.5 * 0.8 + 0.3 * 0.5 + 0.2 * 0.25;
        assert!((Weights::default().score(&s) - expected).abs() < 1e-12);
    }

    #[test]
    fn without_semantic_the_other_weights_are_renormalised() {
        let s = Signals {
            semantic: None,
            keyword: 1.0,
            recency: 0.0,
        };
        assert!((Weights::default().score(&s) - 0.6).abs() < 1e-12);
    }

    #[test]
    fn recency_alone_cannot_reach_the_default_threshold() {
        assert!(Weights::default().recency_only_ceiling() <= DEFAULT_THRESHOLD);
    }

    #[test]
    fn zero_weights_score_zero() {
        let w = Weights {
            semantic: 0.0,
            keyword: 0.0,
            recency: 0.0,
        };
        let s = Signals {
            semantic: Some(1.0),
            keyword: 1.0,
            recency: 1.0,
        };
        assert_eq!(w.score(&s), 0.0);
    }
}
