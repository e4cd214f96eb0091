//! The HaloPSA adapter against a fake Halo: the token (cached, renewed, refreshed once on a
//! 401), the list-shaped writes, HTML notes, and each failure mapped to the `PsaError` the
//! outbox acts on.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use domain::psa::{
    Credentials, HaloCredentials, NoteVisibility, PsaClient, PsaError, StatusChange, TicketQuery,
};
use serde_json::json;
use support::halo::{self as fake, CLIENT_ID, CLIENT_SECRET, TENANT};
use support::{connector, Failure};

fn credentials(tenant: Option<&str>) -> Credentials {
    Credentials::Halo(HaloCredentials {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        tenant: tenant.map(str::to_string),
    })
}

async fn setup() -> (support::Fake<fake::World>, Arc<dyn PsaClient>) {
    let fake = fake::start(fake::world()).await;
    let client = connector().client(&fake.url, &credentials(None)).unwrap();
    (fake, client)
}

#[tokio::test]
async fn reads_a_ticket_with_its_actions_and_assets() {
    let (fake, client) = setup().await;
    let ticket = client.read_ticket("301").await.unwrap();
    assert_eq!(ticket.summary, "Outlook keeps asking for password");
    assert_eq!(
        ticket.description,
        "User reports Outlook prompts for a password since Monday."
    );
    assert_eq!(ticket.notes.len(), 1);
    assert_eq!(ticket.notes[0].text, "Called the user, MFA re-registered.");
    assert_eq!(ticket.notes[0].author.as_deref(), Some("Ann Tech"));
    assert!(ticket.notes[0].internal);
    assert_eq!(ticket.company.as_deref(), Some("Acme Ltd"));
    assert_eq!(
        ticket.contact.as_ref().unwrap().email.as_deref(),
        Some("jane@acme.example")
    );
    assert_eq!(ticket.configuration_items, ["ACME-LT-042"]);
    assert_eq!(ticket.status.as_deref(), Some("New"));
    assert_eq!(ticket.url.unwrap(), format!("{}/ticket?id=301", fake.url));

    let read = &fake.requests_to(Method::GET, "/api/Tickets/301")[0];
    assert_eq!(read.q("includedetails"), Some("true"));
    assert_eq!(read.header("authorization"), Some("Bearer token-1"));
    assert_eq!(
        fake.requests_to(Method::GET, "/api/Actions")[0].q("ticket_id"),
        Some("301")
    );

    let missing = client.read_ticket("999").await.unwrap_err();
    assert!(matches!(missing, PsaError::NotFound { .. }), "{missing:?}");
}

#[tokio::test]
async fn lists_open_tickets_with_a_search() {
    let (fake, client) = setup().await;
    let open = client
        .list_open_tickets(&TicketQuery::default())
        .await
        .unwrap();
    assert_eq!(
        open.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["302", "301"]
    );
    assert_eq!(open[0].status.as_deref(), Some("In Progress"));
    assert_eq!(open[0].company.as_deref(), Some("Acme Ltd"));
    let vpn = client
        .list_open_tickets(&TicketQuery {
            q: Some("vpn".into()),
            skip: 0,
            limit: 5,
        })
        .await
        .unwrap();
    assert_eq!(vpn.len(), 1);
    let list = fake.requests_to(Method::GET, "/api/Tickets");
    let last = list.last().unwrap();
    assert_eq!(last.q("open_only"), Some("true"));
    assert_eq!(last.q("search"), Some("vpn"));
    assert_eq!(last.q("page_size"), Some("5"));
}

#[tokio::test]
async fn posts_an_internal_note_as_a_hidden_html_action_in_a_list() {
    let (fake, client) = setup().await;
    let mut note = support::note(NoteVisibility::Internal, "fp-n1");
    note.text.push_str("\n<script>alert('x')</script> & done\n");
    let id = client.post_note("301", &note).await.unwrap();
    let posts = fake.requests_to(Method::POST, "/api/Actions");
    assert_eq!(posts.len(), 1);
    let list = posts[0].body.as_array().expect("Halo writes are lists");
    assert_eq!(list.len(), 1);
    let html = list[0]["note"].as_str().unwrap().to_string();
    assert_eq!(
        list[0],
        json!({"ticket_id": 301, "note": html, "hiddenfromuser": true, "outcome": "FlowPilot resolution"})
    );
    assert!(
        html.contains("<h1>Outlook keeps asking for a password</h1>"),
        "{html}"
    );
    assert!(html.contains("<code>Credential Manager</code>"));
    assert!(html.contains("<strong>Outlook</strong>"));
    assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"));
    assert!(html.contains("FlowPilot ref: fp-n1"));
    assert_eq!(
        fake.world().all_actions(301).last().unwrap()["id"].to_string(),
        id.0
    );
}

