//! Team memory as a browser without JavaScript sees it: the intake's "Check for similar
//! sessions" preview, the sidebar's "Seen before", and drafting a flow from a knowledge gap.

use reqwest::StatusCode;
use serde_json::json;

use super::browser::Browser;
use super::shows_escaped;

const FIX: &str = "Cleared the cached <b>Outlook</b> credentials & signed in again";

fn token(b: &Browser) -> String {
    b.cookie("fp_session").expect("signed in")
}

/// A session started and closed through the API by the signed-in user; its id.
async fn closed(b: &Browser, text: &str, close: serde_json::Value) -> String {
    let token = token(b);
    let (status, started) = b
        .app
        .post(
            "/ai-sessions",
            &token,
            json!({"intake_type": "free_text", "intake_content": {"text": text}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let id = started["session_id"].as_str().unwrap().to_string();
    let (status, body) = b
        .app
        .post(&format!("/ai-sessions/{id}/resolve"), &token, close)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_intake_preview_and_the_sidebar_show_the_session_seen_before() {
    let b = Browser::open().await;
    b.sign_up("Ada Admin", "ada@acme.test").await;
    let earlier = closed(
        &b,
        "Outlook keeps asking for the password on a laptop",
        json!({"resolution_summary": FIX}),
    )
    .await;

    b.get("/pilot").await;
    let empty = b
        .submit("/pilot/similar", &[("text", "  "), ("log", "")])
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.body.contains("Describe the problem in a few words."));

    let text = "Outlook prompts for the password again and again";
    let preview = b
        .submit("/pilot/similar", &[("text", text), ("log", "")])
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(preview.body.contains("Seen before: once this month"));
    assert!(shows_escaped(&preview.body, FIX), "the fix, escaped");
    assert!(preview.body.contains(&format!("href=\"/pilot/{earlier}\"")));
    // What was typed is kept, and the session starts from the preview.
    assert!(preview.body.contains(text));
    let started = b.submit("/pilot", &[("text", text), ("log", "")]).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let page = b.get(started.location().unwrap()).await;
    let side = &page.body[page.body.find("session-side").expect("a sidebar")..];
    assert!(side.contains("Seen before: once this month"), "{side}");
    assert!(shows_escaped(side, FIX));

    // Nothing alike says so, rather than listing the least unlike.
    let none = b
        .submit(
            "/pilot/similar",
            &[
                ("text", "The badge reader at the warehouse door beeps red"),
                ("log", ""),
            ],
        )
        .await;
    assert_eq!(none.status, StatusCode::OK);
    assert!(none.body.contains("Not seen before"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_is_drafted_into_a_flow_from_its_page() {
    let b = Browser::open().await;
    b.sign_up("Ada Admin", "ada@acme.test").await;
    for text in [
        "Badge reader at the warehouse door rejects every badge",
        "The warehouse badge reader beeps red for all staff badges",
    ] {
        closed(
            &b,
            text,
            json!({"resolution_summary": "Re-enrolled the badges in the access control console"}),
        )
        .await;
    }

    let gaps = b.get("/analytics/gaps").await;
    assert_eq!(gaps.status, StatusCode::OK, "{}", gaps.body);
    assert!(
        gaps.body
            .contains("2 sessions matched no flow, in 1 topic."),
        "{}",
        gaps.body
    );
    let start = gaps
        .body
        .find("/analytics/gaps/draft?")
        .expect("a draft link");
    let link = &gaps.body[start..start + gaps.body[start..].find('"').unwrap()];
    let link = link.replace("&amp;", "&").replace("&#38;", "&");
    let form = b.get(&link).await;
    assert_eq!(form.status, StatusCode::OK, "{link}");
    assert!(form.body.contains("status: draft"));

    // A broken document is refused with the reason, kept as typed.
    let broken = b
        .submit(
            "/analytics/gaps/draft",
            &[
                (
                    "yaml",
                    "title: Badges\nstart: nowhere\nnodes: {}\ndomain: general",
                ),
                ("label", "badge"),
                ("count", "2"),
                ("back", "/analytics/gaps"),
            ],
        )
        .await;
    assert_eq!(
        broken.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        broken.body
    );
    assert!(broken.body.contains("nowhere"));

    let yaml = "title: Badge reader rejects badges\ndomain: general\nstatus: draft\nstart: fix\nnodes:\n  fix:\n    type: solution\n    text: Re-enroll the badges\n";
    let saved = b
        .submit(
            "/analytics/gaps/draft",
            &[
                ("yaml", yaml),
                ("label", "badge"),
                ("count", "2"),
                ("back", "/analytics/gaps"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let flow = b.get(saved.location().unwrap()).await;
    assert_eq!(flow.status, StatusCode::OK);
    assert!(flow.body.contains("Badge reader rejects badges"));
}
