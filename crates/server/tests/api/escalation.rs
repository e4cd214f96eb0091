//! escalation.md: escalating to a person, a team or the queue; the queue's order, scopes and
//! statuses; the claim (one wins, the other is told who holds it); picking up to continue
//! (a briefing, then the flow from where it stopped) or fresh (a linked session whose intake
//! is the package); the briefing; the metrics; and a hanging AI that cannot hold it up.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fake_llm::{FakeLlm, Reply, Wire};
use crate::helpers::{
    assert_one_wins, spawn_app, spawn_app_with, tier_two, Backend, Member, TestApp, TierTwo,
};
use crate::stories;

stories!(
    a_team_escalation_is_seen_by_its_members_and_one_of_two_claims_wins,
    continuing_reads_a_briefing_then_resumes_the_flow_where_it_stopped,
    picking_up_fresh_starts_from_the_package_linked_both_ways,
    a_fresh_pick_up_that_died_half_way_can_be_picked_up_again_after_the_grace,
    the_queue_lists_the_oldest_unclaimed_first_by_scope_and_status,
    a_hanging_ai_leaves_the_deterministic_package_in_time,
    an_invalid_hand_off_is_not_repaired,
);

const OUTLOOK: &str = "Outlook keeps asking for a password on three laptops since this morning";

struct Crew {
    app: TestApp,
    admin: Member,
    owner: Member,
    ada: Member,
    bob: Member,
    outsider: Member,
    team_id: String,
}

async fn crew(app: TestApp) -> Crew {
    let TierTwo {
        admin,
        owner,
        ada,
        bob,
        team_id,
    } = tier_two(&app).await;
    let outsider = app.add_engineer(&admin, "out@acme.test", None).await;
    Crew {
        app,
        admin,
        owner,
        ada,
        bob,
        outsider,
        team_id,
    }
}

/// A session of `who` on the Outlook flow, answered once ("one user"): it stops at the
/// open "clear the cached credentials" step. Its id and that open step.
async fn session_stopped_at_clear(app: &TestApp, who: &Member) -> (String, Value) {
    let started = app.start_session(who, OUTLOOK).await;
    let id = started["session_id"].as_str().unwrap().to_string();
    let reply = app
        .respond(
            who,
            &id,
            &started["first_step"],
            json!({"selected_option": "one"}),
        )
        .await;
    (id, reply["next_step"].clone())
}

/// A session of the owner, stopped at the open step and escalated to Ada, who has the
/// tenant access it needs; its id.
async fn escalated_to_ada(c: &Crew) -> String {
    let (id, _) = session_stopped_at_clear(&c.app, &c.owner).await;
    let (status, body) = escalate(
        &c.app,
        &c.owner,
        &id,
        json!({"escalation_reason": "Needs Ada's tenant access", "escalated_to_id": c.ada.id}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}

async fn escalate(app: &TestApp, who: &Member, id: &str, body: Value) -> (StatusCode, Value) {
    app.post(&format!("/ai-sessions/{id}/escalate"), &who.token, body)
        .await
}

async fn queue(app: &TestApp, who: &Member, query: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("/escalations{query}"), &who.token).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body.as_array().unwrap().clone()
}

fn sessions_of(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l["session_id"].as_str().unwrap().to_string())
        .collect()
}

