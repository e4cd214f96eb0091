//! Confidence grows with the match score and with how far down the flow the engineer got;
//! a solution reached with a strong match is `guided` (≥ 0.8).

pub fn for_question(score: f64, depth: usize) -> f64 {
    (0.3 + 0.35 * score + 0.04 * depth as f64).min(0.75)
}

pub fn for_action(score: f64, depth: usize) -> f64 {
    (0.35 + 0.35 * score + 0.04 * depth as f64).min(0.79)
}

pub fn for_solution(score: f64, depth: usize) -> f64 {
    (0.55 + 0.45 * score + 0.03 * depth as f64).min(0.95)
}

pub const TRIAGE: f64 = 0.15;
pub const ESCALATION: f64 = 0.5;

#[cfg(test)]
mod tests {
    use super::*;
    use domain::ConfidenceTier;

    #[test]
    fn a_solution_after_a_strong_match_is_guided_and_a_weak_one_is_not() {
        assert_eq!(
            ConfidenceTier::from_score(for_solution(0.6, 2)),
            ConfidenceTier::Guided
        );
        assert_eq!(
            ConfidenceTier::from_score(for_solution(0.2, 0)),
            ConfidenceTier::Exploring
        );
        assert_eq!(
            ConfidenceTier::from_score(TRIAGE),
            ConfidenceTier::Discovery
        );
    }

    #[test]
    fn questions_and_actions_never_claim_guidance() {
        for depth in 0..40 {
            assert!(for_question(1.0, depth) < 0.8);
            assert!(for_action(1.0, depth) < 0.8);
        }
        assert!(for_question(0.6, 3) > for_question(0.6, 1));
    }
}
