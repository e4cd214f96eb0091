//! An LLM plays the engineer (`--engineer llm`), configured with `FLOWPILOT_EVAL_ENGINEER_*`
//! variables that mirror the provider ones (docs/eval.md lists them). It is told the ticket,
//! the facts and the step, never what the case expects, and answers one JSON object.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use domain::llm::{ChatMessage, ChatRole, LlmProvider, LlmRequest};
use domain::step::StepType;
use providers::{ProviderKind, ProviderSettings};
use serde::Deserialize;
use serde_json::json;

use super::engineer::{Asked, Engineer, EngineerError, Move, Ticket};

pub const PREFIX: &str = "FLOWPILOT_EVAL_ENGINEER_";

#[derive(Debug, thiserror::Error)]
pub enum EngineerConfigError {
    #[error("--engineer llm needs {PREFIX}PROVIDER (one of {0})")]
    NoProvider(String),
    #[error("{PREFIX}PROVIDER={0:?} is not a provider (one of {1})")]
    UnknownProvider(String, String),
    #[error("{PREFIX}TIMEOUT_SECS={0:?} is not a number of seconds")]
    Timeout(String),
    #[error("cannot set up the engineer's provider: {0}")]
    Build(#[from] domain::llm::LlmError),
}

/// The engineer's provider from variables read by `var` (the process environment in use).
pub fn from_vars(
    var: impl Fn(&str) -> Option<String>,
) -> Result<Arc<dyn LlmProvider>, EngineerConfigError> {
    let get = |name: &str| {
        var(&format!("{PREFIX}{name}"))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let names = ProviderKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let name = get("PROVIDER").ok_or_else(|| EngineerConfigError::NoProvider(names.clone()))?;
    let kind = ProviderKind::parse(&name)
        .ok_or_else(|| EngineerConfigError::UnknownProvider(name.clone(), names))?;
    let timeout = match get("TIMEOUT_SECS") {
        Some(t) => Duration::from_secs(t.parse().map_err(|_| EngineerConfigError::Timeout(t))?),
        None => providers::DEFAULT_TIMEOUT,
    };
    let settings = ProviderSettings {
        api_key: get("API_KEY"),
        base_url: get("BASE_URL"),
        model: get("MODEL"),
        timeout: Some(timeout),
        ..ProviderSettings::default()
    };
    Ok(providers::build_provider(kind, &settings)?)
}

pub struct LlmEngineer {
    provider: Arc<dyn LlmProvider>,
}

impl LlmEngineer {
    pub fn new(provider: Arc<dyn LlmProvider>) -> Self {
        LlmEngineer { provider }
    }
}

const SYSTEM: &str = "You are an MSP engineer working a support ticket with FlowPilot, a \
troubleshooting assistant that shows you one step at a time. Answer the step from the facts \
you are given and nothing else: never invent a finding. When a fact answers a question, pick \
the option it supports (or say it in your own words when no option fits). When you are asked \
to do something, report what happened if a fact covers it; otherwise report that it was done \
and nothing changed. When the facts do not answer a question, say you do not know. Escalate \
only when you cannot answer at all. Reply with one JSON object only.";

/// The engineer's reply, as the schema asks for it.
#[derive(Debug, Deserialize)]
struct Reply {
    #[serde(default)]
    option: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    escalate: bool,
}

fn schema() -> serde_json::Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["option", "text", "escalate"],
        "properties": {
            "option": {"type": ["string", "null"], "description": "the value of the option you pick, or null"},
            "text": {"type": ["string", "null"], "description": "what you say, in your own words, or null"},
            "escalate": {"type": "boolean", "description": "true to hand the ticket over"}
        }
    })
}

