//! The ConnectWise PSA adapter against a fake ConnectWise: the paths, headers and bodies of
//! psa.md, and each failure mapped to the `PsaError` the outbox acts on.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

mod support;

use axum::http::Method;
use domain::psa::{
    ConnectWiseCredentials, Credentials, NoteVisibility, PsaClient, PsaError, StatusChange,
    TicketQuery,
};
use serde_json::json;
use std::sync::Arc;
use support::connectwise::{self as fake, CLIENT_ID, COMPANY_ID, PRIVATE_KEY, PUBLIC_KEY};
use support::{connector, Failure};

fn credentials() -> Credentials {
    Credentials::ConnectWise(ConnectWiseCredentials {
        company_id: COMPANY_ID.into(),
        public_key: PUBLIC_KEY.into(),
        private_key: PRIVATE_KEY.into(),
        client_id: CLIENT_ID.into(),
    })
}

async fn setup() -> (support::Fake<fake::World>, Arc<dyn PsaClient>) {
    let fake = fake::start().await;
    let client = connector().client(&fake.url, &credentials()).unwrap();
    (fake, client)
}

#[tokio::test]
async fn reads_a_ticket_with_its_notes_and_configurations() {
    let (fake, client) = setup().await;
    let ticket = client.read_ticket("101").await.unwrap();
    assert_eq!(ticket.id, "101");
    assert_eq!(ticket.number, "101");
    assert_eq!(ticket.summary, "Outlook keeps asking for password");
    assert_eq!(
        ticket.description,
        "User reports Outlook prompts for a password since Monday."
    );
    assert_eq!(
        ticket.notes.len(),
        1,
        "the description is not repeated as a note"
    );
    assert_eq!(ticket.notes[0].text, "Called the user, MFA re-registered.");
    assert_eq!(ticket.notes[0].author.as_deref(), Some("Ann Tech"));
    assert!(ticket.notes[0].internal);
    assert_eq!(ticket.company.as_deref(), Some("Acme Ltd"));
    let contact = ticket.contact.unwrap();
    assert_eq!(contact.name, "Jane Doe");
    assert_eq!(contact.email.as_deref(), Some("jane@acme.example"));
    assert_eq!(ticket.configuration_items, ["ACME-LT-042"]);
    assert_eq!(ticket.status.as_deref(), Some("New"));
    assert_eq!(
        ticket.url.unwrap(),
        format!("{}/v4_6_release/services/system_io/Service/fv_sr100_request.rsvc?service_recid=101&companyName=acme", fake.url)
    );

    let reads = fake.requests_to(Method::GET, "/service/tickets/101");
    assert_eq!(reads.len(), 1);
    assert_eq!(
        fake.requests_to(Method::GET, "/service/tickets/101/notes")
            .len(),
        1
    );
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{COMPANY_ID}+{PUBLIC_KEY}:{PRIVATE_KEY}"));
    assert_eq!(
        reads[0].header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert_eq!(reads[0].header("clientid"), Some(CLIENT_ID));
}

#[tokio::test]
async fn lists_open_tickets_with_a_search() {
    let (fake, client) = setup().await;
    let all = client
        .list_open_tickets(&TicketQuery::default())
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["102", "101"],
        "closed tickets are left out, newest first"
    );
    assert_eq!(all[0].company.as_deref(), Some("Acme Ltd"));
    assert_eq!(all[0].status.as_deref(), Some("In Progress"));

    let vpn = client
        .list_open_tickets(&TicketQuery {
            q: Some("vpn".into()),
            skip: 0,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(vpn.len(), 1);
    assert_eq!(vpn[0].summary, "VPN drops every hour");
    let list = fake.requests_to(Method::GET, "/service/tickets");
    let last = list.last().unwrap();
    assert_eq!(
        last.q("conditions"),
        Some("closedFlag=false and summary contains \"vpn\"")
    );
    assert_eq!(last.q("pageSize"), Some("10"));
    assert_eq!(last.q("page"), Some("1"));

    let second_page = client
        .list_open_tickets(&TicketQuery {
            q: None,
            skip: 1,
            limit: 1,
        })
        .await
        .unwrap();
    assert_eq!(second_page.len(), 1);
    assert_eq!(second_page[0].id, "101");
}

#[tokio::test]
async fn posts_an_internal_note_with_exactly_the_internal_flags() {
    let (fake, client) = setup().await;
    let id = client
        .post_note("101", &support::note(NoteVisibility::Internal, "fp-n1"))
        .await
        .unwrap();
    let posts = fake.requests_to(Method::POST, "/service/tickets/101/notes");
    assert_eq!(posts.len(), 1);
    let body = &posts[0].body;
    let text = body["text"].as_str().unwrap().to_string();
    assert_eq!(
        body,
        &json!({"text": text, "internalAnalysisFlag": true, "detailDescriptionFlag": false, "resolutionFlag": true})
    );
    assert!(
        text.starts_with("Outlook keeps asking for a password\n===="),
        "{text}"
    );
    assert!(text.contains("1. Cleared the cached credentials in Credential Manager"));
    assert!(text.contains("    Get-MailboxStatistics jane"));
    for symbol in ["**", "##", "`"] {
        assert!(!text.contains(symbol), "{symbol} in {text}");
    }
    assert!(text.ends_with("FlowPilot ref: fp-n1"));
    let stored = fake.world().notes[&101].last().unwrap().clone();
    assert_eq!(stored["id"].to_string(), id.0);
}

#[tokio::test]
async fn posts_a_customer_visible_note_only_when_visibility_is_customer() {
    let (fake, client) = setup().await;
    let mut escalation = support::note(NoteVisibility::Customer, "fp-c1");
    escalation.resolution = false;
    client.post_note("101", &escalation).await.unwrap();
    let body = &fake.requests_to(Method::POST, "/service/tickets/101/notes")[0].body;
    assert_eq!(body["internalAnalysisFlag"], false);
    assert_eq!(body["detailDescriptionFlag"], true);
    assert_eq!(body["resolutionFlag"], false);
}

#[tokio::test]
async fn finds_a_posted_note_by_its_marker() {
    let (_fake, client) = setup().await;
    assert_eq!(client.find_note("101", "fp-m1").await.unwrap(), None);
    let id = client
        .post_note("101", &support::note(NoteVisibility::Internal, "fp-m1"))
        .await
        .unwrap();
    assert_eq!(client.find_note("101", "fp-m1").await.unwrap(), Some(id));
    assert_eq!(client.find_note("101", "fp-m").await.unwrap(), None);
}

#[tokio::test]
async fn posts_a_time_entry_and_finds_it_again() {
    let (fake, client) = setup().await;
    let members = client.list_members().await.unwrap();
    let ann = domain::psa::Member::find_by_email(&members, "ANN@msp.example").unwrap();
    assert_eq!((ann.id.as_str(), ann.name.as_str()), ("31", "Ann Tech"));

    let id = client
        .post_time_entry("101", &support::time_entry(&ann.id, "fp-t1"))
        .await
        .unwrap();
    let body = &fake.requests_to(Method::POST, "/time/entries")[0].body;
    assert_eq!(
        body,
        &json!({
            "chargeToId": 101, "chargeToType": "ServiceTicket",
            "timeStart": "2026-12-01T09:15:00Z", "timeEnd": "2026-12-01T10:00:00Z",
            "notes": "FlowPilot session: Outlook keeps asking for a password (resolved)\n\nFlowPilot ref: fp-t1",
            "member": {"id": 31},
        })
    );
    assert_eq!(
        client.find_time_entry("101", "fp-t1").await.unwrap(),
        Some(id)
    );
    assert_eq!(client.find_time_entry("101", "fp-t2").await.unwrap(), None);
}

#[tokio::test]
async fn sets_the_status_by_id_or_by_name() {
    let (fake, client) = setup().await;
    client
        .set_status("101", &StatusChange::new("resolved"))
        .await
        .unwrap();
    let patches = fake.requests_to(Method::PATCH, "/service/tickets/101");
    assert_eq!(
        patches[0].body,
        json!([{"op": "replace", "path": "status", "value": {"id": 12}}])
    );
    assert_eq!(
        fake.requests_to(Method::GET, "/service/boards/1/statuses")
            .len(),
        1
    );
    client
        .set_status("101", &StatusChange::new("11"))
        .await
        .unwrap();
    assert_eq!(
        fake.world().ticket(101).unwrap()["status"]["name"],
        "In Progress"
    );

    let unknown = client
        .set_status("101", &StatusChange::new("Closed by FlowPilot"))
        .await
        .unwrap_err();
    assert!(matches!(unknown, PsaError::Misconfigured(_)), "{unknown:?}");
}

#[tokio::test]
async fn failures_map_to_what_the_outbox_acts_on() {
    let (fake, client) = setup().await;
    let note = support::note(NoteVisibility::Internal, "fp-f1");

    fake.fail("/notes", Failure::RateLimited { retry_after: 7 }, 1);
    let limited = client.post_note("101", &note).await.unwrap_err();
    assert_eq!(
        limited,
        PsaError::RateLimited {
            retry_after: Some(7)
        }
    );
    assert!(limited.is_retryable() && !limited.write_may_have_landed());

    fake.fail("/notes", Failure::Status(500), 1);
    let upstream = client.post_note("101", &note).await.unwrap_err();
    assert!(
        matches!(upstream, PsaError::Upstream { status: 500, .. }),
        "{upstream:?}"
    );
    assert!(upstream.is_retryable() && upstream.write_may_have_landed());

    fake.fail("/notes", Failure::Hang, 1);
    let hung = client.post_note("101", &note).await.unwrap_err();
    assert_eq!(hung, PsaError::Timeout { seconds: 1 });
    assert!(hung.is_retryable() && hung.write_may_have_landed());

    fake.fail("/notes", Failure::Status(401), 1);
    let unauthorized = client.post_note("101", &note).await.unwrap_err();
    assert!(matches!(
        unauthorized,
        PsaError::Unauthorized { status: 401, .. }
    ));
    assert!(!unauthorized.is_retryable());

    let missing = client.read_ticket("999").await.unwrap_err();
    assert!(matches!(missing, PsaError::NotFound { .. }), "{missing:?}");
    assert!(!missing.is_retryable());

    // Nothing landed: none of the failures above stored a note.
    assert_eq!(fake.world().notes[&101].len(), 2);
}

#[tokio::test]
async fn wrong_credentials_say_what_to_check_and_never_show_the_keys() {
    let fake = fake::start().await;
    let wrong = Credentials::ConnectWise(ConnectWiseCredentials {
        company_id: COMPANY_ID.into(),
        public_key: PUBLIC_KEY.into(),
        private_key: "wrongPRIVATE999".into(),
        client_id: CLIENT_ID.into(),
    });
    let client = connector().client(&fake.url, &wrong).unwrap();
    let err = client.test_connection().await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, PsaError::Unauthorized { status: 401, .. }));
    assert!(
        message.contains("private key") && message.contains("client id"),
        "{message}"
    );
    for secret in ["wrongPRIVATE999", PUBLIC_KEY] {
        assert!(!message.contains(secret) && !format!("{err:?}").contains(secret));
    }

    let good = connector().client(&fake.url, &credentials()).unwrap();
    let check = good.test_connection().await.unwrap();
    assert!(check.detail.contains("acme"), "{}", check.detail);
}

