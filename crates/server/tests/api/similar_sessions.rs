//! memory.md "Similar sessions": the account's closed sessions most like a problem, with the
//! fix that worked or why it was escalated, the flow, the age, who and why; team memory
//! seen by every engineer of the account, never across accounts, never the open sessions.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, Backend, Member, TestApp};
use crate::stories;

/// Each story starts more sessions than one engineer may in a minute.
async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| s.rate_limits = false).await
}

stories!(
    the_resolved_session_with_the_same_problem_comes_first_with_its_fix,
    similar_sessions_never_cross_accounts,
    open_sessions_and_the_session_itself_are_left_out,
    limits_and_bad_input_are_refused_clearly,
);

const OUTLOOK: &str = "Outlook keeps asking for a password on three laptops since this morning";
const OUTLOOK_FIX: &str = "Cleared the cached Outlook credentials in Credential Manager";
const PRINTER: &str = "The office printer shows offline for everyone on the second floor";

/// Starts a session of `who` on `text` and resolves it with `fix`; its id.
async fn resolved(app: &TestApp, who: &Member, text: &str, fix: &str) -> String {
    let id = started(app, who, text).await;
    app.resolve(who, &id, fix).await;
    id
}

async fn started(app: &TestApp, who: &Member, text: &str) -> String {
    let body = app.start_session(who, text).await;
    body["session_id"].as_str().unwrap().to_string()
}

