//! The guided session in the browser without JavaScript: intake, answering, the sidebar,
//! resolve and escalate, documentation and rating, on the offline engine.

use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use reqwest::StatusCode;

use super::browser::{attribute_after, Browser, Page};
use super::helpers::{fresh_database, spawn_on, Backend};
use super::shows_escaped;

const OUTLOOK: &str = "Outlook keeps asking for a password on three laptops";

/// Starts a session through the intake form and returns its id, the browser on its page.
async fn start(b: &Browser, text: &str) -> String {
    b.get("/pilot").await;
    let started = b.submit("/pilot", &[("text", text), ("log", "")]).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let location = started.location().expect("a location").to_string();
    let id = location
        .strip_prefix("/pilot/")
        .expect("lands on the session page")
        .to_string();
    uuid::Uuid::parse_str(&id).expect("a session id");
    id
}

/// The part of the page inside the current step.
fn current_step(page: &Page) -> &str {
    let start = page.body.find("data-current-step").expect("a current step");
    let rest = &page.body[start..];
    let end = rest.find("</form>\n  </div>").unwrap_or(rest.len());
    &rest[..end]
}

fn step_id(page: &Page) -> String {
    attribute_after(&page.body, "name=\"step_id\" value=\"").expect("a step_id field")
}

async fn answer(b: &Browser, id: &str, fields: &[(&str, &str)]) -> Page {
    let page = b.get(&format!("/pilot/{id}")).await;
    let step = step_id(&page);
    let mut all = vec![("step_id", step.as_str())];
    all.extend_from_slice(fields);
    b.submit(&format!("/pilot/{id}/respond"), &all).await
}

/// Walks the Outlook flow to its first suggested fix: one user, cleared credentials worked.
async fn reach_suggestion(b: &Browser) -> String {
    let id = start(b, OUTLOOK).await;
    let one = answer(b, &id, &[("selected_option", "one")]).await;
    assert_eq!(one.status, StatusCode::SEE_OTHER, "{}", one.body);
    let worked = answer(b, &id, &[("selected_option", "done_worked")]).await;
    assert_eq!(worked.status, StatusCode::SEE_OTHER, "{}", worked.body);
    id
}

