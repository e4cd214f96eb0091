//! A 25-step session against a recording provider, as the prefix cache of a provider sees it:
//! every request repeats the one before it byte for byte up to its newest turn, except at the
//! one step where earlier steps are folded; over the session it sends no more, in total and in
//! what a prefix cache cannot serve, than resending the whole conversation each step would;
//! and past the fold the prompt stops growing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use domain::llm::{ChatRole, LlmError, LlmProvider, LlmReply, LlmRequest};
use flowpilot_engine::{History, Intake, LlmPilot, PastStep, Pilot, PilotInput, StepAnswer};
use serde_json::json;
use uuid::Uuid;

const STEPS: usize = 25;
const MAX_STEPS: i64 = 30;

/// Answers every call with a new question step, as long as a real model's, and keeps what
/// it was sent and what it answered.
#[derive(Default)]
struct Recording {
    calls: Mutex<Vec<(LlmRequest, String)>>,
}

#[async_trait]
impl LlmProvider for Recording {
    fn name(&self) -> &str {
        "anthropic"
    }

    fn model(&self) -> &str {
        "claude-sonnet-4-5"
    }

    async fn complete(&self, request: &LlmRequest) -> Result<LlmReply, LlmError> {
        let mut calls = self.calls.lock().unwrap();
        let n = calls.len() + 1;
        let text = step(n).to_string();
        calls.push((request.clone(), text.clone()));
        Ok(LlmReply {
            text,
            model: "claude-sonnet-4-5-20250929".into(),
            input_tokens: 4_000,
            output_tokens: 300,
            cached_input_tokens: 3_000,
        })
    }
}

fn step(n: usize) -> serde_json::Value {
    json!({
        "type": "question",
        "content": format!("Check {n}: does the prompt come back for every user of the affected laptops, or only for some of them when they sign in from the office network?"),
        "context_message": "Knowing **who** is affected separates a tenant-wide cause (licensing, Conditional Access, an expired secret) from a per-device one (cached credentials, a stale profile, a broken WAM plug-in).",
        "reasoning": "The intake does not say whether the symptom is shared; the answer decides which half of the flow to follow next.",
        "options": [
            {"label": "Every user", "value": "all", "followup_hint": "Look at tenant-wide settings next"},
            {"label": "Only some users", "value": "some", "followup_hint": "Compare an affected and an unaffected device"},
            {"label": "Not sure yet", "value": "unknown", "followup_hint": null}
        ],
        "allow_free_text": true, "allow_skip": true, "action_type": null, "expected_outcome": null,
        "resolution_summary": null, "follow_up_recommendations": [], "confidence": 0.35,
        "problem_summary": if n == 1 { json!("Outlook prompts repeatedly for the password on several laptops") } else { json!(null) },
        "problem_domain": if n == 1 { json!("email") } else { json!(null) }
    })
}

/// Options, options with a typed observation (one with a secret in it), and skips.
fn answer(n: usize) -> StepAnswer {
    match n % 3 {
        0 => StepAnswer {
            selected_option: Some("some".into()),
            free_text_input: Some(if n == 6 {
                "Only on two laptops; the service account password=Winter2026! is in the notes"
                    .into()
            } else {
                format!("Observation {n}: on the affected laptops the prompt comes back after every restart; on the others it never appeared. Credential Manager holds two entries for the mailbox.")
            }),
            skipped: false,
        },
        1 => StepAnswer {
            selected_option: Some("all".into()),
            ..StepAnswer::default()
        },
        _ => StepAnswer {
            skipped: true,
            ..StepAnswer::default()
        },
    }
}