#[tokio::test]
async fn posts_a_customer_visible_note_only_when_visibility_is_customer() {
    let (fake, client) = setup().await;
    client
        .post_note("301", &support::note(NoteVisibility::Customer, "fp-c1"))
        .await
        .unwrap();
    let body = &fake.requests_to(Method::POST, "/api/Actions")[0].body;
    assert_eq!(body[0]["hiddenfromuser"], false);
}

#[tokio::test]
async fn finds_a_posted_note_by_its_marker() {
    let (_fake, client) = setup().await;
    assert_eq!(client.find_note("301", "fp-m1").await.unwrap(), None);
    let id = client
        .post_note("301", &support::note(NoteVisibility::Internal, "fp-m1"))
        .await
        .unwrap();
    assert_eq!(client.find_note("301", "fp-m1").await.unwrap(), Some(id));
}

#[tokio::test]
async fn records_time_on_the_notes_action_or_on_its_own() {
    let (fake, client) = setup().await;
    let members = client.list_members().await.unwrap();
    assert_eq!(members.len(), 1, "disabled agents are left out");
    let ann = domain::psa::Member::find_by_email(&members, "ann@msp.example").unwrap();

    let note = client
        .post_note("301", &support::note(NoteVisibility::Internal, "fp-n2"))
        .await
        .unwrap();
    let mut entry = support::time_entry(&ann.id, "fp-t1");
    entry.on_note = Some(note.0.clone());
    let on_note = client.post_time_entry("301", &entry).await.unwrap();
    assert_eq!(on_note, note, "the time is on the note's action");
    let posts = fake.requests_to(Method::POST, "/api/Actions");
    assert_eq!(
        posts[1].body,
        json!([{"id": note.0.parse::<u64>().unwrap(), "ticket_id": 301, "timetaken": 0.75, "who_agentid": 4}])
    );
    let stored = fake.world().all_actions(301);
    assert_eq!(stored.len(), 2, "updated, not added");
    assert_eq!(stored.last().unwrap()["timetaken"], 0.75);

    // Without a note to ride on, a hidden action of its own carries the time.
    let own = client
        .post_time_entry("301", &support::time_entry(&ann.id, "fp-t2"))
        .await
        .unwrap();
    let body = &fake.requests_to(Method::POST, "/api/Actions")[2].body[0];
    assert_eq!(body["timetaken"], 0.75);
    assert_eq!(body["hiddenfromuser"], true);
    assert_eq!(body["who_agentid"], 4);
    assert_eq!(
        client.find_time_entry("301", "fp-t2").await.unwrap(),
        Some(own)
    );
}

#[tokio::test]
async fn sets_the_status_with_a_list_by_id_or_by_name() {
    let (fake, client) = setup().await;
    client
        .set_status("301", &StatusChange::new("Resolved"))
        .await
        .unwrap();
    assert_eq!(
        fake.requests_to(Method::POST, "/api/Tickets")[0].body,
        json!([{"id": 301, "status_id": 8}])
    );
    client
        .set_status("301", &StatusChange::new("2"))
        .await
        .unwrap();
    assert_eq!(fake.world().ticket(301).unwrap()["status_id"], 2);
    assert!(matches!(
        client.set_status("301", &StatusChange::new("Nope")).await,
        Err(PsaError::Misconfigured(_))
    ));
}

#[tokio::test]
async fn the_token_is_requested_once_and_reused() {
    let mut world = fake::world();
    world.tenant = Some(TENANT);
    let fake = fake::start(world).await;
    let connector = connector();
    let client = connector
        .client(&fake.url, &credentials(Some(TENANT)))
        .unwrap();
    client.read_ticket("301").await.unwrap();
    client
        .list_open_tickets(&TicketQuery::default())
        .await
        .unwrap();
    // A new client for the same connection shares the token.
    let again = connector
        .client(&fake.url, &credentials(Some(TENANT)))
        .unwrap();
    again.list_members().await.unwrap();
    assert_eq!(fake.world().token_requests, 1);

    let token = &fake.requests_to(Method::POST, "/auth/token")[0];
    assert_eq!(token.q("tenant"), Some(TENANT));
    let form = token.form();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["scope"], "all");
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(form["client_secret"], CLIENT_SECRET);
}

