//! escalation.md "Notifications": an admin's settings (403 for engineers, 422 for what is not
//! valid, the secret never returned); a local webhook sink and a local SMTP sink each get one
//! message per event and recipient (escalated, claimed, unclaimed too long, check-back),
//! signed with HMAC and in the Slack and Teams shapes; the unclaimed reminder once with two
//! servers on one database; a delivery pending when the server stops, sent once by the next.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{
    fresh_database, spawn_app_with, spawn_on, tier_two, Backend, Member, TestApp,
};
use crate::sinks::{wait_until, Posted, SmtpSink, WebhookSink};
use crate::stories;

stories!(
    admins_read_and_replace_the_settings_and_engineers_are_refused,
    bad_settings_are_refused_with_422_and_change_nothing,
    escalating_to_a_team_and_claiming_notify_each_recipient_and_webhook_once,
    an_escalation_unclaimed_too_long_is_reminded_once_with_two_servers,
    a_check_back_that_is_due_reminds_the_owner_once,
    a_notification_pending_when_the_server_stops_is_sent_once_by_the_next,
);

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const SECRET: &str = "whsec-tier2-7f3a";
const PUBLIC: &str = "https://fp.acme.test";
const OUTLOOK: &str = "Outlook keeps asking for a password on three laptops since this morning";

fn configure(smtp: &SmtpSink) -> impl FnOnce(&mut flowpilot_server::Settings) + '_ {
    move |s| {
        s.secret_key = Some(KEY.into());
        s.smtp_url = Some(smtp.url());
        s.smtp_from = Some("flowpilot@acme.test".into());
        s.public_url = Some(PUBLIC.into());
        s.reminder_scan_secs = 1;
    }
}

async fn put(app: &TestApp, who: &Member, body: Value) -> (StatusCode, Value) {
    app.call(
        Method::PUT,
        "/integrations/notifications",
        Some(&who.token),
        Some(body),
    )
    .await
}

