//! memory.md, knowledge gaps: the sessions that matched no flow, grouped by topic with
//! exact counts (an admin's account, an engineer's own), and "draft a flow from these"
//! giving a flow the library accepts.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, Backend, Member, TestApp};
use crate::stories;

/// Each story starts more sessions than one engineer may in a minute.
async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| s.rate_limits = false).await
}

stories!(
    unmatched_sessions_are_grouped_by_topic_with_exact_counts,
    a_draft_from_a_gap_is_a_flow_the_library_accepts,
    the_range_and_the_role_are_checked,
);

const BADGES: [&str; 3] = [
    "Badge reader at the warehouse door rejects every badge",
    "The warehouse badge reader beeps red for all staff badges",
    "Staff badges rejected by the badge reader at the warehouse door",
];
const PROJECTOR: [&str; 2] = [
    "Boardroom projector flickers purple",
    "Purple flicker on the boardroom projector",
];
const BADGE_FIX: &str = "Re-enrolled the badges in the access control console";

/// Starts a session that must match no flow; its id.
async fn unmatched(app: &TestApp, who: &Member, text: &str) -> String {
    let body = app.start_session(who, text).await;
    assert!(body["matched_flow_id"].is_null(), "{text} matched {body}");
    body["session_id"].as_str().unwrap().to_string()
}

async fn close(app: &TestApp, who: &Member, id: &str, how: &str, text: &str) {
    let body = match how {
        "resolve" => json!({"resolution_summary": text}),
        "escalate" => json!({"escalation_reason": text}),
        _ => json!({}),
    };
    let (status, reply) = app
        .post(&format!("/ai-sessions/{id}/{how}"), &who.token, body)
        .await;
    assert_eq!(status, StatusCode::OK, "{how}: {reply}");
}

async fn gaps(app: &TestApp, who: &Member, query: &str) -> Value {
    let (status, body) = app
        .get(&format!("/analytics/gaps{query}"), &who.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body
}

/// The badge sessions (two resolved the same way, one escalated), the projector ones (one
/// resolved, one abandoned) and one that matched a flow, all Bob's; one of Ada's.
async fn scripted(app: &TestApp, bob: &Member, ada: &Member) -> Vec<String> {
    let mut ids = Vec::new();
    for text in BADGES {
        ids.push(unmatched(app, bob, text).await);
    }
    close(app, bob, &ids[0], "resolve", BADGE_FIX).await;
    close(app, bob, &ids[1], "resolve", BADGE_FIX).await;
    close(
        app,
        bob,
        &ids[2],
        "escalate",
        "The reader's controller needs the vendor",
    )
    .await;
    let p1 = unmatched(app, bob, PROJECTOR[0]).await;
    let p2 = unmatched(app, bob, PROJECTOR[1]).await;
    close(app, bob, &p1, "resolve", "Reseated the HDMI cable").await;
    close(app, bob, &p2, "abandon", "").await;
    let matched = app
        .start_session(bob, "Outlook keeps asking for a password on three laptops")
        .await;
    assert!(matched["matched_flow_id"].is_string(), "{matched}");
    ids.push(unmatched(app, ada, "Badge reader rejects my badge at the warehouse").await);
    ids
}

fn labelled<'a>(body: &'a Value, word: &str) -> &'a Value {
    body["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["terms"].as_array().unwrap().iter().any(|t| t == word))
        .unwrap_or_else(|| panic!("no gap about {word}: {body:#}"))
}

