//! The flow page's history (memory.md "Versions"): who published each version, when and
//! why, a past version read as it was, and the steps an AI wrote marked until reviewed.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::browser::Browser;

fn token(b: &Browser) -> String {
    b.cookie("fp_session").expect("signed in")
}

fn printer_flow(action: &str) -> Value {
    json!({
        "title": "Spooler stuck", "description": "Jobs sit in the queue", "domain": "printing",
        "start": "q1",
        "nodes": {
            "q1": {"type": "question", "text": "Does a test page print?", "options": [
                {"label": "Yes", "value": "yes", "next": "s1"},
                {"label": "No", "value": "no", "next": "a1"}]},
            "a1": {"type": "action", "text": action, "next": "s1", "on_failure": "e1"},
            "s1": {"type": "solution", "text": "The spooler was stuck"},
            "e1": {"type": "escalate", "text": "Hand over to the print server team"}}
    })
}

/// Saves `flow` as a new flow at version 1; its id.
async fn create(b: &Browser, token: &str, flow: Value) -> String {
    let (status, body) = b.app.post("/flows", token, flow).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().expect("id").to_string()
}

/// Publishes `edit` (which names the version it edits) as the flow's next version.
async fn publish(b: &Browser, token: &str, id: &str, edit: Value) {
    let (status, body) = b
        .app
        .call(
            Method::PUT,
            &format!("/flows/{id}"),
            Some(token),
            Some(edit),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A flow at version 2: version 1 restarted the spooler, version 2 (with a note, and an
/// AI-written action not yet reviewed) clears the queue first.
async fn edited_flow(b: &Browser) -> String {
    let token = token(b);
    let id = create(b, &token, printer_flow("Restart the spooler service")).await;
    let mut edit = printer_flow("Clear the queue folder, then restart the spooler");
    edit["nodes"]["a1"]["unreviewed"] = json!(true);
    edit["version"] = json!(1);
    edit["why"] = json!("A stuck job survives a restart");
    publish(b, &token, &id, edit).await;
    id
}

#[tokio::test]
async fn the_flow_page_lists_its_versions_and_marks_unreviewed_steps() {
    let b = Browser::open().await;
    b.sign_up("Ada Lovelace", "ada@example.com").await;
    let id = edited_flow(&b).await;
    let page = b.get(&format!("/flows/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let history = &page.body[page.body.find("id=\"history-title\"").expect("a history")..];
    assert!(history.contains("<strong>Version 2</strong>"), "{history}");
    assert!(history.contains(&format!("<a href=\"/flows/{id}/versions/1\">Version 1</a>")));
    assert!(history.contains("A stuck job survives a restart"));
    assert_eq!(history.matches("Ada Lovelace").count(), 2, "{history}");
    assert!(history.contains("<time datetime="));
    // The AI's step is marked where it stands in the graph, and counted.
    let action = &page.body[page.body.find("id=\"node-a1\"").expect("a1")..];
    let head = &action[..action.find("</p>").expect("its head")];
    assert!(head.contains(">Unreviewed</span>"), "{head}");
    assert!(head.contains("Clear the queue folder"), "{head}");
    assert!(page.body.contains(">1 unreviewed step</span>"));
    let solution = &page.body[page.body.find("id=\"node-s1\"").expect("s1")..];
    let head = &solution[..solution.find("</p>").expect("its head")];
    assert!(!head.contains("Unreviewed"), "{head}");
}

#[tokio::test]
async fn a_past_version_reads_as_it_was_with_the_way_back() {
    let b = Browser::open().await;
    b.sign_up("Ada Lovelace", "ada@example.com").await;
    let id = edited_flow(&b).await;
    let page = b.get(&format!("/flows/{id}/versions/1")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("You are reading version 1 of this flow"),
        "{}",
        page.body
    );
    assert!(page.body.contains("The current version is 2"));
    assert!(page.body.contains("Restart the spooler service"));
    assert!(!page.body.contains("Clear the queue folder"));
    assert!(!page.body.contains(">Unreviewed</span>"));
    assert!(page.body.contains("<li aria-current=\"page\">"));
    assert!(page
        .body
        .contains(&format!("<a href=\"/flows/{id}\">Version 2</a>")));
    // The current version's own address is the flow page.
    let current = b.get(&format!("/flows/{id}/versions/2")).await;
    assert_eq!(current.status, StatusCode::OK);
    assert!(!current.body.contains("You are reading version"));

    for missing in ["3", "0", "first"] {
        let page = b.get(&format!("/flows/{id}/versions/{missing}")).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{missing}");
    }
    let other = b.another();
    other.sign_up("Grace Hopper", "grace@example.org").await;
    let page = other.get(&format!("/flows/{id}/versions/1")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_session_page_links_the_version_its_session_follows() {
    let b = Browser::open().await;
    b.sign_up("Ada Lovelace", "ada@example.com").await;
    let token = token(&b);
    let label_flow = |action: &str| {
        json!({
            "title": "Zebra label printer prints blank labels",
            "description": "The Zebra thermal label printer feeds labels but prints nothing on them.",
            "domain": "label_printing", "tags": ["zebra", "thermal", "labels"], "start": "q1",
            "nodes": {
                "q1": {"type": "question", "text": "Does the printer's own test label print?",
                       "options": [{"label": "Yes", "value": "yes", "next": "a1"},
                                   {"label": "No", "value": "no", "next": "e1"}]},
                "a1": {"type": "action", "text": action, "next": "s1", "on_failure": "e1"},
                "s1": {"type": "solution", "text": "Wrong media type in the driver."},
                "e1": {"type": "escalate", "text": "Printhead fault: send to the vendor."}}
        })
    };
    let id = create(
        &b,
        &token,
        label_flow("Set the media type to thermal transfer."),
    )
    .await;
    let (status, started) = b
        .app
        .post(
            "/ai-sessions",
            &token,
            json!({"intake_type": "free_text", "intake_content": {"text":
                "Our Zebra thermal label printer feeds the labels but they come out blank"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["matched_flow_id"], id.as_str(), "{started}");
    let mut edit = label_flow("Clean the printhead, then print a test label.");
    edit["version"] = json!(1);
    publish(&b, &token, &id, edit).await;

    let session = started["session_id"].as_str().expect("session id");
    let page = b.get(&format!("/pilot/{session}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains(&format!("href=\"/flows/{id}/versions/1\"")),
        "{}",
        page.body
    );
    let followed = b.get(&format!("/flows/{id}/versions/1")).await;
    assert!(followed
        .body
        .contains("Set the media type to thermal transfer."));
}
