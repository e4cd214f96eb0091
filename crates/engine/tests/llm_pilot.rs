//! The LLM pilot against a scripted in-process provider: what it sends, what it records, and
//! how it maps every outcome.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use domain::flow::Flow;
use domain::llm::{LlmError, LlmProvider, LlmReply, LlmRequest};
use domain::step::{StepOption, StepOutput, StepType};
use flowpilot_engine::{
    History, Intake, LlmPilot, MatchedFlow, PastStep, Pilot, PilotError, PilotInput, SessionRecap,
    StepAnswer, Usage,
};
use serde_json::json;
use uuid::Uuid;

/// Answers each call with the next scripted reply and keeps every request it received.
struct ScriptedProvider {
    replies: Mutex<VecDeque<Result<String, LlmError>>>,
    requests: Mutex<Vec<LlmRequest>>,
}

impl ScriptedProvider {
    fn new(replies: Vec<Result<String, LlmError>>) -> Arc<Self> {
        Arc::new(Self {
            replies: Mutex::new(replies.into()),
            requests: Mutex::new(Vec::new()),
        })
    }

    fn requests(&self) -> Vec<LlmRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// Everything a request carries to the provider, as one string.
    fn sent_text(&self) -> String {
        self.requests()
            .iter()
            .map(|r| {
                let messages: Vec<&str> = r.messages.iter().map(|m| m.content.as_str()).collect();
                format!("{}\n{}", r.system, messages.join("\n"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[async_trait]
impl LlmProvider for ScriptedProvider {
    fn name(&self) -> &str {
        "openai"
    }

    fn model(&self) -> &str {
        "gpt-4.1-mini"
    }

    async fn complete(&self, request: &LlmRequest) -> Result<LlmReply, LlmError> {
        self.requests.lock().unwrap().push(request.clone());
        let next = self
            .replies
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| Err(LlmError::Transport("no scripted reply left".into())));
        next.map(|text| LlmReply {
            text,
            model: "gpt-4.1-mini-2025-04-14".into(),
            input_tokens: 120,
            output_tokens: 40,
            cached_input_tokens: 0,
        })
    }
}

fn pilot(provider: &Arc<ScriptedProvider>, redact: bool) -> LlmPilot {
    LlmPilot::new(provider.clone() as Arc<dyn LlmProvider>, redact)
}

fn step_json(first: bool) -> String {
    json!({
        "type": "question",
        "content": "Does the prompt appear for one user or for several?",
        "context_message": "Scope tells us whether this is the mailbox or the tenant.",
        "reasoning": null,
        "options": [
            {"label": "Only one user", "value": "one", "followup_hint": null},
            {"label": "Several users", "value": "several", "followup_hint": null}
        ],
        "allow_free_text": true,
        "allow_skip": false,
        "action_type": null,
        "expected_outcome": null,
        "resolution_summary": null,
        "follow_up_recommendations": [],
        "confidence": 0.3,
        "problem_summary": if first { json!("Outlook keeps asking for a password") } else { json!(null) },
        "problem_domain": if first { json!("email") } else { json!(null) }
    })
    .to_string()
}

fn intake(text: &str) -> Intake {
    Intake {
        text: Some(text.into()),
        log: None,
    }
}

fn input<'a>(
    intake: &'a Intake,
    matched: Option<&'a MatchedFlow>,
    history: &'a [PastStep],
) -> PilotInput<'a> {
    PilotInput {
        account_id: Uuid::nil(),
        intake,
        matched,
        history: History::whole(history),
        remaining_after: 20,
    }
}

fn past_step(i: usize, answer: StepAnswer) -> PastStep {
    PastStep {
        output: StepOutput {
            step_type: StepType::Action,
            content: format!(
                "Step {i}: in Outlook open File > Account Settings > Account Settings, select the \
                 Exchange account, choose Repair, let the wizard finish, then restart Outlook and \
                 watch whether the Windows Security credential prompt appears again within the \
                 first five minutes; note the exact wording and the account name it shows to you."
            ),
            context_message: None,
            reasoning: None,
            options: vec![
                StepOption {
                    label: "Done, that worked".into(),
                    value: "worked".into(),
                    followup_hint: None,
                },
                StepOption {
                    label: "Done, no change".into(),
                    value: "no_change".into(),
                    followup_hint: None,
                },
                StepOption {
                    label: "Could not do it".into(),
                    value: "could_not".into(),
                    followup_hint: None,
                },
            ],
            allow_free_text: true,
            allow_skip: true,
            action_type: None,
            expected_outcome: Some("Outlook connects without prompting.".into()),
            resolution_summary: None,
            follow_up_recommendations: vec![],
            confidence: 0.5,
            problem_summary: (i == 0).then(|| "Outlook prompts for a password".into()),
            problem_domain: (i == 0).then(|| "email".into()),
        },
        state: serde_json::Value::Null,
        answer: Some(answer),
        observations: Vec::new(),
        marks: Default::default(),
    }
}

fn no_change(text: &str) -> StepAnswer {
    StepAnswer {
        selected_option: Some("no_change".into()),
        free_text_input: Some(text.into()),
        skipped: false,
    }
}

fn matched_flow() -> MatchedFlow {
    let flow: Flow = serde_json::from_value(json!({
        "id": "00000000-0000-0000-0000-0000000000aa",
        "account_id": null,
        "title": "Outlook keeps asking for a password",
        "description": "Credential prompts loop in Outlook desktop",
        "domain": "email",
        "tags": ["m365"],
        "start": "q1",
        "nodes": {
            "q1": {"type": "question", "text": "One user or several?", "options": [
                {"label": "Only one", "value": "one", "next": "a1"},
                {"label": "Many", "value": "many", "next": "e1"}]},
            "a1": {"type": "action", "text": "Clear the cached credentials in Credential Manager",
                   "next": "s1", "on_failure": "e1"},
            "s1": {"type": "solution", "text": "Stale cached credentials"},
            "e1": {"type": "escalate", "text": "Tenant-wide authentication problem"}
        },
        "version": 1,
        "usage_count": 3,
        "success_rate": 0.5,
        "last_matched_at": null,
        "created_by": null,
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z"
    }))
    .unwrap();
    MatchedFlow { flow, score: 0.87 }
}

fn prompt_size(request: &LlmRequest) -> usize {
    request.system.chars().count()
        + request
            .messages
            .iter()
            .map(|m| m.content.chars().count())
            .sum::<usize>()
}

fn assert_usage(usage: &[Usage], expected: &[(&str, bool)]) {
    let got: Vec<(&str, bool)> = usage
        .iter()
        .map(|u| (u.purpose.as_str(), u.success))
        .collect();
    assert_eq!(got, expected);
    for u in usage {
        assert_eq!(u.provider, "openai");
        assert_eq!(u.model, "gpt-4.1-mini-2025-04-14");
        assert_eq!((u.input_tokens, u.output_tokens), (120, 40));
    }
}

#[tokio::test]
async fn names_its_engine_and_uses_ai() {
    let provider = ScriptedProvider::new(vec![]);
    let pilot = pilot(&provider, true);
    assert_eq!(pilot.engine(), "openai:gpt-4.1-mini");
    assert!(pilot.uses_ai());
}

#[tokio::test]
async fn first_step_is_parsed_and_its_usage_recorded() {
    let provider = ScriptedProvider::new(vec![Ok(format!("```json\n{}\n```", step_json(true)))]);
    let intake = intake("Outlook keeps asking for my password since this morning");
    let step = pilot(&provider, true)
        .first_step(input(&intake, None, &[]))
        .await
        .unwrap();

    assert_eq!(step.output.step_type, StepType::Question);
    assert_eq!(
        step.output.problem_summary.as_deref(),
        Some("Outlook keeps asking for a password")
    );
    assert_eq!(step.output.problem_domain.as_deref(), Some("email"));
    assert_eq!(step.state, serde_json::Value::Null);
    assert!(step.rematched.is_none());
    assert_usage(&step.usage, &[("step", true)]);

    let requests = provider.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].schema_name, "flowpilot_step");
    assert_eq!(requests[0].schema, llm::step_schema());
    assert!(requests[0].system.contains("senior MSP"));
    assert!(requests[0].messages[0]
        .content
        .contains("Outlook keeps asking for my password"));
}

#[tokio::test]
async fn a_first_step_without_summary_is_repaired() {
    // Valid JSON, but the first step must name the problem: the repair is asked for it.
    let provider = ScriptedProvider::new(vec![Ok(step_json(false)), Ok(step_json(true))]);
    let intake = intake("Outlook prompts");
    let step = pilot(&provider, false)
        .first_step(input(&intake, None, &[]))
        .await
        .unwrap();

    assert_eq!(step.output.problem_domain.as_deref(), Some("email"));
    assert_usage(&step.usage, &[("step", false), ("repair", true)]);
    let requests = provider.requests();
    assert_eq!(requests.len(), 2);
    let repair = requests[1].messages.last().unwrap();
    assert!(
        repair.content.contains("problem_summary"),
        "{}",
        repair.content
    );
}

#[tokio::test]
async fn an_invalid_reply_twice_is_an_invalid_reply_with_unsuccessful_usage() {
    let provider = ScriptedProvider::new(vec![
        Ok("I think it's DNS".into()),
        Ok("{\"type\": 3}".into()),
    ]);
    let intake = intake("Outlook prompts");
    let history = vec![past_step(0, no_change("same prompt"))];
    let error = pilot(&provider, true)
        .next_step(input(&intake, None, &history))
        .await
        .unwrap_err();

    match &error {
        PilotError::InvalidReply { errors, .. } => assert!(!errors.is_empty()),
        other => panic!("expected InvalidReply, got {other:?}"),
    }
    assert_usage(error.usage(), &[("step", false), ("repair", false)]);
}

#[tokio::test]
async fn a_rate_limit_is_a_provider_error_with_retry_after() {
    let provider = ScriptedProvider::new(vec![Err(LlmError::RateLimited {
        retry_after: Some(17),
    })]);
    let intake = intake("Outlook prompts");
    let error = pilot(&provider, true)
        .first_step(input(&intake, None, &[]))
        .await
        .unwrap_err();

    match &error {
        PilotError::Provider {
            message,
            retry_after,
            usage,
        } => {
            assert_eq!(*retry_after, Some(17));
            assert!(
                message.contains("rate limiting") && message.contains("17 seconds"),
                "{message}"
            );
            assert!(usage.is_empty());
        }
        other => panic!("expected Provider, got {other:?}"),
    }
}

#[tokio::test]
async fn a_provider_failure_during_repair_keeps_the_first_calls_usage() {
    let provider = ScriptedProvider::new(vec![
        Ok("not json".into()),
        Err(LlmError::Upstream {
            status: 503,
            message: "overloaded".into(),
        }),
    ]);
    let intake = intake("Outlook prompts");
    let error = pilot(&provider, true)
        .first_step(input(&intake, None, &[]))
        .await
        .unwrap_err();

    assert!(error.to_string().contains("HTTP 503"), "{error}");
    assert_usage(error.usage(), &[("step", false)]);
}

#[tokio::test]
async fn secrets_never_reach_the_provider() {
    let provider = ScriptedProvider::new(vec![Ok(step_json(false))]);
    let intake = Intake {
        text: Some(
            "Mapping fails: net use Z: \\\\fs01\\share /user:CONTOSO\\jdoe Passw0rd!x".into(),
        ),
        log: Some(
            "connect postgres://app:Sup3rS3cret@db01:5432/app failed\npassword=hunter2".into(),
        ),
    };
    let history = vec![past_step(
        0,
        no_change("still fails; I also tried the service account with password: Winter#2024"),
    )];
    pilot(&provider, true)
        .next_step(input(&intake, None, &history))
        .await
        .unwrap();

    let sent = provider.sent_text();
    for secret in ["Passw0rd!x", "Sup3rS3cret", "hunter2", "Winter#2024"] {
        assert!(!sent.contains(secret), "{secret} was sent: {sent}");
    }
    assert!(sent.contains("[REDACTED:password]"));
    // The caller's data keeps the original.
    assert!(history[0]
        .answer
        .as_ref()
        .unwrap()
        .free_text_input
        .as_deref()
        .unwrap()
        .contains("Winter#2024"));
}

#[tokio::test]
async fn without_redaction_the_text_is_sent_as_is() {
    let provider = ScriptedProvider::new(vec![Ok(step_json(true))]);
    let intake = intake("password=hunter2 does not work");
    pilot(&provider, false)
        .first_step(input(&intake, None, &[]))
        .await
        .unwrap();
    assert!(provider.sent_text().contains("password=hunter2"));
}

#[tokio::test]
async fn the_matched_flow_is_in_the_prompt() {
    let provider = ScriptedProvider::new(vec![Ok(step_json(true))]);
    let intake = intake("Outlook prompts");
    let matched = matched_flow();
    pilot(&provider, true)
        .first_step(input(&intake, Some(&matched), &[]))
        .await
        .unwrap();

    let message = &provider.requests()[0].messages[0].content;
    assert!(
        message
            .contains("\"Outlook keeps asking for a password\" (domain: email, match score 0.87)"),
        "{message}"
    );
    assert!(message.contains(
        "q1 [question] One user or several? → options: Only one [one]→a1; Many [many]→e1"
    ));
    // The schema lets the step say which of the flow's questions it asks.
    let schema = &provider.requests()[0].schema;
    assert_eq!(
        schema["properties"]["flow_node"]["enum"],
        serde_json::json!(["q1", null])
    );
    assert!(message.contains(
        "a1 [action] Clear the cached credentials in Credential Manager → next: s1; on failure: e1"
    ));
}

#[tokio::test]
async fn the_answer_being_responded_to_is_shown_by_its_label() {
    let provider = ScriptedProvider::new(vec![Ok(step_json(false))]);
    let intake = intake("Outlook prompts");
    let history = vec![past_step(
        0,
        no_change("prompt came back after two minutes"),
    )];
    pilot(&provider, true)
        .next_step(input(&intake, None, &history))
        .await
        .unwrap();

    // The newest turn: the engineer's answer, then the task.
    let request = &provider.requests()[0];
    let message = &request.messages.last().expect("a message").content;
    assert!(
        message.contains("Engineer's answer to step 1: chose \"Done, no change\"; wrote \"prompt came back after two minutes\""),
        "{message}"
    );
    assert!(message.contains("Produce step 2, responding to the engineer's answer to step 1."));
}

#[tokio::test]
async fn the_prompt_stays_bounded_as_the_session_grows() {
    let answer = "The prompt came back after about two minutes with the same wording; it shows \
                  jdoe@contoso.com and the Remember my credentials box is ticked; Credential \
                  Manager had two MicrosoftOffice16 entries which I removed; the Azure AD sign-in \
                  logs show interactive sign-ins succeeding at the same time from this device IP.";
    let history: Vec<PastStep> = (0..24).map(|i| past_step(i, no_change(answer))).collect();
    let intake =
        intake("Outlook keeps asking for my password since this morning, only on her laptop");

    let mut sizes = Vec::new();
    for steps_before in [4, 24] {
        let provider = ScriptedProvider::new(vec![Ok(step_json(false))]);
        pilot(&provider, true)
            .next_step(input(&intake, None, &history[..steps_before]))
            .await
            .unwrap();
        sizes.push(prompt_size(&provider.requests()[0]));
    }
    let (at_5, at_25) = (sizes[0], sizes[1]);
    assert!(
        at_25 <= 2 * at_5,
        "step 25: {at_25} chars, step 5: {at_5} chars"
    );
}

fn recap<'a>(intake: &'a Intake, history: &'a [PastStep]) -> SessionRecap<'a> {
    SessionRecap {
        account_id: Uuid::nil(),
        intake,
        matched: None,
        history: History::whole(history),
        resolution_summary: Some("Removed stale MicrosoftOffice16 credentials"),
        escalation_reason: Some("Tenant-wide, needs a global admin"),
    }
}

#[tokio::test]
async fn documentation_is_written_by_the_provider() {
    let provider = ScriptedProvider::new(vec![Ok(json!({
        "title": "Outlook password prompts",
        "root_cause": "Stale cached credentials",
        "resolution_summary": "Removed them from Credential Manager",
        "follow_up_recommendations": ["Check other devices"]
    })
    .to_string())]);
    let intake = intake("Outlook prompts");
    let history = vec![past_step(0, no_change("fixed after clearing"))];
    let (written, usage) = pilot(&provider, true)
        .write_documentation(&recap(&intake, &history))
        .await;

    let written = written.expect("documentation");
    assert_eq!(written.root_cause, "Stale cached credentials");
    assert_eq!(written.follow_up_recommendations, ["Check other devices"]);
    assert_usage(&usage, &[("documentation", true)]);
    let request = &provider.requests()[0];
    assert_eq!(request.schema_name, "flowpilot_documentation");
    assert!(request.messages[0]
        .content
        .contains("Removed stale MicrosoftOffice16 credentials"));
}

#[tokio::test]
async fn documentation_falls_back_to_none_on_failure() {
    let intake = intake("Outlook prompts");
    let history = vec![past_step(0, no_change("fixed"))];

    let provider = ScriptedProvider::new(vec![Err(LlmError::Timeout(60))]);
    let (written, usage) = pilot(&provider, true)
        .write_documentation(&recap(&intake, &history))
        .await;
    assert!(written.is_none());
    assert!(usage.is_empty());

    let provider = ScriptedProvider::new(vec![Ok("nope".into()), Ok("{}".into())]);
    let (written, usage) = pilot(&provider, true)
        .write_documentation(&recap(&intake, &history))
        .await;
    assert!(written.is_none());
    assert_usage(&usage, &[("documentation", false), ("repair", false)]);
}

#[tokio::test]
async fn escalation_is_written_by_the_provider_or_falls_back() {
    let intake = intake("Outlook prompts");
    let history = vec![past_step(0, no_change("no change"))];
    let provider = ScriptedProvider::new(vec![Ok(json!({
        "summary": "Prompts persist after clearing credentials",
        "hypotheses": [{"cause": "Conditional Access policy", "likelihood": "high"}],
        "suggested_next_steps": ["Review sign-in logs"]
    })
    .to_string())]);
    let (written, usage) = pilot(&provider, true)
        .write_escalation(&recap(&intake, &history))
        .await;
    let written = written.expect("escalation");
    assert_eq!(
        written.hypotheses,
        [domain::documentation::Hypothesis {
            cause: "Conditional Access policy".into(),
            likelihood: domain::documentation::Likelihood::High,
        }]
    );
    assert_usage(&usage, &[("escalation", true)]);
    let request = &provider.requests()[0];
    assert_eq!(request.schema_name, "flowpilot_escalation");
    assert!(request.messages[0]
        .content
        .contains("Tenant-wide, needs a global admin"));

    let provider =
        ScriptedProvider::new(vec![Err(LlmError::Transport("connection refused".into()))]);
    let (written, usage) = pilot(&provider, true)
        .write_escalation(&recap(&intake, &history))
        .await;
    assert!(written.is_none() && usage.is_empty());
}