async fn a_team_escalation_is_seen_by_its_members_and_one_of_two_claims_wins(backend: Backend) {
    let c = crew(spawn_app(backend).await).await;
    let app = &c.app;
    let (id, _) = session_stopped_at_clear(app, &c.owner).await;

    // At most one target; the team must be the account's.
    let (status, body) = escalate(
        app,
        &c.owner,
        &id,
        json!({"escalation_reason": "Needs tier 2", "escalated_to_id": c.ada.id, "escalated_to_team_id": c.team_id}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = escalate(
        app,
        &c.owner,
        &id,
        json!({"escalation_reason": "Needs tier 2", "escalated_to_team_id": uuid::Uuid::new_v4()}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (status, body) = escalate(
        app,
        &c.owner,
        &id,
        json!({"escalation_reason": "Needs tier 2: the broker reset needs admin rights", "escalated_to_team_id": c.team_id}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "escalated");

    // The team's members see it in their team's queue and may open it; others may not.
    let team_queue = queue(app, &c.ada, "?scope=team").await;
    assert_eq!(sessions_of(&team_queue), [id.as_str()]);
    assert_eq!(team_queue[0]["target"]["kind"], "team");
    assert_eq!(team_queue[0]["target"]["name"], "team Tier 2");
    assert!(team_queue[0]["claimed_by"].is_null());
    let (status, _) = app.get(&format!("/ai-sessions/{id}"), &c.bob.token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(queue(app, &c.outsider, "?scope=account&status=all")
        .await
        .is_empty());
    let (status, _) = app
        .get(&format!("/ai-sessions/{id}"), &c.outsider.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app
        .post(
            &format!("/ai-sessions/{id}/claim"),
            &c.outsider.token,
            json!({}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a non-member cannot claim: {body}"
    );
    let (status, body) = app
        .post(
            &format!("/ai-sessions/{id}/claim"),
            &c.owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "its own escalation: {body}");

    // Both members claim at the same moment: exactly one wins, the other is told who.
    let path = format!("/ai-sessions/{id}/claim");
    let (a, b) = tokio::join!(
        app.post(&path, &c.ada.token, json!({})),
        app.post(&path, &c.bob.token, json!({}))
    );
    assert_one_wins(&a, &b);
    let (won, lost, winner) = if a.0 == StatusCode::OK {
        (a.1, b.1, "ada@acme.test")
    } else {
        (b.1, a.1, "bob@acme.test")
    };
    assert!(
        lost["detail"].as_str().unwrap().contains(winner),
        "the 409 names the winner: {lost}"
    );
    assert_eq!(won["claimed_by"]["full_name"], format!("Engineer {winner}"));
    assert!(won["metrics"]["time_to_claim_seconds"].as_i64().unwrap() >= 0);

    // Claimed: out of the open queue, in the claimed one with who and when.
    assert!(queue(app, &c.ada, "?scope=team").await.is_empty());
    let claimed = queue(app, &c.admin, "?scope=account&status=claimed").await;
    assert_eq!(sessions_of(&claimed), [id.as_str()]);
    assert_eq!(
        claimed[0]["claimed_by"]["full_name"],
        format!("Engineer {winner}")
    );
    assert!(claimed[0]["claimed_at"].is_string());

    // Unknown values are a 422.
    for bad in ["?scope=everyone", "?status=closed"] {
        let (status, body) = app.get(&format!("/escalations{bad}"), &c.ada.token).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
}

async fn continuing_reads_a_briefing_then_resumes_the_flow_where_it_stopped(backend: Backend) {
    let c = crew(spawn_app(backend).await).await;
    let app = &c.app;
    let (id, open) = session_stopped_at_clear(app, &c.owner).await;
    let open_text = open["content"]["content"].as_str().unwrap().to_string();
    let (status, body) = escalate(
        app,
        &c.owner,
        &id,
        json!({"escalation_reason": "Out of time, customer waiting"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The queue: any engineer of the account may take it.
    let open_queue = queue(app, &c.outsider, "?scope=account").await;
    assert_eq!(sessions_of(&open_queue), [id.as_str()]);
    assert_eq!(open_queue[0]["target"]["kind"], "queue");

    // The briefing: problem, environment, steps with what they showed, hypotheses, reason.
    let (status, brief) = app
        .get(&format!("/ai-sessions/{id}/briefing"), &c.outsider.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{brief}");
    assert_eq!(brief["reason"], "Out of time, customer waiting");
    assert!(!brief["problem"].as_str().unwrap().is_empty());
    assert!(brief["environment"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["label"] == "Flow"));
    let steps = brief["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{brief}");
    assert_eq!(steps[0]["showed"], "One user");
    assert!(steps[1]["showed"].is_null());
    let hypotheses = brief["hypotheses"].as_array().unwrap();
    assert!(!hypotheses.is_empty(), "{brief}");
    assert!(!hypotheses[0]["suggested_steps"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(brief["confidence_score"].is_number());

    // Picking up needs the claim first, and only the claimer picks up.
    let pickup = format!("/ai-sessions/{id}/pickup");
    let (status, _) = app
        .post(&pickup, &c.outsider.token, json!({"mode": "continue"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app
        .post(
            &format!("/ai-sessions/{id}/claim"),
            &c.outsider.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .post(&pickup, &c.ada.token, json!({"mode": "continue"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app
        .post(&pickup, &c.outsider.token, json!({"mode": "sideways"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (status, picked) = app
        .post(&pickup, &c.outsider.token, json!({"mode": "continue"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{picked}");
    assert_eq!(picked["session_id"], id.as_str());
    assert_eq!(picked["session_status"], "active");
    let briefing = picked["next_step"].clone();
    assert_eq!(briefing["step_type"], "action");
    assert!(
        briefing["content"]["content"]
            .as_str()
            .unwrap()
            .contains("Picked up from"),
        "{briefing}"
    );
    let (_, detail) = app
        .get(&format!("/ai-sessions/{id}"), &c.outsider.token)
        .await;
    assert_eq!(
        detail["user_id"],
        c.outsider.id.as_str(),
        "the claimer owns it"
    );
    assert_eq!(detail["steps"].as_array().unwrap().len(), 3, "history kept");
    assert_eq!(detail["escalation"]["picked_up"], "continue");
    // The first engineer may no longer change it.
    let (status, _) = app
        .post(
            &format!("/ai-sessions/{id}/respond"),
            &c.owner.token,
            json!({"step_id": briefing["step_id"], "selected_option": "continue"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // After the briefing, the step where the first engineer stopped, then the flow goes on.
    let reply = app
        .respond(
            &c.outsider,
            &id,
            &briefing,
            json!({"selected_option": "continue"}),
        )
        .await;
    let resumed = reply["next_step"].clone();
    assert_eq!(resumed["content"]["content"], open_text.as_str(), "{reply}");
    let (_, detail) = app
        .get(&format!("/ai-sessions/{id}"), &c.outsider.token)
        .await;
    let metrics = &detail["escalation"]["metrics"];
    assert!(metrics["time_to_claim_seconds"].is_i64(), "{detail}");
    assert!(
        metrics["claim_to_first_answer_seconds"].is_null(),
        "reading the briefing is not the first answer: {detail}"
    );
    let reply = app
        .respond(
            &c.outsider,
            &id,
            &resumed,
            json!({"selected_option": "done_no_change"}),
        )
        .await;
    assert!(
        reply["next_step"]["content"]["content"]
            .as_str()
            .unwrap()
            .starts_with("Reset the Microsoft 365 sign-in broker"),
        "{reply}"
    );
    let (_, detail) = app
        .get(&format!("/ai-sessions/{id}"), &c.outsider.token)
        .await;
    assert!(
        detail["escalation"]["metrics"]["claim_to_first_answer_seconds"].is_i64(),
        "{detail}"
    );
    let claimed = queue(app, &c.outsider, "?status=claimed").await;
    assert!(claimed[0]["metrics"]["claim_to_first_answer_seconds"].is_i64());
}

async fn picking_up_fresh_starts_from_the_package_linked_both_ways(backend: Backend) {
    let c = crew(spawn_app(backend).await).await;
    let app = &c.app;
    let id = escalated_to_ada(&c).await;
    assert_eq!(sessions_of(&queue(app, &c.ada, "").await), [id.as_str()]);

    // Escalated to Ada: Bob cannot see it, an admin may claim it, but Ada does first.
    let claim = format!("/ai-sessions/{id}/claim");
    let (status, _) = app.post(&claim, &c.bob.token, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.post(&claim, &c.ada.token, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, again) = app.post(&claim, &c.admin.token, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        again["detail"].as_str().unwrap().contains("ada@acme.test"),
        "{again}"
    );

    let pickup = format!("/ai-sessions/{id}/pickup");
    let (status, picked) = app
        .post(&pickup, &c.ada.token, json!({"mode": "fresh"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{picked}");
    let fresh = picked["session_id"].as_str().unwrap().to_string();
    assert_ne!(fresh, id);
    assert_eq!(picked["escalated_from_id"], id.as_str());
    assert_eq!(picked["picked_up_as_id"], fresh.as_str());
    let (status, _) = app
        .post(&pickup, &c.ada.token, json!({"mode": "fresh"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "picked up once");

    let (_, new) = app
        .get(&format!("/ai-sessions/{fresh}"), &c.ada.token)
        .await;
    assert_eq!(new["user_id"], c.ada.id.as_str());
    assert_eq!(new["escalated_from_id"], id.as_str());
    let intake = new["intake_content"]["text"].as_str().unwrap();
    assert!(intake.contains("Reason for escalation"), "{intake}");
    assert!(intake.contains("Needs Ada's tenant access"), "{intake}");
    let (_, old) = app.get(&format!("/ai-sessions/{id}"), &c.ada.token).await;
    assert_eq!(old["picked_up_as_id"], fresh.as_str());
    assert_eq!(old["status"], "escalated");

    // The first answer on the fresh session is the claimer's first answer.
    app.respond(
        &c.ada,
        &fresh,
        &picked["next_step"],
        json!({"selected_option": "one"}),
    )
    .await;
    let (_, old) = app.get(&format!("/ai-sessions/{id}"), &c.ada.token).await;
    assert!(
        old["escalation"]["metrics"]["claim_to_first_answer_seconds"].is_i64(),
        "{old}"
    );
}

async fn a_fresh_pick_up_that_died_half_way_can_be_picked_up_again_after_the_grace(
    backend: Backend,
) {
    let c = crew(spawn_app(backend).await).await;
    let app = &c.app;
    let id = escalated_to_ada(&c).await;
    let (status, _) = app
        .post(&format!("/ai-sessions/{id}/claim"), &c.ada.token, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);

    // A fresh pick-up marked the escalation, then the server died before it linked the
    // new session.
    let died = |seconds_ago: i64| {
        let at = chrono::Utc::now().timestamp_millis() - seconds_ago * 1000;
        format!(
            "UPDATE escalations SET picked_up_mode = 'fresh', picked_up_at = {at}, \
             picked_up_as_id = NULL WHERE session_id = '{id}'"
        )
    };
    let pickup = format!("/ai-sessions/{id}/pickup");

    // Within the grace it may still be under way (a double click): refused.
    app.run_sql(&died(30)).await;
    let (status, body) = app
        .post(&pickup, &c.ada.token, json!({"mode": "fresh"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Nor may it be continued instead while it hangs.
    app.run_sql(&died(180)).await;
    let (status, body) = app
        .post(&pickup, &c.ada.token, json!({"mode": "continue"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Bob never claimed it.
    let (status, _) = app
        .post(&pickup, &c.bob.token, json!({"mode": "fresh"}))
        .await;
    assert_ne!(status, StatusCode::OK);

    // Past the grace the claimer picks it up fresh again, linked both ways.
    let (status, picked) = app
        .post(&pickup, &c.ada.token, json!({"mode": "fresh"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{picked}");
    let fresh = picked["session_id"].as_str().unwrap().to_string();
    assert_ne!(fresh, id);
    assert_eq!(picked["picked_up_as_id"], fresh.as_str());
    let (_, new) = app
        .get(&format!("/ai-sessions/{fresh}"), &c.ada.token)
        .await;
    assert_eq!(new["user_id"], c.ada.id.as_str());
    assert_eq!(new["escalated_from_id"], id.as_str());
    let (_, old) = app.get(&format!("/ai-sessions/{id}"), &c.ada.token).await;
    assert_eq!(old["picked_up_as_id"], fresh.as_str());

    // Finished now: no more pick-ups.
    let (status, _) = app
        .post(&pickup, &c.ada.token, json!({"mode": "fresh"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "picked up once");
}

async fn the_queue_lists_the_oldest_unclaimed_first_by_scope_and_status(backend: Backend) {
    let c = crew(spawn_app(backend).await).await;
    let app = &c.app;
    let mut ids = Vec::new();
    for n in 0..3 {
        let (id, _) = session_stopped_at_clear(app, &c.owner).await;
        let (status, body) = escalate(
            app,
            &c.owner,
            &id,
            json!({"escalation_reason": format!("Case {n}")}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        ids.push(id);
        // Escalation times are kept in milliseconds.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (id_to_ada, _) = session_stopped_at_clear(app, &c.owner).await;
    escalate(
        app,
        &c.owner,
        &id_to_ada,
        json!({"escalation_reason": "For Ada", "escalated_to_id": c.ada.id}),
    )
    .await;

    let open = queue(app, &c.bob, "?scope=account").await;
    assert_eq!(
        sessions_of(&open),
        ids,
        "oldest first; Ada's is not Bob's to see"
    );
    assert!(open[0]["age_seconds"].as_i64().unwrap() >= open[2]["age_seconds"].as_i64().unwrap());
    assert!(open[0]["age"].is_string());

    let (status, _) = app
        .post(
            &format!("/ai-sessions/{}/claim", ids[0]),
            &c.bob.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let all = queue(app, &c.bob, "?scope=account&status=all").await;
    assert_eq!(
        sessions_of(&all),
        [ids[1].clone(), ids[2].clone(), ids[0].clone()],
        "unclaimed first"
    );
    assert_eq!(
        sessions_of(&queue(app, &c.bob, "?scope=account&status=open").await),
        ids[1..]
    );
    assert_eq!(
        sessions_of(&queue(app, &c.bob, "").await),
        Vec::<String>::new(),
        "mine, open"
    );
    assert_eq!(
        sessions_of(&queue(app, &c.bob, "?status=claimed").await),
        [ids[0].clone()]
    );
    assert_eq!(
        sessions_of(&queue(app, &c.ada, "").await),
        [id_to_ada.as_str()]
    );
    // The admin sees everything; the first engineer sees what they handed over.
    assert_eq!(
        queue(app, &c.admin, "?scope=account&status=all")
            .await
            .len(),
        4
    );
    assert_eq!(
        queue(app, &c.owner, "?scope=account&status=all")
            .await
            .len(),
        4
    );
    assert!(queue(app, &c.bob, "?scope=team").await.is_empty());
}

async fn a_hanging_ai_leaves_the_deterministic_package_in_time(backend: Backend) {
    // Every answer of this fake takes 3 s; the escalation waits 1 s for its write-up.
    let fake = FakeLlm::start_with_delay(Wire::OpenAi, Some(Duration::from_secs(3))).await;
    let base = fake.base_url.clone();
    let app = spawn_app_with(backend, |s| {
        Wire::OpenAi.configure(s, &base);
        s.escalation_ai_timeout_secs = 1;
        s.rate_limits = false;
    })
    .await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let started = app.start_session(&eng, OUTLOOK).await;
    let id = started["session_id"].as_str().unwrap().to_string();
    let before = fake.received().len();

    let t0 = Instant::now();
    let (status, body) = escalate(
        &app,
        &eng,
        &id,
        json!({"escalation_reason": "The provider is slow today"}),
    )
    .await;
    let took = t0.elapsed();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    let hypotheses = body["documentation"]["hypotheses"].as_array().unwrap();
    assert!(!hypotheses.is_empty(), "the deterministic package: {body}");

    // Long enough for a second call, had there been one.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let escalation_calls = fake.received()[before..]
        .iter()
        .filter(|r| r.contract(Wire::OpenAi) == "flowpilot_escalation")
        .count();
    assert_eq!(escalation_calls, 1, "exactly one LLM request");
    assert_eq!(fake.received().len() - before, 1);
    let (_, brief) = app
        .get(&format!("/ai-sessions/{id}/briefing"), &eng.token)
        .await;
    assert_eq!(
        brief["escalation"]["handoff_author"], "deterministic",
        "{brief}"
    );
}

async fn an_invalid_hand_off_is_not_repaired(backend: Backend) {
    let fake = FakeLlm::start(Wire::OpenAi).await;
    let base = fake.base_url.clone();
    let app = spawn_app_with(backend, |s| {
        Wire::OpenAi.configure(s, &base);
        s.rate_limits = false;
    })
    .await;
    let eng = app.register("eng@acme.test", "Acme").await;
    let started = app.start_session(&eng, OUTLOOK).await;
    let id = started["session_id"].as_str().unwrap().to_string();
    let before = fake.received().len();
    // A reply that does not follow the contract: a repair would be a second call.
    fake.push(Reply::Object(json!({"summary": 5})));
    let (status, body) = escalate(&app, &eng, &id, json!({"escalation_reason": "Stuck"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!body["documentation"]["hypotheses"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(fake.received().len() - before, 1, "one call, no repair");
}
