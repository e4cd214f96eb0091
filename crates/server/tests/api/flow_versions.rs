//! memory.md "Versions": every change to a flow keeps the version before it (who, when,
//! why); `PUT` names the version it edits and a stale one is refused with 409; sessions keep
//! following the version they matched; nodes an LLM wrote stay unreviewed until an admin
//! approves them; the built-in library stays read-only.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Backend, Member, TestApp};
use crate::stories;

stories!(
    an_edit_of_the_current_version_publishes_the_next_and_lists_the_old_one,
    of_two_edits_of_the_same_version_one_wins_and_the_other_gets_409,
    if_match_and_the_body_version_both_name_the_version_edited,
    a_session_started_before_a_change_keeps_following_its_version,
    built_in_flows_stay_read_only_and_versions_are_as_visible_as_their_flow,
    unreviewed_marks_are_cleared_by_an_admin_only,
);

const INTAKE: &str = "Our Zebra thermal label printer feeds the labels but they come out blank";
const OLD_ACTION: &str =
    "Reinstall the ZDesigner driver and set the media type to thermal transfer.";
const NEW_ACTION: &str = "Clean the printhead with isopropyl alcohol, then print a test label.";

fn label_flow(title: &str) -> Value {
    json!({
        "title": title,
        "description": "The Zebra thermal label printer feeds labels but prints nothing on them.",
        "domain": "label_printing",
        "tags": ["zebra", "thermal", "labels"],
        "start": "q1",
        "nodes": {
            "q1": {"type": "question", "text": "Does the printer's own test label print?",
                   "options": [{"label": "Yes", "value": "yes", "next": "a1"},
                               {"label": "No", "value": "no", "next": "e1"}]},
            "a1": {"type": "action", "text": OLD_ACTION,
                   "expected_outcome": "Labels print", "next": "s1", "on_failure": "e1"},
            "s1": {"type": "solution", "text": "Wrong media type in the driver."},
            "e1": {"type": "escalate", "text": "Printhead fault: send to the vendor."}
        }
    })
}

async fn create(app: &TestApp, who: &Member, flow: Value) -> String {
    let (status, body) = app.post("/flows", &who.token, flow).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["version"], 1);
    body["id"].as_str().unwrap().to_string()
}

/// A `PUT /flows/{id}` with an optional `If-Match`; the status, the body and the `ETag`.
async fn put(
    app: &TestApp,
    who: &Member,
    id: &str,
    if_match: Option<&str>,
    body: Value,
) -> (StatusCode, Value, Option<String>) {
    let mut req = app
        .client
        .request(Method::PUT, app.url(&format!("/flows/{id}")))
        .bearer_auth(&who.token)
        .json(&body);
    if let Some(tag) = if_match {
        req = req.header("If-Match", tag);
    }
    let resp = req.send().await.expect("request");
    let etag = resp
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let (status, body) = TestApp::read(resp).await;
    (status, body, etag)
}

async fn versions(app: &TestApp, who: &Member, id: &str) -> Vec<Value> {
    let (status, list) = app.get(&format!("/flows/{id}/versions"), &who.token).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list.as_array().unwrap().clone()
}

fn numbers(list: &[Value]) -> Vec<i64> {
    list.iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect()
}

