//! The outbox's delivery stories, each on SQLite and, when `FLOWPILOT_TEST_POSTGRES_URL` is
//! set, on PostgreSQL: the worker against a scripted deliverer (timeouts, 5xx, 429 with
//! `Retry-After`, 4xx, an attempt that landed without an answer, a server that died holding
//! the lease, two servers on one database), and the webhook deliverer against a local sink.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly, as it should

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use domain::{Plan, Role};
use flowpilot_server::outbox::{
    self, Backoff, Deliverer, Deliverers, Landed, Outcome, Worker, WorkerConfig,
};
use sqlx::Connection;
use store::{NewAccount, NewOutboxEntry, NewUser, OutboxEntry, OutboxStatus, Store};
use uuid::Uuid;

// ---------------------------------------------------------------------------------------
// Databases

struct Database {
    url: String,
    _dir: Option<tempfile::TempDir>,
}

fn postgres_url() -> Option<String> {
    std::env::var("FLOWPILOT_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

fn skip_loudly() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\n*** PostgreSQL outbox stories SKIPPED: set FLOWPILOT_TEST_POSTGRES_URL to run them ***\n"
        );
    });
}

async fn sqlite() -> Database {
    let dir = tempfile::tempdir().unwrap();
    Database {
        url: format!("sqlite://{}", dir.path().join("fp.db").display()),
        _dir: Some(dir),
    }
}