#[tokio::test]
async fn an_expired_token_is_replaced() {
    let mut world = fake::world();
    world.expires_in = 1;
    let fake = fake::start(world).await;
    let client = connector().client(&fake.url, &credentials(None)).unwrap();
    client.list_members().await.unwrap();
    client.list_members().await.unwrap();
    assert_eq!(fake.world().token_requests, 1);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    client.list_members().await.unwrap();
    assert_eq!(fake.world().token_requests, 2);
}

#[tokio::test]
async fn a_401_refreshes_the_token_once() {
    let (fake, client) = setup().await;
    client.list_members().await.unwrap();
    fake.world().revoke_tokens();
    // The write is retried with a new token: a 401 applied nothing.
    client
        .post_note("301", &support::note(NoteVisibility::Internal, "fp-r1"))
        .await
        .unwrap();
    assert_eq!(fake.world().token_requests, 2);
    assert_eq!(fake.requests_to(Method::POST, "/api/Actions").len(), 2);
    assert_eq!(fake.world().all_actions(301).len(), 2);

    // A PSA that keeps refusing is not asked forever.
    fake.fail("/api/Agent", Failure::Status(401), 5);
    let err = client.list_members().await.unwrap_err();
    assert!(matches!(err, PsaError::Unauthorized { status: 401, .. }));
    assert_eq!(fake.requests_to(Method::GET, "/api/Agent").len(), 3);
    assert_eq!(fake.world().token_requests, 3);
}

#[tokio::test]
async fn wrong_credentials_say_what_to_check_and_never_show_the_secret() {
    let fake = fake::start(fake::world()).await;
    let wrong = Credentials::Halo(HaloCredentials {
        client_id: CLIENT_ID.into(),
        client_secret: "wrongHALO321".into(),
        tenant: None,
    });
    let client = connector().client(&fake.url, &wrong).unwrap();
    let err = client.test_connection().await.unwrap_err();
    assert!(matches!(err, PsaError::Unauthorized { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("client secret"), "{message}");
    assert!(!message.contains("wrongHALO321"));

    let good = connector().client(&fake.url, &credentials(None)).unwrap();
    assert!(good
        .test_connection()
        .await
        .unwrap()
        .detail
        .contains("HaloPSA"));
}

#[tokio::test]
async fn failures_map_to_what_the_outbox_acts_on() {
    let (fake, client) = setup().await;
    let note = support::note(NoteVisibility::Internal, "fp-f1");
    client.list_members().await.unwrap();

    fake.fail("/api/Actions", Failure::RateLimited { retry_after: 3 }, 1);
    assert_eq!(
        client.post_note("301", &note).await.unwrap_err(),
        PsaError::RateLimited {
            retry_after: Some(3)
        }
    );
    fake.fail("/api/Actions", Failure::Status(500), 1);
    let upstream = client.post_note("301", &note).await.unwrap_err();
    assert!(matches!(upstream, PsaError::Upstream { status: 500, .. }));
    fake.fail("/api/Actions", Failure::Hang, 1);
    let hung = client.post_note("301", &note).await.unwrap_err();
    assert!(matches!(hung, PsaError::Timeout { .. }) && hung.write_may_have_landed());
    fake.fail("/api/Actions", Failure::Status(404), 1);
    assert!(matches!(
        client.post_note("301", &note).await.unwrap_err(),
        PsaError::NotFound { .. }
    ));
    fake.fail("/auth/token", Failure::Status(500), 1);
    fake.world().revoke_tokens();
    let token_down = client.list_members().await.unwrap_err();
    assert!(matches!(token_down, PsaError::Upstream { status: 500, .. }));
    assert_eq!(
        fake.world().all_actions(301).len(),
        1,
        "no failure stored an action"
    );
}

#[tokio::test]
async fn a_note_whose_answer_was_lost_is_found_not_posted_again() {
    let (fake, client) = setup().await;
    let gained = support::lost_answer_is_found_not_reposted(
        &fake,
        client.as_ref(),
        "301",
        "/api/Actions",
        |w| w.all_actions(301).len(),
    )
    .await;
    assert_eq!(gained, 1);
}
