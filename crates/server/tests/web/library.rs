//! The history and library pages (`/sessions`, `/flows`, `/flows/{id}`) and the HTML 404,
//! as a browser without JavaScript sees them. Sessions and custom flows are made through the
//! JSON API with the browser's own token; the offline engine needs no LLM.

use reqwest::header::{ACCEPT, CONTENT_SECURITY_POLICY, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::browser::{Browser, Page, PASSWORD};
use super::helpers::{spawn_app, spawn_app_with, Backend, Member};
use super::shows_escaped;

const OUTLOOK: &str = "Outlook keeps asking for a password on three laptops";

/// The browser's session token, which the API accepts as a bearer token.
fn token(b: &Browser) -> String {
    b.cookie("fp_session").expect("signed in")
}

async fn sign_in(b: &Browser, email: &str) {
    b.get("/login").await;
    let page = b
        .submit("/login", &[("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
}

/// Starts a session through the API and returns its id.
async fn start(b: &Browser, token: &str, text: &str) -> String {
    let (status, body) = b
        .app
        .post(
            "/ai-sessions",
            token,
            json!({"intake_type": "free_text", "intake_content": {"text": text}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["session_id"].as_str().expect("an id").to_string()
}

async fn create_flow(b: &Browser, token: &str, flow: Value) -> String {
    let (status, body) = b.app.post("/flows", token, flow).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().expect("an id").to_string()
}

/// How many rows (linked titles) a list page shows.
fn rows(page: &Page, prefix: &str) -> usize {
    page.body
        .matches(&format!("<h2 class=\"row-title\"><a href=\"{prefix}"))
        .count()
}

/// The decoded `href` of the link whose text is `text`.
fn link(page: &Page, text: &str) -> Option<String> {
    let end = page.body.find(&format!(">{text}</a>"))?;
    let tag = &page.body[page.body[..end].rfind("<a ")?..end];
    let start = tag.find("href=\"")? + "href=\"".len();
    let href = &tag[start..start + tag[start..].find('"')?];
    Some(href.replace("&amp;", "&").replace("&#38;", "&"))
}

/// A custom flow whose two answers meet at one solution.
fn diamond(title: &str, label: &str) -> Value {
    json!({
        "title": title, "description": "Printer & spooler <b>problems</b>", "domain": "printing",
        "tags": ["spooler", "<i>tag</i>"], "start": "q1",
        "nodes": {
            "q1": {"type": "question", "text": "Does a test page print?", "options": [
                {"label": label, "value": "yes", "next": "s1"},
                {"label": "No", "value": "no", "next": "a1"}]},
            "a1": {"type": "action", "text": "Restart the spooler", "expected_outcome": "The queue empties",
                   "next": "s1", "on_failure": "e1"},
            "s1": {"type": "solution", "text": "The spooler was stuck", "follow_up": ["Watch the queue"]},
            "e1": {"type": "escalate", "text": "Hand over to the print server team"}}
    })
}

#[tokio::test]
async fn the_history_lists_own_sessions_filters_and_pages_them() {
    // 21 sessions in a minute is over the creation limit; this story is about the page.
    let b = Browser::on(spawn_app_with(Backend::Sqlite, |s| s.rate_limits = false).await);
    b.sign_up("Ada", "ada@example.com").await;
    let token = token(&b);
    let mut ids = Vec::new();
    for i in 0..21 {
        ids.push(start(&b, &token, &format!("{OUTLOOK} (case {i})")).await);
    }
    let (status, _) = b
        .app
        .call(
            reqwest::Method::POST,
            &format!("/ai-sessions/{}/pause", ids[0]),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let first = b.get("/sessions").await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first
        .body
        .contains("href=\"/sessions\" aria-current=\"page\">Sessions</a>"));
    assert!(first.body.contains("<label for=\"status\">Status</label>"));
    assert!(first
        .body
        .contains("<option value=\"\" selected>All</option>"));
    assert!(first.body.contains(">Escalated to me</label>"));
    assert!(first.body.contains(">Filter</button>"));
    assert!(first.body.contains("21 sessions, showing 1–20"));
    assert_eq!(rows(&first, "/pilot/"), 20);
    assert!(
        first.body.contains(&format!("href=\"/pilot/{}\"", ids[20])),
        "newest first"
    );
    assert!(!first.body.contains(&format!("href=\"/pilot/{}\"", ids[0])));
    assert!(first.body.contains("Outlook keeps asking for a password"));
    assert!(first.body.contains("<dt>Steps</dt><dd>1</dd>"));
    assert!(
        first.body.contains("Email M365"),
        "the domain is shown, readably"
    );
    assert_eq!(link(&first, "Previous"), None);
    let next = link(&first, "Next").expect("a Next link");
    assert_eq!(next, "/sessions?page=2");

    let second = b.get(&next).await;
    assert_eq!(rows(&second, "/pilot/"), 1);
    assert!(second.body.contains(&format!("href=\"/pilot/{}\"", ids[0])));
    assert!(second.body.contains("21 sessions, showing 21–21"));
    assert_eq!(link(&second, "Previous").as_deref(), Some("/sessions"));
    assert_eq!(link(&second, "Next"), None);

    let paused = b.get("/sessions?status=paused").await;
    assert!(paused
        .body
        .contains("<option value=\"paused\" selected>Paused</option>"));
    assert!(paused.body.contains("1 session, showing 1–1"));
    assert!(paused.body.contains(&format!("href=\"/pilot/{}\"", ids[0])));
    assert!(paused.body.contains(">Paused</span>"));
    let none = b.get("/sessions?status=resolved").await;
    assert!(none.body.contains("No sessions match these filters."));

    // Values no form offers (stale links) are ignored, not refused.
    let lenient = b.get("/sessions?status=bogus&page=zero").await;
    assert_eq!(lenient.status, StatusCode::OK);
    assert!(lenient.body.contains("21 sessions, showing 1–20"));
    assert!(lenient
        .body
        .contains("<option value=\"\" selected>All</option>"));
    let beyond = b.get("/sessions?page=9").await;
    assert!(beyond.body.contains("There is nothing on this page."));
    assert_eq!(
        link(&beyond, "Previous").as_deref(),
        Some("/sessions?page=2")
    );
}

#[tokio::test]
async fn sessions_escalated_to_me_are_marked_and_filtered() {
    let b = Browser::open().await;
    let admin = b.app.register("admin@acme.test", "Acme").await;
    let eng = b.app.add_user(&admin, "eng@acme.test", "engineer").await;
    let bob = b.app.add_user(&admin, "bob@acme.test", "engineer").await;
    let own = start(&b, &eng.token, OUTLOOK).await;
    let handed = start(&b, &bob.token, "printer shows offline for everyone").await;
    let private = start(&b, &bob.token, "wifi keeps dropping in the meeting room").await;
    let (status, body) = b
        .app
        .post(
            &format!("/ai-sessions/{handed}/escalate"),
            &bob.token,
            json!({"escalation_reason": "Needs the print server", "escalated_to_id": eng.id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    sign_in(&b, "eng@acme.test").await;
    let all = b.get("/sessions").await;
    assert!(all.body.contains("2 sessions"), "{}", all.body);
    assert!(all.body.contains(&format!("href=\"/pilot/{own}\"")));
    assert!(all.body.contains(&format!("href=\"/pilot/{handed}\"")));
    assert!(
        !all.body.contains(&private),
        "a colleague's own session stays theirs"
    );
    assert_eq!(all.body.matches(">Escalated to you</span>").count(), 1);
    assert!(all.body.contains(">Escalated</span>"));

    let mine = b.get("/sessions?escalated_to_me=1").await;
    assert!(mine
        .body
        .contains("id=\"escalated_to_me\" name=\"escalated_to_me\" value=\"1\" checked"));
    assert!(mine.body.contains("1 session, showing 1–1"));
    assert!(mine.body.contains(&format!("href=\"/pilot/{handed}\"")));
    assert!(!mine.body.contains(&format!("href=\"/pilot/{own}\"")));
}

#[tokio::test]
async fn another_tenants_sessions_and_flows_never_appear() {
    let b = Browser::open().await;
    let other: Member = b.app.register("mallory@globex.test", "Globex").await;
    let theirs = start(&b, &other.token, OUTLOOK).await;
    let (status, body) = b
        .app
        .post(
            "/flows",
            &other.token,
            diamond("Globex secret printer flow", "Yes"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let their_flow = body["id"].as_str().expect("id").to_string();

    b.sign_up("Ada", "ada@example.com").await;
    let mine = create_flow(&b, &token(&b), diamond("Acme printer flow", "Yes")).await;
    let sessions = b.get("/sessions").await;
    assert!(sessions.body.contains("No sessions yet."));
    assert!(!sessions.body.contains(&theirs));

    let flows = b.get("/flows?q=printer+flow").await;
    assert!(flows.body.contains("Acme printer flow"));
    assert!(flows.body.contains(&format!("href=\"/flows/{mine}\"")));
    assert!(!flows.body.contains("Globex secret"));
    assert!(!flows.body.contains(&their_flow));

    for path in [
        format!("/flows/{their_flow}"),
        "/flows/not-a-flow".to_string(),
    ] {
        let page = b.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.body.contains("Page not found"));
        assert!(!page.body.contains("Globex"));
    }
    assert_eq!(
        b.get(&format!("/flows/{mine}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_library_searches_filters_by_domain_and_pages() {
    let b = Browser::open().await;
    b.sign_up("Ada", "ada@example.com").await;
    let all = b.get("/flows").await;
    assert_eq!(all.status, StatusCode::OK);
    assert!(all
        .body
        .contains("href=\"/flows\" aria-current=\"page\">Flows</a>"));
    assert!(all.body.contains("<label for=\"q\">Search flows</label>"));
    assert!(all.body.contains("<label for=\"domain\">Domain</label>"));
    assert!(all.body.contains(">Search</button>"));
    assert!(all
        .body
        .contains("<option value=\"email_m365\">Email M365</option>"));
    assert_eq!(
        rows(&all, "/flows/"),
        20,
        "the built-in library fills a page"
    );
    assert!(all.body.contains(">Built-in</span>"));
    assert!(all.body.contains("<dt>Success rate</dt>"));
    let second = b.get(&link(&all, "Next").expect("a Next link")).await;
    assert!(rows(&second, "/flows/") >= 1);

    let found = b.get("/flows?q=OUTLOOK+keeps").await;
    assert!(found
        .body
        .contains(">Outlook keeps asking for a password</a>"));
    assert!(!found.body.contains("Printer"), "{}", found.body);
    assert!(
        found.body.contains("value=\"OUTLOOK keeps\""),
        "the search is kept"
    );

    let email = b.get("/flows?domain=email_m365").await;
    assert!(email
        .body
        .contains("<option value=\"email_m365\" selected>Email M365</option>"));
    let shown = rows(&email, "/flows/");
    assert!(shown >= 1);
    assert_eq!(
        email
            .body
            .matches("<span class=\"badge\">Email M365</span>")
            .count(),
        shown,
        "every row is in the domain"
    );
    let words = b.get("/flows?q=outlook+password+prompt").await;
    assert!(
        words.body.contains("Outlook keeps asking for a password"),
        "every word is searched for, not the phrase"
    );
    let both = b.get("/flows?domain=printing&q=autodiscover").await;
    assert!(both.body.contains("No flows match."));
    // A domain the library does not have (a stale link) is ignored.
    let stale = b.get("/flows?domain=no_such_domain").await;
    assert_eq!(rows(&stale, "/flows/"), 20);
}

#[tokio::test]
async fn the_outline_shows_a_builtin_flows_questions_options_and_stats() {
    let b = Browser::open().await;
    b.sign_up("Ada", "ada@example.com").await;
    let (_, flows) = b.app.get("/flows?q=outlook+keeps", &token(&b)).await;
    let flow = flows
        .as_array()
        .and_then(|f| {
            f.iter()
                .find(|f| f["title"] == "Outlook keeps asking for a password")
        })
        .expect("the built-in Outlook flow")
        .clone();
    let page = b
        .get(&format!("/flows/{}", flow["id"].as_str().expect("id")))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page
        .body
        .contains("<h1 id=\"page-title\">Outlook keeps asking for a password</h1>"));
    for stat in [
        "Version",
        "Used",
        "Success rate",
        "Last matched",
        "Domain",
        "Tags",
    ] {
        assert!(page.body.contains(&format!("<dt>{stat}</dt>")), "{stat}");
    }
    assert!(page.body.contains("<dd>Built-in</dd>"));
    assert!(page.body.contains("<dd>Never</dd>"));
    assert!(
        page.body.contains(">credential manager</li>"),
        "tags are listed"
    );

    let start = flow["start"].as_str().expect("start");
    let question = &flow["nodes"][start];
    let start_at = page
        .body
        .find(&format!("id=\"node-{start}\""))
        .expect("the start node is anchored");
    let graph = &page.body[start_at..];
    assert!(graph.contains(&format!(
        "<span class=\"node-text\">{}</span>",
        question["text"].as_str().expect("text")
    )));
    for option in question["options"].as_array().expect("options") {
        let label = option["label"].as_str().expect("label");
        assert!(
            graph.contains(&format!("<strong class=\"option-label\">{label}</strong>")),
            "{label}"
        );
    }
    assert!(graph.contains("<strong>Expected outcome:</strong>"));
    assert!(graph.contains(">Solution</span>"));
    // Every node is written once, however many paths reach it.
    for id in flow["nodes"].as_object().expect("nodes").keys() {
        assert_eq!(
            page.body.matches(&format!("id=\"node-{id}\"")).count(),
            1,
            "{id}"
        );
    }
}

#[tokio::test]
async fn a_step_reached_twice_is_written_once_and_linked() {
    let b = Browser::open().await;
    b.sign_up("Ada", "ada@example.com").await;
    let id = create_flow(&b, &token(&b), diamond("Spooler stuck", "Yes")).await;
    let page = b.get(&format!("/flows/{id}")).await;
    assert_eq!(page.body.matches("id=\"node-s1\"").count(), 1);
    assert!(page.body.contains("(<a href=\"#node-s1\">see above</a>)"));
    assert!(page.body.contains("If it does not work"));
    assert!(page.body.contains("Hand over to the print server team"));
    assert!(page.body.contains("<li>Watch the queue</li>"));
    assert!(page.body.contains("<dd>Custom</dd>"));
}

#[tokio::test]
async fn malicious_flow_text_is_shown_escaped() {
    let b = Browser::open().await;
    b.sign_up("Ada", "ada@example.com").await;
    let title = "<script>alert(1)</script>";
    let label = "\"><img src=x onerror=alert(2)>";
    let id = create_flow(&b, &token(&b), diamond(title, label)).await;
    let list = b.get("/flows?q=script").await;
    let page = b.get(&format!("/flows/{id}")).await;
    for (name, html) in [("list", &list.body), ("flow", &page.body)] {
        assert!(shows_escaped(html, title), "{name}: {html}");
        assert!(!html.contains("<script>alert(1)"), "{name}");
        assert!(!html.contains("<img src=x"), "{name}");
        assert!(!html.contains("<b>problems</b>"), "{name}");
    }
    assert!(shows_escaped(&page.body, label));
    assert!(shows_escaped(&page.body, "<i>tag</i>"));
    assert!(shows_escaped(
        &page.body,
        "Printer & spooler <b>problems</b>"
    ));
}

#[tokio::test]
async fn the_pages_send_signed_out_visitors_to_sign_in() {
    let b = Browser::open().await;
    for path in [
        "/sessions",
        "/flows",
        "/flows/00000000-0000-0000-0000-000000000000",
    ] {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(
            page.location(),
            Some(format!("/login?next={path}").as_str())
        );
    }
}

/// Rate-limit windows are whole clock minutes: start counting early in one so the story's
/// 31 requests cannot straddle two windows.
async fn early_in_a_minute() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    let second = now.as_secs() % 60;
    if second >= 40 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - second)).await;
    }
}

#[tokio::test]
async fn the_history_shares_the_api_lists_read_limit() {
    let b = Browser::on(spawn_app(Backend::Sqlite).await);
    b.sign_up("Ada", "ada@example.com").await;
    let token = token(&b);
    early_in_a_minute().await;
    for _ in 0..20 {
        assert_eq!(b.app.get("/ai-sessions", &token).await.0, StatusCode::OK);
    }
    for _ in 0..10 {
        assert_eq!(b.get("/sessions").await.status, StatusCode::OK);
    }
    let limited = b.get("/sessions").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.body.contains("Too many requests"));
    assert!(limited.headers.contains_key(RETRY_AFTER));
}

#[tokio::test]
async fn unknown_pages_are_an_html_404_while_the_api_stays_json() {
    let b = Browser::open().await;
    let page = b.get("/no-such-page").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let content_type = page.headers[CONTENT_TYPE].to_str().unwrap_or_default();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(page
        .body
        .contains("<h1 id=\"page-title\">Page not found</h1>"));
    assert!(page.headers.contains_key(CONTENT_SECURITY_POLICY));
    assert_eq!(page.headers["cache-control"], "no-store");

    for request in [
        b.client.get(b.url("/api/v1/nope")),
        b.client
            .get(b.url("/no-such-page"))
            .header(ACCEPT, "application/json"),
        b.client.post(b.url("/no-such-page")),
    ] {
        let resp = request.send().await.expect("request");
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let body: Value = resp.json().await.expect("a JSON body");
        assert_eq!(body["detail"], "Not found");
    }
}
