//! `spawn_app`: the real server on a random port against a fresh database, SQLite always and
//! PostgreSQL when `FLOWPILOT_TEST_POSTGRES_URL` is set.

use std::io::Write;
use std::sync::Once;

use flowpilot_server::Settings;
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{json, Value};
use store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn postgres_url() -> Option<String> {
    std::env::var("FLOWPILOT_TEST_POSTGRES_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
}

/// Says once, on the real stderr (test output capture does not hide it), that the
/// PostgreSQL half of the suite did not run.
pub fn skip_loudly() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\n*** PostgreSQL suite SKIPPED: set FLOWPILOT_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run it ***\n"
        );
    });
}

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub store: Store,
    pub database_url: String,
    _dir: Option<tempfile::TempDir>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A database URL of a brand-new database on `backend`.
pub async fn fresh_database(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}", dir.path().join("flowpilot.db").display());
            (url, Some(dir))
        }
        Backend::Postgres => {
            use sqlx::Connection;
            let admin_url = postgres_url().expect("FLOWPILOT_TEST_POSTGRES_URL");
            let name = format!("fp_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&admin_url)
                .await
                .expect("connect to PostgreSQL");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create database");
            conn.close().await.ok();
            (replace_database(&admin_url, &name), None)
        }
    }
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let root = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{root}/{name}{query}")
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let (database_url, dir) = fresh_database(backend).await;
    spawn_on(database_url, dir, tweak).await
}

/// Starts a server on an existing database (for several servers sharing one database).
pub async fn spawn_on(
    database_url: String,
    dir: Option<tempfile::TempDir>,
    tweak: impl FnOnce(&mut Settings),
) -> TestApp {
    let mut settings = Settings {
        database_url: database_url.clone(),
        bind: "127.0.0.1:0".into(),
        // The probe's requests would reach the stories' fake providers before their own
        // (and take their scripted replies); provider_probe.rs turns it on.
        provider_probe: false,
        ..Settings::default()
    };
    tweak(&mut settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let launched = settings.clone();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        // Migrations run inside launch; readiness is polled below.
        let _ = ready_tx.send(());
        if let Err(err) = flowpilot_server::launch(launched, listener, async {
            let _ = rx.await;
        })
        .await
        {
            panic!("server failed: {err}");
        }
    });
    let _ = ready_rx.await;
    let client = Client::builder().build().expect("client");
    let base = format!("http://{addr}");
    for _ in 0..200 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            if r.status() == StatusCode::OK {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let store = Store::connect(&database_url).await.expect("store");
    TestApp {
        base,
        client,
        store,
        database_url,
        _dir: dir,
        shutdown: Some(tx),
    }
}

/// A signed-in user as the tests see them.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: String,
    pub account_id: String,
    pub token: String,
}

