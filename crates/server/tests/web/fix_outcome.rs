//! The fix-outcome form in the browser without JavaScript: when it comes back with an error
//! it still holds the engineer's note and the check-back time they chose.

use reqwest::StatusCode;

use super::browser::{attribute_after, Browser};
use super::helpers::{postgres_url, spawn_app, Backend};
use super::shows_escaped;

const OUTLOOK: &str = "Outlook keeps asking for a password on three laptops";

/// Walks the Outlook flow of the offline engine to its first suggested fix; the session's id
/// and the fix's step id.
async fn reach_suggestion(b: &Browser) -> (String, String) {
    b.get("/pilot").await;
    let started = b.submit("/pilot", &[("text", OUTLOOK), ("log", "")]).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let id = started
        .location()
        .and_then(|l| l.strip_prefix("/pilot/"))
        .expect("lands on the session page")
        .to_string();
    for option in ["one", "done_worked"] {
        let page = b.get(&format!("/pilot/{id}")).await;
        let step = attribute_after(&page.body, "name=\"step_id\" value=\"").expect("a step");
        let answered = b
            .submit(
                &format!("/pilot/{id}/respond"),
                &[("step_id", step.as_str()), ("selected_option", option)],
            )
            .await;
        assert_eq!(answered.status, StatusCode::SEE_OTHER, "{}", answered.body);
    }
    let page = b.get(&format!("/pilot/{id}")).await;
    let fix = attribute_after(&page.body, &format!("action=\"/pilot/{id}/steps/"))
        .and_then(|rest| rest.split('/').next().map(String::from))
        .expect("the suggested fix has the outcome form");
    (id, fix)
}

async fn a_check_back_out_of_range_keeps_the_note_and_the_time(backend: Backend) {
    let b = Browser::on(spawn_app(backend).await);
    b.sign_up("Ada", "ada.outcome@example.com").await;
    let (id, fix) = reach_suggestion(&b).await;

    let note = "Rebooted DC2 <tonight> & waiting for replication";
    let too_late = (chrono::Utc::now() + chrono::Duration::days(60))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let page = b
        .submit(
            &format!("/pilot/{id}/steps/{fix}/outcome"),
            &[
                ("outcome", "awaiting_verification"),
                ("note", note),
                ("check_back_at", too_late.as_str()),
            ],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page.body.contains("within 31 days"), "{}", page.body);
    let shown = page
        .body
        .split("id=\"outcome_note\"")
        .nth(1)
        .and_then(|rest| rest.split('>').next())
        .expect("the note input");
    assert!(shows_escaped(shown, note), "note not kept: {shown}");
    let time = page
        .body
        .split("id=\"check_back_at\"")
        .nth(1)
        .and_then(|rest| rest.split('>').next())
        .expect("the check-back input");
    assert!(
        time.contains(&format!("value=\"{too_late}\"")),
        "time not kept: {time}"
    );

    // Nothing was recorded: the fix still waits for its outcome, and a fresh page is empty.
    let again = b.get(&format!("/pilot/{id}")).await;
    let shown = again
        .body
        .split("id=\"outcome_note\"")
        .nth(1)
        .and_then(|rest| rest.split('>').next())
        .expect("the outcome form is still offered");
    assert!(shown.contains("value=\"\""), "{shown}");
}

#[tokio::test]
async fn fix_outcome_form_keeps_the_note_after_an_error_sqlite() {
    a_check_back_out_of_range_keeps_the_note_and_the_time(Backend::Sqlite).await;
}

#[tokio::test]
async fn fix_outcome_form_keeps_the_note_after_an_error_postgres() {
    if postgres_url().is_none() {
        eprintln!("PostgreSQL story skipped: FLOWPILOT_TEST_POSTGRES_URL is not set");
        return;
    }
    a_check_back_out_of_range_keeps_the_note_and_the_time(Backend::Postgres).await;
}
