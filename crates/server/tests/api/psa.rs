//! PSA connections and intake from a ticket (psa.md), against a fake ConnectWise PSA.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::fake_llm::{FakeLlm, Wire};
use crate::fake_psa::{self, FakePsa, Mode};
use crate::helpers::{spawn_app_with, Backend, Member, TestApp};
use crate::stories;

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

stories!(
    an_admin_connects_a_psa_and_nobody_sees_its_secrets,
    without_a_secret_key_credentials_are_refused_saying_so,
    an_account_has_one_connection_of_each_kind,
    another_accounts_connection_is_not_found_anywhere,
    a_test_against_a_psa_that_refuses_names_the_credentials,
    engineers_search_the_open_tickets_and_a_psa_that_hangs_is_a_502,
    a_session_starts_from_a_ticket,
    a_psa_that_is_down_never_blocks_the_start,
    a_ticket_linked_mid_session_joins_the_next_prompt,
    users_are_mapped_to_psa_members_by_email_and_by_hand,
    a_user_cannot_hammer_the_psa_through_flowpilot,
);

async fn app_with_key(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| {
        s.secret_key = Some(KEY.into());
        s.psa_timeout_secs = 1;
        s.rate_limits = false;
    })
    .await
}

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    app.call(Method::PUT, path, Some(token), Some(body)).await
}

async fn delete(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    app.call(Method::DELETE, path, Some(token), None).await
}

