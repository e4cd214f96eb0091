//! Redaction through the whole API: secrets an engineer pastes into a session never reach the
//! provider in any call (steps, documentation, escalation hand-off), while the stored session
//! keeps exactly what the engineer wrote.

use reqwest::StatusCode;
use serde_json::json;

use crate::ai_providers::provider_app;
use crate::fake_llm::Wire;
use crate::helpers::Backend;
use crate::stories;

stories!(secrets_never_reach_the_provider_but_the_session_keeps_them);

const PASSWORD: &str = "Tr0ub4dor&3x";
const API_KEY: &str = "sk-proj-AbCdEf0123456789XyZqRsTu";
const KEY_LINE_1: &str = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw";
const KEY_LINE_2: &str = "krmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRn";
const URL_PASSWORD: &str = "Pg-S3cret-Pass";
const SQL_PASSWORD: &str = "Adm1n-Sql-Pa55";
const ENV_PASSWORD: &str = "Sup3rS3cret-Env";
const ANSWER_KEY: &str = "sk-live-ZZZZ9999YYYY8888XXXX";
const NEW_PASSWORD: &str = "N3w-P4ss-2024!";

fn intake_text() -> String {
    format!("Outlook keeps asking for a password; my password is {PASSWORD} and the integration key {API_KEY} was rotated yesterday")
}

fn intake_log() -> String {
    format!(
        "deploy.log\n-----BEGIN RSA PRIVATE KEY-----\n{KEY_LINE_1}\n{KEY_LINE_2}\n-----END RSA PRIVATE KEY-----\n\
         connecting to postgres://app_user:{URL_PASSWORD}@db.internal:5432/app\n\
         Server=sql01;Database=crm;User Id=sa;Password={SQL_PASSWORD};\n\
         DB_PASSWORD={ENV_PASSWORD}\nERROR: authentication failed"
    )
}

const SECRETS: &[&str] = &[
    PASSWORD,
    API_KEY,
    KEY_LINE_1,
    KEY_LINE_2,
    URL_PASSWORD,
    SQL_PASSWORD,
    ENV_PASSWORD,
    ANSWER_KEY,
    NEW_PASSWORD,
];

async fn secrets_never_reach_the_provider_but_the_session_keeps_them(backend: Backend) {
    for wire in [Wire::OpenAi, Wire::Anthropic, Wire::Gemini] {
        redaction_story(backend, wire).await;
    }
}

async fn redaction_story(backend: Backend, wire: Wire) {
    let (app, fake, eng) = provider_app(backend, wire).await;
    let intake = json!({"intake_type": "combined", "intake_content": {"text": intake_text(), "log": intake_log()}});

    // One session answered and resolved: step calls and the documentation call.
    let (status, first) = app.post("/ai-sessions", &eng.token, intake.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{wire:?}: {first}");
    let resolved_id = first["session_id"].as_str().expect("id").to_string();
    let answer = format!("Tried again with api_key={ANSWER_KEY}; the password is {PASSWORD}");
    let (status, body) = app
        .post(
            &format!("/ai-sessions/{resolved_id}/respond"),
            &eng.token,
            json!({"step_id": first["first_step"]["step_id"], "selected_option": "one", "free_text_input": answer}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{wire:?}: {body}");
    let summary = format!("Reset the account; the new password is {NEW_PASSWORD}");
    let (status, body) = app
        .post(
            &format!("/ai-sessions/{resolved_id}/resolve"),
            &eng.token,
            json!({"resolution_summary": summary}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{wire:?}: {body}");

    // Another escalated: the hand-off call.
    let (status, second) = app.post("/ai-sessions", &eng.token, intake).await;
    assert_eq!(status, StatusCode::CREATED, "{wire:?}: {second}");
    let escalated_id = second["session_id"].as_str().expect("id").to_string();
    let reason = format!("Still failing; the sa password is {SQL_PASSWORD} if you need it");
    let (status, body) = app
        .post(
            &format!("/ai-sessions/{escalated_id}/escalate"),
            &eng.token,
            json!({"escalation_reason": reason}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{wire:?}: {body}");

    let sent = fake.received();
    let mut contracts: Vec<String> = sent.iter().map(|r| r.contract(wire)).collect();
    contracts.sort();
    assert_eq!(
        contracts,
        [
            "flowpilot_documentation",
            "flowpilot_escalation",
            "flowpilot_step",
            "flowpilot_step",
            "flowpilot_step"
        ],
        "{wire:?}: every kind of call was made"
    );
    for request in &sent {
        for secret in SECRETS {
            assert!(
                !request.raw.contains(secret),
                "{wire:?}: {secret:?} reached the provider in a {} request: {}",
                request.contract(wire),
                request.raw
            );
        }
        assert!(
            request.raw.contains("[REDACTED:"),
            "{wire:?}: the session text was sent, with placeholders: {}",
            request.raw
        );
    }
    let answered = &sent[1].raw;
    assert!(
        answered.contains("Tried again with"),
        "{wire:?}: {answered}"
    );
    let documented = sent
        .iter()
        .find(|r| r.contract(wire) == "flowpilot_documentation")
        .expect("documentation call");
    assert!(documented.raw.contains("Reset the account"), "{wire:?}");

    let (status, detail) = app
        .get(&format!("/ai-sessions/{resolved_id}"), &eng.token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["intake_content"]["text"], intake_text());
    assert_eq!(detail["intake_content"]["log"], intake_log());
    assert_eq!(detail["steps"][0]["response"]["free_text_input"], answer);
    assert_eq!(detail["resolution_summary"], summary);
    let (_, detail) = app
        .get(&format!("/ai-sessions/{escalated_id}"), &eng.token)
        .await;
    assert_eq!(detail["intake_content"]["log"], intake_log());
    assert_eq!(detail["escalation_reason"], reason);
}
