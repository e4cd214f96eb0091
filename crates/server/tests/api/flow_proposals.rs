//! memory.md "The flywheel": resolved sessions analysed in the background into flow
//! proposals, merged across sessions with their evidence; the admins' review queue, where a
//! proposal is approved (publishing a new version, or a new flow), edited and approved
//! (validated like any flow), or rejected with a reason.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Backend, Member, TestApp};
use crate::stories;

stories!(
    three_sessions_leaving_at_one_node_with_one_fix_are_one_proposal_and_approving_it_guides_the_next_session,
    a_rejected_proposal_keeps_its_reason_and_leaves_the_flow_alone,
    a_resolved_session_no_flow_matched_proposes_a_new_flow,
    only_account_admins_review_proposals,
    an_edited_flow_is_validated_and_a_flow_that_moved_on_is_not_overwritten,
);

const INTAKE: &str = "Our Zebra thermal label printer feeds the labels but they come out blank";
const FIX: &str = "Raise the darkness to 25 in the ZebraDesigner printer preferences";

/// A small flow about a problem no built-in flow covers.
fn label_flow() -> Value {
    json!({
        "title": "Zebra label printer prints blank labels",
        "description": "The Zebra thermal label printer feeds labels but prints nothing on them.",
        "domain": "label_printing",
        "tags": ["zebra", "thermal", "labels"],
        "start": "q1",
        "nodes": {
            "q1": {"type": "question", "text": "Does the printer's own test label print?",
                   "options": [{"label": "Yes", "value": "yes", "next": "a1"},
                               {"label": "No", "value": "no", "next": "e1"}]},
            "a1": {"type": "action", "text": "Reinstall the ZDesigner driver and set the media type to thermal transfer.",
                   "expected_outcome": "Labels print", "next": "s1", "on_failure": "e1"},
            "s1": {"type": "solution", "text": "Wrong media type in the driver."},
            "e1": {"type": "escalate", "text": "Printhead fault: send to the vendor."}
        }
    })
}

struct Desk {
    app: TestApp,
    admin: Member,
    eng: Member,
    flow_id: String,
}

async fn desk(backend: Backend) -> Desk {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let eng = app.add_user(&admin, "eng@acme.test", "engineer").await;
    let (status, flow) = app.post("/flows", &admin.token, label_flow()).await;
    assert_eq!(status, StatusCode::CREATED, "{flow}");
    let flow_id = flow["id"].as_str().unwrap().to_string();
    Desk {
        app,
        admin,
        eng,
        flow_id,
    }
}

/// A session on the label flow that answers its first question in words no option means
/// (the offline pilot keeps them and asks again), then is resolved with `fix`. Its id.
async fn leave_at_q1_and_resolve(d: &Desk, words: &str, fix: &str) -> String {
    let started = d.app.start_session(&d.eng, INTAKE).await;
    assert_eq!(started["matched_flow_id"], d.flow_id.as_str(), "{started}");
    let id = started["session_id"].as_str().unwrap().to_string();
    let reply = d
        .app
        .respond(
            &d.eng,
            &id,
            &started["first_step"],
            json!({"free_text_input": words}),
        )
        .await;
    assert!(reply["clarification"].is_string(), "{words}: {reply}");
    d.app.resolve(&d.eng, &id, fix).await;
    id
}