fn prompt(ticket: &Ticket<'_>, asked: &Asked<'_>) -> String {
    let step = asked.step;
    let kind = match step.step_type {
        StepType::Question => "question",
        StepType::Action => "action to perform",
        StepType::ResolutionSuggestion => "suggested fix",
    };
    let facts: String = ticket.facts.iter().map(|f| format!("- {f}\n")).collect();
    let options: String = step
        .options
        .iter()
        .map(|o| format!("- value `{}`: {}\n", o.value, o.label))
        .collect();
    let mut out = format!(
        "The ticket: {}\n\nWhat you know (facts):\n{}\nFlowPilot's {kind}: {}\n",
        ticket.intake,
        if facts.is_empty() {
            "- nothing beyond the ticket\n".into()
        } else {
            facts
        },
        step.content
    );
    if let Some(expected) = &step.expected_outcome {
        out.push_str(&format!("Expected outcome: {expected}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("Options:\n{options}"));
    }
    if let Some(c) = asked.clarification {
        out.push_str(&format!(
            "\nFlowPilot could not tell what your last answer meant: {c}\n"
        ));
    }
    out.push_str(
        "\nAnswer as JSON: {\"option\": value or null, \"text\": words or null, \"escalate\": bool}.",
    );
    out
}

/// The JSON object in `text`, fences and surrounding prose removed.
fn read_reply(text: &str) -> Result<Reply, EngineerError> {
    let start = text.find('{');
    let end = text.rfind('}');
    let body = match (start, end) {
        (Some(s), Some(e)) if s < e => &text[s..=e],
        _ => return Err(EngineerError::Unreadable(text.chars().take(200).collect())),
    };
    serde_json::from_str(body).map_err(|e| EngineerError::Unreadable(e.to_string()))
}

#[async_trait]
impl Engineer for LlmEngineer {
    fn describe(&self) -> String {
        format!("llm:{}:{}", self.provider.name(), self.provider.model())
    }

    async fn answer(&self, ticket: &Ticket<'_>, asked: &Asked<'_>) -> Result<Move, EngineerError> {
        let request = LlmRequest {
            system: SYSTEM.into(),
            messages: vec![ChatMessage {
                role: ChatRole::User,
                content: prompt(ticket, asked),
            }],
            schema_name: "flowpilot_eval_engineer".into(),
            schema: schema(),
            max_output_tokens: 300,
            stable_prefix: Default::default(),
        };
        let reply = read_reply(&self.provider.complete(&request).await?.text)?;
        if reply.escalate {
            return Ok(Move::Escalate {
                reason: reply
                    .text
                    .unwrap_or_else(|| "The engineer could not go on from what is known.".into()),
            });
        }
        let step = asked.step;
        // An option the step does not offer is the engineer's words, not a choice.
        let (option, text) = match reply.option.filter(|v| !v.trim().is_empty()) {
            Some(v) if step.options.iter().any(|o| o.value == v) => (Some(v), reply.text),
            Some(v) => (None, reply.text.or(Some(v))),
            None => (None, reply.text),
        };
        let text = text.filter(|t| !t.trim().is_empty());
        Ok(match (option, text) {
            (None, None) if step.allow_skip => Move::Skip,
            (None, None) => Move::Answer {
                option: None,
                text: Some(super::engineer::DONT_KNOW.into()),
            },
            (option, text) => Move::Answer { option, text },
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use domain::llm::{LlmError, LlmReply};
    use domain::step::{StepOption, StepOutput};

    use super::*;

    /// A provider that answers from a script and keeps what it was asked.
    struct FakeModel {
        replies: Mutex<Vec<String>>,
        asked: Mutex<Vec<LlmRequest>>,
    }

    impl FakeModel {
        fn answering(replies: &[&str]) -> Arc<Self> {
            Arc::new(FakeModel {
                replies: Mutex::new(replies.iter().rev().map(|r| r.to_string()).collect()),
                asked: Mutex::new(Vec::new()),
            })
        }
    }

    #[async_trait]
    impl LlmProvider for FakeModel {
        fn name(&self) -> &str {
            "openai"
        }
        fn model(&self) -> &str {
            "fake-engineer"
        }
        async fn complete(&self, request: &LlmRequest) -> Result<LlmReply, LlmError> {
            self.asked.lock().unwrap().push(request.clone());
            let text = self
                .replies
                .lock()
                .unwrap()
                .pop()
                .ok_or_else(|| LlmError::Transport("no more replies".into()))?;
            Ok(LlmReply {
                text,
                model: "fake-engineer".into(),
                input_tokens: 10,
                output_tokens: 5,
                cached_input_tokens: 0,
            })
        }
    }

    fn question() -> StepOutput {
        StepOutput {
            step_type: StepType::Question,
            content: "Is it one user or everyone?".into(),
            context_message: None,
            reasoning: None,
            options: vec![
                StepOption {
                    label: "One user".into(),
                    value: "one".into(),
                    followup_hint: None,
                },
                StepOption {
                    label: "Everyone".into(),
                    value: "all".into(),
                    followup_hint: None,
                },
            ],
            allow_free_text: true,
            allow_skip: false,
            action_type: None,
            expected_outcome: None,
            resolution_summary: None,
            follow_up_recommendations: Vec::new(),
            confidence: 0.4,
            problem_summary: None,
            problem_domain: None,
        }
    }

    async fn ask(model: &Arc<FakeModel>, step: &StepOutput) -> Result<Move, EngineerError> {
        let facts = vec!["Only Tom in accounts is affected".to_string()];
        let ticket = Ticket {
            intake: "Outlook keeps asking for a password",
            facts: &facts,
        };
        let asked = Asked {
            step,
            clarification: None,
            unclear_answers: 0,
        };
        LlmEngineer::new(model.clone())
            .answer(&ticket, &asked)
            .await
    }

    #[tokio::test]
    async fn the_model_is_told_the_facts_and_the_step_but_not_the_expectation() {
        let model =
            FakeModel::answering(&[r#"{"option": "one", "text": null, "escalate": false}"#]);
        let answer = ask(&model, &question()).await.unwrap();
        assert_eq!(
            answer,
            Move::Answer {
                option: Some("one".into()),
                text: None
            }
        );
        let asked = model.asked.lock().unwrap();
        let prompt = &asked[0].messages[0].content;
        assert!(prompt.contains("Only Tom in accounts is affected"));
        assert!(prompt.contains("value `all`: Everyone"));
        assert_eq!(asked[0].schema_name, "flowpilot_eval_engineer");
        assert!(!prompt.contains("expect"));
    }

    #[tokio::test]
    async fn a_fenced_reply_is_read_and_an_invented_option_becomes_words() {
        let model = FakeModel::answering(&[
            "```json\n{\"option\": \"just_tom\", \"text\": null, \"escalate\": false}\n```",
        ]);
        assert_eq!(
            ask(&model, &question()).await.unwrap(),
            Move::Answer {
                option: None,
                text: Some("just_tom".into())
            }
        );
    }

    #[tokio::test]
    async fn the_model_may_escalate_and_prose_is_refused() {
        let model = FakeModel::answering(&[
            r#"{"option": null, "text": "No idea from what I have", "escalate": true}"#,
            "I think it is one user.",
        ]);
        assert_eq!(
            ask(&model, &question()).await.unwrap(),
            Move::Escalate {
                reason: "No idea from what I have".into()
            }
        );
        assert!(matches!(
            ask(&model, &question()).await,
            Err(EngineerError::Unreadable(_))
        ));
    }

    #[test]
    fn configuration_names_what_is_missing() {
        let none = from_vars(|_| None).err().unwrap();
        assert!(none
            .to_string()
            .contains("FLOWPILOT_EVAL_ENGINEER_PROVIDER"));
        let wrong =
            from_vars(|n| (n == "FLOWPILOT_EVAL_ENGINEER_PROVIDER").then(|| "hal9000".into()))
                .err()
                .unwrap();
        assert!(wrong.to_string().contains("hal9000"));
        let built = from_vars(|n| match n {
            "FLOWPILOT_EVAL_ENGINEER_PROVIDER" => Some("openai".into()),
            "FLOWPILOT_EVAL_ENGINEER_MODEL" => Some("local-engineer".into()),
            "FLOWPILOT_EVAL_ENGINEER_BASE_URL" => Some("http://127.0.0.1:9/v1".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(built.model(), "local-engineer");
    }
}
