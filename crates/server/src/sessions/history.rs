//! Rebuilding what the pilots need from a stored session.

use domain::step::Step;
use engine::PastStep;

pub fn history(steps: &[Step]) -> Vec<PastStep> {
    steps
        .iter()
        .map(|s| PastStep {
            output: s.output.clone(),
            state: s.engine_state.clone(),
            answer: s.response.as_ref().map(|r| r.answer.clone()),
            observations: s.observations.clone(),
            marks: s.marks.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use chrono::Utc;
    use domain::llm::{LlmError, LlmProvider, LlmReply, LlmRequest};
    use domain::step::{Answer, EarlierSteps, Response, Step, StepOption, StepOutput, StepType};
    use engine::{History, Intake, LlmPilot, PastStep, Pilot, PilotInput};

    use uuid::Uuid;

    use super::history;

    /// Keeps every request and fails it, so the prompt can be compared without a reply.
    #[derive(Default)]
    struct Capture(Mutex<Vec<LlmRequest>>);

    #[async_trait]
    impl LlmProvider for Capture {
        fn name(&self) -> &str {
            "openai"
        }
        fn model(&self) -> &str {
            "capture"
        }
        async fn complete(&self, request: &LlmRequest) -> Result<LlmReply, LlmError> {
            self.0.lock().unwrap().push(request.clone());
            Err(LlmError::Upstream {
                status: 400,
                message: "captured".into(),
            })
        }
    }

    fn record(i: usize) -> Step {
        let step_type = [
            StepType::Question,
            StepType::Action,
            StepType::Action,
            StepType::ResolutionSuggestion,
        ][i % 4];
        let text = |what: &str| Some(format!("{what} {i}"));
        let output = StepOutput {
            step_type,
            content: format!("Step {i}: check thing {i}\nwith detail"),
            context_message: text("context"),
            reasoning: text("because"),
            options: vec![
                StepOption {
                    label: format!("Yes {i}"),
                    value: "yes".into(),
                    followup_hint: None,
                },
                StepOption {
                    label: format!("No {i}"),
                    value: "no".into(),
                    followup_hint: None,
                },
            ],
            allow_free_text: true,
            allow_skip: true,
            action_type: None,
            expected_outcome: text("expected"),
            resolution_summary: text("resolution"),
            follow_up_recommendations: vec![format!("follow {i}")],
            confidence: 0.3 + (i % 7) as f64 / 10.0,
            // Refined now and then; a blank one must not hide an earlier one.
            problem_summary: match i % 9 {
                0 => text("summary"),
                5 => Some("   ".into()),
                _ => None,
            },
            problem_domain: i.is_multiple_of(13).then(|| format!("domain {i}")),
        };
        let response = Response {
            answer: Answer {
                selected_option: (!(i + 1).is_multiple_of(3))
                    .then(|| if i.is_multiple_of(2) { "yes" } else { "no" }.into()),
                free_text_input: (i % 3 == 1).then(|| format!("typed {i}")),
                skipped: i % 5 == 4,
            },
            responded_at: Utc::now(),
        };
        Step {
            id: Uuid::new_v4(),
            session_id: Uuid::nil(),
            step_order: i as i64 + 1,
            output,
            engine_state: serde_json::json!({"node": format!("n{i}")}),
            response: Some(response),
            earlier: None,
            observations: Vec::new(),
            clarification: None,
            confidence_reasons: Vec::new(),
            marks: Default::default(),
            created_at: Utc::now(),
        }
    }

    fn pilot(capture: Arc<Capture>) -> LlmPilot {
        LlmPilot::new(capture, false)
    }

    async fn prompt(history: History<'_>, remaining_after: i64) -> (String, String) {
        let capture = Arc::new(Capture::default());
        let pilot = pilot(capture.clone());
        let intake = Intake {
            text: Some("Outlook keeps asking for the password".into()),
            log: None,
        };
        let input = PilotInput {
            account_id: Uuid::nil(),
            intake: &intake,
            matched: None,
            history,
            remaining_after,
        };
        let _ = if history.is_empty() {
            pilot.first_step(input).await.map(engine::Reply::Next)
        } else {
            pilot.next_step(input).await
        };
        let requests = capture.0.lock().unwrap();
        let first = requests.first().expect("a request");
        let messages: Vec<String> = first.messages.iter().map(|m| m.content.clone()).collect();
        (first.system.clone(), messages.join("\n\u{0}\n"))
    }

    /// What a respond hands the pilot: the newest steps it asks for, and the summary of the
    /// ones before as the window's oldest step carries it, built step by step as the server
    /// does.
    fn windowed(steps: &[Step]) -> (EarlierSteps, Vec<PastStep>) {
        let recent = pilot(Arc::new(Capture::default())).recent_steps();
        let split = steps.len().saturating_sub(recent);
        let (older, window) = steps.split_at(split);
        let earlier = older.iter().fold(EarlierSteps::default(), |e, s| {
            e.then(
                &s.output,
                s.response.as_ref().is_some_and(|r| r.answer.skipped),
            )
        });
        (earlier, history(window))
    }

    #[tokio::test]
    async fn the_window_and_a_summary_of_older_steps_give_the_same_prompts_as_every_step_in_full() {
        let all: Vec<Step> = (0..70).map(record).collect();
        for len in 1..=all.len() {
            let steps = &all[..len];
            let full = history(steps);
            let remaining = 80 - len as i64;
            let (full_system, full_prompt) = prompt(History::whole(&full), remaining).await;
            if len > 30 {
                assert!(
                    full_prompt.contains("details no longer shown"),
                    "{full_prompt}"
                );
            }
            let (earlier, recent) = windowed(steps);
            let told = History {
                earlier: &earlier,
                recent: &recent,
            };
            assert_eq!(told.len(), full.len());
            assert_eq!(told.last(), full.last());
            let (system, windowed_prompt) = prompt(told, remaining).await;
            assert_eq!(system, full_system);
            assert_eq!(windowed_prompt, full_prompt, "at {len} steps");
        }
    }
}