pub const PASSWORD: &str = "correct horse battery";

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        if path.starts_with('/')
            && !path.starts_with("/api/v1")
            && (path.starts_with("/healthz")
                || path.starts_with("/readyz")
                || path.starts_with("/metrics")
                || path.starts_with("/api/"))
        {
            format!("{}{path}", self.base)
        } else {
            format!("{}/api/v1{path}", self.base)
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        Self::read(resp).await
    }

    pub async fn read(resp: Response) -> (StatusCode, Value) {
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    /// Runs `sql` on the server's database from a connection of its own: for stories that
    /// make the database fail on purpose.
    pub async fn run_sql(&self, sql: &str) {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&self.database_url)
            .await
            .expect("connect to the test database");
        sqlx::raw_sql(sql)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        conn.close().await.ok();
    }

    /// Registers a new account; its admin is returned signed in.
    pub async fn register(&self, email: &str, account: &str) -> Member {
        let (status, body) = self
            .call(Method::POST, "/auth/register", None, Some(json!({
                "email": email, "password": PASSWORD, "full_name": "Test Admin", "account_name": account
            })))
            .await;
        assert_eq!(status, StatusCode::CREATED, "register {email}: {body}");
        member(&body)
    }

    /// Starts a session for `who` from a free-text intake; the 201's body.
    pub async fn start_session(&self, who: &Member, text: &str) -> Value {
        let (status, body) = self
            .post(
                "/ai-sessions",
                &who.token,
                json!({"intake_type": "free_text", "intake_content": {"text": text}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Answers `step` of `session` with `answer` (the fields of a respond beside `step_id`)
    /// and returns the reply, which must be 200.
    pub async fn respond(&self, who: &Member, session: &str, step: &Value, answer: Value) -> Value {
        let mut body = answer;
        body["step_id"] = step["step_id"].clone();
        let (status, reply) = self
            .post(&format!("/ai-sessions/{session}/respond"), &who.token, body)
            .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        reply
    }

    /// Resolves `session` with `summary` as its fix and returns the reply, which must be 200.
    pub async fn resolve(&self, who: &Member, session: &str, summary: &str) -> Value {
        let (status, reply) = self
            .post(
                &format!("/ai-sessions/{session}/resolve"),
                &who.token,
                json!({"resolution_summary": summary}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        reply
    }

    /// Adds a user with `role` to `admin`'s account and signs them in.
    pub async fn add_user(&self, admin: &Member, email: &str, role: &str) -> Member {
        let (status, body) = self
            .post("/users", &admin.token, json!({"email": email, "password": PASSWORD, "full_name": format!("User {email}"), "role": role}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "create {email}: {body}");
        self.login(email).await
    }

    /// Adds an engineer named "Engineer <email>" to `admin`'s account, in `team` if given,
    /// and signs them in: the name is what messages about them say.
    pub async fn add_engineer(&self, admin: &Member, email: &str, team: Option<&str>) -> Member {
        let (status, body) = self
            .post(
                "/users",
                &admin.token,
                json!({"email": email, "password": PASSWORD, "full_name": format!("Engineer {email}"),
                       "role": "engineer", "team_id": team}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        self.login(email).await
    }

    pub async fn login(&self, email: &str) -> Member {
        let (status, body) = self
            .call(
                Method::POST,
                "/auth/login",
                None,
                Some(json!({"email": email, "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login {email}: {body}");
        member(&body)
    }

    /// Makes `who` a super admin, as `flowpilot user create --super-admin` would.
    pub async fn make_super_admin(&self, who: &Member) {
        let id = uuid::Uuid::parse_str(&who.id).expect("uuid");
        self.store
            .update_user(
                id,
                store::UserPatch {
                    is_super_admin: Some(true),
                    ..Default::default()
                },
            )
            .await
            .expect("promote");
    }
}

/// An account with a "Tier 2" team: its admin, an engineer outside the team whose sessions
/// are escalated (the owner), and the team's two engineers, Ada and Bob.
pub struct TierTwo {
    pub admin: Member,
    pub owner: Member,
    pub ada: Member,
    pub bob: Member,
    pub team_id: String,
}

pub async fn tier_two(app: &TestApp) -> TierTwo {
    let admin = app.register("admin@acme.test", "Acme").await;
    let (status, team) = app
        .post("/teams", &admin.token, json!({"name": "Tier 2"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{team}");
    let team_id = team["id"].as_str().expect("team id").to_string();
    let owner = app.add_engineer(&admin, "owner@acme.test", None).await;
    let ada = app
        .add_engineer(&admin, "ada@acme.test", Some(&team_id))
        .await;
    let bob = app
        .add_engineer(&admin, "bob@acme.test", Some(&team_id))
        .await;
    TierTwo {
        admin,
        owner,
        ada,
        bob,
        team_id,
    }
}

/// Of two requests sent at once, exactly one succeeded and the other was refused with a
/// 409: the claim, the answer or the outcome is taken once, whichever arrives first.
#[track_caller]
pub fn assert_one_wins(a: &(StatusCode, Value), b: &(StatusCode, Value)) {
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{a:?} {b:?}"
    );
}

fn member(body: &Value) -> Member {
    Member {
        id: body["user"]["id"].as_str().expect("user id").to_string(),
        account_id: body["user"]["account_id"]
            .as_str()
            .expect("account id")
            .to_string(),
        token: body["access_token"].as_str().expect("token").to_string(),
    }
}

/// Runs each story once on SQLite and once on PostgreSQL (skipped, loudly, when unset).
#[macro_export]
macro_rules! stories {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if $crate::helpers::postgres_url().is_none() {
                        $crate::helpers::skip_loudly();
                        return;
                    }
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}