#[tokio::test]
async fn the_intake_starts_a_session_and_its_page_shows_the_first_step_and_the_sidebar() {
    let b = Browser::open().await;
    b.sign_up("Ada", "ada@example.com").await;
    let id = start(&b, OUTLOOK).await;

    let page = b.get(&format!("/pilot/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let step = current_step(&page);
    assert!(step.contains("Is it one user or several?"), "{step}");
    assert!(step.contains("name=\"selected_option\" value=\"one\""));
    assert!(step.contains("name=\"selected_option\" value=\"many\""));
    assert!(step.contains("<label for=\"free_text_input\">Your answer</label>"));
    assert!(step.contains(">Send</button>"));
    assert!(
        !step.contains("**"),
        "the flow's inline markdown is rendered, not shown raw: {step}"
    );

    let body = &page.body;
    assert!(body.contains("<dd>Email M365</dd>"), "the domain, readably");
    assert!(body.contains("<aside class=\"session-side card\" aria-label=\"Session\">"));
    assert!(
        body.contains("class=\"badge badge-"),
        "a confidence tier badge"
    );
    assert!(
        body.contains("<meter class=\"score\""),
        "the score as a bar"
    );
    assert!(body.contains("href=\"/flows/"), "the matched flow, linked");
    assert!(body.contains("Outlook keeps asking for a password</a>"));
    assert!(
        body.contains("The description mentions outlook"),
        "why it matched: {body}"
    );
    for button in [">Resolve</button>", ">Escalate</button>", ">Pause</button>"] {
        assert!(body.contains(button), "{button}");
    }
}

#[tokio::test]
async fn the_intake_keeps_what_was_typed_when_it_is_not_accepted() {
    let b = Browser::open().await;
    b.sign_up("Ada", "ada@example.com").await;
    b.get("/pilot").await;
    let empty = b
        .submit("/pilot", &[("text", "  "), ("log", "kept log")])
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.body.contains("id=\"text-error\""));
    assert!(empty
        .body
        .contains("aria-describedby=\"text-hint text-error\""));
    assert!(empty.body.contains("kept log"));
}

#[tokio::test]
async fn answers_by_option_free_text_and_skip_become_read_only_history() {
    let b = Browser::open().await;
    b.sign_up("Ada", "ada@example.com").await;
    let id = start(&b, OUTLOOK).await;

    let first = answer(
        &b,
        &id,
        &[("selected_option", "one"), ("free_text_input", "")],
    )
    .await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    assert_eq!(first.location(), Some(format!("/pilot/{id}").as_str()));

    let page = b.get(&format!("/pilot/{id}")).await;
    assert!(page.body.contains("<ol class=\"steps\">"));
    assert!(
        page.body.contains("One user</p>"),
        "the answer given is shown"
    );
    let step = current_step(&page);
    assert!(
        step.contains("Expected outcome:"),
        "action steps show it: {step}"
    );
    assert!(step.contains(">Skip</button>"), "actions can be skipped");

    let skipped = answer(&b, &id, &[("skipped", "true")]).await;
    assert_eq!(skipped.status, StatusCode::SEE_OTHER, "{}", skipped.body);
    let page = b.get(&format!("/pilot/{id}")).await;
    assert!(page.body.contains("Skipped</p>"));

    let typed = answer(&b, &id, &[("free_text_input", "It is the old grey box")]).await;
    assert_eq!(typed.status, StatusCode::SEE_OTHER, "{}", typed.body);
    let page = b.get(&format!("/pilot/{id}")).await;
    assert!(page.body.contains("It is the old grey box"));
}

#[tokio::test]
async fn an_empty_answer_or_a_second_click_on_an_answered_step_is_explained_in_place() {
    let b = Browser::open().await;
    b.sign_up("Ada", "ada@example.com").await;
    let id = start(&b, OUTLOOK).await;
    let page = b.get(&format!("/pilot/{id}")).await;
    let step = step_id(&page);
    let respond = format!("/pilot/{id}/respond");

    let empty = b
        .submit(&respond, &[("step_id", &step), ("free_text_input", " ")])
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.body.contains("Pick an option or type an answer."));

    let once = b
        .submit(&respond, &[("step_id", &step), ("selected_option", "one")])
        .await;
    assert_eq!(once.status, StatusCode::SEE_OTHER);
    let twice = b
        .submit(
            &respond,
            &[
                ("step_id", &step),
                ("selected_option", "many"),
                ("free_text_input", "typed before the double click"),
            ],
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert!(twice.body.contains("role=\"alert\""), "{}", twice.body);
    assert!(twice.body.contains("typed before the double click"));
    assert!(
        twice.body.contains("One user</p>"),
        "the page shows where the session stands"
    );
}

#[tokio::test]
async fn a_suggested_fix_is_accepted_and_the_documentation_is_rated() {
    let b = Browser::open().await;
    b.sign_up("Ada", "ada@example.com").await;
    let id = reach_suggestion(&b).await;

    let page = b.get(&format!("/pilot/{id}")).await;
    let step = current_step(&page);
    assert!(step.contains("Suggested resolution:"), "{step}");
    assert!(step.contains("Follow-ups"));
    assert!(step.contains(">Accept &amp; resolve</button>"));
    assert!(step.contains("Keep troubleshooting</button>"));

    let accepted = b
        .submit(
            &format!("/pilot/{id}/resolve"),
            &[("used_suggested_resolution", "true")],
        )
        .await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER, "{}", accepted.body);
    let doc_path = format!("/pilot/{id}/documentation");
    assert_eq!(accepted.location(), Some(doc_path.as_str()));

    let doc = b.get(&doc_path).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body.contains("<article class=\"card doc-body\""));
    assert!(
        doc.body.contains("<h2>") || doc.body.contains("<h1>"),
        "markdown rendered"
    );
    assert!(doc.body.contains("Stale cached credentials"));
    assert!(doc.body.contains(">Copy as Markdown</button>"));
    assert!(doc
        .body
        .contains(&format!("href=\"/pilot/{id}/documentation.md\" download")));
    for label in ["1 star", "2 stars", "3 stars", "4 stars", "5 stars"] {
        assert!(doc.body.contains(&format!("> {label}</label>")), "{label}");
    }

    let md = b.get(&format!("/pilot/{id}/documentation.md")).await;
    assert_eq!(md.status, StatusCode::OK);
    assert!(md.headers[CONTENT_TYPE]
        .to_str()
        .unwrap_or_default()
        .starts_with("text/markdown"));
    assert!(md.headers[CONTENT_DISPOSITION]
        .to_str()
        .unwrap_or_default()
        .starts_with("attachment; filename=\"flowpilot-session-"));
    assert!(md.body.starts_with('#'), "{}", md.body);

    let rate = format!("/pilot/{id}/rate");
    let none = b.submit(&rate, &[("feedback", "kept feedback")]).await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(none.body.contains("Pick from 1 to 5 stars."));
    assert!(none.body.contains("kept feedback"));

    let rated = b
        .submit(&rate, &[("rating", "5"), ("feedback", "Spot on")])
        .await;
    assert_eq!(rated.status, StatusCode::SEE_OTHER);
    let thanks = b.get(rated.location().expect("location")).await;
    assert!(thanks.body.contains("Thanks for rating this session."));
    assert!(thanks.body.contains("value=\"5\" checked"));
    assert!(thanks.body.contains("Spot on"));
}

