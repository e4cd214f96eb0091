//! The flow library through the API: CRUD by role, the read-only built-in library, tenancy,
//! validation, import/export and matching.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{fresh_database, spawn_app, spawn_on, Backend, Member, TestApp};
use crate::stories;

stories!(
    flows_are_created_read_updated_and_deleted_by_the_right_roles,
    built_in_flows_are_read_only_and_other_accounts_flows_are_invisible,
    an_invalid_graph_is_refused_naming_the_node,
    the_list_filters_pages_and_counts,
    import_takes_json_and_yaml_all_or_nothing,
    export_round_trips_through_import,
    match_ranks_the_library_with_signals_and_domains_count_it,
    a_new_flow_is_matchable_at_once_on_every_server_and_sessions_use_it,
    a_flow_edited_on_another_server_guides_the_next_session_and_not_a_running_one,
    match_and_session_start_make_the_same_decision_on_a_fresh_install,
    openapi_describes_the_flow_endpoints,
);

/// A small valid flow about a problem no built-in flow covers.
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
            "a1": {"type": "action", "text": "Reinstall the ZDesigner driver and set the media type to thermal transfer.",
                   "expected_outcome": "Labels print", "next": "s1", "on_failure": "e1"},
            "s1": {"type": "solution", "text": "Wrong media type in the driver.", "follow_up": ["Document the driver settings"]},
            "e1": {"type": "escalate", "text": "Printhead fault: send to the vendor."}
        }
    })
}

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    app.call(Method::PUT, path, Some(token), Some(body)).await
}

async fn delete(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    app.call(Method::DELETE, path, Some(token), None).await
}

