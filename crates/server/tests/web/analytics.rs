//! The Analytics page and its CSV downloads, as a browser without JavaScript sees them.

use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use reqwest::StatusCode;
use serde_json::json;

use super::browser::Browser;

const OUTLOOK: &str = "Outlook keeps asking for a password on my laptop";

fn token(b: &Browser) -> String {
    b.cookie("fp_session").expect("signed in")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_downloads_as_csv_with_quoting_and_no_formulas() {
    let b = Browser::open().await;
    b.sign_up("Ada Admin", "ada@acme.test").await;
    let token = token(&b);
    let (status, started) = b
        .app
        .post(
            "/ai-sessions",
            &token,
            json!({"intake_type": "free_text", "intake_content": {"text": OUTLOOK}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let id = started["session_id"].as_str().unwrap();
    // A flow name as someone hostile could type it: a formula, a comma and quotes.
    b.app
        .run_sql(&format!(
            "UPDATE ai_sessions SET matched_flow_name = '=HYPERLINK(\"http://evil.test\",\"x\"), now' \
             WHERE id = '{id}'"
        ))
        .await;

    let resp = b
        .client
        .get(b.url("/analytics/flows.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[CONTENT_TYPE], "text/csv; charset=utf-8");
    let disposition = resp.headers()[CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"flowpilot-flows-"),
        "{disposition}"
    );
    let body = resp.text().await.unwrap();
    let mut lines = body.split("\r\n");
    assert_eq!(
        lines.next().unwrap(),
        "flow_id,flow_name,started,resolved,escalated,abandoned,open,resolution_rate,\
         escalation_rate,mttr_p50_seconds,mttr_p90_seconds,steps_per_resolved,rating_mean,\
         unmatched,coverage"
    );
    let row = lines.next().unwrap();
    let flow_id = started["matched_flow_id"].as_str().unwrap();
    assert_eq!(
        row,
        format!(
            "{flow_id},\"'=HYPERLINK(\"\"http://evil.test\"\",\"\"x\"\"), now\",1,0,0,0,1,0,0,,,,,0,1"
        )
    );

    // The page shows the same name escaped, and links each table's download with its filters.
    let page = b.get("/analytics?from=2020-01-01&to=2020-12-31").await;
    assert_eq!(page.status, StatusCode::OK);
    let href = "href=\"/analytics/flows.csv?from=2020-01-01&#38;to=2020-12-31\"";
    assert!(
        page.body.replace("&amp;", "&#38;").contains(href),
        "{}",
        page.body
    );
    let page = b.get("/analytics").await;
    assert!(super::shows_escaped(
        &page.body,
        "=HYPERLINK(\"http://evil.test\""
    ));
    assert!(!page.body.contains("=HYPERLINK(\"http"));
    assert_eq!(
        b.get("/analytics/secrets.csv").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_draws_its_charts_and_says_what_a_bad_date_is() {
    let b = Browser::open().await;
    b.sign_up("Ada Admin", "ada@acme.test").await;
    let page = b.get("/analytics").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("aria-current=\"page\">Analytics</a>"));
    for title in [
        "Outcomes by problem domain",
        "Time to resolution (p50 and p90) by problem domain",
        "Outcomes by flow",
        "Reliability: share of suggestions that were the fix, by confidence",
    ] {
        assert!(
            page.body.contains(&format!(
                "<svg class=\"chart\" role=\"img\" aria-label=\"{title}\""
            )),
            "{title}"
        );
    }
    assert!(!page.body.contains("<script>"));

    let bad = b.get("/analytics?from=someday").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("role=\"alert\""));
    assert!(bad.body.contains("Give a date"));
    assert_eq!(
        b.get("/analytics/nodes.csv?to=2026-02-30").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_have_no_analytics_page_nor_its_link() {
    let b = Browser::open().await;
    let admin = b.app.register("admin@acme.test", "Acme").await;
    b.app.add_user(&admin, "vera@acme.test", "viewer").await;
    b.get("/login").await;
    let signed_in = b
        .submit(
            "/login",
            &[
                ("email", "vera@acme.test"),
                ("password", super::browser::PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    let sessions = b.get("/sessions").await;
    assert!(sessions.body.contains("href=\"/sessions\""));
    assert!(!sessions.body.contains("href=\"/analytics\""));
    assert_eq!(b.get("/analytics").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        b.get("/analytics/summary.csv").await.status,
        StatusCode::FORBIDDEN
    );
}