async fn unmatched_sessions_are_grouped_by_topic_with_exact_counts(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let bob = app.add_user(&admin, "bob@acme.test", "engineer").await;
    let ada = app.add_user(&admin, "ada@acme.test", "engineer").await;
    let ids = scripted(&app, &bob, &ada).await;

    // Bob sees his own: three about badges, two about the projector, largest first.
    let own = gaps(&app, &bob, "").await;
    assert_eq!(own["unmatched_sessions"], 5, "{own:#}");
    assert_eq!(own["gaps"].as_array().unwrap().len(), 2, "{own:#}");
    let badges = &own["gaps"][0];
    assert_eq!(badges, labelled(&own, "badge"));
    assert_eq!(
        (
            &badges["count"],
            &badges["resolved"],
            &badges["escalated"],
            &badges["other"]
        ),
        (&json!(3), &json!(2), &json!(1), &json!(0))
    );
    assert!(
        badges["label"].as_str().unwrap().contains("warehouse"),
        "{badges}"
    );
    let samples: Vec<&str> = badges["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(samples, [ids[2].as_str(), ids[1].as_str(), ids[0].as_str()]);
    assert_eq!(badges["samples"][0]["owner_name"], "User bob@acme.test");
    let projector = labelled(&own, "projector");
    assert_eq!(
        (
            &projector["count"],
            &projector["resolved"],
            &projector["escalated"],
            &projector["other"]
        ),
        (&json!(2), &json!(1), &json!(0), &json!(1))
    );

    // The admin sees the account's: Ada's badge session joins the badge gap.
    let account = gaps(&app, &admin, "").await;
    assert_eq!(account["unmatched_sessions"], 6);
    let badges = labelled(&account, "badge");
    assert_eq!(badges["count"], 4);
    assert_eq!(badges["other"], 1);
    // Ada sees only hers.
    let hers = gaps(&app, &ada, "").await;
    assert_eq!(hers["unmatched_sessions"], 1);
    assert_eq!(hers["gaps"][0]["samples"][0]["id"], ids[3].as_str());

    // The same sessions give the same gaps.
    assert_eq!(gaps(&app, &admin, "").await["gaps"], account["gaps"]);
}

async fn a_draft_from_a_gap_is_a_flow_the_library_accepts(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let bob = app.add_user(&admin, "bob@acme.test", "engineer").await;
    let ada = app.add_user(&admin, "ada@acme.test", "engineer").await;
    scripted(&app, &bob, &ada).await;
    let listed = gaps(&app, &bob, "").await;
    let topic = labelled(&listed, "badge")["topic"]
        .as_str()
        .unwrap()
        .to_string();

    let (status, draft) = app
        .get(&format!("/analytics/gaps/draft?topic={topic}"), &bob.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{draft}");
    assert_eq!(draft["status"], "draft");
    assert!(
        draft["title"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("badge"),
        "{draft}"
    );
    assert!(
        draft["description"]
            .as_str()
            .unwrap()
            .contains("3 sessions"),
        "{draft}"
    );
    // The fix two sessions found is a solution, the escalation an escalate node.
    let nodes = draft["nodes"].as_object().unwrap();
    assert!(
        nodes
            .values()
            .any(|n| n["type"] == "solution" && n["text"] == BADGE_FIX),
        "{draft:#}"
    );
    assert!(
        nodes
            .values()
            .any(|n| n["type"] == "escalate"
                && n["text"].as_str().unwrap().contains("needs the vendor")),
        "{draft:#}"
    );
    assert!(nodes.contains_key(draft["start"].as_str().unwrap()));

    // Saved as it is, the library takes it, as a draft no intake matches yet.
    let (status, saved) = app.post("/flows", &bob.token, draft.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    assert_eq!(saved["status"], "draft");
    assert_eq!(saved["title"], draft["title"]);

    // A single-session gap drafts too; an unknown topic is not found.
    let one = labelled(&gaps(&app, &ada, "").await, "badge")["topic"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, single) = app
        .get(&format!("/analytics/gaps/draft?topic={one}"), &ada.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{single}");
    let (status, saved) = app.post("/flows", &ada.token, single).await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    let (status, _) = app
        .get("/analytics/gaps/draft?topic=no-such-topic", &bob.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get("/analytics/gaps/draft", &bob.token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn the_range_and_the_role_are_checked(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let viewer = app.add_user(&admin, "viewer@acme.test", "viewer").await;
    unmatched(&app, &admin, BADGES[0]).await;

    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d");
    let later = gaps(&app, &admin, &format!("?from={tomorrow}&to={tomorrow}")).await;
    assert!(later["gaps"].as_array().unwrap().is_empty(), "{later}");
    let today = chrono::Utc::now().format("%Y-%m-%d");
    let now = gaps(&app, &admin, &format!("?from={today}&to={today}")).await;
    assert_eq!(now["unmatched_sessions"], 1, "{now}");

    for query in [
        "?from=yesterday",
        "?to=2026-13-01",
        "?from=2026-03-05&to=2026-03-01",
        "?from=2024-01-01&to=2026-01-01",
    ] {
        let (status, body) = app
            .get(&format!("/analytics/gaps{query}"), &admin.token)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        // The overview reads its range by the same rule and says the same thing.
        let (_, overview) = app
            .get(&format!("/analytics/overview{query}"), &admin.token)
            .await;
        assert_eq!(body["detail"], overview["detail"], "{query}");
    }
    let (status, _) = app.get("/analytics/gaps", &viewer.token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