async fn similar_to(app: &TestApp, who: &Member, text: &str) -> Vec<Value> {
    let (status, body) = app
        .post("/ai-sessions/similar", &who.token, json!({"text": text}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

async fn similar_of(app: &TestApp, who: &Member, id: &str) -> Vec<Value> {
    let (status, body) = app
        .get(&format!("/ai-sessions/{id}/similar"), &who.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

fn ids(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["id"].as_str().unwrap()).collect()
}

async fn the_resolved_session_with_the_same_problem_comes_first_with_its_fix(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let bob = app.add_user(&admin, "bob@acme.test", "engineer").await;
    let ada = app.add_user(&admin, "ada@acme.test", "engineer").await;
    let outlook = resolved(&app, &bob, OUTLOOK, OUTLOOK_FIX).await;
    let printer = resolved(&app, &bob, PRINTER, "Restarted the print spooler").await;
    let slow = resolved(
        &app,
        &bob,
        "Outlook is slow to open large attachments",
        "Turned off the add-ins",
    )
    .await;
    let (_, session) = app
        .get(&format!("/ai-sessions/{outlook}"), &bob.token)
        .await;

    // Ada, before starting, types the same problem in her own words.
    let found = similar_to(
        &app,
        &ada,
        "Outlook prompts for the password again and again",
    )
    .await;
    // The same problem first; one sharing a word after it, if at all; the printer never.
    let order = ids(&found);
    assert_eq!(order[0], outlook, "{found:#?}");
    assert!(!order.contains(&printer.as_str()));
    assert!(
        order.len() == 1 || order[1..] == [slow.as_str()],
        "{found:#?}"
    );
    let item = &found[0];
    assert_eq!(item["outcome"], "resolved");
    assert_eq!(item["fix"], OUTLOOK_FIX);
    assert!(item["escalation_reason"].is_null());
    assert_eq!(item["owner_name"], "User bob@acme.test");
    assert_eq!(item["age"], "just now");
    assert!(item["closed_at"].is_string());
    assert_eq!(item["title"], session["title"]);
    let terms: Vec<&str> = item["why"]["shared_terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        terms.contains(&"outlook") && terms.contains(&"password"),
        "{terms:?}"
    );
    // The session followed a flow, which the same words lead to.
    assert_eq!(item["flow"]["id"], session["matched_flow_id"]);
    assert_eq!(item["flow"]["title"], session["matched_flow_name"]);
    assert_eq!(item["why"]["same_flow"], true);

    // The printer problem is found by its own words.
    let printer_only = similar_to(&app, &ada, "printer shows offline on the second floor").await;
    assert_eq!(ids(&printer_only), [printer.as_str()]);

    // Team memory: Ada sees the item, but opening Bob's session stays his and the admins'.
    let (status, _) = app
        .get(&format!("/ai-sessions/{outlook}"), &ada.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get(&format!("/ai-sessions/{outlook}"), &admin.token)
        .await;
    assert_eq!(status, StatusCode::OK);

    // Nothing alike: nothing at all, rather than the least unlike.
    assert!(similar_to(
        &app,
        &ada,
        "The badge reader at the warehouse door beeps red"
    )
    .await
    .is_empty());
}

async fn similar_sessions_never_cross_accounts(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme = app.register("admin@acme.test", "Acme").await;
    let globex = app.register("admin@globex.test", "Globex").await;
    let theirs = resolved(&app, &globex, OUTLOOK, OUTLOOK_FIX).await;
    let ours = resolved(&app, &acme, OUTLOOK, "Rebuilt the Outlook profile").await;

    let found = similar_to(&app, &acme, OUTLOOK).await;
    assert_eq!(ids(&found), [ours.as_str()]);
    assert_eq!(found[0]["fix"], "Rebuilt the Outlook profile");
    let found = similar_to(&app, &globex, OUTLOOK).await;
    assert_eq!(ids(&found), [theirs.as_str()]);

    // Another account's session id is not even known here.
    let (status, body) = app
        .get(&format!("/ai-sessions/{theirs}/similar"), &acme.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let mine = started(&app, &acme, OUTLOOK).await;
    assert_eq!(ids(&similar_of(&app, &acme, &mine).await), [ours.as_str()]);
}

async fn open_sessions_and_the_session_itself_are_left_out(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let bob = app.add_user(&admin, "bob@acme.test", "engineer").await;
    let fixed = resolved(&app, &bob, OUTLOOK, OUTLOOK_FIX).await;
    let escalated = started(&app, &bob, OUTLOOK).await;
    let (status, body) = app
        .post(
            &format!("/ai-sessions/{escalated}/escalate"),
            &bob.token,
            json!({"escalation_reason": "The Outlook password prompt needs the tenant admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let open = started(&app, &bob, OUTLOOK).await;
    let abandoned = started(&app, &bob, OUTLOOK).await;
    let (status, _) = app
        .post(
            &format!("/ai-sessions/{abandoned}/abandon"),
            &bob.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // The open session finds both closed ones, the escalated with its reason.
    let found = similar_of(&app, &bob, &open).await;
    let mut got = ids(&found);
    got.sort_unstable();
    let mut want = vec![fixed.as_str(), escalated.as_str()];
    want.sort_unstable();
    assert_eq!(got, want, "{found:#?}");
    let handed_over = found
        .iter()
        .find(|i| i["id"] == escalated.as_str())
        .unwrap();
    assert_eq!(handed_over["outcome"], "escalated");
    assert!(handed_over["fix"].is_null());
    assert_eq!(
        handed_over["escalation_reason"],
        "The Outlook password prompt needs the tenant admin"
    );

    // A closed session is not similar to itself, nor to the open or abandoned ones.
    assert_eq!(
        ids(&similar_of(&app, &bob, &fixed).await),
        [escalated.as_str()]
    );
}

async fn limits_and_bad_input_are_refused_clearly(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let viewer = app.add_user(&admin, "viewer@acme.test", "viewer").await;
    let mut closed = Vec::new();
    for fix in [
        "Cleared the credentials",
        "Rebuilt the profile",
        "Reset MFA",
    ] {
        closed.push(resolved(&app, &admin, OUTLOOK, fix).await);
    }
    let open = started(&app, &admin, OUTLOOK).await;

    assert_eq!(similar_to(&app, &admin, OUTLOOK).await.len(), 3);
    let (status, body) = app
        .post(
            "/ai-sessions/similar",
            &admin.token,
            json!({"text": OUTLOOK, "limit": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let best = ids(body.as_array().unwrap());
    assert_eq!(best.len(), 1);
    assert!(closed.iter().any(|c| c == best[0]));
    let (status, body) = app
        .get(
            &format!("/ai-sessions/{open}/similar?limit=2"),
            &admin.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body.as_array().unwrap().len(), 2);

    for query in ["limit=0", "limit=21", "limit=abc", "limit=-1"] {
        let (status, body) = app
            .get(
                &format!("/ai-sessions/{open}/similar?{query}"),
                &admin.token,
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(
            body["detail"][0]["loc"],
            json!(["query", "limit"]),
            "{query}"
        );
    }
    for bad in [
        json!({"text": ""}),
        json!({"text": "   "}),
        json!({}),
        json!({"text": 42}),
        json!({"text": "x".repeat(10_001)}),
        json!({"text": OUTLOOK, "limit": 21}),
        json!({"text": OUTLOOK, "limit": 0}),
    ] {
        let (status, body) = app
            .post("/ai-sessions/similar", &admin.token, bad.clone())
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
    let unknown = uuid::Uuid::new_v4();
    let (status, _) = app
        .get(&format!("/ai-sessions/{unknown}/similar"), &admin.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app
        .get("/ai-sessions/not-a-uuid/similar", &admin.token)
        .await;
    assert!(status.is_client_error(), "{status}: {body}");
    let (status, _) = app
        .post(
            "/ai-sessions/similar",
            &viewer.token,
            json!({"text": OUTLOOK}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
