//! What the session page shows, built from the stored session and its steps. Pure: no
//! requests, no store, so the shaping rules (which step is current, what "Keep
//! troubleshooting" sends) are tested on their own.

use domain::flow::domain_label;
use domain::session::Session;
use domain::session::SessionStatus;
use domain::step::Step;
use domain::step::{StepOption, StepType};

use crate::sessions;
use crate::web::markdown;

/// The free text sent when "Keep troubleshooting" is pressed on a suggestion without a
/// matching option.
pub const NOT_SOLVED: &str = "The suggested fix did not solve the problem; keep troubleshooting.";

pub struct SessionView {
    pub id: String,
    pub title: String,
    pub status: &'static str,
    pub summary: String,
    pub domain: String,
    pub tier: &'static str,
    pub score: f64,
    pub score_percent: i64,
    /// The link to the flow the session follows, and its name.
    pub matched_flow: Option<(String, String)>,
    pub why_matched: Option<String>,
    pub step_count: i64,
    /// Why the session has its confidence: the latest step's reasons.
    pub confidence_reasons: Vec<String>,
    pub owned: bool,
    pub active: bool,
    pub paused: bool,
    /// A fix is applied and waits to be verified: resolve, escalate or continue from here.
    pub awaiting: bool,
    pub closed: bool,
    pub has_documentation: bool,
}

/// `content` and `context` are HTML from [`markdown::inline`]: escaped, with the flows' and
/// the AI's inline markdown rendered.
pub struct PastStep {
    pub order: i64,
    pub kind: &'static str,
    pub content: String,
    pub context: Option<String>,
    pub expected_outcome: Option<String>,
    pub answer: String,
    /// What the engineer wrote that did not answer the step, before the answer that did.
    pub observations: Vec<String>,
    pub id: String,
    /// Marked not relevant already (the form is not offered again).
    pub not_relevant: bool,
}

pub struct OptionView {
    pub label: String,
    pub value: String,
    pub hint: Option<String>,
}

/// How "Keep troubleshooting" answers a resolution suggestion.
pub enum KeepGoing {
    Option(String),
    FreeText,
    Skip,
}

pub struct CurrentStep {
    pub id: String,
    pub order: i64,
    pub kind: &'static str,
    pub content: String,
    pub context: Option<String>,
    pub options: Vec<OptionView>,
    pub allow_free_text: bool,
    pub allow_skip: bool,
    pub expected_outcome: Option<String>,
    pub is_resolution: bool,
    pub tentative: bool,
    pub resolution_summary: Option<String>,
    pub follow_ups: Vec<String>,
    pub keep_going: Option<KeepGoing>,
    /// What the engineer wrote that did not answer the step yet, oldest first.
    pub observations: Vec<String>,
    /// What FlowPilot asked about the latest of them.
    pub clarification: Option<String>,
}

impl CurrentStep {
    pub fn keep_option(&self) -> Option<&str> {
        match &self.keep_going {
            Some(KeepGoing::Option(value)) => Some(value),
            _ => None,
        }
    }

    pub fn keep_by_skip(&self) -> bool {
        matches!(self.keep_going, Some(KeepGoing::Skip))
    }
}

pub fn kind_label(t: StepType) -> &'static str {
    match t {
        StepType::Question => "Question",
        StepType::Action => "Action",
        StepType::ResolutionSuggestion => "Suggested fix",
    }
}

pub fn session(
    s: &Session,
    latest: Option<&Step>,
    viewer: uuid::Uuid,
    why: Option<String>,
) -> SessionView {
    SessionView {
        id: s.id.to_string(),
        title: s.title.clone(),
        status: s.status.as_str(),
        summary: s.problem_summary.clone().unwrap_or_else(|| s.title.clone()),
        domain: s
            .problem_domain
            .as_deref()
            .filter(|d| !d.trim().is_empty())
            .map_or_else(|| "Not known yet".into(), domain_label),
        tier: s.confidence_tier().as_str(),
        score: s.confidence_score,
        score_percent: (s.confidence_score * 100.0).round() as i64,
        // The link opens the version the session follows, which may no longer be the current.
        matched_flow: s.matched_flow_id.map(|id| {
            let href = match s.matched_flow_version {
                Some(version) => format!("/flows/{id}/versions/{version}"),
                None => format!("/flows/{id}"),
            };
            (href, s.matched_flow_name.clone().unwrap_or_default())
        }),
        why_matched: why,
        step_count: s.step_count,
        confidence_reasons: latest
            .map(|l| l.confidence_reasons.clone())
            .unwrap_or_default(),
        owned: s.user_id == viewer,
        active: s.status == SessionStatus::Active,
        paused: s.status == SessionStatus::Paused,
        awaiting: s.status == SessionStatus::AwaitingVerification,
        closed: !matches!(
            s.status,
            SessionStatus::Active | SessionStatus::Paused | SessionStatus::AwaitingVerification
        ),
        has_documentation: s.documentation.is_some(),
    }
}

/// The answer given to a step, as the history shows it.
fn answer_shown(step: &Step) -> String {
    if step.response.as_ref().is_some_and(|r| r.answer.skipped) {
        return "Skipped".into();
    }
    sessions::answer_text(step).unwrap_or_else(|| "Not answered".into())
}