#[tokio::test]
async fn keep_troubleshooting_answers_the_suggestion_and_goes_on() {
    let b = Browser::open().await;
    b.sign_up("Ada", "ada@example.com").await;
    let id = reach_suggestion(&b).await;
    let page = b.get(&format!("/pilot/{id}")).await;
    let keep = attribute_after(
        current_step(&page),
        "class=\"actions\">\n        <button type=\"submit\" name=\"selected_option\" value=\"",
    )
    .expect("keep troubleshooting is an option button");
    let kept = answer(&b, &id, &[("selected_option", &keep)]).await;
    assert_eq!(kept.status, StatusCode::SEE_OTHER, "{}", kept.body);
    let page = b.get(&format!("/pilot/{id}")).await;
    assert!(page.body.contains("Keep troubleshooting</p>"), "answered");
    assert!(
        page.body.contains("data-current-step"),
        "a next step follows"
    );
}

#[tokio::test]
async fn resolving_needs_a_summary_and_keeps_it_in_the_open_dialog() {
    let b = Browser::open().await;
    b.sign_up("Ada", "ada@example.com").await;
    let id = start(&b, OUTLOOK).await;

    let dialog = b.get(&format!("/pilot/{id}?dialog=resolve")).await;
    assert!(dialog
        .body
        .contains("<dialog id=\"resolve-dialog\" class=\"card dialog\" aria-labelledby=\"resolve-title\" open>"));
    assert!(dialog
        .body
        .contains("<label for=\"resolution_summary\">Resolution summary</label>"));
    assert!(dialog.body.contains(">Confirm resolve</button>"));

    let resolve = format!("/pilot/{id}/resolve");
    let empty = b.submit(&resolve, &[("resolution_summary", " ")]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.body.contains("Describe what fixed the problem."));
    assert!(empty
        .body
        .contains("aria-labelledby=\"resolve-title\" open>"));

    let done = b
        .submit(
            &resolve,
            &[("resolution_summary", "Cleared <cached> creds")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let doc = b.get(&format!("/pilot/{id}/documentation")).await;
    assert!(shows_escaped(&doc.body, "Cleared <cached> creds"));
    assert!(!doc.body.contains("<cached>"));

    let closed = b.get(&format!("/pilot/{id}")).await;
    assert!(!closed.body.contains("data-current-step"));
    assert!(!closed.body.contains(">Resolve</button>"));
    assert!(closed.body.contains("Read the documentation</a>"));
}

#[tokio::test]
async fn escalating_hands_the_session_to_a_colleague_who_sees_it_marked() {
    let b = Browser::open().await;
    b.sign_up("Ada", "ada@example.com").await;
    let admin = b.app.login("ada@example.com").await;
    let bob = b.app.add_user(&admin, "bob@example.com", "engineer").await;
    let id = start(&b, OUTLOOK).await;

    let page = b.get(&format!("/pilot/{id}")).await;
    assert!(page.body.contains(&format!(
        "<option value=\"{}\">User bob@example.com</option>",
        bob.id
    )));
    assert!(page
        .body
        .contains("<label for=\"escalated_to_id\">Escalate to</label>"));
    assert!(page
        .body
        .contains("<label for=\"escalation_reason\">Reason</label>"));

    let escalate = format!("/pilot/{id}/escalate");
    let no_reason = b
        .submit(
            &escalate,
            &[("escalation_reason", ""), ("escalated_to_id", &bob.id)],
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_reason
        .body
        .contains("Say why the session needs a colleague."));
    assert!(no_reason
        .body
        .contains(&format!("<option value=\"{}\" selected>", bob.id)));

    let done = b
        .submit(
            &escalate,
            &[
                ("escalation_reason", "Needs Exchange admin rights"),
                ("escalated_to_id", &bob.id),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let package = b.get(&format!("/pilot/{id}/documentation")).await;
    assert!(package
        .body
        .contains("<h1 id=\"page-title\">Hand-off package</h1>"));
    assert!(package.body.contains("Needs Exchange admin rights"));

    let colleague = b.another();
    colleague.get("/login").await;
    let signed_in = colleague
        .submit(
            "/login",
            &[("email", "bob@example.com"), ("password", super::PASSWORD)],
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    let seen = colleague.get(&format!("/pilot/{id}/documentation")).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert!(seen.body.contains("Needs Exchange admin rights"));
    assert!(
        !seen.body.contains("Submit rating"),
        "only the owner rates the session"
    );
}

#[tokio::test]
async fn pausing_stops_answers_until_resumed() {
    let b = Browser::open().await;
    b.sign_up("Ada", "ada@example.com").await;
    let id = start(&b, OUTLOOK).await;
    let paused = b.submit(&format!("/pilot/{id}/pause"), &[]).await;
    assert_eq!(paused.status, StatusCode::SEE_OTHER);
    let page = b.get(&format!("/pilot/{id}")).await;
    assert!(page.body.contains("This session is paused."));
    assert!(page.body.contains(">Resume</button>"));
    assert!(!page.body.contains("data-current-step"));

    let again = b.submit(&format!("/pilot/{id}/pause"), &[]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    let resumed = b.submit(&format!("/pilot/{id}/resume"), &[]).await;
    assert_eq!(resumed.status, StatusCode::SEE_OTHER);
    let page = b.get(&format!("/pilot/{id}")).await;
    assert!(page.body.contains("data-current-step"));
    assert!(page.body.contains(">Pause</button>"));
}

#[tokio::test]
async fn another_tenants_session_is_not_found() {
    let b = Browser::open().await;
    b.sign_up("Ada", "ada@example.com").await;
    let id = start(&b, OUTLOOK).await;
    let page = b.get(&format!("/pilot/{id}")).await;
    let step = step_id(&page);

    let mallory = b.another();
    mallory.sign_up("Mallory", "mallory@example.com").await;
    for path in [
        format!("/pilot/{id}"),
        format!("/pilot/{id}/documentation"),
        format!("/pilot/{id}/documentation.md"),
        "/pilot/not-a-uuid".to_string(),
    ] {
        let seen = mallory.get(&path).await;
        assert_eq!(seen.status, StatusCode::NOT_FOUND, "{path}");
        assert!(seen.body.contains("Page not found"), "{path}: an HTML page");
    }
    let answered = mallory
        .submit(
            &format!("/pilot/{id}/respond"),
            &[("step_id", &step), ("selected_option", "one")],
        )
        .await;
    assert_eq!(answered.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn script_in_the_intake_is_shown_as_text() {
    let b = Browser::open().await;
    b.sign_up("Ada", "ada@example.com").await;
    let attack = "<script>alert(1)</script><img src=x onerror=alert(2)> printer offline";
    let id = start(&b, attack).await;
    let page = b.get(&format!("/pilot/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("<script>alert(1)"));
    assert!(!page.body.contains("<img src=x"));
    assert!(shows_escaped(&page.body, "<script>alert(1)</script>"));
}

#[tokio::test]
async fn a_provider_failure_keeps_what_the_engineer_typed() {
    let (url, dir) = fresh_database(Backend::Sqlite).await;
    let offline = Browser::on(spawn_on(url.clone(), dir, |_| {}).await);
    offline.sign_up("Ada", "ada@example.com").await;
    let id = start(&offline, OUTLOOK).await;

    // A second server on the same database whose provider does not answer at all.
    let broken = Browser::on(
        spawn_on(url, None, |s| {
            s.llm_provider = flowpilot_server::settings::ProviderChoice::OpenAi;
            s.openai.base_url = Some("http://127.0.0.1:9/v1".into());
            s.llm_timeout_secs = 2;
        })
        .await,
    );
    broken.get("/login").await;
    broken
        .submit(
            "/login",
            &[("email", "ada@example.com"), ("password", super::PASSWORD)],
        )
        .await;

    let intake = broken
        .submit(
            "/pilot",
            &[("text", "Typed intake that must survive"), ("log", "")],
        )
        .await;
    assert_eq!(intake.status, StatusCode::BAD_GATEWAY, "{}", intake.body);
    assert!(intake.body.contains("The AI provider could not answer"));
    assert!(intake.body.contains("Typed intake that must survive"));

    let typed = answer(
        &broken,
        &id,
        &[("free_text_input", "Typed answer that must survive")],
    )
    .await;
    assert_eq!(typed.status, StatusCode::BAD_GATEWAY, "{}", typed.body);
    assert!(typed.body.contains("role=\"alert\""));
    assert!(typed.body.contains("Typed answer that must survive"));
    let page = offline.get(&format!("/pilot/{id}")).await;
    assert!(
        page.body.contains("data-current-step"),
        "nothing was stored"
    );
    assert!(!page.body.contains("Typed answer that must survive"));
}

#[tokio::test]
async fn escalating_to_a_team_from_the_page_puts_the_session_in_that_teams_queue() {
    let b = Browser::open().await;
    b.sign_up("Ada", "ada@example.com").await;
    let admin = b.app.login("ada@example.com").await;
    let (status, team) = b
        .app
        .post(
            "/teams",
            &admin.token,
            serde_json::json!({"name": "Tier 2"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{team}");
    let team_id = team["id"].as_str().unwrap().to_owned();
    let id = start(&b, OUTLOOK).await;

    let page = b.get(&format!("/pilot/{id}")).await;
    let option = format!("<option value=\"team:{team_id}\">Tier 2</option>");
    assert!(page.body.contains(&option), "{}", page.body);

    let escalate = format!("/pilot/{id}/escalate");
    let bad = b
        .submit(
            &escalate,
            &[
                ("escalation_reason", "Needs Exchange admin rights"),
                ("escalated_to_id", "team:not-a-team"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad
        .body
        .contains("Pick a colleague or a team from the list."));

    let done = b
        .submit(
            &escalate,
            &[
                ("escalation_reason", "Needs Exchange admin rights"),
                ("escalated_to_id", &format!("team:{team_id}")),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let (status, detail) = b.app.get(&format!("/ai-sessions/{id}"), &admin.token).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["status"], "escalated");
    assert_eq!(
        detail["escalation"]["escalated_to_team_id"], team_id,
        "{detail}"
    );
}
