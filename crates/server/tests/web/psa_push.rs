//! The write-back in the browser without JavaScript: the resolve dialog's editable note for
//! the ticket (psa.md `preview_before_post`), the push status on the ticket card, and the
//! retry button of a failed push. Against the fake ConnectWise PSA of the API stories.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use super::browser::{Browser, Page};
use super::fake_psa::{self, FakePsa, NoteAnswer};
use super::helpers::{spawn_app_with, Backend};

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// A signed-in browser whose account has a ConnectWise connection to `psa`, and a session
/// started from ticket 4711; the session's id.
async fn ticket_session(psa: &FakePsa) -> (Browser, String) {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.secret_key = Some(KEY.into());
        s.psa_timeout_secs = 1;
        s.rate_limits = false;
    })
    .await;
    let b = Browser::on(app);
    b.sign_up("Pat Admin", "pat.push@example.com").await;
    let admin = b.app.login("pat.push@example.com").await;
    let (status, created) = b
        .app
        .post(
            "/integrations/psa",
            &admin.token,
            json!({"kind": "connectwise", "name": "Acme CW", "base_url": psa.base_url,
                   "credentials": fake_psa::credentials()}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, started) = b
        .app
        .post(
            "/ai-sessions",
            &admin.token,
            json!({"intake_type": "psa_ticket", "intake_content": {"connection_id": created["id"], "ticket_id": "4711"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    (b, started["session_id"].as_str().unwrap().to_string())
}

/// The session page once its ticket card shows `status`.
async fn page_when(b: &Browser, id: &str, status: &str) -> Page {
    let start = Instant::now();
    loop {
        let page = b.get(&format!("/pilot/{id}")).await;
        if page
            .body
            .contains(&format!("data-push-status=\"{status}\""))
        {
            return page;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no {status} push: {}",
            page.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The text of the dialog's note for the ticket, as the page shows it (unescaped enough to
/// send back: the fake ticket's text has no markup).
fn shown_note(page: &Page) -> String {
    let start = page
        .body
        .find("id=\"psa_note_resolve\"")
        .expect("the resolve dialog has the note for the ticket");
    let rest = &page.body[start..];
    let open = rest.find(">\n").expect("textarea") + 2;
    let end = rest.find("</textarea>").expect("end of textarea");
    unescape(&rest[open..end])
}

/// Text as the page escaped it, back as typed.
fn unescape(html: &str) -> String {
    html.replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// The preview the resolve dialog's note was filled with (its hidden field).
fn shown_preview(page: &Page) -> String {
    let start = page
        .body
        .find("id=\"psa_note_resolve\"")
        .expect("the resolve dialog has the note for the ticket");
    let rest = &page.body[start..];
    let marker = "name=\"psa_note_shown\" value=\"";
    let open = rest.find(marker).expect("the hidden preview") + marker.len();
    let end = open + rest[open..].find('"').expect("end of the value");
    unescape(&rest[open..end])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engineer_edits_the_note_before_resolving_and_sees_it_posted() {
    let psa = FakePsa::start().await;
    let (b, id) = ticket_session(&psa).await;
    let page = b.get(&format!("/pilot/{id}")).await;
    let note = shown_note(&page);
    assert!(
        note.contains("Printer on 2nd floor"),
        "the preview is the documentation: {note}"
    );
    assert!(page.body.contains("name=\"psa_note_shown\""));

    let sent = b
        .submit(
            &format!("/pilot/{id}/resolve"),
            &[
                ("resolution_summary", "Re-added the IP port"),
                (
                    "psa_note",
                    "Re-added the printer's IP port; printing works again.",
                ),
                ("psa_note_shown", &note),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let page = page_when(&b, &id, "posted").await;
    let notes = psa.posted_notes();
    assert_eq!(notes.len(), 1);
    let text = notes[0].body["text"].as_str().unwrap();
    assert!(
        text.starts_with("Re-added the printer's IP port; printing works again."),
        "{text}"
    );
    assert!(page
        .body
        .contains(&format!("Posted to the ticket as note {}", notes[0].id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_preview_posts_the_documentation_and_a_failed_push_is_retried() {
    let psa = FakePsa::start().await;
    psa.script_notes(&[NoteAnswer::Status(400, None)]);
    let (b, id) = ticket_session(&psa).await;
    let page = b.get(&format!("/pilot/{id}")).await;
    let note = shown_note(&page);
    let sent = b
        .submit(
            &format!("/pilot/{id}/resolve"),
            &[
                ("resolution_summary", "Re-added the IP port"),
                ("psa_note", &note.replace('\n', "\r\n")),
                ("psa_note_shown", &note),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);

    let page = page_when(&b, &id, "failed").await;
    assert!(
        page.body.contains("Not posted to the ticket"),
        "{}",
        page.body
    );
    assert!(page.body.contains("HTTP 400"), "the reason is shown");
    assert!(page
        .body
        .contains(&format!("action=\"/pilot/{id}/psa-push/retry\"")));
    assert!(psa.posted_notes().is_empty());

    let retried = b.submit(&format!("/pilot/{id}/psa-push/retry"), &[]).await;
    assert_eq!(retried.status, StatusCode::SEE_OTHER, "{}", retried.body);
    page_when(&b, &id, "posted").await;
    let notes = psa.posted_notes();
    assert_eq!(notes.len(), 1);
    let text = notes[0].body["text"].as_str().unwrap();
    assert!(
        text.contains("Re-added the IP port"),
        "unchanged, the final documentation (with the summary) is posted: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dialog_sent_back_with_an_error_keeps_the_engineers_note() {
    let psa = FakePsa::start().await;
    let (b, id) = ticket_session(&psa).await;
    let page = b.get(&format!("/pilot/{id}")).await;
    let generated = shown_note(&page);
    let mine = "Swapped the printer's IP port; the queue prints again.";

    // No summary: the dialog comes back open with the error, and the note as edited.
    let refused = b
        .submit(
            &format!("/pilot/{id}/resolve"),
            &[
                ("resolution_summary", ""),
                ("psa_note", mine),
                ("psa_note_shown", &generated),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("Describe what fixed the problem."));
    assert_eq!(shown_note(&refused), mine, "not the generated text again");
    assert_eq!(
        shown_preview(&refused),
        generated,
        "the first preview is still what an unchanged note is compared with"
    );
    assert!(
        psa.posted_notes().is_empty(),
        "nothing closed, nothing posted"
    );

    let sent = b
        .submit(
            &format!("/pilot/{id}/resolve"),
            &[
                ("resolution_summary", "Swapped the IP port"),
                ("psa_note", &shown_note(&refused)),
                ("psa_note_shown", &generated),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    page_when(&b, &id, "posted").await;
    let notes = psa.posted_notes();
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0].body["text"].as_str().unwrap().starts_with(mine),
        "{:?}",
        notes[0].body
    );
}