async fn proposals(app: &TestApp, who: &Member, status: &str) -> Vec<Value> {
    let (code, body) = app
        .get(&format!("/flow-proposals?status={status}"), &who.token)
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

/// The open proposals once the background analysis has recorded `evidence` sessions in all.
async fn open_with_evidence(app: &TestApp, admin: &Member, evidence: i64) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let open = proposals(app, admin, "open").await;
        let seen: i64 = open
            .iter()
            .map(|p| p["evidence_count"].as_i64().unwrap())
            .sum();
        if seen >= evidence || Instant::now() > deadline {
            assert_eq!(seen, evidence, "{open:?}");
            return open;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn option_values(step: &Value) -> Vec<String> {
    step["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["value"].as_str().unwrap().to_string())
        .collect()
}

async fn three_sessions_leaving_at_one_node_with_one_fix_are_one_proposal_and_approving_it_guides_the_next_session(
    backend: Backend,
) {
    let d = desk(backend).await;
    let mut sessions = Vec::new();
    for (words, fix) in [
        ("only the barcodes from the WMS come out empty", FIX),
        (
            "just the WMS barcodes, text is fine",
            "raise darkness to 25 in ZebraDesigner printer preferences.",
        ),
        (
            "WMS barcodes only",
            "In the ZebraDesigner printer preferences, raise the darkness to 25",
        ),
    ] {
        sessions.push(leave_at_q1_and_resolve(&d, words, fix).await);
    }

    let open = open_with_evidence(&d.app, &d.admin, 3).await;
    assert_eq!(
        open.len(),
        1,
        "one proposal for one missing branch: {open:?}"
    );
    let p = &open[0];
    assert_eq!(p["kind"], "branch_addition");
    assert_eq!(p["status"], "open");
    assert_eq!(p["flow_id"], d.flow_id.as_str());
    assert_eq!(p["flow_title"], "Zebra label printer prints blank labels");
    assert_eq!(p["base_version"], 1);
    assert_eq!(p["current_version"], 1);
    assert_eq!(p["stale"], false);
    assert_eq!(p["attached_at"], "q1");
    let mut evidence: Vec<String> = p["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["session_id"].as_str().unwrap().to_string())
        .collect();
    evidence.sort();
    sessions.sort();
    assert_eq!(evidence, sessions);
    let first = &p["evidence"][0];
    assert_eq!(first["owner"]["full_name"], "User eng@acme.test");
    assert!(first["resolved_at"].is_string(), "{first}");

    // The change against the current version: one option added to q1, leading to the fix.
    let change = &p["change"];
    assert_eq!(
        change["added_options"].as_array().unwrap().len(),
        1,
        "{change}"
    );
    let way_in = &change["added_options"][0];
    assert_eq!(way_in["node"], "q1");
    assert_eq!(
        way_in["label"],
        "only the barcodes from the WMS come out empty"
    );
    let added = change["added_nodes"].as_array().unwrap();
    assert_eq!(added.len(), 1, "{change}");
    assert_eq!(added[0]["id"], way_in["next"]);
    assert_eq!(added[0]["type"], "solution");
    assert_eq!(added[0]["text"], FIX);
    for untouched in [
        "changed_nodes",
        "removed_nodes",
        "removed_options",
        "changed_options",
    ] {
        assert_eq!(change[untouched], json!([]), "{untouched}");
    }
    // The proposed document is a whole flow that the library accepts as it is (shown in
    // another account, so this one's matching is not changed by it).
    let proposed = &p["proposed_flow"];
    assert_eq!(
        proposed["nodes"]["q1"]["options"].as_array().unwrap().len(),
        3
    );
    let elsewhere = d.app.register("admin@globex.test", "Globex").await;
    let (status, _) = d
        .app
        .post("/flows", &elsewhere.token, proposed.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let id = p["id"].as_str().unwrap();
    let (status, approved) = d
        .app
        .post(
            &format!("/flow-proposals/{id}/approve"),
            &d.admin.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["published_flow_id"], d.flow_id.as_str());
    assert_eq!(approved["published_version"], 2);
    assert!(approved["decided_by"].is_string());
    assert!(proposals(&d.app, &d.admin, "open").await.is_empty());
    assert_eq!(proposals(&d.app, &d.admin, "approved").await.len(), 1);

    // Approved once: a second decision is a conflict.
    for (action, body) in [
        ("approve", json!({})),
        ("reject", json!({"reason": "late"})),
    ] {
        let (status, body) = d
            .app
            .post(
                &format!("/flow-proposals/{id}/{action}"),
                &d.admin.token,
                body,
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{action}: {body}");
    }

    // The flow is one version on, and its history says which proposal made it.
    let (_, flow) = d
        .app
        .get(&format!("/flows/{}", d.flow_id), &d.admin.token)
        .await;
    assert_eq!(flow["version"], 2);
    let (status, version) = d
        .app
        .get(&format!("/flows/{}/versions/2", d.flow_id), &d.admin.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{version}");
    assert_eq!(version["proposal_id"], id);

    // The next session follows the new branch, offline, to the fix the three found.
    let started = d.app.start_session(&d.eng, INTAKE).await;
    assert_eq!(started["matched_flow_id"], d.flow_id.as_str());
    let step = &started["first_step"];
    let new_value = way_in["value"].as_str().unwrap();
    assert_eq!(option_values(step), ["yes", "no", new_value]);
    let session = started["session_id"].as_str().unwrap();
    let reply = d
        .app
        .respond(&d.eng, session, step, json!({"selected_option": new_value}))
        .await;
    let next = &reply["next_step"];
    assert_eq!(next["step_type"], "resolution_suggestion", "{reply}");
    assert_eq!(next["content"]["content"], FIX, "{next}");
}

async fn a_rejected_proposal_keeps_its_reason_and_leaves_the_flow_alone(backend: Backend) {
    let d = desk(backend).await;
    let session =
        leave_at_q1_and_resolve(&d, "only the barcodes from the WMS come out empty", FIX).await;
    let open = open_with_evidence(&d.app, &d.admin, 1).await;
    let id = open[0]["id"].as_str().unwrap().to_string();

    // Analysing the session again (a retried entry) records nothing more.
    let again = flowpilot_server::proposals::analyse_session(
        &d.app.store,
        uuid::Uuid::parse_str(&session).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        again,
        flowpilot_server::proposals::analysis::Analysed::AlreadyRecorded
    );
    assert_eq!(
        open_with_evidence(&d.app, &d.admin, 1).await[0]["id"],
        id.as_str()
    );
    let path = format!("/flow-proposals/{id}/reject");

    let (status, body) = d
        .app
        .post(&path, &d.admin.token, json!({"reason": "  "}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, rejected) = d
        .app
        .post(
            &path,
            &d.admin.token,
            json!({"reason": "The WMS template sets the darkness; fix it there"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rejected}");
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(
        rejected["reason"],
        "The WMS template sets the darkness; fix it there"
    );
    assert!(rejected["published_flow_id"].is_null());

    assert!(proposals(&d.app, &d.admin, "open").await.is_empty());
    let listed = proposals(&d.app, &d.admin, "rejected").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["evidence_count"], 1);
    let (status, body) = d
        .app
        .get("/flow-proposals?status=pending", &d.admin.token)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (status, body) = d
        .app
        .post(&path, &d.admin.token, json!({"reason": "again"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = d
        .app
        .post(
            &format!("/flow-proposals/{id}/approve"),
            &d.admin.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, flow) = d
        .app
        .get(&format!("/flows/{}", d.flow_id), &d.admin.token)
        .await;
    assert_eq!(flow["version"], 1);

    // The same branch found again later is a new proposal to decide, not the rejected one.
    leave_at_q1_and_resolve(&d, "WMS barcodes only", FIX).await;
    let again = open_with_evidence(&d.app, &d.admin, 1).await;
    assert_ne!(again[0]["id"], id.as_str());
}

async fn a_resolved_session_no_flow_matched_proposes_a_new_flow(backend: Backend) {
    let d = desk(backend).await;
    let intake = "The Sage 200 month-end ledger batch posts every journal twice";
    let started = d.app.start_session(&d.eng, intake).await;
    assert!(started["matched_flow_id"].is_null(), "{started}");
    let id = started["session_id"].as_str().unwrap().to_string();
    let fix =
        "Clear the stuck batch lock in Sage 200 System Administration, then rerun the posting once";
    d.app.resolve(&d.eng, &id, fix).await;

    // The analysis was queued with the resolve, as a durable outbox entry of the session
    // (what a server that stops before running it leaves for the next one).
    let queued = d
        .app
        .store
        .session_outbox(uuid::Uuid::parse_str(&id).unwrap())
        .await
        .unwrap();
    let analysis: Vec<_> = queued
        .iter()
        .filter(|e| e.kind == "flow_analysis")
        .collect();
    assert_eq!(analysis.len(), 1, "{queued:?}");
    assert_eq!(analysis[0].idempotency_key, format!("flow_analysis:{id}"));

    let open = open_with_evidence(&d.app, &d.admin, 1).await;
    let p = &open[0];
    assert_eq!(p["kind"], "new_flow");
    assert!(p["flow_id"].is_null() && p["base_version"].is_null());
    assert_eq!(p["evidence"][0]["session_id"], id.as_str());
    let proposed = &p["proposed_flow"];
    let start = proposed["start"].as_str().unwrap();
    assert_eq!(proposed["nodes"][start]["type"], "solution");
    assert_eq!(proposed["nodes"][start]["text"], fix);
    let added = p["change"]["added_nodes"].as_array().unwrap();
    assert_eq!(added.len(), proposed["nodes"].as_object().unwrap().len());

    let (status, approved) = d
        .app
        .post(
            &format!("/flow-proposals/{}/approve", p["id"].as_str().unwrap()),
            &d.admin.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    let flow_id = approved["published_flow_id"].as_str().unwrap();
    assert_ne!(flow_id, d.flow_id);
    let (status, flow) = d.app.get(&format!("/flows/{flow_id}"), &d.eng.token).await;
    assert_eq!(status, StatusCode::OK, "{flow}");
    assert_eq!(flow["title"], proposed["title"]);
    assert_eq!(flow["account_id"], d.admin.account_id.as_str());
    assert_eq!(flow["version"], 1);
    let (status, first) = d
        .app
        .get(&format!("/flows/{flow_id}/versions/1"), &d.admin.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["proposal_id"], p["id"]);
}

async fn only_account_admins_review_proposals(backend: Backend) {
    let d = desk(backend).await;
    leave_at_q1_and_resolve(&d, "only the barcodes from the WMS come out empty", FIX).await;
    let open = open_with_evidence(&d.app, &d.admin, 1).await;
    let id = open[0]["id"].as_str().unwrap();
    let viewer = d.app.add_user(&d.admin, "viewer@acme.test", "viewer").await;
    let calls = [
        (Method::GET, "/flow-proposals".to_string(), None),
        (Method::GET, format!("/flow-proposals/{id}"), None),
        (
            Method::POST,
            format!("/flow-proposals/{id}/approve"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/flow-proposals/{id}/reject"),
            Some(json!({"reason": "no"})),
        ),
    ];
    for who in [&d.eng, &viewer] {
        for (method, path, body) in &calls {
            let (status, answer) = d
                .app
                .call(method.clone(), path, Some(&who.token), body.clone())
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
        }
    }
    // Another account's admin cannot tell it exists.
    let other = d.app.register("admin@globex.test", "Globex").await;
    let (status, _) = d
        .app
        .get(&format!("/flow-proposals/{id}"), &other.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(proposals(&d.app, &other, "open").await.is_empty());
    let (status, _) = d
        .app
        .post(
            &format!("/flow-proposals/{id}/approve"),
            &other.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Still open for the account's own admin.
    assert_eq!(proposals(&d.app, &d.admin, "open").await.len(), 1);
}

async fn an_edited_flow_is_validated_and_a_flow_that_moved_on_is_not_overwritten(backend: Backend) {
    let d = desk(backend).await;
    leave_at_q1_and_resolve(&d, "only the barcodes from the WMS come out empty", FIX).await;
    let open = open_with_evidence(&d.app, &d.admin, 1).await;
    let id = open[0]["id"].as_str().unwrap();
    let approve = format!("/flow-proposals/{id}/approve");

    // An edit that points an option at a node that does not exist: the validator's errors.
    let mut broken = open[0]["proposed_flow"].clone();
    broken["nodes"]["q1"]["options"][2]["next"] = json!("nowhere");
    let (status, body) = d
        .app
        .post(&approve, &d.admin.token, json!({"flow": broken}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let text = body.to_string();
    assert!(
        text.contains("nowhere") && text.contains("\"flow\""),
        "{body}"
    );
    let (status, body) = d
        .app
        .post(
            &approve,
            &d.admin.token,
            json!({"flow": "a string is no flow"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(proposals(&d.app, &d.admin, "open").await.len(), 1);

    // Someone edits the flow meanwhile: approving would undo their change.
    let mut renamed = label_flow();
    renamed["title"] = json!("Zebra labels come out blank");
    renamed["version"] = json!(1);
    let (status, body) = d
        .app
        .call(
            Method::PUT,
            &format!("/flows/{}", d.flow_id),
            Some(&d.admin.token),
            Some(renamed),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, stale) = d
        .app
        .get(&format!("/flow-proposals/{id}"), &d.admin.token)
        .await;
    assert_eq!(stale["stale"], true);
    assert_eq!(stale["current_version"], 2);
    let (status, body) = d.app.post(&approve, &d.admin.token, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(proposals(&d.app, &d.admin, "open").await.len(), 1);

    // An edit made on the current version is what gets published.
    let mut edited = stale["proposed_flow"].clone();
    edited["title"] = json!("Zebra labels come out blank");
    edited["nodes"]["q1"]["options"][2]["label"] = json!("Only the WMS barcodes are blank");
    // The next session finding the branch re-bases the proposal on the current version.
    leave_at_q1_and_resolve(&d, "WMS barcodes only", FIX).await;
    let rebased = open_with_evidence(&d.app, &d.admin, 2).await;
    assert_eq!(rebased[0]["base_version"], 2);
    assert_eq!(rebased[0]["stale"], false);
    let (status, approved) = d
        .app
        .post(&approve, &d.admin.token, json!({"flow": edited}))
        .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["published_version"], 3);
    let (_, flow) = d
        .app
        .get(&format!("/flows/{}", d.flow_id), &d.admin.token)
        .await;
    assert_eq!(flow["title"], "Zebra labels come out blank");
    assert_eq!(
        flow["nodes"]["q1"]["options"][2]["label"],
        "Only the WMS barcodes are blank"
    );
}
