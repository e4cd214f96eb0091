//! Why a model's step has its confidence: the model reports the number, and the engineer is
//! told what it rests on (engine.md "Confidence").

use domain::step::{StepOutput, StepType};

pub fn for_model_step(output: &StepOutput, match_score: Option<f64>) -> Vec<String> {
    let mut reasons = vec![format!(
        "The AI rated its own confidence in this step at {:.0}%.",
        output.confidence * 100.0
    )];
    reasons.push(match match_score {
        Some(score) => format!(
            "It is grounded in a flow from the library that matched the problem at {:.0}%.",
            score * 100.0
        ),
        None => {
            "No flow in the library matched, so it reasons from the intake and the answers alone."
                .to_string()
        }
    });
    if output.step_type == StepType::ResolutionSuggestion && output.confidence < 0.8 {
        reasons.push("Below 80% a suggested fix is a hypothesis to verify, not a fix.".into());
    }
    reasons
}