async fn postgres(admin: &str) -> Database {
    sqlx::any::install_default_drivers();
    let name = format!("fp_test_outbox_{}", Uuid::new_v4().simple());
    let mut conn = sqlx::AnyConnection::connect(admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
    Database {
        url: format!("{base}/{name}"),
        _dir: None,
    }
}

/// Runs `story` on a fresh SQLite database, then on a fresh PostgreSQL one when it can.
async fn on_both<F, Fut>(story: F)
where
    F: Fn(Database) -> Fut,
    Fut: Future<Output = ()>,
{
    story(sqlite().await).await;
    match postgres_url() {
        Some(admin) => story(postgres(&admin).await).await,
        None => skip_loudly(),
    }
}

async fn open(db: &Database) -> Store {
    let store = Store::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    store
}

async fn account(store: &Store) -> Uuid {
    let (account, _) = store
        .create_account_with_user(
            NewAccount {
                name: format!("Acme {}", Uuid::new_v4()),
                plan: Plan::Free,
            },
            NewUser {
                email: format!("{}@acme.test", Uuid::new_v4()),
                full_name: "Ada".into(),
                password_hash: "hash".into(),
                role: Role::Admin,
                team_id: None,
                is_super_admin: false,
            },
            Utc::now(),
        )
        .await
        .unwrap();
    account.id
}

fn entry(account: Uuid, kind: &str, key: &str, payload: serde_json::Value) -> NewOutboxEntry {
    NewOutboxEntry {
        account_id: account,
        session_id: None,
        kind: kind.into(),
        payload,
        idempotency_key: key.into(),
    }
}

/// Queues one `test` entry and returns its id.
async fn queue(store: &Store, account: Uuid, key: &str) -> Uuid {
    let ids = store
        .enqueue_outbox(
            &[entry(account, "test", key, serde_json::json!({"n": key}))],
            Utc::now(),
        )
        .await
        .unwrap();
    ids[0]
}

/// Waits until entry `id` of `account` is in `status`, and returns it.
async fn until(store: &Store, account: Uuid, id: Uuid, status: OutboxStatus) -> OutboxEntry {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let e = store.outbox_entry(account, id).await.unwrap();
        if e.status == status {
            return e;
        }
        assert!(
            Instant::now() < deadline,
            "entry never became {status:?}: {e:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Quick retries, a short attempt timeout, and polls a test does not wait long for.
fn quick() -> WorkerConfig {
    WorkerConfig {
        poll: Duration::from_millis(25),
        lease: Duration::from_secs(30),
        attempt_timeout: Duration::from_millis(300),
        batch: 16,
        backoff: Backoff {
            base: Duration::from_millis(20),
            cap: Duration::from_millis(100),
            retry_after_cap: Duration::from_secs(5),
            max_attempts: 10,
        },
    }
}

// ---------------------------------------------------------------------------------------
// A scripted deliverer

/// What the deliverer does on one call.
#[derive(Debug, Clone)]
enum Act {
    /// Answers this.
    Answer(Outcome),
    /// Never answers (the worker's attempt timeout ends it).
    Hang,
    /// Creates the note at the remote side, then never answers: the write landed and the
    /// worker cannot know.
    LandThenHang,
}

/// The remote side as the tests see it: what it created, once per entry or not.
#[derive(Default)]
struct Remote {
    created: Mutex<HashMap<Uuid, Vec<String>>>,
    next: AtomicUsize,
}

impl Remote {
    fn create(&self, id: Uuid) -> String {
        let remote_id = format!("note-{}", self.next.fetch_add(1, Ordering::SeqCst) + 1);
        self.created
            .lock()
            .unwrap()
            .entry(id)
            .or_default()
            .push(remote_id.clone());
        remote_id
    }

    fn created(&self, id: Uuid) -> Vec<String> {
        self.created
            .lock()
            .unwrap()
            .get(&id)
            .cloned()
            .unwrap_or_default()
    }

    fn total(&self) -> usize {
        self.created.lock().unwrap().values().map(Vec::len).sum()
    }
}

struct Scripted {
    remote: Arc<Remote>,
    script: Mutex<VecDeque<Act>>,
    calls: Mutex<Vec<Instant>>,
    checks: AtomicUsize,
    /// Each delivery takes this long, so that workers overlap.
    pace: Duration,
}

impl Scripted {
    fn new(remote: Arc<Remote>, script: Vec<Act>) -> Arc<Scripted> {
        Arc::new(Scripted {
            remote,
            script: Mutex::new(script.into()),
            calls: Mutex::new(Vec::new()),
            checks: AtomicUsize::new(0),
            pace: Duration::ZERO,
        })
    }

    fn calls(&self) -> Vec<Instant> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl Deliverer for Scripted {
    async fn deliver(&self, entry: &OutboxEntry) -> Outcome {
        self.calls.lock().unwrap().push(Instant::now());
        let act = self.script.lock().unwrap().pop_front();
        tokio::time::sleep(self.pace).await;
        match act {
            None => Outcome::Delivered {
                remote_id: Some(self.remote.create(entry.id)),
            },
            Some(Act::Answer(outcome)) => outcome,
            Some(Act::Hang) => std::future::pending().await,
            Some(Act::LandThenHang) => {
                self.remote.create(entry.id);
                std::future::pending().await
            }
        }
    }

    async fn already_delivered(&self, entry: &OutboxEntry) -> Landed {
        self.checks.fetch_add(1, Ordering::SeqCst);
        match self.remote.created(entry.id).first() {
            Some(remote_id) => Landed::Yes {
                remote_id: Some(remote_id.clone()),
            },
            None => Landed::No,
        }
    }
}

fn deliverers(d: &Arc<Scripted>) -> Deliverers {
    Deliverers::new().with("test", d.clone())
}

fn server_error() -> Act {
    Act::Answer(Outcome::Retry {
        after: None,
        uncertain: false,
        error: "HTTP 500 Internal Server Error".into(),
    })
}

// ---------------------------------------------------------------------------------------
// Stories

#[tokio::test]
async fn a_timeout_and_a_500_then_success_is_one_note_after_three_attempts() {
    on_both(|db| async move {
        let store = open(&db).await;
        let account = account(&store).await;
        let remote = Arc::new(Remote::default());
        let d = Scripted::new(remote.clone(), vec![Act::Hang, server_error()]);
        let running = outbox::start(store.clone(), deliverers(&d), quick());

        let id = queue(&store, account, "three-attempts").await;
        let done = until(&store, account, id, OutboxStatus::Delivered).await;
        running.stop().await;

        assert_eq!(done.attempts, 3);
        assert_eq!(remote.created(id), ["note-1"]);
        assert_eq!(done.remote_id.as_deref(), Some("note-1"));
        assert_eq!(d.calls().len(), 3);
        // After the timeout (uncertain) it asked before posting again; after the 500 it did not.
        assert_eq!(d.checks.load(Ordering::SeqCst), 1);
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    on_both(|db| async move {
        let store = open(&db).await;
        let account = account(&store).await;
        let remote = Arc::new(Remote::default());
        let limited = Act::Answer(Outcome::Retry {
            after: Some(Duration::from_millis(1200)),
            uncertain: false,
            error: "HTTP 429 Too Many Requests".into(),
        });
        let d = Scripted::new(remote.clone(), vec![limited]);
        let running = outbox::start(store.clone(), deliverers(&d), quick());

        let id = queue(&store, account, "rate-limited").await;
        let done = until(&store, account, id, OutboxStatus::Delivered).await;
        running.stop().await;

        let calls = d.calls();
        assert_eq!(calls.len(), 2);
        let waited = calls[1] - calls[0];
        assert!(
            waited >= Duration::from_millis(1200),
            "retried after {waited:?}, before its Retry-After"
        );
        assert_eq!((done.attempts, remote.total()), (2, 1));
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_4xx_fails_with_its_reason_and_the_retry_button_sends_it() {
    on_both(|db| async move {
        let store = open(&db).await;
        let account = account(&store).await;
        let remote = Arc::new(Remote::default());
        let refused = Act::Answer(Outcome::Fail {
            reason: "HTTP 404 Not Found: ticket 4711 does not exist".into(),
        });
        let d = Scripted::new(remote.clone(), vec![refused]);
        let running = outbox::start(store.clone(), deliverers(&d), quick());

        let id = queue(&store, account, "refused").await;
        let failed = until(&store, account, id, OutboxStatus::Failed).await;
        assert_eq!(
            failed.last_error.as_deref(),
            Some("HTTP 404 Not Found: ticket 4711 does not exist")
        );
        assert_eq!(failed.attempts, 1);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(d.calls().len(), 1, "no retries after a 4xx");

        store
            .retry_outbox(account, id, Utc::now())
            .await
            .unwrap()
            .unwrap();
        let done = until(&store, account, id, OutboxStatus::Delivered).await;
        running.stop().await;
        assert_eq!((done.attempts, remote.total()), (1, 1));
        assert_eq!(done.last_error, None);
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn after_an_attempt_that_landed_unanswered_the_next_one_asks_and_does_not_post_again() {
    on_both(|db| async move {
        let store = open(&db).await;
        let account = account(&store).await;
        let remote = Arc::new(Remote::default());
        let d = Scripted::new(remote.clone(), vec![Act::LandThenHang]);
        let running = outbox::start(store.clone(), deliverers(&d), quick());

        let id = queue(&store, account, "landed").await;
        let done = until(&store, account, id, OutboxStatus::Delivered).await;
        running.stop().await;

        assert_eq!(d.calls().len(), 1, "posted once");
        assert_eq!(d.checks.load(Ordering::SeqCst), 1);
        assert_eq!(remote.created(id), ["note-1"]);
        assert_eq!(done.remote_id.as_deref(), Some("note-1"));
        assert_eq!(done.attempts, 2);
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn an_entry_whose_server_died_holding_it_is_taken_over_and_not_posted_twice() {
    on_both(|db| async move {
        let store = open(&db).await;
        let account = account(&store).await;
        let remote = Arc::new(Remote::default());
        let short_lease = WorkerConfig {
            lease: Duration::from_millis(400),
            attempt_timeout: Duration::from_secs(60),
            ..quick()
        };
        // The first server posts, then hangs past its lease (as if killed mid-request).
        let dying = Scripted::new(remote.clone(), vec![Act::LandThenHang]);
        let first = Worker::new(store.clone(), deliverers(&dying), short_lease);
        let id = queue(&store, account, "taken-over").await;
        let stuck = tokio::spawn(async move { first.round().await });
        let deadline = Instant::now() + Duration::from_secs(5);
        while remote.total() == 0 {
            assert!(Instant::now() < deadline, "the first server never posted");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        let survivor = Scripted::new(remote.clone(), Vec::new());
        let running = outbox::start(store.clone(), deliverers(&survivor), quick());
        let done = until(&store, account, id, OutboxStatus::Delivered).await;
        running.stop().await;
        stuck.abort();

        assert_eq!(remote.created(id).len(), 1, "one note");
        assert!(
            survivor.calls().is_empty(),
            "the survivor asked instead of posting"
        );
        assert_eq!(survivor.checks.load(Ordering::SeqCst), 1);
        assert_eq!(done.attempts, 2);
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn two_servers_on_one_database_deliver_each_of_many_entries_once() {
    on_both(|db| async move {
        let store_a = open(&db).await;
        // A second server: its own connections (its own SQLite writer) to the same database.
        let store_b = Store::connect(&db.url).await.unwrap();
        let account = account(&store_a).await;
        let remote = Arc::new(Remote::default());
        let paced = |remote: &Arc<Remote>| {
            Arc::new(Scripted {
                remote: remote.clone(),
                script: Mutex::new(VecDeque::new()),
                calls: Mutex::new(Vec::new()),
                checks: AtomicUsize::new(0),
                pace: Duration::from_millis(5),
            })
        };
        let (a, b) = (paced(&remote), paced(&remote));
        let config = WorkerConfig {
            batch: 5,
            ..quick()
        };
        let running_a = outbox::start(store_a.clone(), deliverers(&a), config);
        let running_b = outbox::start(store_b.clone(), deliverers(&b), config);

        let entries: Vec<NewOutboxEntry> = (0..150)
            .map(|i| {
                entry(
                    account,
                    "test",
                    &format!("many-{i}"),
                    serde_json::json!({"i": i}),
                )
            })
            .collect();
        store_a.enqueue_outbox(&entries, Utc::now()).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while store_a.outbox_depth().await.unwrap().delivered < 150 {
            assert!(
                Instant::now() < deadline,
                "not all delivered: {:?}",
                store_a.outbox_depth().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        running_a.stop().await;
        running_b.stop().await;

        let created = remote.created.lock().unwrap().clone();
        assert_eq!(created.len(), 150);
        assert!(
            created.values().all(|notes| notes.len() == 1),
            "an entry was sent twice"
        );
        let (by_a, by_b) = (a.calls().len(), b.calls().len());
        assert_eq!(by_a + by_b, 150, "no entry was attempted twice");
        assert!(by_a > 0 && by_b > 0, "both servers sent: {by_a} and {by_b}");
        eprintln!(
            "{}: server A sent {by_a}, server B {by_b}",
            db.url.split(':').next().unwrap_or("")
        );
        store_b.close().await;
        store_a.close().await;
    })
    .await;
}

#[tokio::test]
async fn an_entry_queued_on_this_server_is_sent_without_waiting_for_the_poll() {
    let db = sqlite().await;
    let store = open(&db).await;
    let account = account(&store).await;
    let remote = Arc::new(Remote::default());
    let d = Scripted::new(remote.clone(), Vec::new());
    let slow_poll = WorkerConfig {
        poll: Duration::from_secs(600),
        ..quick()
    };
    let running = outbox::start(store.clone(), deliverers(&d), slow_poll);
    // Let the worker finish its first (empty) round and go to sleep.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let id = queue(&store, account, "woken").await;
    until(&store, account, id, OutboxStatus::Delivered).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    running.stop().await;
    store.close().await;
}

// ---------------------------------------------------------------------------------------
// The webhook deliverer against a local sink

/// A webhook receiver that answers each POST with the next of `answers` (then 200), keeping
/// the idempotency key and the body of each.
async fn webhook_sink(
    answers: Vec<(u16, Option<&'static str>)>,
) -> (String, Arc<Mutex<Vec<(String, serde_json::Value)>>>) {
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    let answers = Arc::new(Mutex::new(VecDeque::from(answers)));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: HeaderMap, axum::Json(body): axum::Json<serde_json::Value>| {
                let answers = answers.clone();
                let seen = kept.clone();
                async move {
                    let key = headers
                        .get("idempotency-key")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    seen.lock().unwrap().push((key, body));
                    let (status, retry_after) =
                        answers.lock().unwrap().pop_front().unwrap_or((200, None));
                    let mut reply = (StatusCode::from_u16(status).unwrap(), "nope").into_response();
                    if let Some(after) = retry_after {
                        reply
                            .headers_mut()
                            .insert("retry-after", after.parse().unwrap());
                    }
                    reply
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test]
async fn a_webhook_is_retried_on_500_and_429_with_one_key_and_delivered() {
    let db = sqlite().await;
    let store = open(&db).await;
    let account = account(&store).await;
    let (url, seen) = webhook_sink(vec![(500, None), (429, Some("1"))]).await;
    let running = outbox::start(store.clone(), Deliverers::standard(), quick());
    let body = serde_json::json!({"event": "session.escalated", "session": "s-1"});
    let ids = store
        .enqueue_outbox(
            &[entry(
                account,
                "webhook",
                "webhook:s-1:escalated",
                serde_json::json!({"url": url, "body": body}),
            )],
            Utc::now(),
        )
        .await
        .unwrap();
    let done = until(&store, account, ids[0], OutboxStatus::Delivered).await;
    running.stop().await;

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert!(seen
        .iter()
        .all(|(key, b)| key == "webhook:s-1:escalated" && *b == body));
    assert_eq!(done.attempts, 3);
    assert!(done.updated_at - done.created_at >= chrono::Duration::seconds(1));
    store.close().await;
}

#[tokio::test]
async fn a_webhook_refused_with_a_4xx_fails_with_the_reason() {
    let db = sqlite().await;
    let store = open(&db).await;
    let account = account(&store).await;
    let (url, seen) = webhook_sink(vec![(404, None)]).await;
    let running = outbox::start(store.clone(), Deliverers::standard(), quick());
    let ids = store
        .enqueue_outbox(
            &[entry(
                account,
                "webhook",
                "webhook:s-2:escalated",
                serde_json::json!({"url": url, "body": {}}),
            )],
            Utc::now(),
        )
        .await
        .unwrap();
    let failed = until(&store, account, ids[0], OutboxStatus::Failed).await;
    running.stop().await;
    assert_eq!(
        failed.last_error.as_deref(),
        Some("HTTP 404 Not Found: nope")
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
    store.close().await;
}
