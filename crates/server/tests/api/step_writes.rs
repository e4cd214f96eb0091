//! The two writes of every respond, driven through the store of a real server: the claim with
//! its quota reservation, and the answer with the next step and the ledger. On SQLite each is
//! one batch whose later statements are guarded by the earlier ones; these stories check that
//! a guard that fails writes nothing, on both backends.

use chrono::Utc;
use domain::step::{Response, Step};
use domain::{SessionId, StepId};
use serde_json::json;
use store::{
    AiUsageRecord, EarlierSteps, QuotaAsk, QuotaGrant, QuotaKeys, QuotaLimit, StepAdvance,
    StepClaim,
};
use uuid::Uuid;

use crate::helpers::{spawn_app, Backend, Member, TestApp};
use crate::stories;

stories!(
    a_claim_reserves_the_next_call_and_a_refused_one_leaves_the_step_free,
    a_step_answered_meanwhile_is_not_answered_again,
);

/// A session of the offline engine, with the ids of it, its first step and the engineer.
async fn session(app: &TestApp) -> (Member, Uuid, Uuid) {
    let eng = app.register("eng@acme.test", "Acme").await;
    let started = app
        .start_session(&eng, "Outlook keeps asking for a password")
        .await;
    let id = |v: &serde_json::Value| Uuid::parse_str(v.as_str().expect("an id")).expect("uuid");
    let session_id = id(&started["session_id"]);
    let step_id = id(&started["first_step"]["step_id"]);
    (eng, session_id, step_id)
}

fn uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).expect("uuid")
}

async fn a_claim_reserves_the_next_call_and_a_refused_one_leaves_the_step_free(backend: Backend) {
    let app = spawn_app(backend).await;
    let (eng, session_id, step_id) = session(&app).await;
    let now = Utc::now();
    let keys = QuotaKeys {
        user_id: uuid(&eng.id),
        account_id: uuid(&eng.account_id),
        day_start: now,
        month_start: now,
    };
    let ask = |daily_limit| QuotaAsk {
        keys,
        daily_limit,
        monthly_limit: None,
    };
    let counted = || async {
        let c = app.store.ai_calls_counted(&keys).await.expect("counts");
        (c.user_today, c.account_this_month)
    };
    let claim = |quota: Option<QuotaAsk>| {
        let store = app.store.clone();
        async move {
            store
                .claim_step(
                    SessionId(session_id),
                    StepId(step_id),
                    now,
                    now + chrono::Duration::minutes(5),
                    quota.as_ref(),
                )
                .await
                .expect("claim")
        }
    };

    assert_eq!(
        claim(Some(ask(Some(0)))).await,
        StepClaim::OverQuota(QuotaLimit::Daily),
        "a zero limit refuses at once"
    );
    assert_eq!(
        app.store
            .reserve_ai_call(&ask(Some(1)))
            .await
            .expect("reserve"),
        QuotaGrant::Granted
    );
    assert_eq!(
        claim(Some(ask(Some(1)))).await,
        StepClaim::OverQuota(QuotaLimit::Daily),
        "the limit is used up"
    );
    assert_eq!(counted().await, (1, 1), "a refused call counts nowhere");

    assert_eq!(
        claim(Some(ask(Some(2)))).await,
        StepClaim::Claimed,
        "the refusals left the step free"
    );
    assert_eq!(counted().await, (2, 2), "the claim reserved the next call");

    assert_eq!(claim(Some(ask(Some(5)))).await, StepClaim::Taken);
    assert_eq!(claim(None).await, StepClaim::Taken);
    assert_eq!(
        counted().await,
        (2, 2),
        "a claim that lost reserves nothing"
    );
}

async fn a_step_answered_meanwhile_is_not_answered_again(backend: Backend) {
    let app = spawn_app(backend).await;
    let (eng, session_id, step_id) = session(&app).await;
    let mut window = app.store.session_window(session_id, 1).await.expect("read");
    let (before, first) = (window.session, window.steps.remove(0));
    let answer = |option: usize| Response {
        answer: domain::step::Answer {
            selected_option: Some(first.output.options[option].value.clone()),
            ..Default::default()
        },
        responded_at: Utc::now(),
    };
    let next = || Step {
        id: Uuid::new_v4(),
        session_id,
        step_order: 2,
        output: first.output.clone(),
        engine_state: json!({}),
        response: None,
        earlier: Some(EarlierSteps::default().then(&first.output, false)),
        observations: Vec::new(),
        clarification: None,
        confidence_reasons: Vec::new(),
        marks: Default::default(),
        created_at: Utc::now(),
    };
    let advance = StepAdvance {
        confidence_score: 0.5,
        matched_flow: None,
        input_tokens: 100,
        output_tokens: 20,
    };
    let ledger = [AiUsageRecord {
        account_id: uuid(&eng.account_id),
        user_id: uuid(&eng.id),
        session_id: Some(session_id),
        provider: "openai".into(),
        model: "fake-model".into(),
        purpose: "step".into(),
        input_tokens: 100,
        output_tokens: 20,
        cached_input_tokens: 0,
        cost_usd: 0.0,
        success: true,
    }];
    let second = next();
    let answered = app
        .store
        .answer_step(
            SessionId(session_id),
            StepId(step_id),
            &answer(0),
            Some(&second),
            &advance,
            &ledger,
        )
        .await
        .expect("answer")
        .expect("the first answer is written");
    assert_eq!(answered.step_count, 2);
    assert_eq!(
        answered.total_input_tokens,
        before.total_input_tokens + 100,
        "the session is returned as the answer left it"
    );

    let again = app
        .store
        .answer_step(
            SessionId(session_id),
            StepId(step_id),
            &answer(1),
            Some(&next()),
            &advance,
            &ledger,
        )
        .await
        .expect("answer");
    assert!(again.is_none(), "the step already has an answer");
    let after = app.store.session(session_id).await.expect("session");
    assert_eq!(
        after, answered,
        "the session is as the first answer left it"
    );
    let steps = app.store.steps(session_id).await.expect("steps");
    assert_eq!(
        steps.iter().map(|s| s.id).collect::<Vec<_>>(),
        [step_id, second.id],
        "no second next step"
    );
    assert_eq!(
        steps[0]
            .response
            .as_ref()
            .and_then(|r| r.answer.selected_option.clone()),
        Some(first.output.options[0].value.clone()),
        "the first answer stands"
    );
    assert_eq!(steps[1].earlier, second.earlier, "the summary is stored");
    let rows = app
        .store
        .ai_usage_of_user(uuid(&eng.id))
        .await
        .expect("ledger");
    assert_eq!(
        rows.len(),
        1,
        "one ledger row, from the answer that was written"
    );
}