/// PUTs `body` as the account's settings, which must be taken: the settings as saved.
async fn saved(app: &TestApp, who: &Member, body: Value) -> Value {
    let (status, reply) = put(app, who, body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    reply
}

/// A session of `who`, started and escalated with `body` (the reason added); its id.
async fn escalated(app: &TestApp, who: &Member, mut body: Value) -> String {
    let started = app.start_session(who, OUTLOOK).await;
    let id = started["session_id"].as_str().unwrap().to_string();
    body["escalation_reason"] = json!("Needs tier 2: the broker reset needs admin rights");
    let (status, reply) = app
        .post(&format!("/ai-sessions/{id}/escalate"), &who.token, body)
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    id
}

/// Checks `X-FlowPilot-Signature` against the raw body and the timestamp, as a receiver
/// would, with its own copy of the secret.
pub(crate) fn signed_with(posted: &Posted, secret: &str) -> bool {
    let (Some(ts), Some(sig)) = (
        posted.header("x-flowpilot-timestamp"),
        posted.header("x-flowpilot-signature"),
    ) else {
        return false;
    };
    let Some(hex_sig) = sig.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(tag) = hex::decode(hex_sig) else {
        return false;
    };
    let mut message = format!("{ts}.").into_bytes();
    message.extend_from_slice(&posted.raw);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    ring::hmac::verify(&key, &message, &tag).is_ok()
}

fn events(posts: &[Posted]) -> Vec<String> {
    posts
        .iter()
        .map(|p| p.event().unwrap_or_default())
        .collect()
}

async fn admins_read_and_replace_the_settings_and_engineers_are_refused(backend: Backend) {
    let smtp = SmtpSink::start().await;
    let app = spawn_app_with(backend, configure(&smtp)).await;
    let c = tier_two(&app).await;

    // Before any save: email on every event, no webhook, no reminder.
    let (status, body) = app.get("/integrations/notifications", &c.admin.token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["webhooks"], json!([]));
    assert_eq!(
        body["email_events"],
        json!([
            "escalated",
            "claimed",
            "unclaimed_reminder",
            "check_back_reminder"
        ])
    );
    assert!(body["unclaimed_reminder_minutes"].is_null());
    assert_eq!(body["smtp_configured"], true);

    let body = saved(
        &app,
        &c.admin,
        json!({
            "webhooks": [
                {"url": "https://hooks.acme.test/fp", "format": "generic", "secret": SECRET},
                {"url": "https://hooks.slack.test/services/T/B/x", "format": "slack", "events": ["escalated", "unclaimed_reminder"]}
            ],
            "email_events": ["escalated"],
            "escalation_contacts": ["Lead@Acme.test", "lead@acme.test", "oncall@acme.test"],
            "unclaimed_reminder_minutes": 30
        }),
    )
    .await;
    assert!(
        !body.to_string().contains(SECRET),
        "the secret never comes back: {body}"
    );
    assert_eq!(body["webhooks"][0]["secret_set"], true);
    assert_eq!(body["webhooks"][1]["secret_set"], false);
    assert_eq!(
        body["webhooks"][1]["events"],
        json!(["escalated", "unclaimed_reminder"])
    );
    assert_eq!(
        body["escalation_contacts"],
        json!(["lead@acme.test", "oncall@acme.test"])
    );
    assert_eq!(body["unclaimed_reminder_minutes"], 30);
    let first_id = body["webhooks"][0]["id"].clone();

    // Nor is it stored in the clear.
    let stored = app
        .store
        .notification_settings(uuid::Uuid::parse_str(&c.admin.account_id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let sealed = stored.webhooks[0].sealed_secret.clone().unwrap();
    assert!(sealed.starts_with("v1.") && !sealed.contains(SECRET));

    // Sent again by its id without a secret, the webhook keeps it; an empty one removes it.
    let body = saved(
        &app,
        &c.admin,
        json!({"webhooks": [{"id": first_id, "url": "https://hooks.acme.test/fp2", "format": "teams"}]}),
    )
    .await;
    assert_eq!(body["webhooks"][0]["id"], first_id);
    assert_eq!(body["webhooks"][0]["secret_set"], true);
    assert_eq!(body["webhooks"][0]["format"], "teams");
    assert!(body["unclaimed_reminder_minutes"].is_null());
    let (_, got) = app.get("/integrations/notifications", &c.admin.token).await;
    assert_eq!(got, body, "GET answers what PUT stored");
    let (_, body) = put(
        &app,
        &c.admin,
        json!({"webhooks": [{"id": first_id, "url": "https://hooks.acme.test/fp2", "format": "teams", "secret": ""}]}),
    )
    .await;
    assert_eq!(body["webhooks"][0]["secret_set"], false);

    // Engineers neither read nor change them.
    let (status, _) = app.get("/integrations/notifications", &c.ada.token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = put(&app, &c.ada, json!({"webhooks": []})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .call(Method::GET, "/integrations/notifications", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn bad_settings_are_refused_with_422_and_change_nothing(backend: Backend) {
    let smtp = SmtpSink::start().await;
    let app = spawn_app_with(backend, configure(&smtp)).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let before = saved(
        &app,
        &admin,
        json!({"unclaimed_reminder_minutes": 15, "escalation_contacts": ["lead@acme.test"]}),
    )
    .await;

    let bad = [
        (
            json!({"webhooks": [{"url": "ftp://hooks.acme.test", "format": "generic"}]}),
            json!(["body", "webhooks", 0, "url"]),
        ),
        (
            json!({"webhooks": [{"url": "https://", "format": "generic"}]}),
            json!(["body", "webhooks", 0, "url"]),
        ),
        (
            json!({"webhooks": [{"url": "https://[::1/hook", "format": "generic"}]}),
            json!(["body", "webhooks", 0, "url"]),
        ),
        (
            json!({"webhooks": [{"url": "https://h.acme.test/\u{7}", "format": "generic"}]}),
            json!(["body", "webhooks", 0, "url"]),
        ),
        (
            json!({"webhooks": [{"url": "https://h.acme.test", "format": "discord"}]}),
            json!(["body", "webhooks", 0, "format"]),
        ),
        (
            json!({"webhooks": [{"url": "https://h.acme.test", "format": "slack", "events": ["resolved"]}]}),
            json!(["body", "webhooks", 0, "events", 0]),
        ),
        (
            json!({"webhooks": [{"url": "https://h.acme.test", "format": "slack", "events": []}]}),
            json!(["body", "webhooks", 0, "events"]),
        ),
        (
            json!({"email_events": ["escalated", "rated"]}),
            json!(["body", "email_events", 1]),
        ),
        (
            json!({"escalation_contacts": ["lead@acme.test", "not an address"]}),
            json!(["body", "escalation_contacts", 1]),
        ),
        (
            json!({"unclaimed_reminder_minutes": 0}),
            json!(["body", "unclaimed_reminder_minutes"]),
        ),
        (
            json!({"unclaimed_reminder_minutes": 20000}),
            json!(["body", "unclaimed_reminder_minutes"]),
        ),
    ];
    for (body, loc) in bad {
        let (status, reply) = put(&app, &admin, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {reply}");
        assert!(
            reply["detail"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["loc"] == loc),
            "{body}: {reply}"
        );
    }
    let eleven: Vec<Value> = (0..11)
        .map(|i| json!({"url": format!("https://h{i}.acme.test"), "format": "generic"}))
        .collect();
    let (status, reply) = put(&app, &admin, json!({"webhooks": eleven})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
    let (status, reply) = put(&app, &admin, json!({"unclaimed_reminder_minutes": "soon"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");

    let (_, after) = app.get("/integrations/notifications", &admin.token).await;
    assert_eq!(after, before, "a refused PUT changes nothing");

    // A secret needs the server's key to be stored encrypted.
    let keyless = spawn_app_with(backend, |s| s.secret_key = None).await;
    let admin = keyless.register("admin@acme.test", "Acme").await;
    let (status, reply) = put(
        &keyless,
        &admin,
        json!({"webhooks": [{"url": "https://h.acme.test", "format": "generic", "secret": SECRET}]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
    assert_eq!(reply["detail"][0]["type"], "secret_key_missing", "{reply}");
    assert_eq!(
        reply["detail"][0]["loc"],
        json!(["body", "webhooks", 0, "secret"])
    );
}

async fn escalating_to_a_team_and_claiming_notify_each_recipient_and_webhook_once(
    backend: Backend,
) {
    let smtp = SmtpSink::start().await;
    let hooks = WebhookSink::start().await;
    let app = spawn_app_with(backend, configure(&smtp)).await;
    let c = tier_two(&app).await;
    saved(
        &app,
        &c.admin,
        json!({"webhooks": [
            {"url": hooks.url("/generic"), "format": "generic", "secret": SECRET},
            {"url": hooks.url("/slack"), "format": "slack"},
            {"url": hooks.url("/teams"), "format": "teams", "events": ["claimed"]}
        ]}),
    )
    .await;

    let id = escalated(&app, &c.owner, json!({"escalated_to_team_id": c.team_id})).await;

    // The team's two members get one email each; the owner, who escalated, none.
    wait_until("the escalation's emails and webhooks", || {
        smtp.mails().len() >= 2
            && hooks.accepted("/generic").len() == 1
            && hooks.accepted("/slack").len() == 1
    })
    .await;
    let to_ada = smtp.to("ada@acme.test");
    assert_eq!(to_ada.len(), 1);
    assert_eq!(smtp.to("bob@acme.test").len(), 1);
    assert!(smtp.to("owner@acme.test").is_empty());
    let mail = &to_ada[0];
    assert_eq!(mail.from, "flowpilot@acme.test");
    let subject = mail.header("subject").unwrap();
    assert!(subject.starts_with("[FlowPilot] Escalated: "), "{subject}");
    let text = mail.text();
    for part in [
        "Engineer owner@acme.test escalated",
        "Reason: Needs tier 2: the broker reset needs admin rights",
        "Escalated to: team Tier 2",
        &format!("Open it: {PUBLIC}/pilot/{id}"),
    ] {
        assert!(text.contains(part), "{part:?} not in:\n{text}");
    }

    // The generic body, signed; Slack's shape; Teams was not asked for this event.
    let generic = &hooks.accepted("/generic")[0];
    assert!(signed_with(generic, SECRET), "the HMAC verifies");
    assert!(!signed_with(generic, "another secret"));
    assert_eq!(generic.event().as_deref(), Some("escalated"));
    assert_eq!(generic.body["event"], "escalated");
    assert_eq!(generic.body["session_id"], id.as_str());
    assert_eq!(generic.body["target"], "team Tier 2");
    assert_eq!(
        generic.body["reason"],
        "Needs tier 2: the broker reset needs admin rights"
    );
    assert_eq!(generic.body["url"], format!("{PUBLIC}/pilot/{id}"));
    assert!(generic.body["age_seconds"].as_i64().unwrap() >= 0);
    assert!(generic
        .header("idempotency-key")
        .unwrap()
        .starts_with("notify:escalated:"));
    let slack = &hooks.accepted("/slack")[0];
    assert!(
        slack.header("x-flowpilot-signature").is_none(),
        "no secret, no signature"
    );
    assert!(slack.body["text"].as_str().unwrap().contains("escalated"));
    let blocks = slack.body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "section");
    assert_eq!(
        blocks.last().unwrap()["elements"][0]["url"],
        format!("{PUBLIC}/pilot/{id}")
    );
    assert_eq!(hooks.tried("/teams"), 0);

    // Ada claims: who escalated hears it, and each webhook for claims once.
    let (status, body) = app
        .post(&format!("/ai-sessions/{id}/claim"), &c.ada.token, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    wait_until("the claim's email and webhooks", || {
        smtp.to("owner@acme.test").len() == 1
            && hooks.accepted("/generic").len() == 2
            && hooks.accepted("/teams").len() == 1
            && hooks.accepted("/slack").len() == 2
    })
    .await;
    let claimed = &smtp.to("owner@acme.test")[0];
    assert!(claimed
        .header("subject")
        .unwrap()
        .starts_with("[FlowPilot] Claimed: "));
    assert!(claimed
        .text()
        .contains("Claimed by: Engineer ada@acme.test"));
    let teams = &hooks.accepted("/teams")[0];
    assert_eq!(teams.body["type"], "message");
    let card = &teams.body["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["content"]["type"], "AdaptiveCard");
    assert!(card["content"]["body"][0]["text"]
        .as_str()
        .unwrap()
        .contains("claimed"));
    assert_eq!(
        card["content"]["actions"][0]["url"],
        format!("{PUBLIC}/pilot/{id}")
    );
    let generic = &hooks.accepted("/generic")[1];
    assert!(signed_with(generic, SECRET));
    assert_eq!(generic.body["claimed_by"], "Engineer ada@acme.test");

    // Bob's losing claim sends nothing; nothing arrives twice.
    let (status, _) = app
        .post(&format!("/ai-sessions/{id}/claim"), &c.bob.token, json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(smtp.mails().len(), 3, "{:#?}", smtp.mails());
    assert_eq!(
        events(&hooks.accepted("/generic")),
        ["escalated", "claimed"]
    );
    assert_eq!(events(&hooks.accepted("/slack")), ["escalated", "claimed"]);
    assert_eq!(events(&hooks.accepted("/teams")), ["claimed"]);
}

async fn an_escalation_unclaimed_too_long_is_reminded_once_with_two_servers(backend: Backend) {
    let smtp = SmtpSink::start().await;
    let hooks = WebhookSink::start().await;
    let (url, dir) = fresh_database(backend).await;
    let first = spawn_on(url.clone(), None, configure(&smtp)).await;
    let second = spawn_on(url, None, configure(&smtp)).await;
    let admin = first.register("admin@acme.test", "Acme").await;
    let owner = first.add_engineer(&admin, "owner@acme.test", None).await;
    saved(
        &first,
        &admin,
        json!({
            "webhooks": [{"url": hooks.url("/hook"), "format": "generic"}],
            "escalation_contacts": ["lead@acme.test"],
            "unclaimed_reminder_minutes": 10
        }),
    )
    .await;

    // To the account's queue: the escalation contacts hear of it.
    let id = escalated(&first, &owner, json!({})).await;
    wait_until("the escalation", || {
        smtp.to("lead@acme.test").len() == 1 && hooks.accepted("/hook").len() == 1
    })
    .await;
    // Not yet ten minutes: no reminder from either server.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(hooks.accepted("/hook").len(), 1);

    // Eleven minutes ago, as far as the database knows; both servers scan every second.
    first
        .run_sql(&format!(
            "UPDATE escalations SET escalated_at = escalated_at - 660000 WHERE session_id = '{id}'"
        ))
        .await;
    wait_until("the reminder", || hooks.accepted("/hook").len() == 2).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        events(&hooks.accepted("/hook")),
        ["escalated", "unclaimed_reminder"]
    );
    let reminder = &hooks.accepted("/hook")[1];
    assert!(reminder.body["age_seconds"].as_i64().unwrap() >= 660);
    assert!(
        reminder.body["text"]
            .as_str()
            .unwrap()
            .contains("11 minutes unclaimed"),
        "{}",
        reminder.body
    );
    let to_lead = smtp.to("lead@acme.test");
    assert_eq!(
        to_lead.len(),
        2,
        "one escalation, one reminder: {to_lead:#?}"
    );
    assert!(to_lead[1]
        .header("subject")
        .unwrap()
        .starts_with("[FlowPilot] Still unclaimed: "));
    drop(second);
    drop(first);
    drop(dir);
}

async fn a_check_back_that_is_due_reminds_the_owner_once(backend: Backend) {
    let smtp = SmtpSink::start().await;
    let hooks = WebhookSink::start().await;
    let app = spawn_app_with(backend, configure(&smtp)).await;
    let c = tier_two(&app).await;
    saved(
        &app,
        &c.admin,
        json!({"webhooks": [{"url": hooks.url("/hook"), "format": "slack", "events": ["check_back_reminder"]}]}),
    )
    .await;
    let started = app.start_session(&c.owner, OUTLOOK).await;
    let id = started["session_id"].as_str().unwrap().to_string();
    let later = app
        .start_session(&c.owner, "The VPN drops every hour on the dot")
        .await;
    let later_id = later["session_id"].as_str().unwrap().to_string();
    let now_ms = chrono::Utc::now().timestamp_millis();
    // Awaiting verification: one due a minute ago, one due tomorrow.
    app.run_sql(&format!(
        "UPDATE ai_sessions SET status = 'awaiting_verification', check_back_at = {} WHERE id = '{id}'",
        now_ms - 60_000
    ))
    .await;
    app.run_sql(&format!(
        "UPDATE ai_sessions SET status = 'awaiting_verification', check_back_at = {} WHERE id = '{later_id}'",
        now_ms + 86_400_000
    ))
    .await;

    wait_until("the check-back reminder", || {
        smtp.to("owner@acme.test").len() == 1 && hooks.accepted("/hook").len() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    assert!(mails[0]
        .header("subject")
        .unwrap()
        .starts_with("[FlowPilot] Check back: "));
    let text = mails[0].text();
    assert!(text.contains("Record the fix's outcome"), "{text}");
    assert!(text.contains(&format!("{PUBLIC}/pilot/{id}")), "{text}");
    let posted = hooks.accepted("/hook");
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].event().as_deref(), Some("check_back_reminder"));
    assert!(posted[0].body["text"].as_str().unwrap().contains("fix"));
    let reminded = app
        .store
        .check_backs_due(chrono::Utc::now() + chrono::Duration::days(2), 10)
        .await
        .unwrap();
    let ids: Vec<String> = reminded.iter().map(|d| d.session_id.to_string()).collect();
    assert_eq!(ids, [later_id], "the due one is noted as reminded");
}

async fn a_notification_pending_when_the_server_stops_is_sent_once_by_the_next(backend: Backend) {
    let smtp = SmtpSink::start().await;
    let hooks = WebhookSink::start().await;
    let (url, dir) = fresh_database(backend).await;
    let first = spawn_on(url.clone(), None, configure(&smtp)).await;
    let c = tier_two(&first).await;
    saved(
        &first,
        &c.admin,
        json!({"webhooks": [{"url": hooks.url("/hook"), "format": "generic", "secret": SECRET}]}),
    )
    .await;

    // Both receivers are down when the session is escalated to Ada.
    hooks.set_down(true);
    smtp.set_down(true);
    escalated(&first, &c.owner, json!({"escalated_to_id": c.ada.id})).await;
    wait_until("a refused attempt of each", || {
        hooks.tried("/hook") >= 1 && smtp.refused() >= 1
    })
    .await;
    drop(first);
    // The first server is gone; the receivers come back; a new server takes over.
    tokio::time::sleep(Duration::from_millis(500)).await;
    hooks.set_down(false);
    smtp.set_down(false);
    let second = spawn_on(url, None, configure(&smtp)).await;
    wait_until("the deliveries", || {
        hooks.accepted("/hook").len() == 1 && smtp.to("ada@acme.test").len() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let posted = hooks.accepted("/hook");
    assert_eq!(posted.len(), 1, "sent once");
    assert!(
        signed_with(&posted[0], SECRET),
        "signed by the server that sent it"
    );
    assert_eq!(smtp.mails().len(), 1, "{:#?}", smtp.mails());
    drop(second);
    drop(dir);
}
