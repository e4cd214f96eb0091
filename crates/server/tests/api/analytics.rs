//! The analytics overview (memory.md "Flow health and analytics"): a scripted set of offline
//! sessions on a known flow, their times set on the stored rows, and every figure of the
//! overview asserted to be exactly what the script implies, on both backends.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use store::AiUsageRecord;
use uuid::Uuid;

use crate::helpers::{spawn_app, Backend, Member, TestApp};
use crate::stories;

stories!(
    the_overview_counts_exactly_what_the_sessions_did,
    engineers_see_their_own_sessions_and_viewers_none,
    bad_ranges_are_422,
);

const OUTLOOK: &str = "Outlook keeps asking for a password on my laptop since this morning";
/// 2026-11-10T09:00:00Z in Unix ms: the day the scripted sessions start.
const BASE_MS: i64 = 1_794_301_200_000;
const RANGE: &str = "from=2026-11-01&to=2026-11-30";

struct Script {
    /// Session id by the letter the story calls it.
    ids: Vec<(char, String)>,
}

impl Script {
    fn id(&self, letter: char) -> &str {
        &self.ids.iter().find(|(l, _)| *l == letter).unwrap().1
    }
}

async fn choose(app: &TestApp, who: &Member, session: &str, step: &Value, value: &str) -> Value {
    app.respond(who, session, step, json!({"selected_option": value}))
        .await["next_step"]
        .clone()
}

async fn act(app: &TestApp, who: &Member, session: &str, action: &str, body: Value) {
    let path = format!("/ai-sessions/{session}/{action}");
    let body = (!body.is_null()).then_some(body);
    let (status, reply) = app.call(Method::POST, &path, Some(&who.token), body).await;
    assert_eq!(status, StatusCode::OK, "{action}: {reply}");
}