async fn create(app: &TestApp, who: &Member, flow: Value) -> Value {
    let (status, body) = app.post("/flows", &who.token, flow).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

/// Sends a raw body with a content type (YAML import).
async fn send_raw(
    app: &TestApp,
    path: &str,
    token: &str,
    content_type: &str,
    body: &str,
) -> (StatusCode, Value) {
    let resp = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    TestApp::read(resp).await
}

/// The raw text and content type of an export.
async fn export(app: &TestApp, who: &Member, format: &str) -> (String, String) {
    let resp = app
        .client
        .get(app.url(&format!("/flows/export?format={format}")))
        .bearer_auth(&who.token)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    (resp.text().await.unwrap(), ct)
}

fn loc_mentions(body: &Value, needle: &str) -> bool {
    body["detail"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e["loc"].to_string().contains(needle))
}

async fn flows_are_created_read_updated_and_deleted_by_the_right_roles(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let eng = app.add_user(&admin, "eng@acme.test", "engineer").await;
    let other = app.add_user(&admin, "other@acme.test", "engineer").await;
    let viewer = app.add_user(&admin, "viewer@acme.test", "viewer").await;

    let (status, body) = app
        .post("/flows", &viewer.token, label_flow("Blank labels"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let flow = create(&app, &eng, label_flow("Blank labels")).await;
    for key in [
        "id",
        "account_id",
        "title",
        "description",
        "domain",
        "tags",
        "status",
        "start",
        "nodes",
        "version",
        "usage_count",
        "success_rate",
        "last_matched_at",
        "created_by",
        "created_at",
        "updated_at",
    ] {
        assert!(flow.get(key).is_some(), "{key} missing from {flow}");
    }
    assert_eq!(flow["account_id"], admin.account_id.as_str());
    assert_eq!(flow["created_by"], eng.id.as_str());
    assert_eq!(flow["version"], 1);
    assert_eq!(flow["status"], "published");
    assert_eq!(flow["usage_count"], 0);
    assert!(flow["success_rate"].is_null());
    assert_eq!(flow["nodes"]["q1"]["type"], "question");
    let path = format!("/flows/{}", flow["id"].as_str().unwrap());

    let (status, got) = app.get(&path, &viewer.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, flow);

    // Viewers never write; an engineer who did not create it may not change it.
    for who in [&viewer, &other] {
        let (status, body) = put(&app, &path, &who.token, label_flow("Renamed")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    let (status, updated) = put(&app, &path, &eng.token, label_flow("Blank Zebra labels")).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["title"], "Blank Zebra labels");
    assert_eq!(updated["id"], flow["id"]);
    assert_eq!(updated["created_at"], flow["created_at"]);
    let mut draft = label_flow("Blank Zebra labels (draft)");
    draft["status"] = json!("draft");
    let (status, updated) = put(&app, &path, &admin.token, draft).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["version"], 3);
    assert_eq!(updated["status"], "draft");

    // Only an admin deletes.
    for who in [&viewer, &eng] {
        let (status, body) = delete(&app, &path, &who.token).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    let (status, body) = delete(&app, &path, &admin.token).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = app.get(&path, &admin.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = delete(&app, &path, &admin.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn built_in_flows_are_read_only_and_other_accounts_flows_are_invisible(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme = app.register("admin@acme.test", "Acme").await;
    let globex = app.register("admin@globex.test", "Globex").await;

    let (status, list) = app.get("/flows?q=outlook&limit=100", &acme.token).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let builtin = list
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["title"] == "Outlook keeps asking for a password")
        .expect("the built-in Outlook flow")
        .clone();
    assert!(builtin["account_id"].is_null());
    let path = format!("/flows/{}", builtin["id"].as_str().unwrap());
    let (status, _) = app.get(&path, &globex.token).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = put(&app, &path, &acme.token, label_flow("Hijack")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = delete(&app, &path, &acme.token).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, still) = app.get(&path, &acme.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(still["version"], builtin["version"]);

    let own = create(&app, &acme, label_flow("Acme labels")).await;
    let own_path = format!("/flows/{}", own["id"].as_str().unwrap());
    let (status, _) = app.get(&own_path, &globex.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = put(&app, &own_path, &globex.token, label_flow("Mine now")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = delete(&app, &own_path, &globex.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, list) = app.get("/flows?domain=label_printing", &globex.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list, json!([]));
    let (status, _) = app
        .get(&format!("/flows/{}", uuid::Uuid::new_v4()), &acme.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn an_invalid_graph_is_refused_naming_the_node(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let mut broken = label_flow("Broken");
    broken["nodes"]["a1"]["next"] = json!("ghost");
    let (status, body) = app.post("/flows", &admin.token, broken.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(loc_mentions(&body, "\"a1\""), "{body}");

    let mut cyclic = label_flow("Cyclic");
    cyclic["nodes"]["a1"]["on_failure"] = json!("q1");
    let (status, body) = app.post("/flows", &admin.token, cyclic).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (status, body) = app
        .post("/flows", &admin.token, json!({"title": "No nodes"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let flow = create(&app, &admin, label_flow("Fine")).await;
    let path = format!("/flows/{}", flow["id"].as_str().unwrap());
    let (status, body) = put(&app, &path, &admin.token, broken).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(loc_mentions(&body, "\"a1\""), "{body}");
    let (_, unchanged) = app.get(&path, &admin.token).await;
    assert_eq!(unchanged["version"], 1);
    assert_eq!(unchanged["title"], "Fine");
}

async fn the_list_filters_pages_and_counts(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    create(&app, &admin, label_flow("Alpha labels")).await;
    let mut draft = label_flow("Beta labels");
    draft["status"] = json!("draft");
    draft["tags"] = json!(["ribbon"]);
    create(&app, &admin, draft).await;

    let resp = app
        .client
        .get(app.url("/flows?limit=5"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    let total: usize = resp.headers()["x-total-count"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let (status, page) = TestApp::read(resp).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page.as_array().unwrap().len(), 5);
    assert!(total > 50, "built-in library plus two: {total}");

    let (_, mine) = app.get("/flows?domain=label_printing", &admin.token).await;
    let titles: Vec<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Alpha labels", "Beta labels"]);
    let (_, drafts) = app.get("/flows?status=draft", &admin.token).await;
    assert_eq!(drafts.as_array().unwrap().len(), 1);
    assert_eq!(drafts[0]["title"], "Beta labels");
    let (_, by_tag) = app.get("/flows?q=RIBBON", &admin.token).await;
    assert_eq!(by_tag.as_array().unwrap().len(), 1);
    let (_, second) = app
        .get("/flows?domain=label_printing&skip=1&limit=1", &admin.token)
        .await;
    assert_eq!(second[0]["title"], "Beta labels");

    for bad in [
        "limit=0",
        "limit=101",
        "skip=-1",
        "status=archived",
        "limit=x",
    ] {
        let (status, body) = app.get(&format!("/flows?{bad}"), &admin.token).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(body["detail"][0]["loc"][0], "query", "{bad}: {body}");
    }
}

async fn own_count(app: &TestApp, who: &Member) -> usize {
    let (_, list) = app.get("/flows?domain=label_printing", &who.token).await;
    list.as_array().unwrap().len()
}

async fn import_takes_json_and_yaml_all_or_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let viewer = app.add_user(&admin, "viewer@acme.test", "viewer").await;

    let (status, body) = app
        .post(
            "/flows/import",
            &admin.token,
            json!([label_flow("One"), label_flow("Two")]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["imported"], 2);
    assert_eq!(body["ids"].as_array().unwrap().len(), 2);
    let (status, first) = app
        .get(
            &format!("/flows/{}", body["ids"][0].as_str().unwrap()),
            &admin.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["title"], "One");
    assert_eq!(first["created_by"], admin.id.as_str());

    let yaml = "title: Three\ndomain: label_printing\nstart: s1\nnodes:\n  s1: {type: solution, text: Replace the ribbon}\n---\n- title: Four\n  domain: label_printing\n  start: e1\n  nodes:\n    e1: {type: escalate, text: Call the vendor}\n";
    let (status, body) = send_raw(
        &app,
        "/flows/import",
        &admin.token,
        "application/yaml",
        yaml,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["imported"], 2);
    assert_eq!(own_count(&app, &admin).await, 4);

    // One bad flow anywhere: nothing is imported and the error names the flow and the node.
    let mut bad = label_flow("Bad");
    bad["nodes"]["q1"]["options"][1]["next"] = json!("nowhere");
    let (status, body) = app
        .post(
            "/flows/import",
            &admin.token,
            json!([label_flow("Five"), bad]),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["loc"][0], "body");
    assert_eq!(body["detail"][0]["loc"][1], 1, "{body}");
    assert!(loc_mentions(&body, "\"q1\""), "{body}");
    let (status, body) = app
        .post(
            "/flows/import",
            &admin.token,
            json!([label_flow("Six"), {"title": "No graph"}]),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["loc"][1], 1, "{body}");
    let bad_yaml = "title: Seven\ndomain: label_printing\nstart: s1\nnodes:\n  s1: {type: solution, text: Fine}\n---\ntitle: Eight\ndomain: label_printing\nstart: missing\nnodes:\n  s1: {type: solution, text: Fine}\n";
    let (status, body) = send_raw(
        &app,
        "/flows/import",
        &admin.token,
        "application/yaml",
        bad_yaml,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["loc"][1], 1, "{body}");
    assert_eq!(own_count(&app, &admin).await, 4);

    let (status, _) = send_raw(
        &app,
        "/flows/import",
        &admin.token,
        "application/json",
        "[{",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.post("/flows/import", &admin.token, json!([])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app
        .post("/flows/import", &viewer.token, json!([label_flow("Nope")]))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(own_count(&app, &admin).await, 4);
}

async fn export_round_trips_through_import(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme = app.register("admin@acme.test", "Acme").await;
    let globex = app.register("admin@globex.test", "Globex").await;
    create(&app, &acme, label_flow("Alpha labels")).await;
    let mut draft = label_flow("Beta labels");
    draft["status"] = json!("draft");
    create(&app, &acme, draft).await;

    let (json_text, ct) = export(&app, &acme, "json").await;
    assert!(ct.starts_with("application/json"), "{ct}");
    let exported: Value = serde_json::from_str(&json_text).unwrap();
    let items = exported.as_array().unwrap();
    assert_eq!(items.len(), 2, "only the account's own flows: {exported}");
    assert_eq!(items[0]["title"], "Alpha labels");
    assert!(
        items[0].get("id").is_none(),
        "definitions only: {}",
        items[0]
    );

    let (yaml_text, ct) = export(&app, &acme, "yaml").await;
    assert!(ct.starts_with("application/yaml"), "{ct}");
    let (status, body) = send_raw(
        &app,
        "/flows/import",
        &globex.token,
        "application/yaml",
        &yaml_text,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["imported"], 2);
    let (again, _) = export(&app, &globex, "json").await;
    assert_eq!(serde_json::from_str::<Value>(&again).unwrap(), exported);

    let (status, body) = app
        .post("/flows/import", &globex.token, exported.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (status, body) = app.get("/flows/export?format=xml", &acme.token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

async fn match_ranks_the_library_with_signals_and_domains_count_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme = app.register("admin@acme.test", "Acme").await;
    let globex = app.register("admin@globex.test", "Globex").await;

    let (status, found) = app
        .post(
            "/flows/match",
            &acme.token,
            json!({"text": "Outlook on my laptop won't stop popping up the password box even though the password is right"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let best = &found[0];
    assert_eq!(
        best["title"], "Outlook keeps asking for a password",
        "{found}"
    );
    assert_eq!(best["domain"], "email_m365");
    assert!(best["flow_id"].is_string());
    assert!(best["score"].as_f64().unwrap() > 0.5, "{found}");
    assert!(best["signals"]["keyword"].as_f64().unwrap() > 0.0);
    assert!(best["signals"]["recency"].is_number());
    assert!(best["signals"].get("semantic").is_some(), "{found}");
    assert!(found.as_array().unwrap().len() <= 3);

    let (status, found) = app
        .post(
            "/flows/match",
            &acme.token,
            json!({"text": "Outlook password prompts", "domain": "printing", "limit": 20}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        found
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["domain"] == "printing"),
        "{found}"
    );

    for bad in [
        json!({"text": "  "}),
        json!({"text": "x", "limit": 0}),
        json!({"text": "x", "limit": 21}),
        json!({}),
    ] {
        let (status, body) = app.post("/flows/match", &acme.token, bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }

    let (status, domains) = app.get("/flows/domains", &acme.token).await;
    assert_eq!(status, StatusCode::OK, "{domains}");
    let email = domains
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["domain"] == "email_m365")
        .expect("email_m365 listed");
    assert!(email["count"].as_i64().unwrap() >= 2, "{domains}");
    let counts: Vec<i64> = domains
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["count"].as_i64().unwrap())
        .collect();
    assert!(
        counts.windows(2).all(|w| w[0] >= w[1]),
        "most flows first: {domains}"
    );

    create(&app, &acme, label_flow("Blank labels")).await;
    let (_, domains) = app.get("/flows/domains", &acme.token).await;
    assert!(
        domains
            .as_array()
            .unwrap()
            .contains(&json!({"domain": "label_printing", "count": 1})),
        "{domains}"
    );
    let (_, theirs) = app.get("/flows/domains", &globex.token).await;
    assert!(!theirs.to_string().contains("label_printing"), "{theirs}");
}

async fn a_flow_edited_on_another_server_guides_the_next_session_and_not_a_running_one(
    backend: Backend,
) {
    let (url, dir) = fresh_database(backend).await;
    let first = spawn_on(url.clone(), dir, |_| {}).await;
    let second = spawn_on(url, None, |_| {}).await;
    let acme = first.register("admin@acme.test", "Acme").await;
    let title = "Zebra label printer prints blank labels";
    let flow = create(&first, &acme, label_flow(title)).await;
    let started = second
        .start_session(
            &acme,
            "Our Zebra thermal label printer feeds the labels but they come out blank",
        )
        .await;
    assert_eq!(started["matched_flow_id"], flow["id"], "{started}");

    // The action the next step shows is rewritten on the other server mid-session.
    let mut edited = label_flow(title);
    edited["nodes"]["a1"]["text"] =
        json!("Clean the printhead with isopropyl alcohol, then print a test label.");
    let path = format!("/flows/{}", flow["id"].as_str().unwrap());
    let (status, body) = put(&first, &path, &acme.token, edited).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let session = started["session_id"].as_str().unwrap();
    let (status, answered) = second
        .post(
            &format!("/ai-sessions/{session}/respond"),
            &acme.token,
            json!({"step_id": started["first_step"]["step_id"], "selected_option": "yes"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    let action = answered["next_step"]["content"]["content"]
        .as_str()
        .unwrap_or_default();
    // The running session keeps the version it matched (memory.md "Versions")…
    assert!(action.contains("ZDesigner"), "{answered}");
    assert!(!action.contains("isopropyl"), "{answered}");

    // …and the next session, started on the other server, follows the edit.
    let next = second
        .start_session(
            &acme,
            "Our Zebra thermal label printer feeds the labels but they come out blank",
        )
        .await;
    assert_eq!(next["matched_flow_version"], 2, "{next}");
    let session = next["session_id"].as_str().unwrap();
    let (status, answered) = second
        .post(
            &format!("/ai-sessions/{session}/respond"),
            &acme.token,
            json!({"step_id": next["first_step"]["step_id"], "selected_option": "yes"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    let action = answered["next_step"]["content"]["content"]
        .as_str()
        .unwrap_or_default();
    assert!(action.contains("isopropyl"), "{answered}");
}

async fn a_new_flow_is_matchable_at_once_on_every_server_and_sessions_use_it(backend: Backend) {
    let (url, dir) = fresh_database(backend).await;
    let first = spawn_on(url.clone(), dir, |_| {}).await;
    let second = spawn_on(url, None, |_| {}).await;
    let acme = first.register("admin@acme.test", "Acme").await;
    let globex = first.register("admin@globex.test", "Globex").await;
    let intake = "Our Zebra thermal label printer feeds the labels but they come out blank";

    // Warm both indexes first, so the new flow must arrive through a refresh.
    for app in [&first, &second] {
        let (status, _) = app
            .post("/flows/match", &acme.token, json!({"text": intake}))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let flow = create(
        &first,
        &acme,
        label_flow("Zebra label printer prints blank labels"),
    )
    .await;
    for app in [&first, &second] {
        let (status, found) = app
            .post("/flows/match", &acme.token, json!({"text": intake}))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(found[0]["flow_id"], flow["id"], "{found}");
    }
    let (_, theirs) = second
        .post("/flows/match", &globex.token, json!({"text": intake}))
        .await;
    assert!(
        !theirs.to_string().contains(flow["id"].as_str().unwrap()),
        "{theirs}"
    );

    let started = second.start_session(&acme, intake).await;
    assert_eq!(started["matched_flow_id"], flow["id"], "{started}");
    let session = started["session_id"].as_str().unwrap();

    // Deleting the flow leaves the session's history alone, and it no longer matches.
    let (status, _) = delete(
        &first,
        &format!("/flows/{}", flow["id"].as_str().unwrap()),
        &acme.token,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, detail) = first
        .get(&format!("/ai-sessions/{session}"), &acme.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(
        detail["matched_flow_name"],
        "Zebra label printer prints blank labels"
    );
    let (_, found) = second
        .post("/flows/match", &acme.token, json!({"text": intake}))
        .await;
    assert!(
        !found.to_string().contains(flow["id"].as_str().unwrap()),
        "{found}"
    );
}

/// On a fresh install every built-in flow was loaded today, so recency cannot tell flows
/// apart; what matters is that it cannot make one match either (flows.md "Matching").
async fn match_and_session_start_make_the_same_decision_on_a_fresh_install(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme = app.register("admin@acme.test", "Acme").await;
    // Five cases: session starts are limited to five a minute.
    let cases = [
        (
            "outlook constantly prompting for the password, modern auth",
            true,
        ),
        (
            "print jobs stuck in queue wont delete, nothing printing",
            true,
        ),
        (
            "cumulative update fails with 0x800f0922 every month on this pc",
            true,
        ),
        ("Sage 200 month-end batch stuck posting", false),
        ("BizTalk host instance keeps stopping", false),
    ];
    for (text, in_scope) in cases {
        let (status, found) = app
            .post("/flows/match", &acme.token, json!({"text": text}))
            .await;
        assert_eq!(status, StatusCode::OK, "{found}");
        let listed_first = found[0]["flow_id"].clone();
        assert_eq!(listed_first.is_string(), in_scope, "{text}: {found}");
        if let Some(first) = found.as_array().and_then(|f| f.first()) {
            assert_eq!(first["signals"]["recency"], 1.0, "{found}");
            let score = first["score"].as_f64().unwrap_or_default();
            assert!(score <= 1.0, "{found}");
        }

        let started = app.start_session(&acme, text).await;
        assert_eq!(
            started["matched_flow_id"], listed_first,
            "{text}: {started}"
        );
        if in_scope {
            assert_eq!(
                started["match_score"], found[0]["score"],
                "{text}: {started}"
            );
        } else {
            assert!(started["match_score"].is_null(), "{started}");
        }
    }
}

async fn openapi_describes_the_flow_endpoints(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc: Value = app
        .client
        .get(format!("{}/api/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, method) in [
        ("/api/v1/flows", "get"),
        ("/api/v1/flows", "post"),
        ("/api/v1/flows/{id}", "get"),
        ("/api/v1/flows/{id}", "put"),
        ("/api/v1/flows/{id}", "delete"),
        ("/api/v1/flows/import", "post"),
        ("/api/v1/flows/export", "get"),
        ("/api/v1/flows/match", "post"),
        ("/api/v1/flows/domains", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "OpenAPI lacks {method} {path}"
        );
    }
    assert!(doc["components"]["schemas"]["FlowOut"].is_object());
}