#[tokio::test]
async fn rejected_requests_carry_the_psa_message_and_unreachable_ones_say_nothing_landed() {
    let (fake, client) = setup().await;
    // Ticket 555 is no ticket: ConnectWise answers 400 with its reasons.
    let err = client
        .post_time_entry("555", &support::time_entry("31", "fp-r2"))
        .await
        .unwrap_err();
    match &err {
        PsaError::Rejected {
            status: 400,
            message,
        } => {
            assert!(message.contains("chargeToId is not a ticket"), "{message}")
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(!err.is_retryable() && !err.write_may_have_landed());
    assert!(fake.world().time_entries.is_empty());

    fake.fail("/service/tickets/101", Failure::Status(302), 1);
    let moved = client.read_ticket("101").await.unwrap_err();
    assert!(matches!(moved, PsaError::Misconfigured(_)), "{moved:?}");
    assert!(moved.to_string().contains("base_url"));

    fake.fail("/system/members", Failure::Status(403), 1);
    let forbidden = client.list_members().await.unwrap_err();
    assert!(
        forbidden.to_string().contains("security role"),
        "{forbidden}"
    );

    let nowhere = connector()
        .client(&support::closed_port_url().await, &credentials())
        .unwrap();
    let err = nowhere.read_ticket("101").await.unwrap_err();
    assert!(matches!(err, PsaError::Unreachable(_)), "{err:?}");
    assert!(err.is_retryable() && !err.write_may_have_landed());
    let err = client.read_ticket("101/../../system").await.unwrap_err();
    assert!(matches!(err, PsaError::NotFound { .. }));
}

#[tokio::test]
async fn a_note_whose_answer_was_lost_is_found_not_posted_again() {
    let (fake, client) = setup().await;
    let gained = support::lost_answer_is_found_not_reposted(
        &fake,
        client.as_ref(),
        "101",
        "/service/tickets/101/notes",
        |w| w.notes[&101].len(),
    )
    .await;
    assert_eq!(gained, 1);
}