async fn an_edit_of_the_current_version_publishes_the_next_and_lists_the_old_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let eng = app.add_user(&admin, "eng@acme.test", "engineer").await;
    let viewer = app.add_user(&admin, "viewer@acme.test", "viewer").await;
    let id = create(&app, &eng, label_flow("Blank Zebra labels")).await;

    let mut edit = label_flow("Blank Zebra labels, printhead first");
    edit["nodes"]["a1"]["text"] = json!(NEW_ACTION);
    edit["why"] = json!("Most blank labels this quarter were a dirty printhead");
    let (status, updated, etag) = put(&app, &eng, &id, Some("\"1\""), edit).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["version"], 2);
    assert_eq!(etag.as_deref(), Some("\"2\""));
    assert_eq!(updated["nodes"]["a1"]["text"], NEW_ACTION);

    // Whoever sees the flow sees its history, newest first, with who, when and why.
    let list = versions(&app, &viewer, &id).await;
    assert_eq!(numbers(&list), [2, 1]);
    assert_eq!(list[0]["changed_by"]["id"], eng.id.as_str());
    assert_eq!(list[0]["changed_by"]["name"], "User eng@acme.test");
    assert_eq!(
        list[0]["why"],
        "Most blank labels this quarter were a dirty printhead"
    );
    assert!(list[0]["proposal_id"].is_null());
    assert_eq!(list[1]["changed_by"]["id"], eng.id.as_str());
    assert!(list[1]["why"].is_null());
    assert!(list[0]["changed_at"].as_str().unwrap() >= list[1]["changed_at"].as_str().unwrap());

    let (status, old) = app
        .get(&format!("/flows/{id}/versions/1"), &viewer.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{old}");
    assert_eq!(old["version"], 1);
    assert_eq!(old["flow_id"], id.as_str());
    assert_eq!(old["title"], "Blank Zebra labels");
    assert_eq!(old["nodes"]["a1"]["text"], OLD_ACTION);
    let (_, new) = app
        .get(&format!("/flows/{id}/versions/2"), &viewer.token)
        .await;
    assert_eq!(new["title"], "Blank Zebra labels, printhead first");
    assert_eq!(new["nodes"]["a1"]["text"], NEW_ACTION);
    for missing in ["3", "0", "-1", "two"] {
        let (status, body) = app
            .get(&format!("/flows/{id}/versions/{missing}"), &viewer.token)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}: {body}");
    }

    // A stale edit writes nothing and names the version to start again from.
    let (status, body, etag) = put(&app, &eng, &id, Some("\"1\""), label_flow("Too late")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["detail"]["current_version"], 2);
    assert_eq!(etag.as_deref(), Some("\"2\""));
    let (_, now) = app.get(&format!("/flows/{id}"), &eng.token).await;
    assert_eq!(now["version"], 2);
    assert_eq!(now["title"], "Blank Zebra labels, printhead first");
    assert_eq!(numbers(&versions(&app, &eng, &id).await), [2, 1]);
}

async fn of_two_edits_of_the_same_version_one_wins_and_the_other_gets_409(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let eng = app.add_user(&admin, "eng@acme.test", "engineer").await;
    let id = create(&app, &eng, label_flow("Blank Zebra labels")).await;

    for round in 1..=3_i64 {
        let mut mine = label_flow(&format!("Engineer's edit {round}"));
        mine["version"] = json!(round);
        let mut theirs = label_flow(&format!("Admin's edit {round}"));
        theirs["version"] = json!(round);
        let (a, b) = tokio::join!(
            put(&app, &eng, &id, None, mine),
            put(&app, &admin, &id, None, theirs)
        );
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "round {round}: {} / {}",
            a.1,
            b.1
        );
        let (winner, loser) = if a.0 == StatusCode::OK {
            (a, b)
        } else {
            (b, a)
        };
        assert_eq!(winner.1["version"], round + 1);
        assert_eq!(loser.1["detail"]["current_version"], round + 1);
        let (_, now) = app.get(&format!("/flows/{id}"), &eng.token).await;
        assert_eq!(now["title"], winner.1["title"]);
    }
    // One version per winning edit, nothing from the refused ones.
    assert_eq!(numbers(&versions(&app, &eng, &id).await), [4, 3, 2, 1]);
}