/// The answered steps, oldest first, and the one waiting for an answer (none when the session
/// is not active or the step limit was reached).
pub fn steps(steps: &[Step], active: bool) -> (Vec<PastStep>, Option<CurrentStep>) {
    let waiting = steps.last().filter(|s| s.response.is_none() && active);
    let past = steps
        .iter()
        .filter(|s| s.response.is_some())
        .map(|s| PastStep {
            order: s.step_order,
            kind: kind_label(s.output.step_type),
            content: markdown::inline(&s.output.content),
            context: s.output.context_message.as_deref().map(markdown::inline),
            expected_outcome: s.output.expected_outcome.clone(),
            answer: answer_shown(s),
            observations: s.observations.clone(),
            id: s.id.to_string(),
            not_relevant: s.marks.not_relevant.is_some(),
        })
        .collect();
    (past, waiting.map(current))
}

fn looks_like_keep_going(o: &StepOption) -> bool {
    let label = o.label.to_lowercase();
    let value = o.value.to_lowercase();
    [
        "keep",
        "not fixed",
        "not solved",
        "didn't",
        "did not",
        "still",
    ]
    .iter()
    .any(|w| label.contains(w))
        || ["not_fixed", "not_solved", "keep_troubleshooting"].contains(&value.as_str())
}

fn current(step: &Step) -> CurrentStep {
    let o = &step.output;
    let is_resolution = o.step_type == StepType::ResolutionSuggestion;
    let keep_going =
        is_resolution.then(
            || match o.options.iter().find(|opt| looks_like_keep_going(opt)) {
                Some(opt) => KeepGoing::Option(opt.value.clone()),
                None if o.allow_free_text => KeepGoing::FreeText,
                None if o.allow_skip => KeepGoing::Skip,
                None => match o.options.first() {
                    Some(opt) => KeepGoing::Option(opt.value.clone()),
                    None => KeepGoing::FreeText,
                },
            },
        );
    let keep_value = match &keep_going {
        Some(KeepGoing::Option(v)) => Some(v.clone()),
        _ => None,
    };
    CurrentStep {
        id: step.id.to_string(),
        order: step.step_order,
        kind: kind_label(o.step_type),
        content: markdown::inline(&o.content),
        context: o.context_message.as_deref().map(markdown::inline),
        // The option "Keep troubleshooting" stands for is shown once, as that button.
        options: o
            .options
            .iter()
            .filter(|opt| Some(&opt.value) != keep_value.as_ref())
            .map(|opt| OptionView {
                label: opt.label.clone(),
                value: opt.value.clone(),
                hint: opt.followup_hint.clone(),
            })
            .collect(),
        allow_free_text: o.allow_free_text,
        allow_skip: o.allow_skip,
        expected_outcome: o.expected_outcome.clone(),
        is_resolution,
        tentative: is_resolution && o.confidence < 0.8,
        resolution_summary: o.resolution_summary.clone(),
        follow_ups: o.follow_up_recommendations.clone(),
        keep_going,
        observations: step.observations.clone(),
        clarification: step.clarification.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use domain::step::{Answer, Response, StepOutput};
    use uuid::Uuid;

    fn step(order: i64, output: StepOutput, answered: Option<&str>) -> Step {
        Step {
            id: Uuid::new_v4(),
            session_id: Uuid::nil(),
            step_order: order,
            output,
            engine_state: serde_json::Value::Null,
            response: answered.map(|v| Response {
                answer: Answer {
                    selected_option: Some(v.into()),
                    ..Answer::default()
                },
                responded_at: Utc::now(),
            }),
            earlier: None,
            observations: Vec::new(),
            clarification: None,
            confidence_reasons: Vec::new(),
            marks: Default::default(),
            created_at: Utc::now(),
        }
    }

    fn output(kind: &str, options: &[(&str, &str)], free_text: bool) -> StepOutput {
        serde_json::from_value(serde_json::json!({
            "type": kind,
            "content": "Step text",
            "options": options.iter().map(|(l, v)| serde_json::json!({"label": l, "value": v})).collect::<Vec<_>>(),
            "allow_free_text": free_text,
            "resolution_summary": "Fixed by X",
            "confidence": 0.9
        }))
        .expect("output")
    }

    #[test]
    fn the_last_unanswered_step_of_an_active_session_is_current() {
        let all = [
            step(1, output("question", &[("Yes", "yes")], true), Some("yes")),
            step(2, output("question", &[("No", "no")], true), None),
        ];
        let (past, current) = steps(&all, true);
        assert_eq!(past.len(), 1);
        assert_eq!(past[0].answer, "Yes");
        assert_eq!(current.expect("current").order, 2);
        let (_, paused) = steps(&all, false);
        assert!(paused.is_none(), "a paused session takes no answers");
    }

    #[test]
    fn keep_troubleshooting_uses_the_suggestions_own_option_once() {
        let all = [step(
            1,
            output(
                "resolution_suggestion",
                &[("Keep troubleshooting", "not_fixed"), ("Other", "other")],
                false,
            ),
            None,
        )];
        let (_, current) = steps(&all, true);
        let current = current.expect("current");
        assert!(current.is_resolution);
        assert_eq!(current.keep_option(), Some("not_fixed"));
        let shown: Vec<_> = current.options.iter().map(|o| o.value.as_str()).collect();
        assert_eq!(shown, ["other"]);
    }

    #[test]
    fn keep_troubleshooting_falls_back_to_free_text() {
        let all = [step(1, output("resolution_suggestion", &[], true), None)];
        let (_, current) = steps(&all, true);
        assert!(matches!(
            current.expect("current").keep_going,
            Some(KeepGoing::FreeText)
        ));
    }
}