/// Creates the account's ConnectWise connection to `psa`; its id.
async fn connect(app: &TestApp, admin: &Member, psa: &FakePsa) -> String {
    let (status, body) = app
        .post(
            "/integrations/psa",
            &admin.token,
            json!({"kind": "connectwise", "name": "Acme CW", "base_url": psa.base_url,
                   "credentials": fake_psa::credentials()}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().expect("id").to_string()
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [fake_psa::PRIVATE_KEY, fake_psa::PUBLIC_KEY, KEY] {
        assert!(!text.contains(secret), "{what} shows a secret: {text}");
    }
}

async fn an_admin_connects_a_psa_and_nobody_sees_its_secrets(backend: Backend) {
    let app = app_with_key(backend).await;
    let psa = FakePsa::start().await;
    let admin = app.register("admin.psa@example.com", "Acme").await;
    let eng = app
        .add_user(&admin, "eng.psa@example.com", "engineer")
        .await;
    let viewer = app
        .add_user(&admin, "viewer.psa@example.com", "viewer")
        .await;

    let (status, created) = app
        .post(
            "/integrations/psa",
            &admin.token,
            json!({"kind": "connectwise", "name": "Acme CW", "base_url": format!("{}/", psa.base_url),
                   "credentials": fake_psa::credentials(), "settings": {"time_entry": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_no_secret("the 201", &created.to_string());
    assert_eq!(created["secret_set"], true);
    assert_eq!(created["kind"], "connectwise");
    assert_eq!(
        created["base_url"],
        psa.base_url.as_str(),
        "kept without the slash"
    );
    assert_eq!(created["settings"]["time_entry"], true);
    assert_eq!(
        created["settings"]["note_visibility"], "internal",
        "the default"
    );
    assert!(created.get("credentials").is_none());
    let id = created["id"].as_str().unwrap().to_string();

    // At rest the credentials are sealed, not in the clear.
    let stored = app
        .store
        .psa_connections(uuid::Uuid::parse_str(&admin.account_id).unwrap())
        .await
        .unwrap();
    assert!(stored[0].sealed_credentials.starts_with("v1."));
    assert_no_secret("the stored row", &stored[0].sealed_credentials);

    let (status, list) = app.get("/integrations/psa", &admin.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["base_url"], psa.base_url.as_str());
    let (status, list) = app.get("/integrations/psa", &eng.token).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list[0]["name"], "Acme CW");
    assert_eq!(list[0]["secret_set"], true);
    assert!(
        list[0].get("base_url").is_none() && list[0].get("settings").is_none(),
        "{list}"
    );
    let (status, _) = app.get("/integrations/psa", &viewer.token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post("/integrations/psa", &eng.token, json!({"kind": "halo", "name": "x", "base_url": "https://h.example", "credentials": {}}))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "engineers do not create connections"
    );

    // A rename keeps the credentials: the PSA still takes them.
    let (status, renamed) = app
        .patch(
            &format!("/integrations/psa/{id}"),
            &admin.token,
            json!({"name": "Acme ConnectWise"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["name"], "Acme ConnectWise");
    let (status, test) = app
        .post(
            &format!("/integrations/psa/{id}/test"),
            &admin.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(test["ok"], true, "{test}");

    // New credentials are read whole: a missing one is named, never echoed.
    let (status, body) = app
        .patch(
            &format!("/integrations/psa/{id}"),
            &admin.token,
            json!({"credentials": {"company_id": "acme", "public_key": "p", "private_key": "NewSecretValue42"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("client_id"), "{body}");
    assert!(!body.to_string().contains("NewSecretValue42"), "{body}");

    let (status, body) = app
        .post("/integrations/psa", &admin.token, json!({"kind": "halo", "name": "Halo", "base_url": "ftp://halo", "credentials": {"client_id": "c", "client_secret": "s"}, "settings": {"colour": "red"}}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let locs = body.to_string();
    assert!(
        locs.contains("base_url") && locs.contains("settings"),
        "{body}"
    );

    let (status, _) = delete(&app, &format!("/integrations/psa/{id}"), &admin.token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = delete(&app, &format!("/integrations/psa/{id}"), &admin.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn without_a_secret_key_credentials_are_refused_saying_so(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.secret_key = None).await;
    let psa = FakePsa::start().await;
    let admin = app.register("nokey@example.com", "NoKey").await;
    let (status, body) = app
        .post(
            "/integrations/psa",
            &admin.token,
            json!({"kind": "connectwise", "name": "CW", "base_url": psa.base_url, "credentials": fake_psa::credentials()}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let text = body.to_string();
    assert!(text.contains("FLOWPILOT_SECRET_KEY"), "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "credentials"]));
    assert_no_secret("the 422", &text);
    let (_, list) = app.get("/integrations/psa", &admin.token).await;
    assert_eq!(list, json!([]), "nothing was stored");
}

async fn an_account_has_one_connection_of_each_kind(backend: Backend) {
    let app = app_with_key(backend).await;
    let psa = FakePsa::start().await;
    let admin = app.register("kinds@example.com", "Kinds").await;
    connect(&app, &admin, &psa).await;
    let (status, body) = app
        .post(
            "/integrations/psa",
            &admin.token,
            json!({"kind": "connectwise", "name": "Second", "base_url": psa.base_url, "credentials": fake_psa::credentials()}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("ConnectWise PSA"),
        "{body}"
    );
    let (status, body) = app
        .post(
            "/integrations/psa",
            &admin.token,
            json!({"kind": "autotask", "name": "AT", "base_url": "https://webservices5.autotask.net",
                   "credentials": {"username": "api@acme.example", "secret": "s3cret", "integration_code": "CODE"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Another account may have its own ConnectWise connection.
    let other = app.register("kinds2@example.com", "Kinds Two").await;
    connect(&app, &other, &psa).await;
}

async fn another_accounts_connection_is_not_found_anywhere(backend: Backend) {
    let app = app_with_key(backend).await;
    let psa = FakePsa::start().await;
    let owner = app.register("owner.psa@example.com", "Owner").await;
    let id = connect(&app, &owner, &psa).await;
    let intruder = app.register("intruder.psa@example.com", "Intruder").await;
    let t = &intruder.token;
    let base = format!("/integrations/psa/{id}");
    let answers = [
        app.patch(&base, t, json!({"name": "mine"})).await,
        delete(&app, &base, t).await,
        app.post(&format!("{base}/test"), t, json!({})).await,
        app.get(&format!("{base}/tickets"), t).await,
        app.get(&format!("{base}/members"), t).await,
        put(&app, &format!("{base}/members/{}", intruder.id), t, json!({"member_id": "31"})).await,
        app.post("/ai-sessions", t, json!({"intake_type": "psa_ticket", "intake_content": {"connection_id": id, "ticket_id": "4711"}})).await,
    ];
    for (status, body) in answers {
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }
    let started = app
        .start_session(&intruder, "The VPN drops every hour")
        .await;
    let session = started["session_id"].as_str().unwrap();
    let (status, body) = app
        .post(
            &format!("/ai-sessions/{session}/link-ticket"),
            t,
            json!({"connection_id": id, "ticket_id": "4711"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(
        psa.requests().is_empty(),
        "the PSA was never called: {:?}",
        psa.requests()
    );
    let (_, list) = app.get("/integrations/psa", t).await;
    assert_eq!(list, json!([]));
}

async fn a_test_against_a_psa_that_refuses_names_the_credentials(backend: Backend) {
    let app = app_with_key(backend).await;
    let psa = FakePsa::start().await;
    let admin = app.register("test.psa@example.com", "Tests").await;
    let id = connect(&app, &admin, &psa).await;
    let (status, ok) = app
        .post(
            &format!("/integrations/psa/{id}/test"),
            &admin.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ok["ok"], true, "{ok}");
    assert!(ok["detail"].as_str().unwrap().contains("acme"), "{ok}");

    psa.set(Mode::Refusing);
    let (status, refused) = app
        .post(
            &format!("/integrations/psa/{id}/test"),
            &admin.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refused}");
    assert_eq!(refused["ok"], false);
    let detail = refused["detail"].as_str().unwrap();
    assert!(
        detail.contains("401") && detail.contains("private key") && detail.contains("client id"),
        "{detail}"
    );
    assert_no_secret("the test's detail", detail);

    psa.set(Mode::Hanging);
    let clock = Instant::now();
    let (status, hung) = app
        .post(
            &format!("/integrations/psa/{id}/test"),
            &admin.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{hung}");
    assert_eq!(hung["ok"], false);
    assert!(
        hung["detail"].as_str().unwrap().contains("did not answer"),
        "{hung}"
    );
    assert!(
        clock.elapsed() < Duration::from_secs(5),
        "gave up after the timeout"
    );
}

async fn engineers_search_the_open_tickets_and_a_psa_that_hangs_is_a_502(backend: Backend) {
    let app = app_with_key(backend).await;
    let psa = FakePsa::start().await;
    let admin = app.register("tickets.psa@example.com", "Tickets").await;
    let eng = app
        .add_user(&admin, "eng.tickets@example.com", "engineer")
        .await;
    let id = connect(&app, &admin, &psa).await;

    let (status, all) = app
        .get(&format!("/integrations/psa/{id}/tickets"), &eng.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (status, found) = app
        .get(
            &format!("/integrations/psa/{id}/tickets?q=printer&limit=10"),
            &eng.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(
        found,
        json!([{"id": "4711", "number": "4711", "summary": "Printer on 2nd floor shows offline",
                "company": "Contoso Dental", "status": "New"}])
    );
    assert!(
        psa.requests()
            .iter()
            .any(|r| r.contains("summary%20contains") || r.contains("summary+contains")),
        "{:?}",
        psa.requests()
    );
    for bad in ["limit=0", "limit=101", "skip=-1", "limit=many"] {
        let (status, body) = app
            .get(&format!("/integrations/psa/{id}/tickets?{bad}"), &eng.token)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }

    psa.set(Mode::Hanging);
    let clock = Instant::now();
    let (status, body) = app
        .get(&format!("/integrations/psa/{id}/tickets"), &eng.token)
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("ConnectWise PSA"),
        "{body}"
    );
    assert!(clock.elapsed() < Duration::from_secs(5));
}

async fn a_session_starts_from_a_ticket(backend: Backend) {
    let app = app_with_key(backend).await;
    let psa = FakePsa::start().await;
    let admin = app.register("intake.psa@example.com", "Intake").await;
    let eng = app
        .add_user(&admin, "eng.intake@example.com", "engineer")
        .await;
    let id = connect(&app, &admin, &psa).await;

    let (status, started) = app
        .post(
            "/ai-sessions",
            &eng.token,
            json!({"intake_type": "psa_ticket", "intake_content": {"connection_id": id, "ticket_id": "4711", "text": "Also the scanner is slow"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["psa"]["ticket_number"], "4711");
    assert_eq!(started["psa"]["notice"], Value::Null);
    let session = started["session_id"].as_str().unwrap();

    let (status, detail) = app
        .get(&format!("/ai-sessions/{session}"), &eng.token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["intake_type"], "psa_ticket");
    assert_eq!(detail["title"], "4711 · Printer on 2nd floor shows offline");
    assert_eq!(detail["psa"]["connection_id"], id.as_str());
    assert_eq!(detail["psa"]["ticket_id"], "4711");
    assert_eq!(detail["psa"]["ticket_number"], "4711");
    assert_eq!(detail["psa"]["company"], "Contoso Dental");
    assert!(detail["psa"]["url"]
        .as_str()
        .unwrap()
        .starts_with(&psa.base_url));
    assert_eq!(detail["intake_content"]["ticket_id"], "4711");
    let text = detail["intake_content"]["text"].as_str().unwrap();
    for part in [
        "Printer on 2nd floor shows offline",
        "HP LaserJet on the second floor",
        "Power-cycled the printer",
        "Contoso Dental",
        "PRN-2F-HP404",
        "Also the scanner is slow",
    ] {
        assert!(text.contains(part), "{part:?} is in the intake: {text}");
    }

    // What a psa_ticket intake needs, and a ticket the PSA does not have.
    let (status, body) = app
        .post(
            "/ai-sessions",
            &eng.token,
            json!({"intake_type": "psa_ticket", "intake_content": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let text = body.to_string();
    assert!(
        text.contains("connection_id") && text.contains("ticket_id"),
        "{body}"
    );
    let (status, body) = app
        .post("/ai-sessions", &eng.token, json!({"intake_type": "psa_ticket", "intake_content": {"connection_id": id, "ticket_id": "999"}}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["detail"][0]["loc"],
        json!(["body", "intake_content", "ticket_id"])
    );
}

async fn a_psa_that_is_down_never_blocks_the_start(backend: Backend) {
    let app = app_with_key(backend).await;
    let psa = FakePsa::start().await;
    let admin = app.register("down.psa@example.com", "Down").await;
    let id = connect(&app, &admin, &psa).await;
    psa.set(Mode::Hanging);
    let clock = Instant::now();
    let (status, started) = app
        .post(
            "/ai-sessions",
            &admin.token,
            json!({"intake_type": "psa_ticket", "intake_content": {"connection_id": id, "ticket_id": "4711", "text": "Printer offline for the whole floor"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert!(
        clock.elapsed() < Duration::from_secs(5),
        "the start waited only the timeout"
    );
    let notice = started["psa"]["notice"].as_str().expect("a notice");
    assert!(
        notice.contains("could not be read") && notice.contains("ConnectWise PSA"),
        "{notice}"
    );
    assert_eq!(started["psa"]["ticket_number"], Value::Null);
    assert_eq!(started["psa"]["ticket_id"], "4711");
    let session = started["session_id"].as_str().unwrap();
    let (_, detail) = app
        .get(&format!("/ai-sessions/{session}"), &admin.token)
        .await;
    assert_eq!(
        detail["intake_content"]["text"],
        "Printer offline for the whole floor"
    );
    assert_eq!(detail["psa"]["notice"], notice);

    // Once the PSA answers, the same ticket can be linked and the card fills in.
    psa.set(Mode::Up);
    let (status, linked) = app
        .post(
            &format!("/ai-sessions/{session}/link-ticket"),
            &admin.token,
            json!({"connection_id": id, "ticket_id": "4711"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{linked}");
    assert_eq!(linked["psa"]["ticket_number"], "4711");
    assert_eq!(linked["psa"]["notice"], Value::Null);
}

async fn a_ticket_linked_mid_session_joins_the_next_prompt(backend: Backend) {
    let fake = FakeLlm::start(Wire::OpenAi).await;
    let base = fake.base_url.clone();
    let app = spawn_app_with(backend, |s| {
        Wire::OpenAi.configure(s, &base);
        s.secret_key = Some(KEY.into());
        s.psa_timeout_secs = 1;
        s.rate_limits = false;
    })
    .await;
    let psa = FakePsa::start().await;
    let admin = app.register("link.psa@example.com", "Link").await;
    let id = connect(&app, &admin, &psa).await;
    let started = app
        .start_session(&admin, "The printer upstairs is offline")
        .await;
    let session = started["session_id"].as_str().unwrap().to_string();
    assert_eq!(started["psa"], Value::Null);

    let (status, linked) = app
        .post(
            &format!("/ai-sessions/{session}/link-ticket"),
            &admin.token,
            json!({"connection_id": id, "ticket_id": "4711"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{linked}");
    assert_eq!(linked["psa"]["ticket_number"], "4711");
    assert_eq!(
        linked["psa"]["summary"],
        "Printer on 2nd floor shows offline"
    );
    let before = fake.received().len();

    let reply = app
        .respond(
            &admin,
            &session,
            &started["first_step"],
            json!({"selected_option": started["first_step"]["options"][0]["value"]}),
        )
        .await;
    assert!(reply["next_step"].is_object(), "{reply}");
    let sent = fake.received();
    let next = &sent[before..];
    assert_eq!(next.len(), 1, "one step request");
    let raw = &next[0].raw;
    assert!(
        raw.contains("Printer on 2nd floor shows offline") && raw.contains("PRN-2F-HP404"),
        "the ticket reached the prompt: {raw}"
    );
    assert!(
        !raw.contains(fake_psa::TICKET_PASSWORD),
        "ticket text is redacted: {raw}"
    );

    // The same ticket again changes nothing; another one is refused.
    let (status, _) = app
        .post(
            &format!("/ai-sessions/{session}/link-ticket"),
            &admin.token,
            json!({"connection_id": id, "ticket_id": "4711"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .post(
            &format!("/ai-sessions/{session}/link-ticket"),
            &admin.token,
            json!({"connection_id": id, "ticket_id": "4712"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, detail) = app
        .get(&format!("/ai-sessions/{session}"), &admin.token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["psa"]["ticket_id"], "4711");
    assert_eq!(detail["intake_type"], "free_text");
    assert!(detail["intake_content"].get("ticket_id").is_none());
}

async fn users_are_mapped_to_psa_members_by_email_and_by_hand(backend: Backend) {
    let app = app_with_key(backend).await;
    let psa = FakePsa::start().await;
    let admin = app.register("members.psa@example.com", "Members").await;
    let eng = app
        .add_user(&admin, fake_psa::ENGINEER_EMAIL, "engineer")
        .await;
    let id = connect(&app, &admin, &psa).await;
    let (status, _) = app
        .get(&format!("/integrations/psa/{id}/members"), &eng.token)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, found) = app
        .get(&format!("/integrations/psa/{id}/members"), &admin.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["members"].as_array().unwrap().len(), 2);
    let row = |body: &Value, user: &str| {
        body["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["user_id"] == user)
            .cloned()
            .expect("the user is listed")
    };
    let mapped = row(&found, &eng.id);
    assert_eq!(mapped["member_id"], "32", "{found}");
    assert_eq!(mapped["member_name"], "Erin Engineer");
    assert_eq!(mapped["mapped_by"], "email");
    assert_eq!(row(&found, &admin.id)["mapped_by"], Value::Null);

    let path = format!("/integrations/psa/{id}/members/{}", admin.id);
    let (status, body) = put(&app, &path, &admin.token, json!({"member_id": "31"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["member_name"], "Sam Tech");
    assert_eq!(body["mapped_by"], "manual");
    let (status, body) = put(&app, &path, &admin.token, json!({"member_id": "999"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // By hand, the engineer has no member: an email match does not undo it.
    let path = format!("/integrations/psa/{id}/members/{}", eng.id);
    let (status, body) = put(&app, &path, &admin.token, json!({"member_id": null})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, again) = app
        .get(&format!("/integrations/psa/{id}/members"), &admin.token)
        .await;
    assert_eq!(row(&again, &eng.id)["member_id"], Value::Null);
    assert_eq!(row(&again, &eng.id)["mapped_by"], "manual");
    assert_eq!(row(&again, &admin.id)["member_id"], "31");
    let (status, _) = put(
        &app,
        &format!("/integrations/psa/{id}/members/{}", uuid::Uuid::new_v4()),
        &admin.token,
        json!({"member_id": "31"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn a_user_cannot_hammer_the_psa_through_flowpilot(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.secret_key = Some(KEY.into());
        s.psa_timeout_secs = 1;
        s.rate_limits = true;
    })
    .await;
    let psa = FakePsa::start().await;
    let admin = app.register("admin.hammer@example.com", "Hammer").await;
    let eng = app
        .add_user(&admin, "eng.hammer@example.com", "engineer")
        .await;
    let connection = connect(&app, &admin, &psa).await;
    let tickets = format!("/integrations/psa/{connection}/tickets?q=printer");
    let listed = |psa: &FakePsa| {
        psa.requests()
            .iter()
            .filter(|r| r.starts_with("/v4_6_release/apis/3.0/service/tickets?"))
            .count()
    };

    for _ in 0..20 {
        let (status, body) = app.get(&tickets, &eng.token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let resp = app
        .client
        .get(app.url(&tickets))
        .bearer_auth(&eng.token)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .expect("header")
        .parse()
        .expect("seconds");
    assert!((1..=120).contains(&retry), "Retry-After {retry}");
    let (_, body) = TestApp::read(resp).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("at most 20 a minute"),
        "{body}"
    );
    assert_eq!(
        listed(&psa),
        20,
        "the refused request never reached the PSA"
    );

    // The allowance is the user's: the admin still searches, tests and maps.
    let (status, _) = app.get(&tickets, &admin.token).await;
    assert_eq!(status, StatusCode::OK);
    let (status, test) = app
        .post(
            &format!("/integrations/psa/{connection}/test"),
            &admin.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{test}");
    assert_eq!(listed(&psa), 22);
}
