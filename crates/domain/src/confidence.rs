//! Confidence scores and the tiers they map to (engine.md, "Confidence").

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfidenceTier {
    Discovery,
    Exploring,
    Guided,
}

impl ConfidenceTier {
    pub const EXPLORING_FROM: f64 = 0.4;
    pub const GUIDED_FROM: f64 = 0.8;

    pub fn from_score(score: f64) -> Self {
        let s = clamp_confidence(score);
        if s >= Self::GUIDED_FROM {
            Self::Guided
        } else if s >= Self::EXPLORING_FROM {
            Self::Exploring
        } else {
            Self::Discovery
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Discovery => "discovery",
            Self::Exploring => "exploring",
            Self::Guided => "guided",
        }
    }
}

/// Clamps into [0, 1]; NaN becomes 0 so a bad provider reply cannot poison the session.
pub fn clamp_confidence(score: f64) -> f64 {
    if score.is_nan() {
        0.0
    } else {
        score.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_follow_the_documented_boundaries() {
        assert_eq!(ConfidenceTier::from_score(0.0), ConfidenceTier::Discovery);
        assert_eq!(ConfidenceTier::from_score(0.399), ConfidenceTier::Discovery);
        assert_eq!(ConfidenceTier::from_score(0.4), ConfidenceTier::Exploring);
        assert_eq!(ConfidenceTier::from_score(0.799), ConfidenceTier::Exploring);
        assert_eq!(ConfidenceTier::from_score(0.8), ConfidenceTier::Guided);
        assert_eq!(ConfidenceTier::from_score(7.0), ConfidenceTier::Guided);
        assert_eq!(
            ConfidenceTier::from_score(f64::NAN),
            ConfidenceTier::Discovery
        );
    }
}
