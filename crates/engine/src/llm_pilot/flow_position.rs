//! Where a model-led session stands in its matched flow. The model says which flow question a
//! step asks (`flow_node`); the step keeps it in its state, so when the engineer picks one of
//! that question's options the next request knows the question the flow leads to and narrows
//! the schema to it (`llm::FlowChoices`).

use llm::FlowChoices;
use serde_json::{json, Value};

use crate::pilot::PilotInput;

const STATE_KEY: &str = "flow_node";

/// What the next step may choose within the matched flow; nothing when no flow matched.
pub(super) fn choices(input: &PilotInput<'_>) -> FlowChoices {
    let choices = of(input);
    let answered = input.history.last().and_then(|last| {
        let node = asked_node(&last.state)?;
        let selected = last.answer.as_ref()?.selected_option.as_deref()?;
        Some((node, selected))
    });
    match answered {
        Some((node, selected)) => choices.after_answer(node, selected),
        None => choices,
    }
}

/// Every question of the matched flow, none decided yet; nothing when no flow matched.
pub(super) fn of(input: &PilotInput<'_>) -> FlowChoices {
    input.matched.map_or_else(FlowChoices::none, |matched| {
        FlowChoices::of(&matched.flow.definition)
    })
}

/// The state a model step keeps: the flow question it asked, if it asked one.
pub(super) fn state(flow_node: Option<&str>) -> Value {
    flow_node.map_or(Value::Null, |node| json!({ STATE_KEY: node }))
}

/// The flow question a step asked, as its state says.
pub(super) fn asked_node(state: &Value) -> Option<&str> {
    state.get(STATE_KEY).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::MatchedFlow;
    use crate::pilot::{History, Intake, PastStep, StepAnswer};
    use domain::step::{StepOutput, StepType};

    fn matched() -> MatchedFlow {
        let flow = serde_json::from_value(json!({
            "id": "00000000-0000-0000-0000-000000000001", "account_id": null,
            "title": "Outlook keeps asking for a password", "description": "", "domain": "email",
            "tags": [], "start": "scope",
            "nodes": {
                "scope": {"type": "question", "text": "One user or several?", "options": [
                    {"label": "One", "value": "one", "next": "client"},
                    {"label": "Several", "value": "several", "next": "tenant"}]},
                "client": {"type": "question", "text": "Desktop or web?", "options": [
                    {"label": "Desktop", "value": "desktop", "next": "tenant"},
                    {"label": "Web", "value": "web", "next": "tenant"}]},
                "tenant": {"type": "escalate", "text": "Tenant-wide"}
            },
            "version": 1, "usage_count": 0, "success_rate": null, "last_matched_at": null,
            "created_by": null, "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z"
        }))
        .expect("test flow");
        MatchedFlow { flow, score: 0.8 }
    }

    fn asked(state: Value, selected: Option<&str>) -> PastStep {
        PastStep {
            output: StepOutput {
                step_type: StepType::Question,
                content: "One user or several?".into(),
                context_message: None,
                reasoning: None,
                options: vec![],
                allow_free_text: true,
                allow_skip: false,
                action_type: None,
                expected_outcome: None,
                resolution_summary: None,
                follow_up_recommendations: vec![],
                confidence: 0.3,
                problem_summary: None,
                problem_domain: None,
            },
            state,
            answer: Some(StepAnswer {
                selected_option: selected.map(str::to_string),
                free_text_input: None,
                skipped: false,
            }),
            observations: vec![],
            marks: Default::default(),
        }
    }

    #[test]
    fn picking_an_option_of_an_asked_flow_question_makes_its_next_question_due() {
        let matched = matched();
        let intake = Intake {
            text: Some("Outlook prompts".into()),
            log: None,
        };
        let due_after = |step: PastStep| {
            let history = [step];
            let input = PilotInput {
                account_id: uuid::Uuid::nil(),
                intake: &intake,
                matched: Some(&matched),
                history: History::whole(&history),
                remaining_after: 10,
            };
            choices(&input).due().map(str::to_string)
        };
        assert_eq!(
            due_after(asked(state(Some("scope")), Some("one"))).as_deref(),
            Some("client")
        );
        // A step that did not ask a flow question, or an answer in free text, decides nothing.
        assert_eq!(due_after(asked(Value::Null, Some("one"))), None);
        assert_eq!(due_after(asked(state(Some("scope")), None)), None);
        // An option leading out of the questions (to an escalation) leaves the model free.
        assert_eq!(
            due_after(asked(state(Some("scope")), Some("several"))),
            None
        );
    }

    #[test]
    fn the_state_holds_the_asked_question_or_nothing() {
        assert_eq!(state(None), Value::Null);
        assert_eq!(asked_node(&state(Some("q_scope"))), Some("q_scope"));
        assert_eq!(asked_node(&Value::Null), None);
    }
}