/// The request as one text, in the order a provider lays it out: system prompt, then each
/// message with its role.
fn wire(system: &str, messages: &[(ChatRole, &str)]) -> String {
    let mut out = format!("system\n{system}\n");
    for (role, content) in messages {
        let role = match role {
            ChatRole::User => "user",
            ChatRole::Assistant => "assistant",
        };
        out.push_str(&format!("{role}\n{content}\n"));
    }
    out
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

/// Bytes sent and bytes not a repeat of the previous request's start, over a session.
fn totals(requests: &[String]) -> (usize, usize) {
    let mut fresh = 0;
    for (i, request) in requests.iter().enumerate() {
        let repeated = i
            .checked_sub(1)
            .map_or(0, |before| common_prefix(&requests[before], request));
        fresh += request.len() - repeated;
    }
    (requests.iter().map(String::len).sum(), fresh)
}

#[tokio::test]
async fn a_long_session_is_sent_for_the_prefix_cache() {
    let provider = Arc::new(Recording::default());
    let pilot = LlmPilot::new(provider.clone() as Arc<dyn LlmProvider>, true);
    let intake = Intake {
        text: Some(
            "Outlook keeps asking for the password on three laptops since this morning. Users are \
             on Microsoft 365 Business Premium, Windows 11 23H2. Webmail works fine with the same \
             credentials. MFA is enforced through Conditional Access."
                .into(),
        ),
        log: None,
    };
    let mut history: Vec<PastStep> = Vec::new();
    for n in 1..=STEPS {
        let input = PilotInput {
            account_id: Uuid::nil(),
            intake: &intake,
            matched: None,
            history: History::whole(&history),
            remaining_after: MAX_STEPS - n as i64,
        };
        let produced = if history.is_empty() {
            pilot.first_step(input).await.unwrap()
        } else {
            pilot
                .next_step(input)
                .await
                .unwrap()
                .next()
                .expect("a step")
        };
        assert_eq!(produced.usage[0].cached_input_tokens, 3_000);
        history.push(PastStep {
            output: produced.output,
            state: produced.state,
            answer: Some(answer(n)),
            observations: Vec::new(),
            marks: Default::default(),
        });
    }
    let calls = provider.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), STEPS);

    // Each request repeats the previous one's stable prefix, except where it folds.
    let mut folds = Vec::new();
    for (i, pair) in calls.windows(2).enumerate() {
        let (before, after) = (&pair[0].0, &pair[1].0);
        assert_eq!(after.system, before.system);
        assert_eq!(
            after.messages[0], before.messages[0],
            "the session's opening stays"
        );
        let stable = &before.messages[..before.stable_prefix.turns];
        if after.messages.get(..stable.len()) != Some(stable) {
            folds.push(i + 2);
        }
        assert!(after.stable_prefix.turns <= after.messages.len());
        assert_eq!(after.stable_prefix.session, 1);
    }
    assert_eq!(folds.len(), 1, "one fold in {STEPS} steps: {folds:?}");
    let fold = folds[0];
    assert!(
        calls[fold - 1].0.messages[1]
            .content
            .starts_with("(Steps 1–"),
        "the fold is a summary"
    );

    // Redaction as before: the secret never leaves, and its placeholder is stable.
    for (request, _) in &calls {
        for m in &request.messages {
            assert!(!m.content.contains("Winter2026!"), "{}", m.content);
        }
    }
    assert!(calls[7]
        .0
        .messages
        .iter()
        .any(|m| m.content.contains("password=[REDACTED:password]")));

    // What FlowPilot sent, and what resending the whole conversation would have: the same
    // opening, each step as the model wrote it, each answer as FlowPilot tells it.
    let sent: Vec<String> = calls
        .iter()
        .map(|(r, _)| {
            let messages: Vec<(ChatRole, &str)> = r
                .messages
                .iter()
                .map(|m| (m.role, m.content.as_str()))
                .collect();
            wire(&r.system, &messages)
        })
        .collect();
    let resent: Vec<String> = calls
        .iter()
        .enumerate()
        .map(|(i, (r, _))| {
            let mut messages = vec![(ChatRole::User, calls[0].0.messages[0].content.as_str())];
            for k in 0..i {
                messages.push((ChatRole::Assistant, calls[k].1.as_str()));
                let answer = calls[k + 1].0.messages.last().expect("an answer");
                messages.push((ChatRole::User, answer.content.as_str()));
            }
            wire(&r.system, &messages)
        })
        .collect();
    let (total, fresh) = totals(&sent);
    let (resent_total, resent_fresh) = totals(&resent);
    assert!(total <= resent_total, "total {total} > {resent_total}");
    assert!(fresh <= resent_fresh, "fresh {fresh} > {resent_fresh}");

    // Bounded past the fold: no request after it is bigger than the largest before it.
    let largest_before = sent[..fold - 1].iter().map(String::len).max().unwrap_or(0);
    let after_fold = &sent[fold - 1..];
    assert!(
        after_fold.iter().all(|r| r.len() <= largest_before),
        "before the fold at most {largest_before} bytes; after it {:?}",
        after_fold.iter().map(String::len).collect::<Vec<_>>()
    );
    assert!(
        sent[fold - 1].len() < largest_before * 3 / 4,
        "the fold takes the prompt well down"
    );
}