async fn if_match_and_the_body_version_both_name_the_version_edited(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let id = create(&app, &admin, label_flow("v1")).await;

    // Quoted and bare If-Match, a number and a string in the body.
    let (status, body, _) = put(&app, &admin, &id, Some("\"1\""), label_flow("v2")).await;
    assert_eq!(
        (status, body["version"].clone()),
        (StatusCode::OK, json!(2)),
        "{body}"
    );
    let (status, body, _) = put(&app, &admin, &id, Some("2"), label_flow("v3")).await;
    assert_eq!(
        (status, body["version"].clone()),
        (StatusCode::OK, json!(3)),
        "{body}"
    );
    let mut numbered = label_flow("v4");
    numbered["version"] = json!(3);
    let (status, body, _) = put(&app, &admin, &id, None, numbered).await;
    assert_eq!(
        (status, body["version"].clone()),
        (StatusCode::OK, json!(4)),
        "{body}"
    );
    let mut spelled = label_flow("v5");
    spelled["version"] = json!("4");
    let (status, body, _) = put(&app, &admin, &id, None, spelled).await;
    assert_eq!(
        (status, body["version"].clone()),
        (StatusCode::OK, json!(5)),
        "{body}"
    );

    // What GET answers can be sent back as it is: its version is the one it edits.
    let (_, mut fetched) = app.get(&format!("/flows/{id}"), &admin.token).await;
    fetched["title"] = json!("v6");
    let (status, body, _) = put(&app, &admin, &id, None, fetched.clone()).await;
    assert_eq!(
        (status, body["version"].clone()),
        (StatusCode::OK, json!(6)),
        "{body}"
    );
    let (status, body, _) = put(&app, &admin, &id, None, fetched).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // If-Match wins over the body; a malformed one is a 422, not a guess.
    let mut stale_body = label_flow("v7");
    stale_body["version"] = json!(1);
    let (status, body, _) = put(&app, &admin, &id, Some("\"6\""), stale_body).await;
    assert_eq!(
        (status, body["version"].clone()),
        (StatusCode::OK, json!(7)),
        "{body}"
    );
    let (status, body, _) = put(&app, &admin, &id, Some("\"6\""), label_flow("v8")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    for bad in ["\"seven\"", "0", "-3"] {
        let (status, body, _) = put(&app, &admin, &id, Some(bad), label_flow("v8")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
    for bad in [json!("seven"), json!(0), json!(2.5), json!({"n": 7})] {
        let mut body = label_flow("v8");
        body["version"] = bad.clone();
        let (status, reply, _) = put(&app, &admin, &id, None, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {reply}");
        assert_eq!(
            reply["detail"][0]["loc"],
            json!(["body", "version"]),
            "{reply}"
        );
    }
    let (_, now) = app.get(&format!("/flows/{id}"), &admin.token).await;
    assert_eq!(
        (now["version"].clone(), now["title"].clone()),
        (json!(7), json!("v7"))
    );
}

/// The text of the step after answering "yes" to the first question (the flow's action).
async fn action_after_yes(app: &TestApp, who: &Member, started: &Value) -> String {
    let session = started["session_id"].as_str().unwrap();
    let reply = app
        .respond(
            who,
            session,
            &started["first_step"],
            json!({"selected_option": "yes"}),
        )
        .await;
    reply["next_step"]["content"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn a_session_started_before_a_change_keeps_following_its_version(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let id = create(
        &app,
        &admin,
        label_flow("Zebra label printer prints blank labels"),
    )
    .await;
    let before = app.start_session(&admin, INTAKE).await;
    assert_eq!(before["matched_flow_id"], id.as_str(), "{before}");
    assert_eq!(before["matched_flow_version"], 1, "{before}");
    let session = before["session_id"].as_str().unwrap();
    let act = |what: &str| format!("/ai-sessions/{session}/{what}");
    let (status, body) = app
        .call(Method::POST, &act("pause"), Some(&admin.token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mut edit = label_flow("Zebra label printer prints blank labels");
    edit["nodes"]["a1"]["text"] = json!(NEW_ACTION);
    let (status, body, _) = put(&app, &admin, &id, Some("\"1\""), edit).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Resumed after the change, the session still follows version 1.
    let (status, body) = app
        .call(Method::POST, &act("resume"), Some(&admin.token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let action = action_after_yes(&app, &admin, &before).await;
    assert!(action.contains("ZDesigner"), "{action}");
    assert!(!action.contains("isopropyl"), "{action}");
    let (_, detail) = app
        .get(&format!("/ai-sessions/{session}"), &admin.token)
        .await;
    assert_eq!(detail["matched_flow_version"], 1, "{detail}");

    // A session started now follows version 2.
    let after = app.start_session(&admin, INTAKE).await;
    assert_eq!(after["matched_flow_version"], 2, "{after}");
    let action = action_after_yes(&app, &admin, &after).await;
    assert!(action.contains("isopropyl"), "{action}");
}

async fn built_in_flows_stay_read_only_and_versions_are_as_visible_as_their_flow(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme = app.register("admin@acme.test", "Acme").await;
    let globex = app.register("admin@globex.test", "Globex").await;
    let (_, list) = app.get("/flows?q=outlook&limit=100", &acme.token).await;
    let builtin = list
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["account_id"].is_null())
        .expect("a built-in flow")
        .clone();
    let builtin_id = builtin["id"].as_str().unwrap();
    let version = builtin["version"].as_i64().unwrap();
    let tag = format!("\"{version}\"");
    let (status, body, _) = put(&app, &acme, builtin_id, Some(&tag), label_flow("Hijack")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let history = versions(&app, &globex, builtin_id).await;
    assert_eq!(numbers(&history), [version]);
    assert!(history[0]["changed_by"].is_null(), "{history:?}");
    let (status, kept) = app
        .get(
            &format!("/flows/{builtin_id}/versions/{version}"),
            &globex.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{kept}");
    assert_eq!(kept["title"], builtin["title"]);
    assert_eq!(kept["nodes"], builtin["nodes"]);

    // Another account's flow and its versions do not exist for Globex.
    let own = create(&app, &acme, label_flow("Acme labels")).await;
    for path in [
        format!("/flows/{own}/versions"),
        format!("/flows/{own}/versions/1"),
    ] {
        let (status, body) = app.get(&path, &globex.token).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let (status, body, _) = put(&app, &globex, &own, Some("\"1\""), label_flow("Mine")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = app
        .get(
            &format!("/flows/{}/versions", uuid::Uuid::new_v4()),
            &acme.token,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn unreviewed_marks_are_cleared_by_an_admin_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let eng = app.add_user(&admin, "eng@acme.test", "engineer").await;
    let mut drafted = label_flow("Blank Zebra labels");
    drafted["nodes"]["s1"]["unreviewed"] = json!(true);
    let id = create(&app, &eng, drafted).await;
    let (_, flow) = app.get(&format!("/flows/{id}"), &eng.token).await;
    assert_eq!(flow["nodes"]["s1"]["unreviewed"], true, "{flow}");
    // Nodes without the mark carry no field at all.
    assert!(flow["nodes"]["a1"].get("unreviewed").is_none(), "{flow}");

    // The engineer's edit leaves the mark off; it stays, for an admin to review.
    let (status, body, _) = put(&app, &eng, &id, Some("\"1\""), label_flow("Edited")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["nodes"]["s1"]["unreviewed"], true, "{body}");
    let history = versions(&app, &eng, &id).await;
    assert_eq!(history[0]["unreviewed_nodes"], 1);

    // The admin's document is taken as it says: without the mark, the node is reviewed.
    let (status, body, _) = put(&app, &admin, &id, Some("\"2\""), label_flow("Reviewed")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["nodes"]["s1"].get("unreviewed").is_none(), "{body}");
    let mut marked = label_flow("Marked again");
    marked["nodes"]["a1"]["unreviewed"] = json!(true);
    let (status, body, _) = put(&app, &admin, &id, Some("\"3\""), marked).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["nodes"]["a1"]["unreviewed"], true, "{body}");

    // Each version keeps the marks it had.
    let (_, v2) = app
        .get(&format!("/flows/{id}/versions/2"), &eng.token)
        .await;
    assert_eq!(v2["nodes"]["s1"]["unreviewed"], true, "{v2}");
    let (_, v3) = app
        .get(&format!("/flows/{id}/versions/3"), &eng.token)
        .await;
    assert!(v3["nodes"]["s1"].get("unreviewed").is_none(), "{v3}");
}