async fn rate(app: &TestApp, who: &Member, session: &str, rating: i64) {
    let (status, reply) = app
        .post(
            &format!("/ai-sessions/{session}/rate"),
            &who.token,
            json!({"rating": rating}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{reply}");
}

/// Starts an Outlook session and walks it: `one` user, then the credentials cleared
/// (`done_worked`): the next step is the flow's fix, a resolution suggestion.
async fn to_the_fix(app: &TestApp, who: &Member) -> (String, Value) {
    let started = app.start_session(who, OUTLOOK).await;
    assert_eq!(
        started["matched_flow_name"], "Outlook keeps asking for a password",
        "{started}"
    );
    let id = started["session_id"].as_str().unwrap().to_string();
    let clear = choose(app, who, &id, &started["first_step"], "one").await;
    let fix = choose(app, who, &id, &clear, "done_worked").await;
    assert_eq!(fix["step_type"], "resolution_suggestion", "{fix}");
    (id, fix)
}

/// Sets a session's start (and resolution, `resolved_after` seconds later) on the stored row.
async fn set_times(app: &TestApp, id: &str, start_ms: i64, resolved_after: Option<i64>) {
    let resolved = resolved_after.map_or("resolved_at".to_string(), |s| {
        (start_ms + s * 1000).to_string()
    });
    app.run_sql(&format!(
        "UPDATE ai_sessions SET created_at = {start_ms}, resolved_at = {resolved} WHERE id = '{id}'"
    ))
    .await;
}

fn usage(who: &Member, session: &str, cost: f64, input: i64, output: i64) -> AiUsageRecord {
    AiUsageRecord {
        account_id: Uuid::parse_str(&who.account_id).unwrap(),
        user_id: Uuid::parse_str(&who.id).unwrap(),
        session_id: Some(Uuid::parse_str(session).unwrap()),
        provider: "openai".into(),
        model: "gpt-4o-mini".into(),
        purpose: "step".into(),
        input_tokens: input,
        output_tokens: output,
        cached_input_tokens: 0,
        cost_usd: cost,
        success: true,
    }
}

async fn detail(app: &TestApp, who: &Member, id: &str) -> Value {
    let (status, s) = app.get(&format!("/ai-sessions/{id}"), &who.token).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    s
}

/// The script (letters as in the comments of the story):
/// - A, B (admin): to the fix, resolved with it, in 600 s and 1800 s; rated 5 and 4.
/// - C (admin): `one` typed as free text, the credentials changed nothing, that step then
///   marked not relevant, escalated at the broker reset.
/// - D (admin): abandoned at the first question.
/// - F (engineer): answered the first question, left open.
/// - G (engineer): to the fix, its outcome `worked` (which resolves it) in 3600 s; rated 2.
/// - E (second engineer): matched no flow, resolved in its own words in 300 s.
/// - I (second engineer): to the fix, abandoned there.
/// - H (second engineer): like A but started in October, outside the range.
async fn script(app: &TestApp, admin: &Member, eng: &Member, eng2: &Member) -> Script {
    let mut ids = Vec::new();
    let used = json!({"used_suggested_resolution": true});

    for (letter, after, rating) in [('A', 600, 5), ('B', 1800, 4)] {
        let (id, _) = to_the_fix(app, admin).await;
        act(app, admin, &id, "resolve", used.clone()).await;
        rate(app, admin, &id, rating).await;
        set_times(
            app,
            &id,
            BASE_MS + ids.len() as i64 * 3_600_000,
            Some(after),
        )
        .await;
        ids.push((letter, id));
    }

    let started = app.start_session(admin, OUTLOOK).await;
    let c = started["session_id"].as_str().unwrap().to_string();
    let clear = app
        .respond(
            admin,
            &c,
            &started["first_step"],
            json!({"free_text_input": "just one user"}),
        )
        .await["next_step"]
        .clone();
    assert!(
        clear["content"]["content"]
            .as_str()
            .unwrap()
            .starts_with("Close Outlook"),
        "the typed answer took the one-user branch: {clear}"
    );
    choose(app, admin, &c, &clear, "done_no_change").await;
    // Looking back, the credentials step did not apply to this machine.
    act(
        app,
        admin,
        &c,
        &format!("steps/{}/not-relevant", clear["step_id"].as_str().unwrap()),
        json!({"reason": "No Credential Manager on this kiosk"}),
    )
    .await;
    act(
        app,
        admin,
        &c,
        "escalate",
        json!({"escalation_reason": "Needs tenant admin rights"}),
    )
    .await;
    set_times(app, &c, BASE_MS + 2 * 3_600_000, None).await;
    ids.push(('C', c));

    let started = app.start_session(admin, OUTLOOK).await;
    let d = started["session_id"].as_str().unwrap().to_string();
    act(app, admin, &d, "abandon", Value::Null).await;
    set_times(app, &d, BASE_MS + 3 * 3_600_000, None).await;
    ids.push(('D', d));

    let started = app.start_session(eng, OUTLOOK).await;
    let f = started["session_id"].as_str().unwrap().to_string();
    choose(app, eng, &f, &started["first_step"], "one").await;
    set_times(app, &f, BASE_MS + 4 * 3_600_000, None).await;
    ids.push(('F', f));

    let (g, fix) = to_the_fix(app, eng).await;
    // The fix's outcome: it worked, which resolves the session with it.
    act(
        app,
        eng,
        &g,
        &format!("steps/{}/outcome", fix["step_id"].as_str().unwrap()),
        json!({"outcome": "worked"}),
    )
    .await;
    assert_eq!(detail(app, eng, &g).await["status"], "resolved");
    rate(app, eng, &g, 2).await;
    set_times(app, &g, BASE_MS + 5 * 3_600_000, Some(3600)).await;
    ids.push(('G', g));

    let started = app
        .start_session(
            eng2,
            "The coffee machine on the third floor beeps and shows E42",
        )
        .await;
    assert!(started["matched_flow_id"].is_null(), "{started}");
    let e = started["session_id"].as_str().unwrap().to_string();
    act(
        app,
        eng2,
        &e,
        "resolve",
        json!({"resolution_summary": "Descaled the machine"}),
    )
    .await;
    set_times(app, &e, BASE_MS + 6 * 3_600_000, Some(300)).await;
    ids.push(('E', e));

    let (i, _) = to_the_fix(app, eng2).await;
    act(app, eng2, &i, "abandon", Value::Null).await;
    set_times(app, &i, BASE_MS + 7 * 3_600_000, None).await;
    ids.push(('I', i));

    let (h, _) = to_the_fix(app, eng2).await;
    act(app, eng2, &h, "resolve", used).await;
    // 2026-10-15: before the range.
    set_times(app, &h, 1_792_054_800_000, Some(60)).await;
    ids.push(('H', h));

    // A ran on a provider: its calls are in the ledger, as is one of C's.
    let a = ids[0].1.clone();
    app.run_sql(&format!(
        "UPDATE ai_sessions SET engine = 'openai:gpt-4o-mini' WHERE id = '{a}'"
    ))
    .await;
    let c = ids[2].1.clone();
    for rec in [
        usage(admin, &a, 0.012, 100, 20),
        usage(admin, &a, 0.003, 50, 10),
        usage(admin, &c, 0.02, 200, 40),
    ] {
        app.store
            .record_ai_usage(&rec, chrono::Utc::now())
            .await
            .unwrap();
    }
    Script { ids }
}

async fn overview(app: &TestApp, who: &Member, query: &str) -> Value {
    let (status, body) = app
        .get(&format!("/analytics/overview?{query}"), &who.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn node<'a>(o: &'a Value, id: &str) -> &'a Value {
    o["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node_id"] == id)
        .unwrap_or_else(|| panic!("no node {id}: {}", o["nodes"]))
}

async fn the_overview_counts_exactly_what_the_sessions_did(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let eng = app.add_user(&admin, "eng@acme.test", "engineer").await;
    let eng2 = app.add_user(&admin, "eng2@acme.test", "engineer").await;
    let s = script(&app, &admin, &eng, &eng2).await;
    let o = overview(&app, &admin, RANGE).await;
    assert_eq!(o["scope"], "account");
    assert_eq!(o["from"], "2026-11-01T00:00:00Z");
    assert_eq!(o["to"], "2026-12-01T00:00:00Z");

    // Steps of the resolved sessions as stored: three on the walk to the fix, one for E.
    let mut resolved_steps = 0;
    for letter in ['A', 'B', 'E', 'G'] {
        resolved_steps += detail(&app, &admin, s.id(letter)).await["steps"]
            .as_array()
            .unwrap()
            .len();
    }
    assert_eq!(resolved_steps, 3 + 3 + 1 + 3);

    let t = &o["totals"];
    assert_eq!(
        t,
        &json!({
            "started": 8, "resolved": 4, "escalated": 1, "abandoned": 2, "open": 1,
            "resolution_rate": 4.0 / 8.0, "escalation_rate": 1.0 / 8.0,
            // Times 300, 600, 1800, 3600: ranks ⌈0.5·4⌉ = 2 and ⌈0.9·4⌉ = 4.
            "mttr_p50_seconds": 600, "mttr_p90_seconds": 3600,
            "steps_per_resolved": 10.0 / 4.0,
            "rated": 3, "rating_mean": 11.0 / 3.0,
            "unmatched": 1, "coverage": 7.0 / 8.0,
        })
    );

    // By flow: the Outlook flow, then the sessions no flow matched.
    let flows = o["by_flow"].as_array().unwrap();
    assert_eq!(flows.len(), 2, "{flows:?}");
    assert_eq!(flows[0]["flow_name"], "Outlook keeps asking for a password");
    assert_eq!(
        flows[0]["outcomes"],
        json!({
            "started": 7, "resolved": 3, "escalated": 1, "abandoned": 2, "open": 1,
            "resolution_rate": 3.0 / 7.0, "escalation_rate": 1.0 / 7.0,
            // 600, 1800, 3600: ranks 2 and 3.
            "mttr_p50_seconds": 1800, "mttr_p90_seconds": 3600,
            "steps_per_resolved": 3.0, "rated": 3, "rating_mean": 11.0 / 3.0,
            "unmatched": 0, "coverage": 1.0,
        })
    );
    assert!(flows[1]["flow_id"].is_null());
    assert_eq!(
        flows[1]["outcomes"],
        json!({
            "started": 1, "resolved": 1, "escalated": 0, "abandoned": 0, "open": 0,
            "resolution_rate": 1.0, "escalation_rate": 0.0,
            "mttr_p50_seconds": 300, "mttr_p90_seconds": 300,
            "steps_per_resolved": 1.0, "rated": 0, "rating_mean": null,
            "unmatched": 1, "coverage": 0.0,
        })
    );

    // By domain: the flow's domain holds the seven Outlook sessions; E has its own.
    let domains = o["by_domain"].as_array().unwrap();
    assert_eq!(domains[0]["domain"], "email_m365");
    assert_eq!(domains[0]["outcomes"], flows[0]["outcomes"]);
    let e_domain = detail(&app, &eng2, s.id('E')).await["problem_domain"].clone();
    assert_ne!(e_domain, "email_m365");
    assert_eq!(domains.len(), 2);
    assert_eq!(domains[1]["domain"], e_domain);
    assert_eq!(domains[1]["outcomes"], flows[1]["outcomes"]);

    // Per node of the Outlook flow.
    let q = node(&o, "q_scope");
    assert_eq!(
        (
            &q["reached"],
            &q["shown"],
            &q["answered"],
            &q["free_text"],
            &q["free_text_rate"]
        ),
        (
            &json!(7),
            &json!(7),
            &json!(6),
            &json!(1),
            &json!(1.0 / 6.0)
        )
    );
    assert_eq!(
        (
            &q["left_resolved"],
            &q["left_escalated"],
            &q["left_abandoned"],
            &q["dead_end_sessions"],
            &q["dead_end"]
        ),
        (&json!(0), &json!(0), &json!(1), &json!(1), &json!(false))
    );
    assert_eq!(q["node_type"], "question");
    assert_eq!(q["node_text"], "Is it one user or several?");
    let clear = node(&o, "a_clear_creds");
    assert_eq!(
        (
            &clear["reached"],
            &clear["answered"],
            &clear["not_relevant"],
            &clear["not_relevant_rate"],
            &clear["dead_end_sessions"]
        ),
        (
            &json!(6),
            &json!(5),
            &json!(1),
            &json!(1.0 / 6.0),
            &json!(0)
        )
    );
    let fix = node(&o, "s_stale_creds");
    assert_eq!(
        (
            &fix["reached"],
            &fix["left_resolved"],
            &fix["left_abandoned"],
            &fix["dead_end_sessions"],
            &fix["dead_end"]
        ),
        (&json!(4), &json!(3), &json!(1), &json!(1), &json!(false))
    );
    let wam = node(&o, "a_wam_reset");
    assert_eq!(
        (
            &wam["reached"],
            &wam["left_escalated"],
            &wam["dead_end_sessions"],
            &wam["dead_end"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(true))
    );
    assert_eq!(o["nodes"].as_array().unwrap().len(), 4, "{}", o["nodes"]);

    // Confidence against outcome: the four suggestions of A, B, G and I, each at the
    // confidence it was made at; A's and B's were used, G's worked, I's did not.
    let mut expected = vec![(0i64, 0i64, 0.0f64); 10];
    for (letter, fixed) in [('A', true), ('B', true), ('G', true), ('I', false)] {
        let steps = detail(&app, &admin, s.id(letter)).await["steps"].clone();
        let suggestion = steps
            .as_array()
            .unwrap()
            .iter()
            .find(|st| st["step_type"] == "resolution_suggestion")
            .unwrap()
            .clone();
        let p = suggestion["content"]["confidence"].as_f64().unwrap();
        let band = ((p * 10.0 + 1e-9).floor() as usize).min(9);
        expected[band].0 += 1;
        expected[band].1 += i64::from(fixed);
        expected[band].2 += p;
    }
    let bands = o["reliability"].as_array().unwrap();
    assert_eq!(bands.len(), 10);
    for (i, band) in bands.iter().enumerate() {
        let (n, fixes, sum) = expected[i];
        assert_eq!(band["from"], json!(i as f64 / 10.0));
        assert_eq!(band["to"], json!((i + 1) as f64 / 10.0));
        assert_eq!(band["suggestions"], json!(n), "band {i}");
        assert_eq!(band["fixes"], json!(fixes), "band {i}");
        if n == 0 {
            assert!(band["fix_rate"].is_null() && band["mean_confidence"].is_null());
        } else {
            assert_eq!(band["fix_rate"], json!(fixes as f64 / n as f64), "band {i}");
            assert_eq!(band["mean_confidence"], json!(sum / n as f64), "band {i}");
        }
    }
    assert_eq!(expected.iter().map(|b| b.0).sum::<i64>(), 4);

    // AI cost by engine: A on a provider, the rest offline (C's one call included).
    assert_eq!(
        o["cost_by_engine"],
        json!([
            {"engine": "offline", "sessions": 7, "resolved": 3, "calls": 1, "cost_usd": 0.02,
             "input_tokens": 200, "output_tokens": 40,
             "cost_per_resolved_usd": 0.02 / 3.0, "tokens_per_resolved": 240.0 / 3.0},
            {"engine": "openai:gpt-4o-mini", "sessions": 1, "resolved": 1, "calls": 2,
             "cost_usd": 0.012 + 0.003, "input_tokens": 150, "output_tokens": 30,
             "cost_per_resolved_usd": 0.012 + 0.003, "tokens_per_resolved": 180.0},
        ])
    );

    // One domain only: the figures of that domain alone.
    let only = overview(&app, &admin, &format!("{RANGE}&domain=email_m365")).await;
    assert_eq!(only["domain"], "email_m365");
    assert_eq!(only["totals"], flows[0]["outcomes"]);
    // October alone: H, resolved in a minute.
    let october = overview(&app, &admin, "from=2026-10-01&to=2026-10-31").await;
    assert_eq!(october["totals"]["started"], 1);
    assert_eq!(october["totals"]["mttr_p50_seconds"], 60);
}

async fn engineers_see_their_own_sessions_and_viewers_none(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    let eng = app.add_user(&admin, "eng@acme.test", "engineer").await;
    let eng2 = app.add_user(&admin, "eng2@acme.test", "engineer").await;
    let viewer = app.add_user(&admin, "viewer@acme.test", "viewer").await;
    script(&app, &admin, &eng, &eng2).await;
    // Another account's sessions never count.
    let other = app.register("admin@other.test", "Other").await;
    let (id, _) = to_the_fix(&app, &other).await;
    set_times(&app, &id, BASE_MS, None).await;

    // The engineer's F (open) and G (resolved in an hour, rated 2).
    let mine = overview(&app, &eng, RANGE).await;
    assert_eq!(mine["scope"], "own");
    assert_eq!(
        mine["totals"],
        json!({
            "started": 2, "resolved": 1, "escalated": 0, "abandoned": 0, "open": 1,
            "resolution_rate": 0.5, "escalation_rate": 0.0,
            "mttr_p50_seconds": 3600, "mttr_p90_seconds": 3600,
            "steps_per_resolved": 3.0, "rated": 1, "rating_mean": 2.0,
            "unmatched": 0, "coverage": 1.0,
        })
    );
    assert_eq!(node(&mine, "q_scope")["reached"], 2);
    assert_eq!(node(&mine, "s_stale_creds")["left_resolved"], 1);
    assert_eq!(
        mine["cost_by_engine"].as_array().unwrap().len(),
        1,
        "{}",
        mine["cost_by_engine"]
    );

    let theirs = overview(&app, &other, RANGE).await;
    assert_eq!(theirs["totals"]["started"], 1);

    let (status, body) = app
        .get(&format!("/analytics/overview?{RANGE}"), &viewer.token)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

async fn bad_ranges_are_422(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("admin@acme.test", "Acme").await;
    for (query, field) in [
        ("from=last-week", "from"),
        ("to=2026-02-30", "to"),
        ("from=2026-11-30&to=2026-11-01", "from"),
        ("from=2020-01-01&to=2026-01-01", "from"),
        ("from=2026-11-01T25:00:00Z", "from"),
    ] {
        let (status, body) = app
            .get(&format!("/analytics/overview?{query}"), &admin.token)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(
            body["detail"][0]["loc"],
            json!(["query", field]),
            "{query}: {body}"
        );
    }
    let long = "x".repeat(101);
    let (status, _) = app
        .get(&format!("/analytics/overview?domain={long}"), &admin.token)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Times with their offset and no filters at all are fine.
    let (status, body) = app
        .get(
            "/analytics/overview?from=2026-11-01T09:00:00%2B01:00",
            &admin.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["from"], "2026-11-01T08:00:00Z");
    assert_eq!(
        app.get("/analytics/overview", &admin.token).await.0,
        StatusCode::OK
    );
}
