//! The Autotask adapter against a fake Autotask zone: the paths, headers and bodies of
//! psa.md, the tenant's note picklists, never more than 3 requests in flight per endpoint, and
//! each failure mapped to the `PsaError` the outbox acts on.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use domain::psa::{
    AutotaskCredentials, Credentials, NoteVisibility, PsaClient, PsaError, StatusChange,
    TicketQuery,
};
use flowpilot_integrations::psa::MAX_CONCURRENT_PER_ENDPOINT;
use serde_json::json;
use support::autotask::{
    self as fake, INTEGRATION_CODE, NOTE_TYPE_DEFAULT, NOTE_TYPE_INTERNAL, PUBLISH_ALL,
    PUBLISH_INTERNAL, SECRET, USERNAME,
};
use support::{connector, Failure};

fn credentials() -> Credentials {
    Credentials::Autotask(AutotaskCredentials {
        username: USERNAME.into(),
        secret: SECRET.into(),
        integration_code: INTEGRATION_CODE.into(),
    })
}

async fn setup() -> (support::Fake<fake::World>, Arc<dyn PsaClient>) {
    let fake = fake::start().await;
    let client = connector().client(&fake.url, &credentials()).unwrap();
    (fake, client)
}

#[tokio::test]
async fn reads_a_ticket_with_company_contact_and_configuration_item() {
    let (fake, client) = setup().await;
    let ticket = client.read_ticket("201").await.unwrap();
    assert_eq!(ticket.number, "T20261130.0001");
    assert_eq!(ticket.summary, "Outlook keeps asking for password");
    assert_eq!(
        ticket.description,
        "User reports Outlook prompts for a password since Monday."
    );
    assert_eq!(ticket.notes.len(), 1);
    assert_eq!(ticket.notes[0].text, "Called user: MFA re-registered.");
    assert!(ticket.notes[0].internal);
    assert_eq!(ticket.company.as_deref(), Some("Acme Ltd"));
    assert_eq!(ticket.contact.as_ref().unwrap().name, "Jane Doe");
    assert_eq!(ticket.configuration_items, ["ACME-LT-042"]);
    assert_eq!(ticket.status.as_deref(), Some("New"));
    assert_eq!(
        ticket.url.unwrap(),
        format!(
            "{}/Mvc/ServiceDesk/TicketDetail.mvc?workspace=False&ticketId=201",
            fake.url
        )
    );
    let read = &fake.requests_to(Method::GET, "/Tickets/201")[0];
    assert_eq!(read.header("apiintegrationcode"), Some(INTEGRATION_CODE));
    assert_eq!(read.header("username"), Some(USERNAME));
    assert_eq!(read.header("secret"), Some(SECRET));
    assert_eq!(fake.requests_to(Method::GET, "/Tickets/201/Notes").len(), 1);

    // Autotask answers an unknown id with a null item.
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
        open.iter().map(|t| t.number.as_str()).collect::<Vec<_>>(),
        ["T20261130.0001", "T20261130.0002"],
        "the completed ticket is left out"
    );
    assert_eq!(open[1].status.as_deref(), Some("In Progress"));
    assert_eq!(open[0].company.as_deref(), Some("Acme Ltd"));

    let vpn = client
        .list_open_tickets(&TicketQuery {
            q: Some("VPN".into()),
            skip: 0,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(vpn.len(), 1);
    assert_eq!(vpn[0].id, "202");
    let query = fake.requests_to(Method::POST, "/Tickets/query");
    assert_eq!(
        query.last().unwrap().body["filter"],
        json!([
            {"op": "noteq", "field": "status", "value": 5},
            {"op": "contains", "field": "title", "value": "VPN"}
        ])
    );
    assert_eq!(query.last().unwrap().body["MaxRecords"], 10);
}

#[tokio::test]
async fn posts_an_internal_note_with_the_tenants_internal_picklist_values() {
    let (fake, client) = setup().await;
    let id = client
        .post_note("201", &support::note(NoteVisibility::Internal, "fp-n1"))
        .await
        .unwrap();
    let posts = fake.requests_to(Method::POST, "/Tickets/201/Notes");
    assert_eq!(posts.len(), 1);
    let body = &posts[0].body;
    let description = body["description"].as_str().unwrap().to_string();
    assert_eq!(
        body,
        &json!({
            "ticketID": 201,
            "title": "Outlook keeps asking for a password",
            "description": description,
            "noteType": NOTE_TYPE_INTERNAL,
            "publish": PUBLISH_INTERNAL,
        })
    );
    assert!(!description.contains("**") && !description.contains('`'));
    assert!(description.ends_with("FlowPilot ref: fp-n1"));
    assert_eq!(
        id.0,
        fake.world().notes[&201].last().unwrap()["id"].to_string()
    );

    // The picklists are read once per client.
    client
        .post_note("201", &support::note(NoteVisibility::Internal, "fp-n2"))
        .await
        .unwrap();
    assert_eq!(fake.world().note_field_reads, 1);
}

#[tokio::test]
async fn posts_a_customer_visible_note_only_when_visibility_is_customer() {
    let (fake, client) = setup().await;
    client
        .post_note("201", &support::note(NoteVisibility::Customer, "fp-c1"))
        .await
        .unwrap();
    let body = &fake.requests_to(Method::POST, "/Tickets/201/Notes")[0].body;
    assert_eq!(body["publish"], PUBLISH_ALL);
    assert_eq!(body["noteType"], NOTE_TYPE_DEFAULT);
}

#[tokio::test]
async fn finds_a_posted_note_by_its_marker() {
    let (_fake, client) = setup().await;
    assert_eq!(client.find_note("201", "fp-m1").await.unwrap(), None);
    let id = client
        .post_note("201", &support::note(NoteVisibility::Internal, "fp-m1"))
        .await
        .unwrap();
    assert_eq!(client.find_note("201", "fp-m1").await.unwrap(), Some(id));
}

#[tokio::test]
async fn posts_a_time_entry_and_finds_it_again() {
    let (fake, client) = setup().await;
    let members = client.list_members().await.unwrap();
    let ann = domain::psa::Member::find_by_email(&members, "ann@msp.example").unwrap();
    assert_eq!(ann.name, "Ann Tech");
    let id = client
        .post_time_entry("201", &support::time_entry(&ann.id, "fp-t1"))
        .await
        .unwrap();
    let body = &fake.requests_to(Method::POST, "/TimeEntries")[0].body;
    assert_eq!(
        body,
        &json!({
            "ticketID": 201, "resourceID": 29682885,
            "dateWorked": "2026-12-01T00:00:00Z",
            "startDateTime": "2026-12-01T09:15:00Z", "endDateTime": "2026-12-01T10:00:00Z",
            "hoursWorked": 0.75,
            "summaryNotes": "FlowPilot session: Outlook keeps asking for a password (resolved)\n\nFlowPilot ref: fp-t1",
        })
    );
    assert_eq!(
        client.find_time_entry("201", "fp-t1").await.unwrap(),
        Some(id)
    );
    assert_eq!(client.find_time_entry("201", "fp-t9").await.unwrap(), None);
}

#[tokio::test]
async fn sets_the_status_by_id_or_by_name() {
    let (fake, client) = setup().await;
    client
        .set_status("201", &StatusChange::new("Complete"))
        .await
        .unwrap();
    assert_eq!(
        fake.requests_to(Method::PATCH, "/Tickets")[0].body,
        json!({"id": 201, "status": 5})
    );
    client
        .set_status("201", &StatusChange::new("13"))
        .await
        .unwrap();
    assert_eq!(fake.world().ticket(201).unwrap()["status"], 13);
    let unknown = client
        .set_status("201", &StatusChange::new("Done-ish"))
        .await
        .unwrap_err();
    assert!(matches!(unknown, PsaError::Misconfigured(_)));
}

#[tokio::test]
async fn never_more_than_three_requests_in_flight_per_endpoint() {
    let fake = fake::start().await;
    fake.delay(Duration::from_millis(120));
    let connector = flowpilot_integrations::PsaConnector::new(Duration::from_secs(10));
    // Two clients of the same integration, as two requests of the server would build them.
    let a = connector.client(&fake.url, &credentials()).unwrap();
    let b = connector.client(&fake.url, &credentials()).unwrap();
    let calls = (0..12).map(|i| {
        let client = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move { client.find_note("201", "fp-none").await }
    });
    let started = std::time::Instant::now();
    let results = futures_join(calls.collect()).await;
    assert!(results.iter().all(|r| r == &Ok(None)), "{results:?}");
    assert_eq!(
        fake.requests_to(Method::GET, "/Tickets/201/Notes").len(),
        12
    );
    assert_eq!(
        fake.max_concurrent("Tickets"),
        MAX_CONCURRENT_PER_ENDPOINT,
        "up to the limit, never past it"
    );
    // 12 requests, 3 at a time, 120 ms each: at least 4 rounds.
    assert!(started.elapsed() >= Duration::from_millis(4 * 120));

    // Another endpoint has its own three.
    let mixed = (0..6).map(|i| {
        let client = a.clone();
        async move {
            if i % 2 == 0 {
                client.find_note("201", "x").await.map(|_| ())
            } else {
                client.list_members().await.map(|_| ())
            }
        }
    });
    let results = futures_join(mixed.collect()).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(fake.max_concurrent("Resources"), 3);
}

/// Runs the futures concurrently on this task (no extra dependency for `join_all`).
async fn futures_join<F, T>(futures: Vec<F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test]
async fn failures_map_to_what_the_outbox_acts_on() {
    let (fake, client) = setup().await;
    let note = support::note(NoteVisibility::Internal, "fp-f1");
    // Read the picklists first so each failure below hits the note itself.
    assert_eq!(client.find_note("201", "fp-f1").await.unwrap(), None);
    client
        .post_note("201", &support::note(NoteVisibility::Internal, "fp-warm"))
        .await
        .unwrap();
    let before = fake.world().notes[&201].len();

    fake.fail(
        "/Tickets/201/Notes",
        Failure::RateLimited { retry_after: 30 },
        1,
    );
    let limited = client.post_note("201", &note).await.unwrap_err();
    assert_eq!(
        limited,
        PsaError::RateLimited {
            retry_after: Some(30)
        }
    );

    fake.fail("/Tickets/201/Notes", Failure::Status(500), 1);
    let upstream = client.post_note("201", &note).await.unwrap_err();
    assert!(matches!(upstream, PsaError::Upstream { status: 500, .. }));
    assert!(upstream.write_may_have_landed());

    fake.fail("/Tickets/201/Notes", Failure::Hang, 1);
    let hung = client.post_note("201", &note).await.unwrap_err();
    assert!(matches!(hung, PsaError::Timeout { .. }));
    assert!(hung.is_retryable() && hung.write_may_have_landed());

    fake.fail("/Tickets/201/Notes", Failure::Status(404), 1);
    let missing = client.post_note("201", &note).await.unwrap_err();
    assert!(matches!(missing, PsaError::NotFound { .. }));

    assert_eq!(
        fake.world().notes[&201].len(),
        before,
        "no failure stored a note"
    );
}

#[tokio::test]
async fn wrong_credentials_say_what_to_check_and_never_show_the_secret() {
    let fake = fake::start().await;
    let wrong = Credentials::Autotask(AutotaskCredentials {
        username: USERNAME.into(),
        secret: "wrongSECRET000".into(),
        integration_code: INTEGRATION_CODE.into(),
    });
    let client = connector().client(&fake.url, &wrong).unwrap();
    let err = client.test_connection().await.unwrap_err();
    assert!(matches!(err, PsaError::Unauthorized { status: 401, .. }));
    let message = err.to_string();
    assert!(
        message.contains("integration code") && message.contains("zone URL"),
        "{message}"
    );
    assert!(!message.contains("wrongSECRET000") && !message.contains(INTEGRATION_CODE));

    let good = connector().client(&fake.url, &credentials()).unwrap();
    assert!(good
        .test_connection()
        .await
        .unwrap()
        .detail
        .contains("Autotask"));
}

#[tokio::test]
async fn a_note_whose_answer_was_lost_is_found_not_posted_again() {
    let (fake, client) = setup().await;
    let gained = support::lost_answer_is_found_not_reposted(
        &fake,
        client.as_ref(),
        "201",
        "/Tickets/201/Notes",
        |w| w.notes[&201].len(),
    )
    .await;
    assert_eq!(gained, 1);
}
